"""node_preflight as the cluster role's node entry point runs it (no Docker check): it reports what the other
roles need of the node, the Docker SDK and /dev/infiniband, and fails when RDMA is required and absent."""

from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import docker_util
from ansible_collections.stacked_sparks.vllm.plugins.modules import node_preflight

ARGS = {"docker": False, "interface": "lo"}


@pytest.fixture
def node(monkeypatch):
    """A node with no RDMA device; set ['dev'] to give it /dev/infiniband."""
    seen = {"dev": False}
    monkeypatch.setattr(node_preflight, "read_rdma", lambda: {})
    real_is_dir = node_preflight.is_dir
    monkeypatch.setattr(node_preflight, "is_dir",
                        lambda path: seen["dev"] if path == "/dev/infiniband" else real_is_dir(path))
    return seen


@pytest.mark.parametrize("dev", [True, False])
def test_it_reports_the_docker_sdk_and_dev_infiniband(run_module, node, dev):
    node["dev"] = dev
    result = run_module(node_preflight.main, ARGS)
    assert not result.get("failed"), result
    assert result["docker_sdk"] is docker_util.HAS_DOCKER is True   # the unit tests run with the SDK
    assert result["dev_infiniband"] is dev
    assert result["docker"] is None
    node_fact = result["ansible_facts"]["stacked_sparks_node"]
    assert (node_fact["docker_sdk"], node_fact["dev_infiniband"], node_fact["image_present"]) == (True, dev, None)
    assert "lo" in node_fact["interfaces"]
    assert node_fact["fabric"]["device"] == "lo" and node_fact["fabric"]["ipv4"]["address"] == "127.0.0.1"


def test_a_missing_interface_has_no_fabric_fact(run_module, node):
    result = run_module(node_preflight.main, {**ARGS, "interface": "eth9"})
    assert result["failed"]
    assert "this node has no interface eth9 (cluster_fabric_interface); it has: " in result["msg"]
    assert "ansible_facts" not in result


def test_required_rdma_that_is_missing_fails_naming_the_setting(run_module, node):
    result = run_module(node_preflight.main, {**ARGS, "rdma": "required"})
    assert result["failed"]
    assert "no RDMA device on lo" in result["msg"] and "cluster_rdma" in result["msg"], result["msg"]
    assert result["dev_infiniband"] is False


def test_without_an_interface_it_sets_no_fact(run_module, node):
    """A check of free space alone must not replace the node's look (the preflight runs one on the head)."""
    result = run_module(node_preflight.main, {"docker": False})
    assert not result.get("failed"), result
    assert "ansible_facts" not in result


@pytest.fixture
def host_keys(monkeypatch):
    """The node's /etc/ssh/ssh_host_<type>_key.pub files: {type: text}; the other types do not exist."""
    keys = {}
    real_read = node_preflight.read

    def read(path):
        if path.startswith("/etc/ssh/ssh_host_"):
            return keys.get(path[len("/etc/ssh/ssh_host_"):-len("_key.pub")])
        return real_read(path)

    monkeypatch.setattr(node_preflight, "read", read)
    return keys


def test_it_reports_the_host_keys_without_their_comments(run_module, node, host_keys):
    host_keys["ed25519"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx root@spark-2\n"
    host_keys["rsa"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7\n"
    result = run_module(node_preflight.main, {**ARGS, "ssh_host_key_type": "ed25519"})
    assert not result.get("failed"), result
    assert result["ansible_facts"]["stacked_sparks_node"]["ssh_host_keys"] == {
        "ed25519": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJx", "rsa": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7"}


def test_a_missing_host_key_of_the_trusted_type_fails_naming_the_setting(run_module, node, host_keys):
    host_keys["rsa"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQC7\n"
    result = run_module(node_preflight.main, {**ARGS, "ssh_host_key_type": "ed25519"})
    assert result["failed"]
    assert ("ssh_trust_host_key_type is ed25519, but this node has no /etc/ssh/ssh_host_ed25519_key.pub "
            "(it has: rsa)") in result["msg"], result["msg"]
