"""Ray's ports are reachable from loopback and the fabric only (cluster_firewall), the vLLM API from anywhere.

The lab's fabric is the lab network 172.28.0.0/24. For a client outside it, each lab host gets a second address
on eth0, in 10.99.0.0/24, for the length of a test: connections bound to it come from outside the fabric. Without
the firewall (its jump from INPUT removed for a moment) they reach every port Ray and vLLM listen on; with it,
only the API. Run it like the other lab tests, holding the lab lock (flock /tmp/sparks-lab.lock)."""

import ipaddress
import json
import re
import shlex
import subprocess

import pytest

from conftest import HEAD, WORKER

IPS = {HEAD: "172.28.0.11", WORKER: "172.28.0.12"}
OUTSIDE = {HEAD: "10.99.0.11", WORKER: "10.99.0.12"}   # not in the fabric network
API_PORT = 8000
CHAIN = "STACKED-SPARKS"
# What the head and the workers listen on besides the API and loopback, with the lab's (the default) settings:
# cluster_ray_port, cluster_ray_ports, the worker range, the metrics ports Ray fixes itself, and the kernel's
# ephemeral ports (vLLM's Gloo, torch store and ZMQ sockets in the Ray workers).
PINNED = {6379: "GCS (head)", 6380: "raylet", 6381: "object manager", 6382: "runtime env agent",
          6383: "dashboard agent grpc", 6384: "metrics export", 8265: "dashboard (head)",
          10001: "client server (head)", 52365: "dashboard agent http", 44217: "autoscaler metrics (head)",
          44227: "dashboard metrics (head)"}
WORKER_PORTS = range(10002, 11000)
SSH_PORT = 22

# Runs on a lab host: connects to every port at once from a given source address, prints port -> result.
PROBE = """
import json, socket, sys, concurrent.futures as cf
src, dst, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
def probe(port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.bind((src, 0))
        s.connect((dst, port))
        return "open"
    except socket.timeout:
        return "timeout"
    except OSError as exc:
        return type(exc).__name__
    finally:
        s.close()
with cf.ThreadPoolExecutor(len(ports)) as pool:
    print(json.dumps(dict(zip(map(str, ports), pool.map(probe, ports)))))
"""


def sh(host, *args, check=True):
    """A command on a lab host itself (as root), not in its Docker engine."""
    proc = subprocess.run(["docker", "exec", host, *args], capture_output=True, text=True, timeout=120, check=False)
    if check:
        assert proc.returncode == 0, f"{host}: {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def listening(host):
    """(address, port, process) of every listening TCP socket on the host, from ss."""
    found = []
    for line in sh(host, "ss", "-Hltnp").stdout.splitlines():
        fields = line.split()
        address, port = fields[3].rsplit(":", 1)
        process = re.search(r'"([^"]+)"', line)
        found.append((address.strip("[]"), int(port), process.group(1) if process else ""))
    return found


def exposed(host):
    """The ports of Ray and vLLM a client outside the host could try: not SSH, not on loopback only."""
    ports = set()
    for address, port, _process in listening(host):
        if port == SSH_PORT or (address not in ("*", "") and ipaddress.ip_address(address).is_loopback):
            continue
        ports.add(port)
    return ports


def dropped(host):
    """The port ranges the DROP rules of the chain cover, from iptables -S."""
    ranges = []
    for line in sh(host, "iptables", "-w", "-S", CHAIN).stdout.splitlines():
        match = re.search(r"--dports (\S+)", line)
        if match and line.endswith("-j DROP"):
            for item in match.group(1).split(","):
                low, _sep, high = item.partition(":")
                ranges.append(range(int(low), int(high or low) + 1))
    return ranges


def ephemeral(host):
    low, high = sh(host, "cat", "/proc/sys/net/ipv4/ip_local_port_range").stdout.split()
    return range(int(low), int(high) + 1)


def probe(client, server, source, ports):
    out = sh(client, "python3", "-c", PROBE, source, IPS[server], *map(str, sorted(ports))).stdout
    return {int(port): result for port, result in json.loads(out).items()}


def hook(host):
    """The arguments of the INPUT rule that jumps to the chain."""
    lines = [line for line in sh(host, "iptables", "-w", "-S", "INPUT").stdout.splitlines() if f"-j {CHAIN}" in line]
    assert len(lines) == 1, f"{host}: INPUT should jump to {CHAIN} once: {lines}"
    return shlex.split(lines[0])[2:]   # without "-A INPUT"


@pytest.fixture
def outside_addresses():
    """A second address on each lab host's eth0, outside the fabric network; removed afterwards."""
    added = []
    try:
        for host, address in OUTSIDE.items():
            sh(host, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
            added.append(host)
        yield OUTSIDE
    finally:
        for host in added:
            sh(host, "ip", "addr", "del", f"{OUTSIDE[host]}/24", "dev", "eth0", check=False)


def test_ray_listens_on_the_api_loopback_or_firewalled_ports_only():
    for host in (HEAD, WORKER):
        rules = dropped(host)
        assert rules, f"{host}: no DROP rule in {CHAIN}"
        unexpected, open_ports = [], []
        for address, port, process in listening(host):
            if port == SSH_PORT or (address not in ("*", "") and ipaddress.ip_address(address).is_loopback):
                continue
            if host == HEAD and port == API_PORT:
                continue
            if port not in PINNED and port not in WORKER_PORTS and port not in ephemeral(host):
                unexpected.append((address, port, process))
            if not any(port in r for r in rules):
                open_ports.append((address, port, process))
        assert not unexpected, f"{host}: listening on ports that are not pinned: {unexpected}"
        assert not open_ports, f"{host}: listening on ports the firewall does not cover: {open_ports}"

    head_ports = {port for _address, port, _process in listening(HEAD)}
    assert {6379, 6380, 6381, 6382, 6383, 6384, 8265, 10001, 52365} <= head_ports, "Ray does not use the pinned ports"
    ray_workers = [port for _a, port, process in listening(HEAD) if process.startswith(("ray::", "VLLM::"))]
    assert any(port in WORKER_PORTS for port in ray_workers), "no Ray worker listens in the pinned worker range"
    dashboard = [address for address, port, _process in listening(HEAD) if port == 8265]
    assert dashboard == ["127.0.0.1"], f"the dashboard listens on {dashboard}"


def test_outside_the_fabric_reaches_the_api_but_not_ray(outside_addresses):
    pairs = [(WORKER, HEAD), (HEAD, WORKER)]   # (client, server)
    ports = {server: exposed(server) - {API_PORT} for _client, server in pairs}
    assert 6379 in ports[HEAD] and 6380 in ports[WORKER], ports
    assert any(port in ephemeral(HEAD) for port in ports[HEAD] - set(PINNED)), "no vLLM port in the ephemeral range"

    # Without the firewall, the outside address reaches them all: the checks below can fail.
    hooks = {host: hook(host) for host in (HEAD, WORKER)}
    try:
        for host, rule in hooks.items():
            sh(host, "iptables", "-w", "-D", "INPUT", *rule)
        for client, server in pairs:
            before = probe(client, server, outside_addresses[client], ports[server])
            assert set(before.values()) == {"open"}, f"{server} without the firewall, from outside: {before}"
    finally:
        for host, rule in hooks.items():
            if sh(host, "iptables", "-w", "-C", "INPUT", *rule, check=False).returncode != 0:
                sh(host, "iptables", "-w", "-I", "INPUT", "1", *rule)

    for client, server in pairs:
        outside = probe(client, server, outside_addresses[client], ports[server] | {SSH_PORT})
        assert outside.pop(SSH_PORT) == "open", "SSH must stay reachable"
        assert set(outside.values()) == {"timeout"}, f"{server} from outside the fabric: {outside}"
        fabric = probe(client, server, IPS[client], ports[server])
        assert set(fabric.values()) == {"open"}, f"{server} from the fabric: {fabric}"
    api = probe(WORKER, HEAD, outside_addresses[WORKER], [API_PORT])
    assert api == {API_PORT: "open"}, "the vLLM API must stay reachable from outside the fabric"
