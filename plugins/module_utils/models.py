# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The models the service serves, and the gateway in front of them. Pure functions.

vllm_serve_models lists several models behind one OpenAI endpoint, each its own `vllm serve` on some of the nodes,
with a LiteLLM proxy (the gateway) on vllm_serve_port routing each request to the model it names. Empty (the
default), the single-model settings (vllm_serve_model, vllm_serve_tensor_parallel_size, ...) describe the one model,
served on vllm_serve_port itself, as before.

served_models() gives every model as one complete dict, check_models() the problems of the list as messages that
name the entry and its key, serving_plan() where each model runs and listens (and whether the gateway runs),
gateway_config() the gateway's config.yaml.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from ansible_collections.stacked_sparks.vllm.plugins.module_utils.commands import (
    OptionError,
    check_fraction,
    check_int,
    vllm_serve_args,
)

MODELS_VAR = "vllm_serve_models"
# The keys of an entry of vllm_serve_models, in the order served_models() gives them; "single" is added there.
KEYS = ("name", "model", "served_model_name", "tensor_parallel_size", "pipeline_parallel_size", "nodes",
        "gpu_memory_utilization", "max_model_len", "extra_args", "port", "env")
REQUIRED = ("name", "model")
ALL_NODES = "all"
# The name of the one model made from the single-model settings (its container stays cluster_vllm_container).
SINGLE_NAME = "default"
# vLLM's own default share of the GPU's memory, where the settings give none.
GPU_MEMORY_DEFAULT = 0.9
# A model's name names its containers: lower-case letters, digits and dashes, a letter first, 40 characters at most.
NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}\Z")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
# The single-model settings that vllm_serve_args names in its messages, and the key of an entry that replaces each.
_SINGLE_VARS = re.compile(r"\bvllm_serve_(model|served_model_name|tensor_parallel_size|pipeline_parallel_size|"
                          r"max_model_len|gpu_memory_utilization|port)\b")
# The module of the gateway's hooks, beside its config.yaml.
HOOKS = "gateway_hooks"
# Shares of the GPU's memory are added as floats: 0.34 + 0.56 + 0.1 is 1.0000000000000002.
_SLACK = 1e-9


def _label(index, entry):
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return f"{MODELS_VAR}[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")


def _and(items):
    return " and ".join(items) if len(items) < 3 else f"{', '.join(items[:-1])} and {items[-1]}"


def _got(value):
    return f"the string {value!r}" if isinstance(value, str) else repr(value)


def _whole(value, key, minimum, maximum=None):
    """An int within [minimum, maximum]; not a string (the entries' values come typed from YAML)."""
    if isinstance(value, str):
        raise OptionError(f"{key} must be an integer, got {_got(value)}")
    return check_int(value, key, minimum, maximum)


def _name(value, key):
    if not isinstance(value, str) or not NAME.match(value):
        raise OptionError(f"{key} must be lower-case letters, digits and dashes, starting with a letter, at most 40 "
                          f"characters (it names the model's containers), got {value!r}")
    return value


def _model(value, key):
    # The rule of settings.RULES["vllm_serve_model"].
    if not isinstance(value, str) or not value or re.search(r"\s", value) or value.startswith("-"):
        raise OptionError(f"{key} must be a HuggingFace model id (org/name) or a path, without spaces, got {value!r}")
    return value


def _served_name(value, key):
    if not isinstance(value, str) or not value or re.search(r"\s", value):
        raise OptionError(f"{key} must be a name without spaces (what clients ask for), got {value!r}")
    return value


def _share(value, key):
    if isinstance(value, str):
        raise OptionError(f"{key} must be a number, got {_got(value)}")
    return check_fraction(value, key)


def _extra_args(value, key):
    """A list of arguments for `vllm serve`, none setting a flag the role manages (commands.vllm_serve_args' rule,
    its message in the entry's words)."""
    if not isinstance(value, (list, tuple)):
        raise OptionError(f"{key} must be a list of strings (one argument per item), got {_got(value)}")
    try:
        vllm_serve_args({"model": "m", "tensor_parallel_size": 1, "pipeline_parallel_size": 1,
                         "gpu_memory_utilization": 0.5, "host": "127.0.0.1", "port": 8000, "extra_args": value})
    except OptionError as exc:
        message = str(exc).replace("vllm_serve_extra_args", key)
        raise OptionError(_SINGLE_VARS.sub(r"the model's \1", message)) from None
    return [str(item) for item in value]


def _env(value, key):
    # The rule of settings.RULES["vllm_serve_env"].
    if not isinstance(value, Mapping):
        raise OptionError(f"{key} must be a dict (a YAML mapping) of variable names to values, got {_got(value)}")
    for name, item in value.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise OptionError(f"{key} has an invalid environment variable name {name!r}")
        if item is None or isinstance(item, (Mapping, list, tuple)):
            raise OptionError(f"{key}.{name} must be a string or a number, got {item!r}")
    return dict(value)


def _nodes(value, key, inventory):
    """all, or a list of the inventory's host names: the hosts, in the inventory's order (the head first)."""
    if value == ALL_NODES:
        return list(inventory)
    if not isinstance(value, (list, tuple)):
        hint = f" (one host is a list too: [{value}])" if isinstance(value, str) and value else ""
        raise OptionError(f"{key} must be {ALL_NODES} or a list of the inventory's host names, got {_got(value)}{hint}")
    if not value:
        raise OptionError(f"{key} must name at least one host (or be {ALL_NODES}), got []")
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        raise OptionError(f"{key} must list host names (strings), got {bad[0]!r}")
    twice = sorted({item for item in value if value.count(item) > 1})
    if twice:
        raise OptionError(f"{key} names {', '.join(twice)} more than once")
    unknown = [item for item in value if item not in inventory]
    if unknown:
        raise OptionError(f"{key} names {', '.join(unknown)}, not in the inventory (its nodes: "
                          f"{', '.join(inventory) or 'none'})")
    return [host for host in inventory if host in value]


def _unset(key, value):
    """None leaves a key unset; so does "" where it means none (name, model: missing; served_model_name: the
    model, as vllm_serve_served_model_name)."""
    return value is None or (value == "" and key in ("name", "model", "served_model_name"))


def _single(settings, inventory):
    """The one model of the single-model settings."""
    model = settings.get("vllm_serve_model")
    share = settings.get("vllm_serve_gpu_memory_utilization")
    return {
        "name": SINGLE_NAME,
        "model": model,
        "served_model_name": settings.get("vllm_serve_served_model_name") or model,
        "tensor_parallel_size": settings.get("vllm_serve_tensor_parallel_size"),
        "pipeline_parallel_size": settings.get("vllm_serve_pipeline_parallel_size"),
        "nodes": list(inventory),
        "gpu_memory_utilization": GPU_MEMORY_DEFAULT if share is None else share,
        "max_model_len": settings.get("vllm_serve_max_model_len"),
        "extra_args": list(settings.get("vllm_serve_extra_args") or []),
        "port": settings.get("vllm_serve_port"),
        "env": dict(settings.get("vllm_serve_env") or {}),
        "single": True,
    }


def _entry(index, entry, count, settings, inventory):
    """One entry of vllm_serve_models: (the complete dict, None where a value is bad; the messages)."""
    label = _label(index, entry)
    if not isinstance(entry, Mapping):
        return None, [f"{label} must be a dict (a YAML mapping) with at least name and model, got {_got(entry)}"]
    errors = []
    for key in sorted(str(key) for key in entry if key not in KEYS):
        close = difflib.get_close_matches(key, KEYS, n=1)
        hint = f"did you mean {close[0]}?" if close else f"an entry knows {', '.join(KEYS)}"
        errors.append(f"{label}: {key} is not a key of a model ({hint})")
    for key in REQUIRED:
        if _unset(key, entry.get(key)):
            errors.append(f"{label}: {key} must be set")
    if count > 1 and entry.get("port") is None:
        errors.append(f"{label}: port must be set: with several models, each listens on a port of its own, behind "
                      f"the gateway on vllm_serve_port")
    share = settings.get("vllm_serve_gpu_memory_utilization")
    defaults = {
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "nodes": list(inventory),
        "gpu_memory_utilization": GPU_MEMORY_DEFAULT if share is None else share,
        "max_model_len": settings.get("vllm_serve_max_model_len"),
        "extra_args": list(settings.get("vllm_serve_extra_args") or []),
        "port": settings.get("vllm_serve_port") if count == 1 else None,
        "env": dict(settings.get("vllm_serve_env") or {}),
    }
    checks = {
        "name": _name,
        "model": _model,
        "served_model_name": _served_name,
        "tensor_parallel_size": lambda value, key: _whole(value, key, 1),
        "pipeline_parallel_size": lambda value, key: _whole(value, key, 1),
        "nodes": lambda value, key: _nodes(value, key, inventory),
        "gpu_memory_utilization": _share,
        "max_model_len": lambda value, key: _whole(value, key, 1),
        "extra_args": _extra_args,
        "port": lambda value, key: _whole(value, key, 1, 65535),
        "env": _env,
    }
    result = {}
    for key in KEYS:
        value = entry.get(key)
        if _unset(key, value):
            result[key] = defaults.get(key)
            continue
        try:
            result[key] = checks[key](value, key)
        except OptionError as exc:
            errors.append(f"{label}: {exc}")
            result[key] = None
    if _unset("served_model_name", entry.get("served_model_name")):
        result["served_model_name"] = result["model"]
    result["single"] = False
    return result, errors


def _resolve(settings, inventory):
    """(the models, their labels in messages, the messages of their entries)."""
    if not isinstance(settings, Mapping):
        raise TypeError("the models need the dict of checked settings")
    inventory = [str(host) for host in inventory or []]
    entries = settings.get(MODELS_VAR)
    if entries is None or (isinstance(entries, (list, tuple)) and not entries):
        return [_single(settings, inventory)], [MODELS_VAR], []
    if not isinstance(entries, (list, tuple)):
        return [], [], [f"{MODELS_VAR} must be a list of models (each a dict with at least name and model), "
                        f"got {_got(entries)}"]
    models, errors = [], []
    for index, entry in enumerate(entries):
        model, messages = _entry(index, entry, len(entries), settings, inventory)
        models.append(model)
        errors += messages
    return models, [_label(index, entry) for index, entry in enumerate(entries)], errors


def needs_gateway(models, api_port, head):
    """Whether the gateway must run on api_port (vllm_serve_port) on the head: some model listens elsewhere (on
    another port, or on another node). Never for the one model of the single-model settings, nor for a lone entry
    of vllm_serve_models on the head without a port of its own."""
    return any(model["port"] != api_port or (model["nodes"] and model["nodes"][0] != head) for model in models)


def _twice(models, labels, key, what, advice):
    """Messages for the entries whose value of key an earlier entry has too."""
    first, errors = {}, []
    for index, model in enumerate(models):
        value = model and model[key]
        if value is None:
            continue
        if value in first:
            errors.append(f"{labels[first[value]]} and {labels[index]} {what} {value}: {advice}")
        else:
            first[value] = index
    return errors


def _reserved(reserved_ports):
    """reserved_ports as [(low, high, setting)]: a key is a port (an int, or its digits) or a range (a (low, high)
    pair, or the text low-high)."""
    ranges = []
    for key, name in (reserved_ports or {}).items():
        if isinstance(key, (tuple, list)) and len(key) == 2:
            low, high = key
        elif isinstance(key, str) and re.match(r"^\s*\d+\s*-\s*\d+\s*$", key):
            low, high = key.split("-")
        else:
            low = high = key
        try:
            ranges.append((int(low), int(high), str(name)))
        except (TypeError, ValueError):
            raise TypeError(f"reserved_ports maps ports (or ranges low-high) to settings, got key {key!r}") from None
    return ranges


def _ports(models, labels, settings, reserved_ports, head):
    """Each model's port against the others', the ports of reserved_ports and, where the gateway runs, the
    gateway's (vllm_serve_port)."""
    errors = _twice(models, labels, "port", "both use port", "give each its own")
    api = settings.get("vllm_serve_port")
    ranges = _reserved(reserved_ports)
    gateway = needs_gateway([model for model in models if model and model["port"] is not None], api, head)
    gateway_port = [(api, api, "vllm_serve_port (where the gateway listens)")] if gateway and isinstance(api, int) \
        and not any(low <= api <= high for low, high, _name in ranges) else []
    for index, model in enumerate(models):
        port = model and model["port"]
        if port is None or (port == api and not gateway):
            continue   # no port, or the API itself, whose port the settings checks judge
        on_head = bool(model["nodes"]) and model["nodes"][0] == head   # where the gateway is
        for low, high, name in ranges + (gateway_port if on_head else []):
            if low == high == port:
                errors.append(f"{labels[index]}: port and {name} both use port {port}: give each its own")
            elif low <= port <= high:
                errors.append(f"{labels[index]}: port {port} is in {name} {low}-{high}: move one of them")
    return errors


def _gpus(models, labels, gpus_per_node):
    """Each model's tensor x pipeline parallel size against the GPUs of its nodes (settings.py's rule for the
    single-model settings: equal)."""
    errors = []
    if isinstance(gpus_per_node, bool) or not isinstance(gpus_per_node, int) or gpus_per_node < 1:
        return errors
    for index, model in enumerate(models):
        if not model:
            continue
        tp, pp, nodes = model["tensor_parallel_size"], model["pipeline_parallel_size"], model["nodes"]
        if tp is None or pp is None or not nodes or tp * pp == len(nodes) * gpus_per_node:
            continue
        errors.append(
            f"{labels[index]}: tensor_parallel_size x pipeline_parallel_size = {tp} x {pp} = {tp * pp} GPUs, "
            f"but its nodes have {len(nodes)} node(s) x {gpus_per_node} GPU(s) (cluster_gpus_per_node) = "
            f"{len(nodes) * gpus_per_node}: vLLM could never place its workers (or would leave GPUs idle); make them "
            "equal")
    return errors


def _spans(models, labels, inventory):
    """At most one model spans several nodes, and it spans all of them: under cluster_backend ray its vLLM places
    its workers through the Ray cluster, whose placement groups take a whole GPU of every node for each worker
    (two such models would wait for each other's GPUs); under mp it holds the one rendezvous port
    (cluster_mp_master_port). The models on one node each run there alone, outside Ray."""
    spanning = [index for index, model in enumerate(models) if model and model["nodes"] and len(model["nodes"]) > 1]
    errors = [f"{labels[index]}: nodes names {len(models[index]['nodes'])} of the {len(inventory)} nodes: a model on "
              f"several nodes runs on all of them (nodes: {ALL_NODES}), or on one"
              for index in spanning if len(models[index]["nodes"]) != len(inventory)]
    if len(spanning) > 1:
        errors.append(f"{_and([labels[index] for index in spanning])} each run on several nodes: one model may span "
                      "the nodes (its workers take a whole GPU of each), the others run on one node each "
                      "(nodes: [a host])")
    return errors


def _memory(models, labels, inventory):
    """The shares of the GPUs' memory of the models that run on one node, at most 1 in all; one message for the
    nodes that the same models overfill."""
    overfilled = {}
    for host in inventory:
        here = [index for index, model in enumerate(models)
                if model and model["nodes"] and host in model["nodes"] and model["gpu_memory_utilization"] is not None]
        if sum(models[index]["gpu_memory_utilization"] for index in here) > 1 + _SLACK:
            overfilled.setdefault(tuple(here), []).append(host)
    errors = []
    for here, hosts in overfilled.items():
        shares = [models[index]["gpu_memory_utilization"] for index in here]
        errors.append(
            f"{_and([labels[index] for index in here])} share {_and(hosts)}, where their "
            f"gpu_memory_utilization {' + '.join(format(share, 'g') for share in shares)} = "
            f"{round(sum(shares), 6):g} is more than each GPU's memory: lower them to add up to at most 1, or put "
            "the models on other nodes")
    return errors


def served_models(settings, nodes, gpus_per_node):
    """The models to serve, each a complete dict: name, model, served_model_name, tensor_parallel_size,
    pipeline_parallel_size, nodes, gpu_memory_utilization, max_model_len, extra_args, port, env, single.

    settings: the checked settings (check_settings' "settings": every option, defaults filled in).
    nodes: the inventory's host names, the head first.
    gpus_per_node: cluster_gpus_per_node.
    With vllm_serve_models empty, one model from the single-model settings (vllm_serve_model,
    vllm_serve_served_model_name, ..., vllm_serve_port, vllm_serve_env) on every node, single True: what the
    collection served before the list. Else one per entry, in the list's order, single False: served_model_name
    the model where unset, tensor and pipeline parallel size 1, nodes all (every node), gpu_memory_utilization,
    max_model_len, extra_args and env those of the single-model settings (vllm_serve_gpu_memory_utilization, ...), port
    vllm_serve_port for a lone entry (served without the gateway), required with several. nodes comes back as
    host names in the inventory's order.
    Raises OptionError with check_models' messages (reserved ports aside) where the list has problems.
    """
    models, labels, errors = _resolve(settings, nodes)
    if not errors:
        errors = _checks(models, labels, settings, nodes, gpus_per_node, {})
    if errors:
        raise OptionError("; ".join(errors))
    return models


def _checks(models, labels, settings, inventory, gpus_per_node, reserved_ports):
    if any(model and model["single"] for model in models):
        return []   # the single-model settings: settings.py checks them
    inventory = [str(host) for host in inventory or []]
    return (_twice(models, labels, "name", "are both named", "each model needs a name of its own (it names containers)")
            + _twice(models, labels, "served_model_name", "are both served as",
                     "the gateway routes by that name; give each its own served_model_name")
            + _ports(models, labels, settings, reserved_ports, inventory[0] if inventory else None)
            + _gpus(models, labels, gpus_per_node)
            + _spans(models, labels, inventory)
            + _memory(models, labels, inventory))


def check_models(settings, nodes, gpus_per_node, reserved_ports):
    """The problems of vllm_serve_models, as messages that name the entry (its index and name) and its key.

    settings, nodes, gpus_per_node: as for served_models().
    reserved_ports: the ports other services hold, {port: the setting that sets it}, e.g. Ray's ports and
        cluster_mp_master_port; a key may also be a range, a (low, high) pair or the text "low-high" (Ray's
        worker ports). The gateway's vllm_serve_port is added where the gateway runs (see needs_gateway).
    Checks each entry (keys known, name and model set, the name's form, the types and ranges of the values, the
    nodes in the inventory, a port for each of several entries), then the entries together: names, served names
    and ports used once, no port among the reserved ones, tensor x pipeline parallel size equal to the GPUs of the
    entry's nodes, at most one model on several nodes (and then on all of them), and the shares of the GPUs' memory of the models on one node at most 1 in all.
    Empty for the single-model settings, which the settings checks judge.
    """
    models, labels, errors = _resolve(settings, nodes)
    return errors + _checks(models, labels, settings, nodes, gpus_per_node, reserved_ports)


def serving_plan(settings, nodes, node_ips, gpus_per_node, backend, container):
    """Where and how each model runs: {"gateway": bool, "models": [...], "containers": [...], "ports": {...}}, the
    models in served_models()' order, containers each model's as {"key": host, "value": name}, ports what each
    node listens on for the service (the preflight's port check).

    settings, nodes, gpus_per_node: as for served_models(); node_ips: each node's fabric address (cluster_node_ips);
    backend: cluster_backend; container: cluster_vllm_container.
    gateway: whether the gateway serves vllm_serve_port on the head (see needs_gateway; also where a lone entry
    sits on a worker). Each model is served_models()' dict with:
      container: its containers' name: cluster_vllm_container for the one model of the single-model settings,
        cluster_vllm_container-<name> for an entry of vllm_serve_models.
      executor: "ray" (cluster_backend ray, several nodes: vLLM on the head places its workers through Ray) or
        "mp" (vLLM's own executor: on one node, or on several with vLLM's multi-node launcher under mp); the
        single model's is cluster_backend's, as before.
      runs_on: the nodes that run its container (under ray a model on several nodes runs on the head alone).
      api_node: the node that serves its API (the first of its nodes: the head where it runs there).
      host, port: where its API listens: without the gateway vllm_serve_host and vllm_serve_port; behind it
        127.0.0.1 on the head, the node's fabric address on a worker (the host firewall keeps it to the fabric).
      url: its API's base URL, as its node and the gateway on the head reach it.
    host and url are None for a model on a worker that node_ips (this run's look at the nodes) lacks.
    """
    models = served_models(settings, nodes, gpus_per_node)
    head = nodes[0]
    api_port = settings.get("vllm_serve_port")
    gateway = needs_gateway(models, api_port, head)
    plan = []
    for model in models:
        several = len(model["nodes"]) > 1
        api_node = model["nodes"][0]
        if not gateway:
            host = settings.get("vllm_serve_host")
        else:
            host = "127.0.0.1" if api_node == head else (node_ips or {}).get(api_node)
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        # the single model as before: the backend's executor on every node count; an entry on one node: vLLM's own
        executor = backend if model["single"] else "ray" if several and backend == "ray" else "mp"
        plan.append({
            **model,
            "container": container if model["single"] else f"{container}-{model['name']}",
            "executor": executor,
            "runs_on": [head] if executor == "ray" else list(model["nodes"]),
            "api_node": api_node,
            "host": host,
            "url": None if local is None else f"http://{f'[{local}]' if ':' in local else local}:{model['port']}",
        })
    containers = [{"key": host, "value": model["container"]} for model in plan for host in model["runs_on"]]
    return {"gateway": gateway, "models": plan, "containers": containers,
            "ports": _listeners(plan, head, settings, gateway, container)}


def _listeners(plan, head, settings, gateway, container):
    """{node: [the ports the service listens on there, as node_preflight's ports]}: the API port on the head,
    and each model's own port on the node serving its API. Any of the service's containers may hold them (a
    rerun, or a switch between one model and several)."""
    ours = [container, settings.get("vllm_serve_gateway_container")]
    ours = list(dict.fromkeys([name for name in ours if name] + [model["container"] for model in plan]))
    api = settings.get("vllm_serve_port")
    ports = {head: [{"port": api, "name": "vllm_serve_port", "holders": ours, "outside_ephemeral": True}]}
    for index, model in enumerate(plan):
        if gateway:
            ports.setdefault(model["api_node"], []).append(
                {"port": model["port"], "name": f"{MODELS_VAR}[{index}].port ({model['name']})", "holders": ours,
                 "outside_ephemeral": True})
    return ports


def gateway_config(models, master_key=""):
    """The gateway's config.yaml (a LiteLLM proxy), as a dict: each model under its served name, sent to its
    vLLM's URL.

    models: serving_plan()'s models (served_model_name, url).
    master_key: the key clients must send (vllm_serve_api_key); empty, none. The file is root's alone.
    The config loads the hooks of gateway_hooks.py (HOOKS), which the role puts beside it.
    """
    # The format: https://docs.litellm.ai/docs/proxy/configs (model_list, each item's model_name, the name clients
    # ask for, and litellm_params; general_settings.master_key) and https://docs.litellm.ai/docs/providers/vllm
    # (litellm_params.model "hosted_vllm/<the name vLLM serves>" with api_base, for vLLM's OpenAI-compatible
    # server, whose base is http://<host>:<port>/v1).
    model_list = []
    for index, model in enumerate(models):
        served, url = model.get("served_model_name"), model.get("url")
        if not served or not url:
            raise OptionError(f"gateway_config: {_label(index, model)} needs served_model_name and url, got "
                              f"{served!r} and {url!r}")
        model_list.append({"model_name": served,
                           "litellm_params": {"model": f"hosted_vllm/{served}", "api_base": f"{url}/v1"}})
    # The hooks (roles/vllm_serve/files/gateway_hooks.py, beside config.yaml): 401 for a wrong key (custom_auth),
    # 404 for a model not served (a callback's pre-call hook), where LiteLLM answers 400 to both.
    # Without a key (vllm_serve_api_key empty: everyone may call the API, as the single vLLM without one), LiteLLM
    # 1.108 refuses to start unless told that this is meant.
    settings = {"custom_auth": f"{HOOKS}.user_api_key_auth"}
    if master_key:
        settings["master_key"] = master_key
    else:
        settings["dangerously_permit_weak_or_unset_master_key"] = True
    return {"model_list": model_list, "general_settings": settings,
            "litellm_settings": {"callbacks": f"{HOOKS}.proxy_handler_instance"}}
