from __future__ import annotations

from unittest import mock

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import docker_util
from ansible_collections.stacked_sparks.vllm.plugins.modules import ray_status
from docker.errors import DockerException

STARTING = (0, "No cluster status. It may take a few seconds for the Ray internal services to start up.\n", "")


@pytest.fixture
def docker(monkeypatch, docker_fakes):
    """Install a fake Docker client holding `containers`; returns the client."""
    def install(containers):
        client = docker_fakes.client(containers)
        monkeypatch.setattr(docker_util, "get_client", lambda host, timeout: client)
        return client

    return install


@pytest.fixture
def head(docker_fakes, ray_fixture):
    """A running sparks-ray-head container whose `ray status` runs play the given outputs."""
    def make(*execs, states=None, logs=""):
        return docker_fakes.container(states or [docker_fakes.attrs()], execs=[
            (0, ray_fixture(item), "") if isinstance(item, str) else item for item in execs], logs=logs)

    return make


def test_waits_through_starting_and_one_node_until_two(run_module, docker, head, fast_wait, ray_fixture):
    clock = fast_wait(ray_status)
    none = (1, "", ray_fixture("ray-2.60-none.txt"))
    container = head(none, STARTING, "ray-2.60-deadnode-late.txt", "ray-2.60-2nodes-gpu.txt")
    docker({"sparks-ray-head": container})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "min_gpus": 2,
                                          "timeout": 120, "sleep": 3})
    assert result.get("failed") is None, result
    assert result["changed"] is False
    assert result["nodes"] == 2
    assert result["gpus"] == 2.0
    assert result["node_ids"] == ["node_d25d0e3387f54b1020f51ab44a82fecb2985a49ac946d3d14897eb53",
                                  "node_f5e8a64cf708b9b22611d0f08c4da7dd4642f41cbd774c3f63f47630"]
    assert result["resources"]["GPU"] == {"used": 0.0, "total": 2.0}
    assert result["pending_demands"] == []
    assert result["elapsed"] == 9.0
    assert result["raw"] == ray_fixture("ray-2.60-2nodes-gpu.txt")
    assert result["msg"] == "Ray cluster ready: 2 of 2 nodes, 2.0 of 2.0 GPU"
    assert clock.sleeps == [3, 3, 3]
    assert container.exec_calls == [["ray", "status"]] * 4


def test_timeout_says_what_is_missing(run_module, docker, head, fast_wait, ray_fixture):
    clock = fast_wait(ray_status)
    docker({"sparks-ray-head": head("ray-2.60-deadnode-late.txt")})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "min_gpus": 2,
                                          "timeout": 10, "hint": "Worker logs: docker logs sparks-ray-worker"})
    assert result["failed"] is True
    assert result["msg"] == ("Ray cluster not ready after 10s: 1 of 2 nodes, 1.0 of 2.0 GPU. "
                             "Worker logs: docker logs sparks-ray-worker")
    assert result["elapsed"] == 10.0
    assert result["nodes"] == 1
    assert result["gpus"] == 1.0
    assert result["raw"] == ray_fixture("ray-2.60-deadnode-late.txt")
    assert result["last_error"] is None
    assert sum(clock.sleeps) == 10


def test_timeout_without_any_cluster_reports_the_last_error(run_module, docker, head, fast_wait, ray_fixture):
    fast_wait(ray_status)
    docker({"sparks-ray-head": head((1, "", ray_fixture("ray-2.60-none.txt")))})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 1, "timeout": 6})
    assert result["failed"] is True
    assert result["msg"].startswith("Ray cluster not ready after 6s: no cluster status (ConnectionError: Could not "
                                    "find any running Ray instance.")
    assert result["last_error"].startswith("ConnectionError: Could not find any running Ray instance.")
    assert "nodes" not in result


def test_container_missing_fails_at_once(run_module, docker, fast_wait):
    clock = fast_wait(ray_status)
    docker({})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "timeout": 120,
                                          "hint": "Start it with the cluster role."})
    assert result["failed"] is True
    assert result["msg"] == ("container sparks-ray-head does not exist: the Ray node is not started. "
                             "Start it with the cluster role.")
    assert result["elapsed"] == 0.0
    assert result["container_state"] is None
    assert clock.sleeps == []


def test_container_exited_fails_at_once_with_log_lines(run_module, docker, head, fast_wait, docker_fakes):
    attrs = docker_fakes.attrs
    clock = fast_wait(ray_status)
    logs = "".join(f"log {n}\n" for n in range(30)) + "RuntimeError: Version mismatch\n"
    container = head("ray-2.60-1node.txt", states=[attrs(), attrs("exited", exit_code=1)], logs=logs)
    docker({"sparks-ray-head": container})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "timeout": 120,
                                          "hint": "See docker logs."})
    assert result["failed"] is True
    assert result["msg"].startswith("Ray is not running: container sparks-ray-head exited with code 1 "
                                    "(OOM killed: no)")
    assert result["msg"].endswith("last log lines:\n" + "".join(f"log {n}\n" for n in range(11, 30))
                                  + "RuntimeError: Version mismatch\nSee docker logs.")
    assert container.log_calls == [20]
    assert result["container_state"]["exit_code"] == 1
    assert result["elapsed"] == 0.1  # one pause of the default sleep
    assert result["nodes"] == 1  # the last status read before it died
    assert clock.sleeps == [0.1]


def test_unreadable_output_fails_at_once_with_raw(run_module, docker, head, fast_wait):
    clock = fast_wait(ray_status)
    drifted = "Node status\n---\nHealthy:\n 2 node_a\n"
    docker({"sparks-ray-head": head((0, drifted, ""))})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "timeout": 120})
    assert result["failed"] is True
    assert result["msg"].startswith("cannot read the output of ray status: unexpected 'ray status' output")
    assert "'Healthy:'" in result["msg"]
    assert result["raw"] == drifted
    assert "nodes" not in result
    assert clock.sleeps == []


def test_other_ray_failure_fails_at_once(run_module, docker, head, fast_wait):
    fast_wait(ray_status)
    oci = 'OCI runtime exec failed: exec failed: exec: "ray": executable file not found in $PATH: unknown\r\n'
    docker({"sparks-ray-head": head((126, oci, ""))})
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "timeout": 60, "address": "10.0.0.1:6379"})
    assert result["failed"] is True
    assert result["msg"].startswith("ray status --address 10.0.0.1:6379 failed (exit code 126): OCI runtime")


def test_one_probe_without_requirements_reports_the_cluster(run_module, docker, head):
    docker({"sparks-ray-head": head("ray-2.60-2nodes-serving.txt")})
    result = run_module(ray_status.main, {"container": "sparks-ray-head"})
    assert result.get("failed") is None, result
    assert result["msg"] == "Ray cluster ready: 2 nodes, 2.0 GPU"
    assert result["resources"]["GPU"] == {"used": 2.0, "total": 2.0}


def test_runs_on_the_host_without_container(run_module, fast_wait, ray_fixture, monkeypatch):
    fast_wait(ray_status)
    monkeypatch.setattr(docker_util, "get_client", mock.Mock(side_effect=AssertionError("no Docker without container")))
    outputs = [STARTING, (0, ray_fixture("ray-2.60-2nodes.txt"), "")]
    with mock.patch.object(AnsibleModule, "get_bin_path", return_value="/opt/venv/bin/ray") as which, \
            mock.patch.object(AnsibleModule, "run_command", side_effect=outputs) as run:
        result = run_module(ray_status.main, {"min_nodes": 2, "timeout": 30, "address": "192.168.100.10:6379"})
    assert result.get("failed") is None, result
    assert result["nodes"] == 2
    which.assert_called_once_with("ray")
    assert run.call_args_list == [mock.call(["/opt/venv/bin/ray", "status", "--address", "192.168.100.10:6379"])] * 2


def test_host_without_ray_fails(run_module):
    with mock.patch.object(AnsibleModule, "get_bin_path", return_value=None):
        result = run_module(ray_status.main, {"executable": "ray", "hint": "Use the container."})
    assert result["failed"] is True
    assert result["msg"].startswith("cannot find 'ray' on the host")
    assert result["msg"].endswith("Use the container.")


def test_missing_docker_sdk(run_module, monkeypatch):
    monkeypatch.setattr(docker_util, "HAS_DOCKER", False)
    result = run_module(ray_status.main, {"container": "sparks-ray-head"})
    assert result["failed"] is True
    assert "Failed to import the required Python library (docker)" in result["msg"]


def test_docker_engine_unreachable(run_module, monkeypatch):
    error = DockerException("Error while fetching server API version: Connection refused")
    monkeypatch.setattr(docker_util, "get_client", mock.Mock(side_effect=error))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "docker_host": "unix:///nope.sock"})
    assert result["failed"] is True
    assert result["msg"] == ("cannot talk to the Docker engine at unix:///nope.sock: "
                             "Error while fetching server API version: Connection refused")


def test_check_mode_does_nothing(run_module, monkeypatch):
    monkeypatch.setattr(docker_util, "get_client", mock.Mock(side_effect=AssertionError("must not talk to Docker")))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "min_nodes": 2, "timeout": 120,
                                          "_ansible_check_mode": True})
    assert result == {"changed": False, "msg": "ray status skipped in check mode"}


@pytest.mark.parametrize("option", ["min_nodes", "timeout", "sleep", "min_gpus"])
def test_negative_numbers_are_refused(run_module, option):
    result = run_module(ray_status.main, {"container": "sparks-ray-head", option: -1})
    assert result["failed"] is True
    assert result["msg"].startswith(f"{option} must not be negative")


def test_the_state_api_answers_without_ray_status(run_module, docker, head, fast_wait, http_server, ray_fixture):
    """The head's dashboard answers: the nodes come from it, ray status never runs; one node, then two."""
    clock = fast_wait(ray_status)
    container = head()
    docker({"sparks-ray-head": container})
    lost, whole = (ray_fixture(f"ray-2.60.0-nodes-lab-{case}.json") for case in ("worker-lost", "2nodes"))
    dashboard = http_server((200, lost), (200, whole))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url,
                                          "min_nodes": 2, "min_gpus": 2, "timeout": 60})
    assert result.get("failed") is None, result
    assert result["msg"] == "Ray cluster ready: 2 of 2 nodes, 2.0 of 2.0 GPU"
    assert result["source"] == "state_api"
    assert sorted(result["node_ips"]) == ["172.28.0.11", "172.28.0.12"]
    assert [path for path, _auth in dashboard.requests] == ["/api/v0/nodes?limit=10000"] * 2
    assert container.exec_calls == []
    assert clock.sleeps == [0.1]


def test_the_state_api_is_asked_with_the_token_which_shows_nowhere(run_module, fast_wait, http_server, ray_fixture,
                                                                   tmp_path):
    fast_wait(ray_status)
    token = tmp_path / "ray-token"
    token.write_text("ray-token-3b9f\n")
    dashboard = http_server((200, ray_fixture("ray-2.60.0-nodes-lab-2nodes.json")))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url,
                                          "token_file": str(token), "min_nodes": 2, "timeout": 60})
    assert result.get("failed") is None, result
    assert dashboard.requests == [("/api/v0/nodes?limit=10000", "Bearer ray-token-3b9f")]
    assert "ray-token-3b9f" not in repr(result)
    missing = run_module(ray_status.main, {"dashboard": dashboard.url, "token_file": str(tmp_path / "none"),
                                           "container": "sparks-ray-head"})
    assert missing["failed"] is True
    assert missing["msg"] == f"cannot read the Ray token file {tmp_path / 'none'}: No such file or directory"


def test_without_the_dashboard_it_asks_ray_status(run_module, docker, head, fast_wait, http_server):
    """The dashboard refuses connections (not started, or turned off) or answers what cannot be read: each probe
    runs ray status instead."""
    fast_wait(ray_status)
    for dashboard in (http_server((200, "{}"), listening=False), http_server((500, "oops"))):
        container = head("ray-2.60-2nodes-gpu.txt")
        docker({"sparks-ray-head": container})
        result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url,
                                              "min_nodes": 2, "timeout": 10})
        assert result.get("failed") is None, result
        assert result["source"] == "ray status"
        assert "node_ips" not in result
        assert container.exec_calls == [["ray", "status"]]


def test_a_dead_head_is_named_when_its_dashboard_does_not_answer(run_module, docker, head, fast_wait, http_server,
                                                                 docker_fakes, ray_fixture):
    """The dashboard runs in the head container: when it does not answer, the container is looked at."""
    fast_wait(ray_status)
    dead = docker_fakes.attrs(status="exited", exit_code=1)
    docker({"sparks-ray-head": head(states=[dead], logs="raylet died\n")})
    dashboard = http_server((200, ray_fixture("ray-2.60.0-nodes-lab-2nodes.json")), listening=False)
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url,
                                          "min_nodes": 2, "timeout": 60})
    assert result["failed"] is True
    assert result["msg"].startswith("Ray is not running: container sparks-ray-head exited with code 1")
    assert result["msg"].endswith("raylet died")


def test_a_cluster_the_dashboard_shows_ready_never_asks_docker(run_module, fast_wait, http_server, ray_fixture,
                                                               monkeypatch):
    """The no-op rerun's wait: the State API shows every node, so the Docker SDK is neither imported nor used."""
    fast_wait(ray_status)
    monkeypatch.setattr(docker_util, "get_client", mock.Mock(side_effect=AssertionError("must not talk to Docker")))
    monkeypatch.setattr(docker_util, "sdk", mock.Mock(side_effect=AssertionError("must not import the SDK")))
    dashboard = http_server((200, ray_fixture("ray-2.60.0-nodes-lab-2nodes.json")))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url,
                                          "min_nodes": 2, "timeout": 60})
    assert result.get("failed") is None, result
    assert result["source"] == "state_api"
    assert len(dashboard.requests) == 1


def test_a_missing_node_is_named_by_its_address(run_module, docker, head, fast_wait, http_server, ray_fixture):
    fast_wait(ray_status)
    docker({"sparks-ray-head": head()})
    dashboard = http_server((200, ray_fixture("ray-2.60.0-nodes-lab-worker-lost.json")))
    result = run_module(ray_status.main, {"container": "sparks-ray-head", "dashboard": dashboard.url, "min_nodes": 2,
                                          "nodes": {"spark-1": "172.28.0.11", "spark-2": "172.28.0.12"},
                                          "timeout": 5, "hint": "See docker logs sparks-ray-worker on spark-2."})
    assert result["failed"] is True
    assert result["msg"] == ("Ray cluster not ready after 5s: 1 of 2 nodes; missing spark-2 (172.28.0.12). "
                             "See docker logs sparks-ray-worker on spark-2.")
