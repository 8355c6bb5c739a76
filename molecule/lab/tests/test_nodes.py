"""Every lab node runs its Ray container as on a Spark: fixed name, host network, its own node IP."""

from conftest import NODE_IPS, CONTAINERS

testinfra_hosts = ["ansible://spark-1", "ansible://spark-2"]


def _ray_container(host):
    return CONTAINERS["head"] if host.backend.get_hostname() == "spark-1" else CONTAINERS["worker"]


def test_ray_container_runs_detached_with_a_restart_policy(host, inspect):
    info = inspect(_ray_container(host))
    assert info["State"]["Running"] is True
    assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["HostConfig"]["NetworkMode"] == "host"


def test_node_ip_is_the_fabric_address_everywhere(host, inspect):
    ip = NODE_IPS[host.backend.get_hostname()]
    info = inspect(_ray_container(host))
    env = dict(item.split("=", 1) for item in info["Config"]["Env"])
    assert env["VLLM_HOST_IP"] == ip
    assert f"--node-ip-address={ip}" in info["Args"]
    for name in ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME"):
        assert env[name] == "eth0"
    assert env["RAY_memory_monitor_refresh_ms"] == "0"


def test_cache_is_mounted_into_the_container(host, inspect):
    mounts = {m["Destination"]: m["Source"] for m in inspect(_ray_container(host))["Mounts"]}
    assert mounts["/root/.cache/huggingface"] == "/srv/hf-cache"
