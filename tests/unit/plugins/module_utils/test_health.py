"""The status playbook's verdict (module_utils/health.py) on states seen in the lab: containers as
docker_container_info reports them, Ray as ray_status does, models as vllm_models does."""

from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.health import cluster_health

HEAD, WORKER = "172.28.0.11", "172.28.0.12"
NODES = {"spark-1": HEAD, "spark-2": WORKER}
URL = "http://127.0.0.1:8000"


def container(host, name, status="running", restarts=0, exit_code=0, oom=False, health=None):
    state = {"Status": status, "Running": status == "running", "Restarting": status == "restarting",
             "ExitCode": exit_code, "OOMKilled": oom, "StartedAt": "2026-12-04T10:28:01.123456789Z"}
    if health:
        state["Health"] = health
    env = ["PATH=/usr/bin", f"VLLM_HOST_IP={NODES[host]}", f"MASTER_ADDR={HEAD}"]
    return {"item": {"key": host, "value": name}, "exists": True,
            "container": {"State": state, "RestartCount": restarts, "Config": {"Env": env}}}


def absent(host, name):
    return {"item": {"key": host, "value": name}, "exists": False, "container": None}


WHOLE = {
    "containers": [container("spark-1", "sparks-ray-head"), container("spark-2", "sparks-ray-worker"),
                   container("spark-1", "sparks-vllm")],
    "ray": {"nodes": 2, "gpus": 2.0, "node_ips": [HEAD, WORKER], "node_gpus": {HEAD: 1.0, WORKER: 1.0}},
    "nodes": list(NODES),
    "gpus_per_node": 1,
    "models": {"models": ["tiny"]},
    "url": URL,
    "model": "tiny",
}


def health(**changes):
    return cluster_health(dict(WHOLE, **changes))


def test_a_whole_cluster_is_reported_and_not_degraded():
    result = health()
    assert result["degraded"] == []
    assert result["report"] == [
        "sparks-ray-head on spark-1: running since 2026-12-04T10:28:01, restarted 0 times; log: docker logs sparks-ray-head",
        "sparks-ray-worker on spark-2: running since 2026-12-04T10:28:01, restarted 0 times; log: docker logs "
        "sparks-ray-worker",
        "sparks-vllm on spark-1: running since 2026-12-04T10:28:01, restarted 0 times; log: docker logs sparks-vllm",
        "Ray: 2 of 2 nodes, 2 of 2 GPUs",
        "  spark-1 (172.28.0.11): 1 GPU",
        "  spark-2 (172.28.0.12): 1 GPU",
        "vLLM at http://127.0.0.1:8000: tiny",
    ]


def test_without_ray_the_vllm_of_every_node_is_judged_and_ray_is_not_asked():
    # cluster_backend mp: vLLM on every node, no Ray
    result = health(containers=[container("spark-1", "sparks-vllm"), container("spark-2", "sparks-vllm")], ray=None)
    assert result["degraded"] == []
    assert result["report"] == [
        "sparks-vllm on spark-1: running since 2026-12-04T10:28:01, restarted 0 times; log: docker logs sparks-vllm",
        "sparks-vllm on spark-2: running since 2026-12-04T10:28:01, restarted 0 times; log: docker logs sparks-vllm",
        "vLLM at http://127.0.0.1:8000: tiny",
    ]
    result = health(containers=[container("spark-1", "sparks-vllm"), absent("spark-2", "sparks-vllm")], ray=None)
    assert result["degraded"] == ["sparks-vllm on spark-2 is absent"]


def test_a_worker_restarting_after_its_head_is_named_with_its_exit_code_first():
    containers = [container("spark-1", "sparks-ray-head"),
                  container("spark-2", "sparks-ray-worker", "restarting", restarts=7, exit_code=1),
                  container("spark-1", "sparks-vllm", "exited", restarts=1, exit_code=137, oom=True)]
    result = health(containers=containers,
                    ray={"nodes": 1, "gpus": 1.0, "node_ips": [HEAD], "node_gpus": {HEAD: 1.0}},
                    models={"failed": True, "models": [], "msg": "vLLM is not running: exited with code 137"})
    assert result["degraded"] == [
        "sparks-ray-worker on spark-2 is restarting (exit code 1)",
        "sparks-vllm on spark-1 is exited (exit code 137, out of memory)",
        "spark-2 is not in Ray",
        "vLLM at http://127.0.0.1:8000 does not answer (vLLM is not running: exited with code 137)",
    ]
    assert ("sparks-ray-worker on spark-2: restarting (exit code 1), restarted 7 times; log: docker logs "
            "sparks-ray-worker") in result["report"]
    assert "  spark-2 (172.28.0.12): not in Ray" in result["report"]


def test_a_container_whose_supervisor_gave_up_is_named_with_its_last_lines():
    said = ("sparks-vllm gave up after 3 failed starts in a row (cluster_restart_limit 3; last exit code 1); fix the "
            "cause, then rerun the site playbook or `docker restart sparks-vllm`. Its last lines:\n"
            "  ValueError: no such model\n")
    checked = {"Status": "unhealthy", "FailingStreak": 4, "Log": [{"ExitCode": 1, "Output": said}]}
    gave_up = container("spark-1", "sparks-vllm", health=checked)
    result = health(containers=WHOLE["containers"][:2] + [gave_up], models={"failed": True, "msg": "refused"})
    assert "sparks-vllm on spark-1: running, but gave up after 3 failed starts in a row (cluster_restart_limit 3; " \
           "last exit code 1); log: docker logs sparks-vllm" in result["report"]
    assert "  ValueError: no such model" in result["report"]
    assert result["degraded"][0] == ("sparks-vllm on spark-1 gave up after 3 failed starts in a row "
                                     "(cluster_restart_limit 3; last exit code 1)")
    healthy = container("spark-1", "sparks-vllm", health={"Status": "healthy", "Log": [{"ExitCode": 0, "Output": ""}]})
    assert health(containers=WHOLE["containers"][:2] + [healthy])["degraded"] == []


def test_an_absent_container_is_degraded():
    result = health(containers=[container("spark-1", "sparks-ray-head"), container("spark-2", "sparks-ray-worker"),
                                absent("spark-1", "sparks-vllm")])
    assert result["degraded"] == ["sparks-vllm on spark-1 is absent"]
    assert result["report"][2] == "sparks-vllm on spark-1: absent; log: docker logs sparks-vllm"


def test_a_node_without_any_container_is_not_in_ray_and_its_address_is_unknown():
    result = health(containers=[container("spark-1", "sparks-ray-head"), absent("spark-2", "sparks-ray-worker"),
                                container("spark-1", "sparks-vllm")],
                    ray={"nodes": 1, "gpus": 1.0, "node_gpus": {HEAD: 1.0}})
    assert result["degraded"] == ["sparks-ray-worker on spark-2 is absent", "spark-2 is not in Ray"]
    assert "  spark-2 (address unknown: no container): not in Ray" in result["report"]


def test_a_node_without_its_gpu_in_ray_is_degraded():
    result = health(ray={"nodes": 2, "gpus": 1.0, "node_gpus": {HEAD: 1.0, WORKER: 0.0}})
    assert result["degraded"] == ["spark-2 has 0 of 1 GPUs in Ray"]


def test_a_node_at_an_address_the_inventory_does_not_give_is_shown_not_counted():
    result = health(ray={"nodes": 2, "gpus": 2.0, "node_gpus": {HEAD: 1.0, "10.0.0.9": 1.0}})
    assert result["degraded"] == ["spark-2 is not in Ray"]
    assert "  also in Ray: 10.0.0.9" in result["report"]


@pytest.mark.parametrize(("ray", "degraded"), [
    ({"nodes": 1, "gpus": 1.0}, ["Ray has 1 of 2 nodes", "Ray has 1 of 2 GPUs"]),
    ({"nodes": 2, "gpus": 2.0}, []),
    ({"failed": True, "msg": "Ray is not running: container sparks-ray-head exited"},
     ["Ray does not answer (Ray is not running: container sparks-ray-head exited)"]),
])
def test_ray_status_without_the_dashboard_is_judged_by_its_totals(ray, degraded):
    assert health(ray=ray)["degraded"] == degraded


def test_vllm_serving_another_model_is_degraded():
    result = health(models={"models": ["tiny-b"]})
    assert result["degraded"] == ["vLLM at http://127.0.0.1:8000 does not serve tiny (it lists tiny-b)"]
    assert "vLLM at http://127.0.0.1:8000: tiny-b" in result["report"]


def test_every_model_behind_the_gateway_must_be_listed():
    assert health(models={"models": ["tiny", "small"]}, model=["tiny", "small"])["degraded"] == []
    assert health(models={"models": ["tiny"]}, model=["tiny", "small", "embed"])["degraded"] == [
        "vLLM at http://127.0.0.1:8000 does not serve small, embed (it lists tiny)"]


def test_each_model_behind_the_gateway_is_asked_itself():
    big = {"name": "big", "served_model_name": "tiny", "container": "sparks-vllm-big", "api_node": "spark-1",
           "url": "http://127.0.0.1:8001"}
    small = {"name": "small", "served_model_name": "tiny-small", "container": "sparks-vllm-small",
             "api_node": "spark-2", "url": "http://172.28.0.12:8002"}
    result = health(models={"models": ["tiny", "tiny-small"]}, model=["tiny", "tiny-small"], each=[
        {"__model": big, "models": ["tiny"]},
        {"__model": small, "failed": True, "models": [], "last_error": "connection refused"}])
    assert "  big (sparks-vllm-big on spark-1): vLLM at http://127.0.0.1:8001: tiny" in result["report"]
    assert result["degraded"] == ["vLLM at http://172.28.0.12:8002 does not answer (connection refused)"]
