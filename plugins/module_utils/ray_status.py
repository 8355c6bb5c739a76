# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the output of ``ray status`` (Ray 2.10 to 2.60) without ever guessing.

Tested with real outputs (``ray status`` and ``ray status -v``) of the Ray versions in TESTED_RAY_VERSIONS,
captured by really running each of them (tests/unit/fixtures/ray-status/). Their formats differ in the
headers of the Resources section only:

- ``Usage:`` and ``Demands:`` (Ray 2.10, 2.40; their ``-v`` says ``Total Usage:`` and ``Total Demands:``);
- ``Total Usage:``, ``Total Constraints:`` and ``Total Demands:`` (autoscaler v2: Ray 2.49.2);
- ``Total Usage:``, ``From request_resources:`` and ``Pending Demands:`` (Ray 2.51.1, 2.52.1, 2.60.0).

Anything this parser does not recognise raises RayStatusParseError: a format drift must give a clear
error, never a wrong node or GPU count.
"""

from __future__ import annotations

import json
import re

# The Ray versions whose real ``ray status`` outputs the unit tests read (one set of captures for each).
TESTED_RAY_VERSIONS = ("2.10.0", "2.40.0", "2.49.2", "2.51.1", "2.52.1", "2.60.0")

_UNITS = {
    "B": 1,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
_QUANTITY = r"(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)([A-Za-z]*)"
# " 0.0/2.0 GPU", " 0B/45.16GiB memory", " 2.0/2.0 GPU (2.0 used of 2.0 reserved in placement groups)"
_RESOURCE_LINE = re.compile(r"^\s+" + _QUANTITY + "/" + _QUANTITY + r" (\S+)(?: \(([^()]*)\))?$")
# " 1 node_6b18...", " 2 ray.worker.gpu"
_NODE_LINE = re.compile(r"^\s+(\d+) (\S+)$")
# " (no pending nodes)", " (no failures)", " (no resource demands)", " (none)", " (no active nodes)"
_PLACEHOLDER = re.compile(r"^\s+\((?:no [^()]*|none)\)$")
# "Node: 6b18... (node_6b18...)" in the per-node part of ``ray status -v``
_NODE_HEADER = re.compile(r"^Node: (\S+)(?: \(.*\))?$")
_SEPARATOR = re.compile(r"^-{3,}$")

# Sub-headers of the two sections, mapped to the key their lines go to.
_NODE_STATUS_HEADERS = {
    "Active:": "active",
    "Idle:": "idle",
    "Pending:": "pending",
    "Recent failures:": "failures",
}
_RESOURCES_HEADERS = {
    "Total Usage:": "usage",
    "Usage:": "usage",  # Ray 2.10, 2.40 without -v
    "From request_resources:": "requests",  # Ray 2.51.1 and later
    "Total Constraints:": "requests",  # autoscaler v2 (Ray 2.49.2)
    "Pending Demands:": "demands",  # Ray 2.51.1 and later
    "Total Demands:": "demands",  # autoscaler v2; Ray 2.10, 2.40 with -v
    "Demands:": "demands",  # Ray 2.10, 2.40 without -v
}
_NODE_BLOCK_HEADERS = {
    "Usage:": "usage",
    "Activity:": "activity",
}

# Exit-0 text while the head's services start.
_STARTING = "No cluster status"
# Non-zero exit while no cluster answers (yet).
_NO_CLUSTER = re.compile(
    r"Could not find any running Ray instance|ConnectionError|Failed to connect to GCS"
    r"|GCS.*(?:timed out|timeout|unavailable)|(?:timed out|timeout).*GCS",
    re.IGNORECASE,
)


class RayStatusParseError(ValueError):
    """The text is not ``ray status`` output this parser can read with certainty."""


def _fail(expected, line_no=None, line=None):
    message = f"unexpected 'ray status' output: expected {expected}"
    if line is not None:
        message += f", got line {line_no}: {line!r}"
    raise RayStatusParseError(message)


def _quantity(number, unit, line_no, line):
    if unit and unit not in _UNITS:
        _fail(f"a resource amount in {'/'.join(_UNITS)}", line_no, line)
    return float(number) * _UNITS.get(unit, 1)


def _resource(line_no, line):
    """Return (name, {"used": float, "total": float}) for a resource line, or raise."""
    match = _RESOURCE_LINE.match(line)
    if not match:
        _fail("a resource line like ' 0.0/2.0 GPU' or ' 0B/45.16GiB memory'", line_no, line)
    used_n, used_u, total_n, total_u, name, _note = match.groups()
    return name, {
        "used": _quantity(used_n, used_u, line_no, line),
        "total": _quantity(total_n, total_u, line_no, line),
    }


def _add_resource(resources, line_no, line):
    name, value = _resource(line_no, line)
    if name in resources:
        _fail("each resource once", line_no, line)
    resources[name] = value


def parse_ray_status(text):
    """Parse ``ray status`` (or ``ray status -v``) output of Ray 2.10 to 2.60 (see TESTED_RAY_VERSIONS).

    Returns a dict with active_nodes, idle_nodes (node ids or autoscaler node types), nodes (the node count,
    honouring counts like `` 2 ray.worker.gpu``), pending_nodes, recent_failures, resources
    (``{name: {"used": float, "total": float}}``, memory in bytes), gpus (total GPUs, 0.0 without a GPU line),
    pending_demands and node_usage (per-node resources of ``-v`` output, ``{}`` otherwise).

    Raises RayStatusParseError when a section, a header or a line is not what these Ray versions print.
    """
    if not isinstance(text, str):
        raise RayStatusParseError(f"unexpected 'ray status' output: expected text, got {type(text).__name__!r}")
    lines = text.splitlines()
    found = {}  # section key -> list of lines, for every header seen
    counts = {"active": 0, "idle": 0}
    resources = {}
    node_usage = {}
    section = None  # None (preamble), "nodes", "resources", "node"
    part = None  # current sub-header key
    node_id = None
    for no, line in enumerate(lines, 1):
        line = line.rstrip()
        stripped = line.strip()
        if not stripped or _SEPARATOR.match(stripped) or stripped.startswith("===="):
            continue
        if section is None:
            # ``-v`` prints timing lines before "Node status"; nothing before it is read.
            if line == "Node status":
                section = "nodes"
            continue
        if line == "Node status":
            _fail("'Node status' once", no, line)
        if line == "Resources":
            if section != "nodes":
                _fail("'Resources' once, after 'Node status'", no, line)
            section, part = "resources", None
            continue
        header = _NODE_HEADER.match(line)
        if header:
            if section == "nodes" or "usage" not in found:
                _fail("the cluster's 'Total Usage:' before the per-node blocks", no, line)
            section, part, node_id = "node", None, header.group(1)
            if node_id in node_usage:
                _fail("each node block once", no, line)
            node_usage[node_id] = {}
            continue

        if section == "node":
            if line.startswith(" ") and not line.startswith("  ") and stripped in _NODE_BLOCK_HEADERS:
                part = _NODE_BLOCK_HEADERS[stripped]
            elif part == "usage" and line.startswith("  "):
                _add_resource(node_usage[node_id], no, line)
            elif part == "activity" and line.startswith("  "):
                pass  # free text ("Resource: CPU currently in use.")
            else:
                _fail(f"' Usage:' or ' Activity:' with indented lines under 'Node: {node_id}'", no, line)
            continue

        headers = _NODE_STATUS_HEADERS if section == "nodes" else _RESOURCES_HEADERS
        if not line.startswith(" "):
            if line not in headers:
                names = ", ".join(repr(name) for name in headers)
                where = "Node status" if section == "nodes" else "Resources"
                _fail(f"one of {names} in the {where!r} section", no, line)
            part = headers[line]
            if part in found:
                _fail(f"{line!r} once", no, line)
            found[part] = []
            continue
        if part is None:
            _fail(f"a header such as {next(iter(headers))!r} before indented lines", no, line)
        if _PLACEHOLDER.match(line):
            continue
        if part in counts:
            match = _NODE_LINE.match(line)
            if not match:
                _fail("a node line like ' 1 node_<id>' or ' 2 ray.worker.gpu'", no, line)
            counts[part] += int(match.group(1))
            found[part].append(match.group(2))
        elif part == "usage":
            _add_resource(resources, no, line)
        else:
            found[part].append(stripped)

    if section is None:
        _fail("a 'Node status' section (is this 'ray status' output?)")
    if "active" not in found:
        _fail("an 'Active:' list in the 'Node status' section")
    if section == "nodes":
        _fail("a 'Resources' section after 'Node status' (truncated output?)")
    if "usage" not in found:
        _fail("a 'Total Usage:' (or 'Usage:') list in the 'Resources' section")
    if not resources:
        _fail("resource lines like ' 0.0/2.0 CPU' under 'Total Usage:'")
    if "demands" not in found:
        _fail("a 'Pending Demands:' list after 'Total Usage:' (truncated output?)")
    return {
        "active_nodes": found["active"],
        "idle_nodes": found.get("idle", []),
        "nodes": counts["active"] + counts["idle"],
        "pending_nodes": found.get("pending", []),
        "recent_failures": found.get("failures", []),
        "resources": resources,
        "gpus": resources.get("GPU", {}).get("total", 0.0),
        "pending_demands": found["demands"],
        "node_usage": node_usage,
    }


# The node resources the State API's answer is summed over (the rest are per-node and placement-group markers).
_STATE_RESOURCES = ("CPU", "GPU", "memory", "object_store_memory")


def _state_nodes(answer):
    """The list of nodes in the State API's answer: {"result": true, "data": {"result": {"result": [...]}}}."""
    if not isinstance(answer, dict) or answer.get("result") is not True:
        message = answer.get("msg") if isinstance(answer, dict) else None
        raise RayStatusParseError(f"the State API did not answer with a result: {message or str(answer)[:200]!r}")
    nodes = answer.get("data", {}).get("result", {})
    nodes = nodes.get("result") if isinstance(nodes, dict) else nodes
    if not isinstance(nodes, list):
        raise RayStatusParseError("unexpected State API answer: expected data.result.result, a list of nodes")
    return nodes


def parse_state_nodes(text):
    """Parse the JSON of Ray's State API, ``GET /api/v0/nodes`` on the head's dashboard (what ``ray list nodes``
    reads): a probe that answers in milliseconds where ``ray status`` takes seconds.

    Returns what parse_ray_status returns, from the nodes in state ALIVE: active_nodes (their node ids), nodes
    (how many distinct addresses they have: a worker that restarted is listed twice, once as the old node, until
    the GCS drops that one; the collection runs one Ray node per machine), node_ips, node_gpus (the GPUs of each
    address), resources (each address
    counted once; ``{name: {"used": None, "total": float}}`` for CPU, GPU, memory and object_store_memory: the
    State API gives totals only), gpus, and empty pending and usage lists.
    Raises RayStatusParseError when the answer is not the State API's list of nodes.
    """
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise RayStatusParseError(f"the State API's answer is not JSON ({exc}): {text[:200]!r}") from None
    alive, ips, totals, node_gpus = [], [], {}, {}
    for node in _state_nodes(answer):
        if not isinstance(node, dict) or not {"node_id", "node_ip", "state"} <= node.keys():
            raise RayStatusParseError(f"unexpected node in the State API's answer: {str(node)[:200]!r}")
        if node["state"] != "ALIVE":
            continue
        alive.append(node["node_id"])
        if node["node_ip"] in ips:
            continue
        ips.append(node["node_ip"])
        node_gpus[node["node_ip"]] = float((node.get("resources_total") or {}).get("GPU", 0.0))
        for name, value in (node.get("resources_total") or {}).items():
            if name in _STATE_RESOURCES:
                totals[name] = totals.get(name, 0.0) + float(value)
    resources = {name: {"used": None, "total": total} for name, total in sorted(totals.items())}
    return {"active_nodes": alive, "idle_nodes": [], "nodes": len(ips), "node_ips": ips, "node_gpus": node_gpus,
            "pending_nodes": [],
            "recent_failures": [], "resources": resources, "gpus": totals.get("GPU", 0.0), "pending_demands": [],
            "node_usage": {}}


def _last_line(*texts):
    for text in texts:
        lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return ""


def classify_output(rc, stdout, stderr):
    """Sort one run of ``ray status`` into (state, detail).

    state is "ok" (parse stdout), "starting" (exit 0, the head's services are still starting), "no_cluster"
    (no Ray cluster answers: transient while waiting) or "error" (anything else that failed).
    detail is a short reason: the last non-empty line of the output for failures.
    """
    stdout = stdout or ""
    stderr = stderr or ""
    combined = stdout + "\n" + stderr
    if rc == 0:
        if _STARTING in combined:
            return "starting", f"Ray is still starting: {_last_line(stdout, stderr)}"
        return "ok", ""
    detail = _last_line(stderr, stdout) or f"exit code {rc} without output"
    if _NO_CLUSTER.search(combined):
        return "no_cluster", detail
    return "error", detail


def _num(value):
    return repr(float(value))


def _nodes(count):
    return f"{count} node" if count == 1 else f"{count} nodes"


def _of_nodes(status, min_nodes):
    return f"{status['nodes']} of {_nodes(min_nodes)}"


def _of_gpus(status, min_gpus):
    return f"{_num(status['gpus'])} of {_num(min_gpus)} GPU"


def _by_address(status, nodes):
    """The expected nodes ({name: address}) that are not among the status's live addresses, and the live addresses
    no expected node has; ([], []) when the status has no addresses (ray status does not show them)."""
    if not nodes or "node_ips" not in status:
        return [], []
    missing = [f"{name} ({address})" for name, address in nodes.items() if address not in status["node_ips"]]
    strangers = [address for address in status["node_ips"] if address not in nodes.values()]
    return missing, strangers


def check_requirements(status, min_nodes, min_gpus, nodes=None):
    """Return the shortfalls of a parsed status against the wanted node and GPU counts, and against the expected
    nodes' addresses ({name: address}) where the status has addresses ([] when all is met)."""
    shortfalls = []
    if status["nodes"] < min_nodes:
        shortfalls.append(_of_nodes(status, min_nodes))
    if status["gpus"] < min_gpus:
        shortfalls.append(_of_gpus(status, min_gpus))
    missing, _strangers = _by_address(status, nodes)
    if missing:
        shortfalls.append("missing " + ", ".join(missing))
    return shortfalls


def describe(status, min_nodes, min_gpus, nodes=None):
    """Say where the cluster stands, e.g. "1 of 2 nodes, 1.0 of 2.0 GPU; missing spark-2 (192.168.100.11)"."""
    parts = []
    if min_nodes > 0:
        parts.append(_of_nodes(status, min_nodes))
    if min_gpus > 0:
        parts.append(_of_gpus(status, min_gpus))
    if not parts:
        parts = [_nodes(status["nodes"]), f"{_num(status['gpus'])} GPU"]
    text = ", ".join(parts)
    missing, strangers = _by_address(status, nodes)
    if missing:
        text += "; missing " + ", ".join(missing)
    if strangers:
        text += (f"; a node registered as {', '.join(strangers)}, which is no node's fabric address: its Ray node "
                 "IP (--node-ip-address, VLLM_HOST_IP) must be its address on the fabric")
    if status["pending_demands"]:
        text += "; pending: " + ", ".join(status["pending_demands"])
    return text
