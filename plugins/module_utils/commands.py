# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command lines and environments of the Ray and vLLM containers, built from the roles' variables.

The roles call these through the filter plugins of the collection. Bad input raises OptionError, a ValueError, with a
message that names the Ansible variable to fix. Optional options that are None or "" are left out.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Mapping

_WHITESPACE = re.compile(r"\s")

# Flags ray_start_args sets itself -> the variable to use instead.
_RAY_MANAGED = {
    "--head": "the ray_head inventory group",
    "--port": "cluster_ray_port",
    "--address": "cluster_head_ip and cluster_ray_port",
    "--node-ip-address": "cluster_node_ip",
    "--num-gpus": "cluster_ray_num_gpus",
    "--num-cpus": "cluster_ray_num_cpus",
    "--dashboard-host": "ray_head_dashboard_host",
    "--block": "nothing: it always passes it, ray start is the container's main process",
    "--worker-port-list": "cluster_ray_ports.min_worker and cluster_ray_ports.max_worker",
}
# The ports of Ray's servers, pinned so that the host firewall knows them: option of ray_start_args -> (flag, the
# key of cluster_ray_ports it comes from, whether only the head runs that server). Each flag is managed too.
_RAY_PORTS = {
    "dashboard_port": ("--dashboard-port", "dashboard", True),
    "ray_client_server_port": ("--ray-client-server-port", "ray_client_server", True),
    "node_manager_port": ("--node-manager-port", "node_manager", False),
    "object_manager_port": ("--object-manager-port", "object_manager", False),
    "runtime_env_agent_port": ("--runtime-env-agent-port", "runtime_env_agent", False),
    "dashboard_agent_grpc_port": ("--dashboard-agent-grpc-port", "dashboard_agent_grpc", False),
    "dashboard_agent_listen_port": ("--dashboard-agent-listen-port", "dashboard_agent_listen", False),
    "metrics_export_port": ("--metrics-export-port", "metrics_export", False),
    "min_worker_port": ("--min-worker-port", "min_worker", False),
    "max_worker_port": ("--max-worker-port", "max_worker", False),
}
_RAY_MANAGED.update({flag: "cluster_ray_ports." + key for flag, key, _head in _RAY_PORTS.values()})
# Flags vllm_serve_args sets itself -> the variable to use instead.
_VLLM_MANAGED = {
    "--model": "vllm_serve_model",
    "--served-model-name": "vllm_serve_served_model_name",
    "--host": "vllm_serve_host",
    "--port": "vllm_serve_port",
    "--tensor-parallel-size": "vllm_serve_tensor_parallel_size",
    "-tp": "vllm_serve_tensor_parallel_size",
    "--pipeline-parallel-size": "vllm_serve_pipeline_parallel_size",
    "-pp": "vllm_serve_pipeline_parallel_size",
    "--distributed-executor-backend": "cluster_backend",
    "--nnodes": "the inventory (cluster_backend mp: every node of ray_head and ray_workers)",
    "-n": "the inventory (cluster_backend mp: every node of ray_head and ray_workers)",
    "--node-rank": "the inventory's order (cluster_backend mp: the head 0, the workers 1, 2, ...)",
    "-r": "the inventory's order (cluster_backend mp: the head 0, the workers 1, 2, ...)",
    "--master-addr": "cluster_head_ip",
    "--master-port": "cluster_mp_master_port",
    "--headless": "the inventory (cluster_backend mp: every node but the head)",
    "--max-model-len": "vllm_serve_max_model_len",
    "--gpu-memory-utilization": "vllm_serve_gpu_memory_utilization",
    "--api-key": "vllm_serve_api_key, through a root-only file, never on a command line",
}
# Environment variables ray_node_env derives from the node's fabric address.
_ENV_MANAGED = {
    "VLLM_HOST_IP": "cluster_node_ip",
    "MASTER_ADDR": "cluster_head_ip",
}

# The compile and kernel caches of vLLM, torch inductor, Triton, FlashInfer and CUDA, each a directory under
# cluster_compile_cache_dir on the node's local disk: where they default to (~/.cache, /tmp) they die with the
# container, and on the NFS-shared HuggingFace cache several nodes writing one cache break it.
COMPILE_CACHES = {
    "VLLM_CACHE_ROOT": "vllm",
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
    "TRITON_CACHE_DIR": "triton",
    "FLASHINFER_WORKSPACE_BASE": "flashinfer",
    "CUDA_CACHE_PATH": "cuda",
}


class OptionError(ValueError):
    """Bad input to a builder; the message names the Ansible variable to fix."""


def _unset(value):
    return value is None or value == ""


def _options(options, known, builder):
    if not isinstance(options, Mapping):
        raise OptionError(f"{builder} expects a dict of options, got {type(options).__name__}")
    unknown = sorted(str(key) for key in options if key not in known)
    if unknown:
        raise OptionError(f"{builder} got unknown option(s) {', '.join(unknown)}; it knows {', '.join(sorted(known))}")
    return options


def _required(value, var):
    if _unset(value):
        raise OptionError(f"{var} must be set")
    return value


def check_int(value, var, minimum, maximum=None):
    """An integer (or a string of digits, as -e key=value gives) within [minimum, maximum]; models.py checks the
    entries of vllm_serve_models with it too."""
    if isinstance(value, str) and re.match(r"^\s*-?\d+\s*$", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{var} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise OptionError(f"{var} must be {bounds}, got {value}")
    return value


def _word(value, var):
    """A non-empty string without whitespace."""
    if not isinstance(value, str) or not value or _WHITESPACE.search(value):
        raise OptionError(f"{var} must be a non-empty string without spaces, got {value!r}")
    return value


# The value checks that both the builders here and the preflight's settings checks (settings.py) apply: one
# rule, one message each.
def check_ip(value, var):
    """An IPv4 or IPv6 address, returned in its canonical form."""
    _required(value, var)
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise OptionError(f"{var} must be an IPv4 or IPv6 address, got {value!r}") from None


def check_interface(value, var):
    """A network interface name as Linux takes it: 1-15 characters, no whitespace, '/' or ':', not . or ..."""
    if not isinstance(value, str) or not value or len(value) > 15 or value in (".", "..") \
            or re.search(r"[\s/:]", value):
        raise OptionError(f"{var} must be a network interface name (1-15 characters, no spaces, '/' or ':'), e.g. "
                          f"enp1s0f1np1, got {value!r}")
    return value


def check_fraction(value, var):
    """A number greater than 0 and at most 1, returned as a float."""
    _required(value, var)
    try:
        number = float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not 0 < number <= 1:
        raise OptionError(f"{var} must be greater than 0 and at most 1 (a share of the GPU's memory, e.g. 0.8), "
                          f"got {value!r}")
    return number


def _head_address(value, var):
    text = str(_required(value, var)).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        raise OptionError(f"{var} must give the head as ip:port, got {value!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    check_ip(host, var)
    check_int(port, var, 1, 65535)
    return text


def _extra_args(value, var, managed):
    """A list of extra arguments, none of which sets a flag in `managed` (in --x=v, --x v or abbreviated form)."""
    if _unset(value):
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        raise OptionError(f"{var} must be a list of strings (one argument per item), got {value!r}")
    args = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise OptionError(f"{var} must be a list of strings, got item {item!r}")
        arg = str(item)
        flag = arg.split("=", 1)[0]
        if flag.startswith("--"):
            flag = flag.replace("_", "-")
        for name, instead in managed.items():
            if flag == name or (len(flag) > 3 and flag.startswith("--") and name.startswith(flag)):
                raise OptionError(f"{var} must not set {name} (got {arg!r}): the role sets it from {instead}")
        args.append(arg)
    return args


def _number(value):
    """An int as is, a float without representation noise (0.8, not 0.8000000000000002)."""
    return str(value) if isinstance(value, int) else format(value, "g")


def ray_start_args(options):
    """Build the argument list of ``ray start`` for one node (without the ``ray`` itself).

    Options and the variables they come from:
      head (bool): this node is the head (the ray_head group).
      node_ip (str, required): the node's fabric address, IPv4 or IPv6 (cluster_node_ip).
      port (int, head only, 1-65535): the GCS port (cluster_ray_port).
      head_address (str "ip:port", workers only): the head's GCS (cluster_head_ip and cluster_ray_port).
      num_gpus, num_cpus (int or None): cluster_ray_num_gpus, cluster_ray_num_cpus.
      dashboard_host (str or None, head only): cluster_ray_dashboard_host.
      dashboard_port, ray_client_server_port (int or None, head only), node_manager_port, object_manager_port,
        runtime_env_agent_port, dashboard_agent_grpc_port, dashboard_agent_listen_port, metrics_export_port,
        min_worker_port, max_worker_port (int or None): the ports of Ray's servers (cluster_ray_ports), 1-65535,
        none twice nor inside the worker range; min_worker_port and max_worker_port come together.
      extra_args (list of str): cluster_ray_start_extra_args; may not set a flag built here.
    Options of the other kind of node (port, dashboard_host, dashboard_port, ray_client_server_port on a worker;
    head_address on the head) are ignored.
    """
    _options(options, {"head", "node_ip", "port", "head_address", "num_gpus", "num_cpus", "dashboard_host",
                       "extra_args", *_RAY_PORTS}, "ray_start_args")
    head = options.get("head", False)
    if not isinstance(head, bool):
        raise OptionError(f"ray_start_args: head must be true or false, got {head!r}")
    args = ["start", "--block"]
    port = None
    if head:
        port = check_int(_required(options.get("port"), "cluster_ray_port"), "cluster_ray_port", 1, 65535)
        args += ["--head", f"--port={port}"]
    else:
        head_address = _head_address(options.get("head_address"), "cluster_head_ip and cluster_ray_port")
        args.append(f"--address={head_address}")
    args.append(f"--node-ip-address={check_ip(options.get('node_ip'), 'cluster_node_ip')}")
    if head and not _unset(options.get("dashboard_host")):
        args.append(f"--dashboard-host={_word(options['dashboard_host'], 'cluster_ray_dashboard_host')}")
    for key, var in (("num_gpus", "cluster_ray_num_gpus"), ("num_cpus", "cluster_ray_num_cpus")):
        if not _unset(options.get(key)):
            args.append(f"--{key.replace('_', '-')}={check_int(options[key], var, 0)}")
    args += _ray_port_args(options, head, port)
    return args + _extra_args(options.get("extra_args"), "cluster_ray_start_extra_args", _RAY_MANAGED)


def _ray_port_args(options, head, gcs_port):
    """The --*-port flags of ray_start_args, checked against each other and against the GCS port (on the head)."""
    ports = {} if gcs_port is None else {"cluster_ray_port": gcs_port}
    args = []
    for key, (flag, var, head_only) in _RAY_PORTS.items():
        if _unset(options.get(key)) or (head_only and not head):
            continue
        var = "cluster_ray_ports." + var
        ports[var] = check_int(options[key], var, 1, 65535)
        args.append(f"{flag}={ports[var]}")
    low, high = ports.pop("cluster_ray_ports.min_worker", None), ports.pop("cluster_ray_ports.max_worker", None)
    if (low is None) != (high is None):
        raise OptionError("cluster_ray_ports.min_worker and cluster_ray_ports.max_worker must be set together, "
                          f"got {low!r} and {high!r}")
    if low is not None and low > high:
        raise OptionError(f"cluster_ray_ports.min_worker ({low}) must not be above cluster_ray_ports.max_worker ({high})")
    seen = {}
    for var, port in ports.items():
        if port in seen:
            raise OptionError(f"{var} and {seen[port]} are both {port}: every Ray server needs a port of its own")
        seen[port] = var
        if low is not None and low <= port <= high:
            raise OptionError(f"{var} ({port}) is inside the worker ports (cluster_ray_ports.min_worker and "
                              f"max_worker: {low}-{high})")
    return args


# Ports Ray fixes itself, which ray start cannot pin: the autoscaler's and the dashboard's metrics (an environment
# variable moves each), and the client server's per-client servers.
RAY_METRIC_PORTS = {"AUTOSCALER_METRIC_PORT": 44217, "DASHBOARD_METRIC_PORT": 44227}
RAY_CLIENT_PORTS = "23000:23999"
EPHEMERAL = "ephemeral"


def ray_closed_ports(options):
    """The ports the host firewall closes to all but loopback and the fabric, as host_firewall's closed_ports:
    Ray's GCS and pinned servers, its worker range, the ports Ray fixes itself, and the kernel's ephemeral ports
    (V(ephemeral)), where the processes vLLM runs in Ray listen on ports nobody manages (Gloo, torch's store, ZMQ).

    Options: port (cluster_ray_port), ray_ports (cluster_ray_ports), env (cluster_container_env, which may move
    the metric ports), master_port (cluster_mp_master_port: the torch.distributed rendezvous of vLLM's own
    multi-node launcher, which listens on every interface; closed whichever the backend, so a switch leaves the
    rules as they are).
    """
    _options(options, {"port", "ray_ports", "env", "master_port"}, "ray_closed_ports")
    ray_ports = dict(options.get("ray_ports") or {})
    low, high = ray_ports.pop("min_worker", None), ray_ports.pop("max_worker", None)
    fixed = [check_int(options.get("port"), "cluster_ray_port", 1, 65535)]
    fixed += [check_int(value, f"cluster_ray_ports.{key}", 1, 65535) for key, value in ray_ports.items()]
    env = options.get("env") or {}
    fixed += [check_int(env.get(name, default), f"cluster_container_env.{name}", 1, 65535)
              for name, default in RAY_METRIC_PORTS.items()]
    if not _unset(options.get("master_port")):
        fixed.append(check_int(options["master_port"], "cluster_mp_master_port", 1, 65535))
    ranges = [f"{low}:{high}"] if low is not None and high is not None else []
    return [str(port) for port in sorted(set(fixed))] + ranges + [RAY_CLIENT_PORTS, EPHEMERAL]


# How vLLM spans the nodes: Ray's executor in the Ray cluster, or vLLM's own multi-node launcher (a vllm serve
# on every node, the multiprocessing executor, torch.distributed rendezvous at the head).
BACKENDS = ("ray", "mp")


def vllm_serve_args(options):
    """Build the argument list of ``vllm serve`` (without the ``vllm`` itself) for one node.

    Options and the variables they come from:
      model (str, required): vllm_serve_model.
      served_model_name (str or None): vllm_serve_served_model_name.
      tensor_parallel_size, pipeline_parallel_size (int >= 1, required): vllm_serve_tensor_parallel_size,
        vllm_serve_pipeline_parallel_size.
      max_model_len (int or None): vllm_serve_max_model_len.
      gpu_memory_utilization (float, 0 < x <= 1, required): vllm_serve_gpu_memory_utilization.
      host (str, required), port (int, required): vllm_serve_host, vllm_serve_port.
      backend ("ray" or "mp", default "ray"): cluster_backend. ray: the Ray executor places the workers on the
        Ray cluster's nodes, and only the head runs vllm serve. mp: every node runs vllm serve with the
        multiprocessing executor and --nnodes/--node-rank/--master-addr/--master-port; the nodes of rank > 0
        are --headless (no API). On one node (nodes 1), the multiprocessing executor alone, without those.
      nodes (int >= 1), node_rank (int, 0 <= node_rank < nodes), master_addr (IP), master_port (1-65535), mp
        only, required there: the number of nodes and this node's place in the inventory's order (the head 0),
        the head's fabric address (cluster_head_ip) and the rendezvous port (cluster_mp_master_port).
      extra_args (list of str): vllm_serve_extra_args; may not set a flag built here, nor --api-key
        (vllm_serve_api_key reaches vLLM through a root-only file, so it never shows in the process list).
    """
    _options(options, {"model", "served_model_name", "tensor_parallel_size", "pipeline_parallel_size",
                       "max_model_len", "gpu_memory_utilization", "host", "port", "extra_args", "backend", "nodes",
                       "node_rank", "master_addr", "master_port"}, "vllm_serve_args")
    backend = options.get("backend") or "ray"
    if backend not in BACKENDS:
        raise OptionError(f"cluster_backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    model = _word(_required(options.get("model"), "vllm_serve_model"), "vllm_serve_model")
    if model.startswith("-"):
        raise OptionError(f"vllm_serve_model must be a model id or path, got {model!r}")
    args = ["serve", model]
    if not _unset(options.get("served_model_name")):
        args += ["--served-model-name", _word(options["served_model_name"], "vllm_serve_served_model_name")]
    args += ["--host", _word(_required(options.get("host"), "vllm_serve_host"), "vllm_serve_host")]
    args += ["--port", str(check_int(_required(options.get("port"), "vllm_serve_port"), "vllm_serve_port", 1, 65535))]
    for key in ("tensor_parallel_size", "pipeline_parallel_size"):
        var = "vllm_serve_" + key
        args += ["--" + key.replace("_", "-"), str(check_int(_required(options.get(key), var), var, 1))]
    args += ["--distributed-executor-backend", backend]
    if backend == "mp":
        args += _mp_args(options)
    if not _unset(options.get("max_model_len")):
        args += ["--max-model-len", str(check_int(options["max_model_len"], "vllm_serve_max_model_len", 1))]
    share = check_fraction(options.get("gpu_memory_utilization"), "vllm_serve_gpu_memory_utilization")
    args += ["--gpu-memory-utilization", _number(share)]
    return args + _extra_args(options.get("extra_args"), "vllm_serve_extra_args", _VLLM_MANAGED)


def _mp_args(options):
    """The multi-node flags of vLLM's own launcher (cluster_backend mp)."""
    nodes = check_int(_required(options.get("nodes"), "the number of nodes (the inventory)"),
                      "the number of nodes (the inventory)", 1)
    rank = check_int(_required(options.get("node_rank"), "node_rank (the inventory's order)"),
                     "node_rank (the inventory's order)", 0, nodes - 1)
    master = check_ip(options.get("master_addr"), "cluster_head_ip")
    port = check_int(_required(options.get("master_port"), "cluster_mp_master_port"), "cluster_mp_master_port", 1, 65535)
    if nodes == 1:
        return []   # one node: vLLM's executor alone, no rendezvous (a model beside another on the head holds none)
    args = ["--nnodes", str(nodes), "--node-rank", str(rank), "--master-addr", master, "--master-port", str(port)]
    return args + (["--headless"] if rank else [])


def ray_node_env(options):
    """Build the environment of a Ray (or vLLM) container on one node.

    Options and the variables they come from:
      node_ip (str, required): the node's fabric address (cluster_node_ip).
      head_ip (str, required): the head's fabric address (cluster_head_ip).
      interface (str, required): the fabric interface (cluster_fabric_interface).
      nccl_ib_hca (str or None): NCCL_IB_HCA (cluster_nccl_ib_hca).
      compile_cache_dir (str or None): the node's local directory of the compile caches (cluster_compile_cache_dir),
        one subdirectory per cache (COMPILE_CACHES).
      extra (dict): more variables, overriding the built ones (cluster_container_env); may not set
        VLLM_HOST_IP or MASTER_ADDR, which must equal the fabric addresses.
    Returns a dict of strings.
    """
    _options(options, {"node_ip", "head_ip", "interface", "nccl_ib_hca", "compile_cache_dir", "extra"},
             "ray_node_env")
    node_ip = check_ip(options.get("node_ip"), "cluster_node_ip")
    head_ip = check_ip(options.get("head_ip"), "cluster_head_ip")
    iface = check_interface(options.get("interface"), "cluster_fabric_interface")
    env = {
        "VLLM_HOST_IP": node_ip,
        "MASTER_ADDR": head_ip,
        "NCCL_SOCKET_IFNAME": iface,
        "GLOO_SOCKET_IFNAME": iface,
        "TP_SOCKET_IFNAME": iface,
        "UCX_NET_DEVICES": iface,
        "OMPI_MCA_btl_tcp_if_include": iface,
        # Ray's OOM killer misfires on unified memory while the weights load.
        "RAY_memory_monitor_refresh_ms": "0",
    }
    if not _unset(options.get("nccl_ib_hca")):
        env["NCCL_IB_HCA"] = _word(options["nccl_ib_hca"], "cluster_nccl_ib_hca")
    cache_dir = options.get("compile_cache_dir")
    if not _unset(cache_dir):
        if not isinstance(cache_dir, str) or not posixpath.isabs(cache_dir) or posixpath.normpath(cache_dir) == "/":
            raise OptionError(f"cluster_compile_cache_dir must be an absolute path other than /, got {cache_dir!r}")
        env.update({name: posixpath.join(posixpath.normpath(cache_dir), sub) for name, sub in COMPILE_CACHES.items()})
    extra = options.get("extra")
    if _unset(extra):
        extra = {}
    if not isinstance(extra, Mapping):
        raise OptionError(f"cluster_container_env must be a dict of variable names to values, got {extra!r}")
    for key, value in extra.items():
        if not isinstance(key, str) or not key or "=" in key or _WHITESPACE.search(key):
            raise OptionError(f"cluster_container_env has an invalid variable name {key!r}")
        if key in _ENV_MANAGED:
            raise OptionError(f"cluster_container_env must not set {key}: it is the node's fabric address, "
                              f"set {_ENV_MANAGED[key]} instead")
        if value is None or isinstance(value, (Mapping, list, tuple)):
            raise OptionError(f"cluster_container_env.{key} must be a string or a number, got {value!r}")
        env[key] = str(value)
    return env
