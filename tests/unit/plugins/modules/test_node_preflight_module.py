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


def test_required_rdma_that_is_missing_fails_naming_the_setting(run_module, node):
    result = run_module(node_preflight.main, {**ARGS, "rdma": "required"})
    assert result["failed"]
    assert "no RDMA device on lo" in result["msg"] and "cluster_rdma" in result["msg"], result["msg"]
    assert result["dev_infiniband"] is False
