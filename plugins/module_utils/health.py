# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster's health as the status playbook reports it: every container, Ray's nodes and GPUs per node, and the
models vLLM answers with, judged against what the inventory says the cluster is. Pure functions."""

from __future__ import annotations


def _count(number):
    """2.0 -> '2', 0.5 -> '0.5'."""
    return str(int(number)) if float(number).is_integer() else str(number)


def container_health(host, name, info):
    """(report lines, what is degraded or None) of one container from its docker_container_info result. A running
    container whose health check fails is one whose supervisor gave up (the check's output says why, with the
    command's last lines)."""
    where = f"{name} on {host}"
    log = f"; log: docker logs {name}"
    if not info.get("exists"):
        return [f"{where}: absent{log}"], f"{where} is absent"
    container = info.get("container") or {}
    state = container.get("State") or {}
    status = state.get("Status", "unknown")
    restarts = container.get("RestartCount", 0)
    counted = f"restarted {restarts} time{'' if restarts == 1 else 's'}"
    health = state.get("Health") or {}
    if status == "running" and health.get("Status") == "unhealthy":
        said = ((health.get("Log") or [{}])[-1].get("Output") or "").strip().splitlines()
        why = said[0].split("; fix the cause")[0].replace(f"{name} ", "", 1) if said else "its health check fails"
        return [f"{where}: running, but {why}{log}"] + said[1:], f"{where} {why}"
    if status == "running":
        return [f"{where}: running since {state.get('StartedAt', '?')[:19]}, {counted}{log}"], None
    exit_code = f"exit code {state.get('ExitCode', '?')}" + (", out of memory" if state.get("OOMKilled") else "")
    return [f"{where}: {status} ({exit_code}), {counted}{log}"], f"{where} is {status} ({exit_code})"


def node_address(results, host):
    """The fabric address a node's containers run with (VLLM_HOST_IP, which the roles set from the node's look at
    its fabric interface, as Ray's --node-ip-address), or None when the node has no container."""
    for result in results:
        if result["item"]["key"] == host and result.get("exists"):
            for entry in ((result.get("container") or {}).get("Config") or {}).get("Env") or []:
                if entry.startswith("VLLM_HOST_IP="):
                    return entry.split("=", 1)[1]
    return None


def ray_health(ray, node_ips, gpus_per_node):
    """(report lines, degraded) of Ray's answer (a ray_status result) against the nodes, host to address (None
    where the address is not known)."""
    if ray.get("failed") or "nodes" not in ray:
        reason = ray.get("last_error") or ray.get("msg") or "no answer"
        return [f"Ray: no answer ({reason})"], [f"Ray does not answer ({reason})"]
    want_nodes, want_gpus = len(node_ips), len(node_ips) * gpus_per_node
    lines = [f"Ray: {ray['nodes']} of {want_nodes} nodes, {_count(ray.get('gpus', 0))} of {want_gpus} GPUs"]
    degraded = []
    per_node = ray.get("node_gpus")
    if per_node is None:   # ray status (the dashboard did not answer) gives totals only
        if ray["nodes"] < want_nodes:
            degraded.append(f"Ray has {ray['nodes']} of {want_nodes} nodes")
        if ray.get("gpus", 0) < want_gpus:
            degraded.append(f"Ray has {_count(ray.get('gpus', 0))} of {want_gpus} GPUs")
        return lines, degraded
    for host, address in node_ips.items():
        if address not in per_node:
            lines.append(f"  {host} ({address or 'address unknown: no container'}): not in Ray")
            degraded.append(f"{host} is not in Ray")
            continue
        lines.append(f"  {host} ({address}): {_count(per_node[address])} GPU")
        if per_node[address] < gpus_per_node:
            degraded.append(f"{host} has {_count(per_node[address])} of {gpus_per_node} GPUs in Ray")
    strangers = sorted(set(per_node) - set(node_ips.values()))
    if strangers:   # not degraded, but worth seeing: a node at an address none of the inventory's nodes has
        lines.append(f"  also in Ray: {', '.join(strangers)}")
    return lines, degraded


def models_health(models, url, expected):
    """(report line, degraded or None) of vLLM's answer (a vllm_models result)."""
    listed = models.get("models") or []
    if models.get("failed") or not listed:
        reason = models.get("last_error") or models.get("msg") or "no models listed"
        return f"vLLM at {url}: no answer ({reason})", f"vLLM at {url} does not answer ({reason})"
    line = f"vLLM at {url}: {', '.join(listed)}"
    missing = [name for name in ([expected] if isinstance(expected, str) else expected) if name not in listed]
    if missing:
        return line, f"vLLM at {url} does not serve {', '.join(missing)} (it lists {', '.join(listed)})"
    return line, None


def cluster_health(options):
    """The report and the verdict of the status playbook.

    Options:
      containers (list): docker_container_info results, each with item {key: host, value: container name}.
      ray (dict or None): the ray_status result (nodes, gpus, node_gpus from the State API; failed, msg); None
        without Ray (cluster_backend mp).
      nodes (list): every node of the inventory; each one's address is the one its containers run with.
      gpus_per_node (int): the GPUs each node must bring to Ray (cluster_gpus_per_node).
      models (dict): the vllm_models result (models; failed, msg, last_error).
      url (str): where vLLM was asked.
      model (str or list): the served model name(s) the inventory expects (several behind the gateway).
      each (list, optional): behind the gateway, the vllm_models result of each model's own vLLM, each with
        __model, the model of vllm_serve_plan (name, served_model_name, container, api_node, url).
    Returns {"report": [lines], "degraded": [what is degraded, one short phrase each, the containers first: a
    container that is down explains the rest]}.
    """
    report, degraded = [], []
    for result in options["containers"]:
        lines, problem = container_health(result["item"]["key"], result["item"]["value"], result)
        report += lines
        degraded += [problem] if problem else []
    node_ips = {host: node_address(options["containers"], host) for host in options["nodes"]}
    if options.get("ray") is not None:
        ray_lines, ray_degraded = ray_health(options["ray"], node_ips, options["gpus_per_node"])
        report += ray_lines
        degraded += ray_degraded
    line, problem = models_health(options["models"], options["url"], options["model"])
    report.append(line)
    degraded += [problem] if problem else []
    for result in options.get("each") or []:   # behind the gateway, each model's own vLLM
        model = result["__model"]
        line, problem = models_health(result, model["url"], model["served_model_name"])
        report.append(f"  {model['name']} ({model['container']} on {model['api_node']}): {line}")
        degraded += [problem] if problem else []
    return {"report": report, "degraded": degraded}
