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


def test_the_firewall_is_put_back_at_boot_before_ray_starts(host, inspect):
    """stacked-sparks-firewall runs with the host's tables and root, and the Ray container waits for what it writes."""
    keeper = inspect("stacked-sparks-firewall")
    assert keeper["State"]["Running"] is True and keeper["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert keeper["HostConfig"]["NetworkMode"] == "host" and keeper["HostConfig"]["CapAdd"] == ["NET_ADMIN"]
    assert {m["Destination"]: m["RW"] for m in keeper["Mounts"]}["/host"] is False
    assert "ipv4: STACKED-SPARKS" in host.check_output("docker logs stacked-sparks-firewall 2>&1")
    with host.sudo():
        kept = host.file("/etc/stacked-sparks/firewall/STACKED-SPARKS.ipv4")
        assert kept.mode == 0o600 and kept.user == "root"
        assert "-I INPUT 1" in kept.content_string and "-j DROP" in kept.content_string
    ray = inspect(_ray_container(host))
    waits = ray["Config"]["Entrypoint"]
    assert waits[waits.index("--wait-firewall") + 1] == "/run/stacked-sparks-firewall/in-place"
    shared = {m["Destination"]: (m["Name"], m["RW"]) for m in ray["Mounts"] if m["Type"] == "volume"}
    assert shared["/run/stacked-sparks-firewall"] == ("stacked-sparks-firewall", False)


def test_ray_runs_with_the_clusters_token_from_a_root_only_file(host, inspect):
    """cluster_ray_token (the lab image's Ray is 2.60): the same token on every node, read by Ray from a file."""
    ray = inspect(_ray_container(host))
    env = dict(item.split("=", 1) for item in ray["Config"]["Env"])
    assert env["RAY_AUTH_MODE"] == "token" and env["RAY_AUTH_TOKEN_PATH"] == "/run/secrets/ray-token"
    mounts = {m["Destination"]: (m["Source"], m["RW"]) for m in ray["Mounts"]}
    assert mounts["/run/secrets/ray-token"] == ("/etc/stacked-sparks-ray-token", False)
    with host.sudo():
        token = host.file("/etc/stacked-sparks-ray-token")
        assert token.mode == 0o600 and token.user == "root" and len(token.content_string.strip()) == 64
