"""The head: Ray sees both nodes and GPUs, vLLM answers through the head's address, SSH trust holds."""

import requests

from ansible_collections.stacked_sparks.vllm.plugins.module_utils.ray_status import parse_ray_status
from conftest import API, CONTAINERS, MODEL, NODE_IPS

testinfra_hosts = ["ansible://spark-1"]


def test_ray_has_both_nodes_and_both_gpus(host):
    status = parse_ray_status(host.check_output(f"docker exec {CONTAINERS['head']} ray status"))
    assert status["nodes"] == 2
    assert status["resources"]["GPU"] == {"used": 2.0, "total": 2.0}  # vLLM holds one GPU on each node


def test_models_lists_the_model():
    models = requests.get(f"{API}/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [MODEL]


def test_completion_answers():
    answer = requests.post(f"{API}/v1/completions", timeout=60,
                           json={"model": MODEL, "prompt": "Hello, world!", "max_tokens": 8}).json()
    assert answer["object"] == "text_completion"
    assert answer["usage"]["completion_tokens"] > 0


def test_chat_completion_answers():
    answer = requests.post(f"{API}/v1/chat/completions", timeout=60,
                           json={"model": MODEL, "messages": [{"role": "user", "content": "Hi!"}],
                                 "max_tokens": 8}).json()
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["usage"]["completion_tokens"] > 0


def test_vllm_has_its_own_container_sharing_the_heads_volumes_not_its_namespaces(inspect):
    """Docker starts each of them on its own, at boot or after a crash: neither joins the other's namespaces.
    They share /tmp/ray and /dev/shm as volumes and see the host's processes; each runs under the supervisor."""
    vllm, head = inspect(CONTAINERS["vllm"]), inspect(CONTAINERS["head"])
    assert vllm["State"]["Running"] is True
    for container in (vllm, head):
        assert container["HostConfig"]["PidMode"] == "host"
        assert not container["HostConfig"]["IpcMode"].startswith("container:")
        assert (container["Path"], container["Args"][0]) == ("python3", "/usr/local/lib/stacked-sparks-supervise.py")

    def volumes(container):
        return {mount["Destination"]: mount.get("Name") for mount in container["Mounts"] if mount["Type"] == "volume"}
    assert volumes(vllm)["/dev/shm"] == volumes(head)["/dev/shm"] == f"{CONTAINERS['head']}-shm"
    assert volumes(vllm)["/tmp/ray"] == volumes(head)["/tmp/ray"]


def test_head_logs_into_the_worker_by_key_without_a_prompt(host):
    out = host.check_output(f"ssh -o BatchMode=yes -o StrictHostKeyChecking=yes spark@{NODE_IPS['spark-2']} hostname")
    assert out.strip() == "spark-2"


def test_ray_dashboard_listens_on_loopback_only(host):
    listening = host.check_output("ss -Htln 'sport = :8265'")
    assert listening.strip(), "the Ray dashboard does not listen at all"
    for line in listening.splitlines():
        assert line.split()[3].startswith("127.0.0.1:"), line
