# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the collection's settings (the variables of its roles), run by the preflight role before anything
on a host changes. Each message names the variable to fix.

setting_errors() checks types against the roles' argument specs (as Ansible would when the role starts, but for
every role at once), then values (ranges, formats), then settings against each other and against the inventory.
"""

from __future__ import annotations

import difflib
import ipaddress
import posixpath
import re
from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.bench import check_rate
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.collective import check_sizes
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.models import check_models
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.commands import (
    OptionError,
    check_fraction,
    check_interface,
    check_ip,
    RAY_CLIENT_PORTS,
    RAY_METRIC_PORTS,
    ray_node_env,
    ray_start_args,
    vllm_serve_args,
)

# Variables the roles set themselves (facts and registered results), which carry the roles' prefixes too.
PRODUCED = frozenset({"cluster_node_ips", "cluster_head_ip", "cluster_fabric_subnet", "ray_head_status",
                      "ray_worker_status", "image_pull_result"})
MASK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"  # what Ansible shows for a secret

# https://github.com/distribution/reference/blob/main/regexp.go, simplified to what a registry serves.
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(rf"^(?:{_DOMAIN}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$")
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_SIZE = re.compile(r"^[0-9]+(?:\.[0-9]+)?[bkmgBKMG]?$")
_HCA = re.compile(r"^\^?=?[A-Za-z0-9_]+(?::[0-9]+)?(?:,[A-Za-z0-9_]+(?::[0-9]+)?)*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_USER = re.compile(r"^(?:[a-z_][a-z0-9_.-]*\$?|[0-9]+)$")
_REGISTRY = re.compile(rf"^{_DOMAIN}(?::[0-9]+)?$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?$")
_TRUE = ("1", "true", "yes", "on")


def _fail(message):
    raise OptionError(message)


def _port(value, var):
    if not 1 <= value <= 65535:
        _fail(f"{var} must be a TCP port between 1 and 65535, got {value}")


def _at_least(minimum):
    def check(value, var):
        if value is not None and value < minimum:
            _fail(f"{var} must be at least {minimum}, got {value}")
    return check


def _mtu(value, var):
    if value is not None and value != 0 and not 1280 <= value <= 9216:
        _fail(f"{var} must be 0 (leave the MTU as it is) or an MTU from 1280 to 9216, got {value}")


def _image(value, var):
    if not _IMAGE.match(value or ""):
        _fail(f"{var} must be an image reference like registry.example.com/team/vllm:tag (lower-case path, "
              f"optional :tag and @sha256:digest), got {value!r}")


def _cidr(value, var):
    if value:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            _fail(f"{var} must be a network in CIDR notation, e.g. 192.168.100.0/24, got {value!r}")


def _ip(value, var):
    if value:   # empty: found from the fabric interface, or the role's own choice
        check_ip(value, var)


def _dashboard_host(value, var):
    _ip(value, var)
    if value and ipaddress.ip_address(value).is_unspecified:
        _fail(f"{var} must be a loopback or fabric address, not {value}: Ray's dashboard has no authentication, "
              "and anyone who reaches it can run code on the cluster")


def _absolute(value, var):
    if not value or not posixpath.isabs(value) or posixpath.normpath(value) == "/":
        _fail(f"{var} must be an absolute path other than /, got {value!r}")


def _absolute_or_empty(value, var):
    if value:
        _absolute(value, var)


def _pinned_version(value, var):
    if value and not _VERSION.match(value):
        _fail(f"{var} must be one pinned version like 2.60.0, got {value!r}")


def _message_sizes(value, var):
    try:
        check_sizes(value)
    except ValueError as exc:
        _fail(str(exc))


def _request_rate(value, var):
    try:
        check_rate(value)
    except ValueError as exc:
        _fail(str(exc))


def _results_dir(value, var):
    if not value or not (posixpath.isabs(value) or value == "~" or value.startswith("~/")):
        _fail(f"{var} must be an absolute path on the controller, or one under ~, got {value!r}")


def _container_name(value, var):
    if not _CONTAINER_NAME.match(value or ""):
        _fail(f"{var} must be a container or volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*), got {value!r}")


def _size(value, var):
    if not _SIZE.match(value or ""):
        _fail(f"{var} must be a size like 10.24g, 512m or 1073741824, got {value!r}")


def _hca(value, var):
    if value and not _HCA.match(value):
        _fail(f"{var} must be a comma-separated list of RDMA device names (as ibdev2netdev shows them), "
              f"e.g. rocep1s0f1,roceP2p1s0f1, got {value!r}")


def _capabilities(value, var):
    for item in value:
        if not isinstance(item, str) or not re.match(r"^(?:CAP_)?[A-Z_]+$", item):
            _fail(f"{var} must list Linux capabilities like SYS_NICE or IPC_LOCK, got {item!r}")


def _env(value, var):
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            _fail(f"{var} has an invalid environment variable name {key!r}")
        if item is None or isinstance(item, (Mapping, list, tuple)):
            _fail(f"{var}.{key} must be a string or a number, got {item!r}")


def _options(value, var):
    for item in value:
        if not item or re.search(r"[\s,]", item):
            _fail(f"{var} must list one option per item, without spaces or commas, e.g. [rw, hard], got {item!r}")


def _user(value, var):
    if value and not _USER.match(value):
        _fail(f"{var} must be a user or group name (or a numeric id), got {value!r}")


def _registry(value, var):
    if value and not _REGISTRY.match(value):
        _fail(f"{var} must be a registry host with an optional port, e.g. nvcr.io or 192.168.100.10:5000, got "
              f"{value!r}")


def _no_space(value, var):
    if re.search(r"\s", value):
        _fail(f"{var} must not contain spaces, got {value!r}")


def _url(value, var):
    if not re.match(r"^https?://[^\s/]+(?:/\S*)?$", value):
        _fail(f"{var} must be an http:// or https:// URL, e.g. http://127.0.0.1:8000, got {value!r}")


def _model(value, var):
    if not value or re.search(r"\s", value) or value.startswith("-"):
        _fail(f"{var} must be a HuggingFace model id (org/name) or a path, without spaces, got {value!r}")


def _ray_extra_args(value, var):
    ray_start_args({"head": True, "node_ip": "127.0.0.1", "port": 6379, "extra_args": value})


def _vllm_extra_args(value, var):
    vllm_serve_args({"model": "m", "tensor_parallel_size": 1, "pipeline_parallel_size": 1,
                     "gpu_memory_utilization": 0.5, "host": "127.0.0.1", "port": 8000, "extra_args": value})


def _cluster_env(value, var):
    ray_node_env({"node_ip": "127.0.0.1", "head_ip": "127.0.0.1", "interface": "lo", "extra": value})


# The value checks, by variable. Types, choices and required settings come from the argument specs first.
RULES = {
    "cluster_image": _image,
    "cluster_image_add_ray": _pinned_version,
    "cluster_fabric_interface": check_interface,
    "cluster_fabric_network": _cidr,
    "cluster_fabric_mtu": _mtu,
    "cluster_node_ip": _ip,
    "cluster_hf_cache_dir": _absolute,
    "cluster_compile_cache_dir": _absolute,
    "cluster_ray_port": _port,
    "cluster_mp_master_port": _port,
    "cluster_gpus_per_node": _at_least(1),
    "cluster_restart_limit": _at_least(0),
    "cluster_restart_backoff": _at_least(0),
    "cluster_ray_num_gpus": _at_least(0),
    "cluster_ray_num_cpus": _at_least(0),
    "cluster_ray_start_extra_args": _ray_extra_args,
    "cluster_nccl_ib_hca": _hca,
    "cluster_shm_size": _size,
    "cluster_container_env": _cluster_env,
    "cluster_container_capabilities": _capabilities,
    "cluster_head_container": _container_name,
    "cluster_worker_container": _container_name,
    "cluster_vllm_container": _container_name,
    "cluster_ray_tmp_volume": _container_name,
    "image_pull_registry": _registry,
    "image_pull_registry_username": _no_space,  # NGC's is the literal $oauthtoken
    "image_pull_archive": _absolute_or_empty,
    "image_pull_ray_ca_bundle": _absolute_or_empty,
    "image_pull_send_timeout": _at_least(1),
    "cluster_results_dir": _results_dir,
    "fabric_sizes": _message_sizes,
    "fabric_iterations": _at_least(1),
    "fabric_warmup": _at_least(0),
    "fabric_min_busbw": _at_least(0),
    "fabric_port": _port,
    "fabric_timeout": _at_least(1),
    "nfs_server_cache_owner": _user,
    "nfs_server_cache_group": _user,
    "nfs_server_export_options": _options,
    "nfs_client_mount_options": _options,
    "preflight_image_gib": _at_least(0),
    "preflight_model_gib": _at_least(0),
    "ssh_trust_user": _user,
    "ssh_trust_worker_user": _user,
    "ray_head_dashboard_host": _dashboard_host,
    "ray_head_wait_timeout": _at_least(1),
    "ray_worker_wait_timeout": _at_least(1),
    "vllm_serve_gateway_image": _image,
    "vllm_serve_gateway_container": _container_name,
    "vllm_serve_model": _model,
    "vllm_serve_served_model_name": _no_space,
    "vllm_serve_tensor_parallel_size": _at_least(1),
    "vllm_serve_pipeline_parallel_size": _at_least(1),
    "vllm_serve_max_model_len": _at_least(1),
    "vllm_serve_gpu_memory_utilization": check_fraction,
    "vllm_serve_host": _ip,
    "vllm_serve_port": _port,
    "vllm_serve_extra_args": _vllm_extra_args,
    "vllm_serve_env": _env,
    "vllm_serve_config_dir": _absolute,
    "vllm_serve_wait_timeout": _at_least(1),
    "vllm_serve_smoke_url": _url,
    "vllm_serve_smoke_max_tokens": _at_least(1),
    "vllm_serve_bench_dataset_path": _absolute_or_empty,
    "vllm_serve_bench_input_len": _at_least(1),
    "vllm_serve_bench_output_len": _at_least(1),
    "vllm_serve_bench_num_prompts": _at_least(1),
    "vllm_serve_bench_request_rate": _request_rate,
    "vllm_serve_bench_max_concurrency": _at_least(0),
    "vllm_serve_bench_timeout": _at_least(1),
}


_SCALAR = (str, int, float)
_WANTS = {"str": "a string", "path": "a path (a string)", "int": "a whole number", "float": "a number",
          "list": "a list", "dict": "a dict (a YAML mapping)"}


def _is_scalar(value):
    return isinstance(value, _SCALAR) and not isinstance(value, bool)


def _strict(name, option, value):
    """The message for a value that Ansible's type checks would convert silently: a dict or list to its text for a
    string, a comma-separated string to a list, 'k=v' text to a dict, true to 1. None when the value is fine as it
    is, or for the type checks to judge (a string for a number: -e gives strings)."""
    kind = option.get("type", "str")
    if value is None or kind not in _WANTS:
        return None
    if kind == "list":
        elements = option.get("elements")
        if isinstance(value, list) and (elements not in ("str", "path") or all(map(_is_scalar, value))):
            return None
        want = "a list" + (" of strings" if elements in ("str", "path") else "")
    elif kind == "dict":
        if isinstance(value, Mapping):
            return None
        want = _WANTS[kind]
    elif _is_scalar(value):
        return None
    else:
        want = _WANTS[kind]
    got = "the string" if isinstance(value, str) else f"a {type(value).__name__}"
    hint = (" (on the command line, pass it as JSON: -e '{\"" + name + "\": [...]}')"
            if kind in ("list", "dict") and isinstance(value, str) else "")
    return f"{name} must be {want}, got {got} {value!r}{hint}"


def _typed(specs, values):
    """Validate values against each role's argument spec: (errors, the values with types coerced and defaults).
    Secrets (no_log options) come back masked, as the result may be shown."""
    errors, typed = [], {}
    for role, options in specs.items():
        given = {name: value for name, value in values.items() if name in options}
        result = ArgumentSpecValidator(options).validate(given)
        errors += [f"{message} (role {role})" for message in result.error_messages]
        typed.update(result.validated_parameters)
        typed.update({name: MASK for name, option in options.items() if option.get("no_log") and typed.get(name)})
    return errors, typed


def _unknown(specs, values):
    # The variables of a role carry its name as prefix: a set variable with one that no role knows is a typo.
    prefixes = tuple(f"{role}_" for role in specs)
    known = {name for options in specs.values() for name in options} | PRODUCED
    errors = []
    for name in sorted(values):
        if name.startswith(prefixes) and name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            errors.append(f"{name} is not a setting of stacked_sparks.vllm{hint}")
    return errors


def _cross(settings, nodes):
    """Checks of settings against each other and against the inventory's number of nodes."""
    errors = []
    tp = settings.get("vllm_serve_tensor_parallel_size")
    pp = settings.get("vllm_serve_pipeline_parallel_size")
    per_node = settings.get("cluster_gpus_per_node")
    if nodes and not settings.get("vllm_serve_models") and all(isinstance(v, int) and v >= 1 for v in (tp, pp, per_node)) and tp * pp != nodes * per_node:
        errors.append(
            f"vllm_serve_tensor_parallel_size x vllm_serve_pipeline_parallel_size = {tp} x {pp} = {tp * pp} GPUs, "
            f"but the cluster has {nodes} node(s) x {per_node} GPU(s) (cluster_gpus_per_node) = {nodes * per_node}: "
            "vLLM could never place its workers (or would leave GPUs idle); make them equal")
    ray_ports = settings.get("cluster_ray_ports") or {}
    try:
        ray_start_args({"head": True, "node_ip": "127.0.0.1", "port": settings.get("cluster_ray_port"),
                        **{f"{key}_port": value for key, value in ray_ports.items()}})
    except OptionError as exc:
        errors.append(str(exc))
    if settings.get("image_pull_archive") and settings.get("image_pull_source") != "head":
        errors.append("image_pull_archive is set, but image_pull_source is not head: the archive is loaded on the "
                      "head and sent to the workers from there; set image_pull_source: head")
    if settings.get("cluster_image_add_ray") and settings.get("cluster_backend") == "mp":
        errors.append("cluster_image_add_ray is set, but cluster_backend is mp, which runs no Ray: unset "
                      "cluster_image_add_ray (or set cluster_backend: ray)")
    if settings.get("vllm_serve_bench_dataset") == "sharegpt" and not settings.get("vllm_serve_bench_dataset_path"):
        errors.append("vllm_serve_bench_dataset is sharegpt, but vllm_serve_bench_dataset_path is empty: give the "
                      "ShareGPT JSON file on the head")
    if settings.get("image_pull_ray_ca_bundle") and not settings.get("cluster_image_add_ray"):
        errors.append("image_pull_ray_ca_bundle is set, but cluster_image_add_ray is empty: no image with Ray is "
                      "built; set cluster_image_add_ray to the Ray version to add")
    return errors + _compile_cache(settings) + _ports(settings, ray_ports)


def _compile_cache(settings):
    """The compile caches on each node's own disk, never in the HuggingFace cache that NFS shares between nodes."""
    cache, shared = settings.get("cluster_compile_cache_dir"), settings.get("cluster_hf_cache_dir")
    if not all(isinstance(path, str) and posixpath.isabs(path) for path in (cache, shared)):
        return []
    cache, shared = posixpath.normpath(cache), posixpath.normpath(shared)
    if cache == shared or cache.startswith(shared.rstrip("/") + "/"):
        return [f"cluster_compile_cache_dir {cache} is inside cluster_hf_cache_dir {shared}, which the nodes share: "
                "compile caches written by several nodes break; give each node's caches a local directory"]
    return []


def _port_clashes(var, settings, ray_ports, others=()):
    """Messages for the port of var against Ray's ports (none shared, none inside the worker range) and the
    variables in others."""
    port = settings.get(var)
    if not isinstance(port, int):
        return []
    taken = {name: settings.get(name) for name in ("cluster_ray_port", *others)}
    taken.update({f"cluster_ray_ports.{key}": value for key, value in ray_ports.items()
                  if key not in ("min_worker", "max_worker")})
    errors = [f"{var} and {name} both use port {port}: give each its own"
              for name, used in taken.items() if used == port]
    low, high = ray_ports.get("min_worker"), ray_ports.get("max_worker")
    if isinstance(low, int) and isinstance(high, int) and low <= port <= high:
        errors.append(f"{var} {port} is in Ray's worker port range {low}-{high} (cluster_ray_ports.min_worker "
                      "and max_worker): move one of them")
    return errors


def _ports(settings, ray_ports):
    """vLLM's ports against Ray's and each other, and the API port not among the ports Ray fixes itself (the host
    firewall keeps those to the fabric; the node's ephemeral range is node_preflight's check)."""
    errors = _port_clashes("cluster_mp_master_port", settings, ray_ports)
    errors += _port_clashes("fabric_port", settings, ray_ports, others=["cluster_mp_master_port", "vllm_serve_port"])
    api = _port_clashes("vllm_serve_port", settings, ray_ports, others=["cluster_mp_master_port"])
    if not api and isinstance(settings.get("vllm_serve_port"), int):
        api = _api_port_closed(settings["vllm_serve_port"], settings)
    return errors + api


def _api_port_closed(api, settings):
    """The API port among the ports Ray fixes itself, which the host firewall keeps to the fabric too (see
    commands.ray_closed_ports; the node's ephemeral range is node_preflight's check)."""
    env = settings.get("cluster_container_env") or {}
    for name, default in RAY_METRIC_PORTS.items():
        if str(env.get(name, default)) == str(api):
            return [f"vllm_serve_port {api} is Ray's {name} ({'cluster_container_env' if name in env else 'its default'}), "
                    "a port the host firewall keeps to loopback and the fabric: pick another"]
    low, high = map(int, RAY_CLIENT_PORTS.split(":"))
    if low <= api <= high:
        return [f"vllm_serve_port {api} is in {low}-{high}, where Ray's client server starts its per-client servers, "
                "ports the host firewall keeps to loopback and the fabric: pick another"]
    return []


def plain(value):
    """The value as plain Python data (dict, list, str, int, float, bool, None), the same values in exact types.
    Ansible 2.19 hands filters its lazy, tagged containers; ArgumentSpecValidator deep-copies its spec, and a deep
    copy of those costs about half a second a host, where plain data costs a millisecond."""
    if isinstance(value, Mapping):
        return {plain(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    for kind in (bool, int, float, str):   # bool first: a bool is an int
        if isinstance(value, kind):
            return kind(value)
    return value


def check_settings(values, specs, nodes=0):
    """Check the settings: {"errors": [messages that name the variable], "settings": {name: value}}.

    values: the variables set in the inventory, extra vars, ... (name -> value), only those with the roles'
        prefixes matter. Unset variables take the defaults of the argument specs.
    specs: role name -> the options of its argument spec (meta/argument_specs.yml, entry point main).
    nodes: the inventory's nodes (head first, then the workers), for the parallel sizes and vllm_serve_models
        (models.check_models); or only how many there are, which skips the list's checks; 0 skips both.
    settings holds every option of the specs, with the types coerced and the defaults filled in, and the secrets
    (no_log options) masked.
    """
    if not isinstance(values, Mapping) or not isinstance(specs, Mapping):
        raise TypeError("check_settings expects a dict of variables and a dict of argument specs")
    values, specs = plain(values), plain(specs)
    errors = _unknown(specs, values)
    options = {name: option for role_options in specs.values() for name, option in role_options.items()}
    strict = {name: _strict(name, options[name], value) for name, value in values.items() if name in options}
    strict = {name: message for name, message in strict.items() if message}
    type_errors, settings = _typed(specs, {name: value for name, value in values.items() if name not in strict})
    type_errors += list(strict.values())
    errors += type_errors
    for var, check in RULES.items():
        value = settings.get(var)
        if value is None or var in strict or any(f"'{var}'" in message for message in type_errors):
            continue
        try:
            check(value, var)
        except OptionError as exc:
            errors.append(str(exc))
    names = [str(node) for node in nodes] if isinstance(nodes, (list, tuple)) else []
    if not type_errors:
        errors += _cross(settings, len(names) if names else nodes)
        if names:
            errors += check_models(settings, names, settings.get("cluster_gpus_per_node"), _reserved_ports(settings))
    return {"errors": errors, "settings": settings}


def _reserved_ports(settings):
    """The ports that the models' ports must keep clear of (models.check_models' reserved_ports): Ray's, the
    rendezvous of vLLM's own launcher, the fabric test's, and those the host firewall keeps to the fabric."""
    reserved = {settings.get(var): var for var in ("cluster_ray_port", "cluster_mp_master_port", "fabric_port")}
    ray_ports = dict(settings.get("cluster_ray_ports") or {})
    low, high = ray_ports.pop("min_worker", None), ray_ports.pop("max_worker", None)
    reserved.update({port: f"cluster_ray_ports.{key}" for key, port in ray_ports.items()})
    if low is not None and high is not None:
        reserved[(low, high)] = "Ray's worker ports (cluster_ray_ports.min_worker and max_worker)"
    env = settings.get("cluster_container_env") or {}
    reserved.update({env.get(name, default): f"Ray's {name}" for name, default in RAY_METRIC_PORTS.items()})
    reserved[RAY_CLIENT_PORTS.replace(":", "-")] = "the range of Ray's per-client servers"
    return {port: name for port, name in reserved.items() if port is not None}


def model_location(model, cache_dir, env=None):
    """Where on the node the model lives before vLLM starts: {"path": str or None, "must_exist": bool}.

    A path under the containers' cache mount (/root/.cache/huggingface/...) is that path under cache_dir on the
    node, and must exist. A HuggingFace id (org/name) is the cache's hub/models--org--name directory; it must
    exist in offline mode (HF_HUB_OFFLINE set in env), else vLLM downloads it there. Other paths live in the
    image: path None, nothing to check before vLLM starts.
    """
    mount = "/root/.cache/huggingface"
    model = (model or "").rstrip("/")
    if model == mount or model.startswith(mount + "/"):
        return {"path": posixpath.join(cache_dir, model[len(mount) + 1:]).rstrip("/"), "must_exist": True}
    if model.startswith(("/", ".")) or model.count("/") != 1:
        return {"path": None, "must_exist": False}
    offline = str((env or {}).get("HF_HUB_OFFLINE", "")).strip().lower() in _TRUE
    return {"path": posixpath.join(cache_dir, "hub", "models--" + model.replace("/", "--")), "must_exist": offline}
