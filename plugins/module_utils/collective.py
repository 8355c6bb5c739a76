# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric's collective test, reported and judged: pure functions over what the ranks measured and logged.

The test runs all_gather and all_reduce over the message sizes of fabric_sizes, one rank per GPU on two or more
nodes: NCCL on GPUs, Gloo in the lab without GPUs. Bandwidths follow nccl-tests; what NCCL really used is read
from its NCCL_DEBUG=INFO lines. Problems name the Ansible variable to change where one applies.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

OPS = ("all_gather", "all_reduce")
GB = 1e9                    # nccl-tests' GB/s are 1e9 bytes/s
NVIDIA_PASS_BUSBW = 21.875  # GB/s: NVIDIA's pass mark for all_gather busbw between two Sparks
LINE_RATE = 25.0            # GB/s: 200 Gb/s

_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_SIZE = re.compile(r"^(\d+)\s*(?:([kmgt])(?:i?b)?|b)?$", re.IGNORECASE)
_SIZE_NAMES = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))

# Whatever NCCL or the launcher puts before "NCCL INFO" (timestamp, "host:pid:tid [dev]") is skipped.
_INFO = re.compile(r"NCCL INFO (.*)$")
# "NET/IB : Using [0]mlx5_0:1/RoCE [1]mlx5_1:1/RoCE [RO]; OOB enp1s0f1np1:192.168.100.10<0>"
_IB_USING = re.compile(r"^NET/IB ?: Using(?P<devices>.*?)(?:; OOB (?P<oob>[^\s:]+):.*)?$")
_IB_DEVICE = re.compile(r"\[\d+\]([^\s:\[\]]+):\d+/(?:IB|RoCE)\b")
# "NET/Socket : Using [0]eth0:10.0.0.2<0> [1]eth1:10.0.1.2<0>"
_SOCKET_USING = re.compile(r"^NET/Socket ?: Using((?: \[\d+\][^\s:\[\]]+:\S*)+)\s*$")
_SOCKET_IFACE = re.compile(r"\[\d+\]([^\s:\[\]]+):")
# "Using network IB", "Using network IBext_v8", "Using network Socket"
_NETWORK = re.compile(r"^Using network (\S+)\s*$")
# "Channel 00/0 : 0[0] -> 1[0] [send] via NET/IB/0/GDRDMA", "Channel 00 : ...", NCCL 2.4's "Ring 00 : ..."
_CHANNEL = re.compile(r"^(?:Channel|Ring) \d+(?:/\d+)? : .* via NET/(\w+)/\d+")
_GID_ENV = re.compile(r"^NCCL_IB_GID_INDEX set by environment to (\d+)\.?\s*$")
# RoCE connections, NVIDIA/nccl src/transport/net_ib.cc (net_ib/connect.cc since 2.27):
# "NET/IB: %s %d IbDev %d Port %d qpn %d mtu %d GID %ld (%lX/%lX) ..." (older: "NET/IB: Dev %d Port %d ...")
_GID_QP = re.compile(r"^NET/IB: (?:NCCL (?:Merged)?Dev \d+ IbDev|Dev) \d+ Port \d+ qpn \d+ mtu \d+ GID (\d+) \(")


def _number(value, name, where):
    """value as a finite float > 0, else ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number{where}, got {value!r}")
    return float(value)


def _unique(items):
    """items in the order first seen, without repeats."""
    return list(dict.fromkeys(items))


# --- sizes -----------------------------------------------------------------------------------------------------

def parse_size(text):
    """Bytes of a message size of fabric_sizes: a positive int, or a string of digits with an optional binary unit
    (k, M, G, T, optionally followed by B or iB; case-insensitive): "16k", "1M", "256MiB", "1G", "4096".
    Anything else raises ValueError naming fabric_sizes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text > 0:
            return text
    elif isinstance(text, str):
        match = _SIZE.match(text.strip())
        if match and int(match.group(1)) > 0:
            return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    raise ValueError(f"fabric_sizes: cannot read {text!r} as a message size; give a positive number of bytes or "
                     "one with a binary unit, e.g. 16k, 1M, 256MiB, 1G")


def format_size(size):
    """A byte count for people: the largest binary unit it is a whole multiple of ("16 MiB", "1536 KiB"), else
    bytes ("1000 B")."""
    for name, unit in _SIZE_NAMES:
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} B"


# --- bandwidths ------------------------------------------------------------------------------------------------

def bandwidths(op, size, seconds, ranks):
    """(algbw, busbw) in GB/s (1e9 bytes/s) of one collective over `ranks` ranks that moved `size` bytes in
    `seconds`, as nccl-tests computes them. For all_gather, size is the whole gathered output (what nccl-tests
    reports as its size), not one rank's part. ValueError on another op or on a non-positive input."""
    if op not in OPS:
        raise ValueError(f"op must be one of {', '.join(OPS)}, got {op!r}")
    size = _number(size, "size", f" ({op})")
    seconds = _number(seconds, "seconds", f" ({op})")
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise ValueError(f"ranks must be a positive whole number ({op}), got {ranks!r}")
    # https://github.com/NVIDIA/nccl-tests/blob/master/doc/PERFORMANCE.md
    #   algbw = S / t
    #   AllReduce: busbw = algbw * 2(n-1)/n;  AllGather: busbw = algbw * (n-1)/n,
    #   where for AllGather S is the total array, sendcount * sizeof(datatype) * n.
    algbw = size / seconds / GB
    factor = (2 * (ranks - 1) if op == "all_reduce" else ranks - 1) / ranks
    return algbw, algbw * factor


# --- transport -------------------------------------------------------------------------------------------------

def nccl_transport(text):
    """What NCCL used between the nodes, read from the NCCL_DEBUG=INFO output of all ranks (concatenated):
    {"kind": "ib" | "socket" | None, "devices": RDMA devices NCCL listed (when kind is ib), "interfaces": the
    interfaces NCCL listed (its out-of-band ones when kind is ib, its socket ones when socket), "gid_index": the
    RoCE GID index NCCL logged (its connections' over NCCL_IB_GID_INDEX; None when not logged or when ranks differ),
    "channels": {"ib": channel lines via NET/IB*, "socket": channel lines via NET/Socket}}.

    kind is "ib" when any channel goes via NET/IB (or an IB plugin, NET/IBext*), else "socket" when any goes via
    NET/Socket; without channel lines it comes from "Using network ...", then from the "NET/IB : Using" line, then
    from "NET/Socket : Using" (which NCCL also logs when IB is in use); else None. Lines that cannot be read are
    ignored."""
    ib_devices, oob, sockets, networks, qp_gids, env_gids = [], [], [], [], [], []
    channels = {"ib": 0, "socket": 0}
    for line in (text or "").splitlines():
        info = _INFO.search(line)
        if not info:
            continue
        message = info.group(1).rstrip()
        channel, ib_using = _CHANNEL.match(message), _IB_USING.match(message)
        socket_using, network = _SOCKET_USING.match(message), _NETWORK.match(message)
        qp_gid, env_gid = _GID_QP.match(message), _GID_ENV.match(message)
        if channel:
            name = channel.group(1)
            if name.startswith("IB"):
                channels["ib"] += 1
            elif name == "Socket":
                channels["socket"] += 1
        elif ib_using:
            ib_devices += _IB_DEVICE.findall(ib_using.group("devices"))
            oob += [ib_using.group("oob")] if ib_using.group("oob") else []
        elif socket_using:
            sockets += _SOCKET_IFACE.findall(socket_using.group(1))
        elif network:
            networks.append(network.group(1))
        elif qp_gid:
            qp_gids.append(int(qp_gid.group(1)))
        elif env_gid:
            env_gids.append(int(env_gid.group(1)))
    if channels["ib"] or channels["socket"]:
        kind = "ib" if channels["ib"] else "socket"
    elif any(name.startswith("IB") for name in networks):
        kind = "ib"
    elif "Socket" in networks:
        kind = "socket"
    else:
        kind = "ib" if ib_devices else "socket" if sockets else None
    gids = set(qp_gids or env_gids)
    return {
        "kind": kind,
        "devices": _unique(ib_devices) if kind == "ib" else [],
        "interfaces": _unique(oob if kind == "ib" else sockets if kind == "socket" else []),
        "gid_index": gids.pop() if len(gids) == 1 else None,
        "channels": channels,
    }


def gloo_transport(interface):
    """The transport of the Gloo backend (the lab without GPUs): TCP sockets on `interface`, in the shape of
    nccl_transport."""
    return {"kind": "socket", "devices": [], "interfaces": [interface] if interface else [], "gid_index": None,
            "channels": {"ib": 0, "socket": 0}}


# --- judging ---------------------------------------------------------------------------------------------------

def _result(item, number):
    """One result's (op, size, seconds, algbw, busbw), or ValueError naming what is missing or wrong."""
    if not isinstance(item, Mapping):
        raise ValueError(f"collective result {number} is {type(item).__name__}, not a mapping")
    missing = [key for key in ("op", "size", "seconds", "algbw", "busbw") if key not in item]
    if missing:
        raise ValueError(f"collective result {number} lacks {', '.join(missing)}")
    if item["op"] not in OPS:
        raise ValueError(f"collective result {number} has op {item['op']!r}, not one of {', '.join(OPS)}")
    return item["op"], item["size"], item["seconds"], item["algbw"], item["busbw"]


def judge_collective(results, transport, rdma, min_busbw):
    """Problems of a collective test (empty: it passed). results: [{op, size, seconds, algbw, busbw}] (bytes,
    seconds, GB/s); transport: from nccl_transport or gloo_transport; rdma: whether the nodes have RDMA devices on
    the fabric (the preflight's finding); min_busbw: fabric_min_busbw, the GB/s that all_gather's busbw at its
    largest size must reach (0 or None: no pass mark)."""
    if min_busbw is None:
        min_busbw = 0
    if isinstance(min_busbw, bool) or not isinstance(min_busbw, (int, float)) or math.isnan(min_busbw) or min_busbw < 0:
        raise ValueError(f"fabric_min_busbw must be a number of GB/s, 0 or more (0: no pass mark), got {min_busbw!r}")
    rows = [_result(item, number) for number, item in enumerate(results or [], 1)]
    problems = []
    if not rows:
        problems.append("the collective test gave no results: no all_gather or all_reduce finished at any size of "
                        "fabric_sizes; read the ranks' output above for the error")
    kind = transport.get("kind")
    if rdma and kind == "socket":
        where = ", ".join(transport.get("interfaces") or []) or "an interface NCCL did not name"
        problems.append(f"NCCL used TCP sockets on {where} although the nodes have RDMA devices on the fabric: check "
                        "that the containers get /dev/infiniband, IPC_LOCK and an unlimited memlock (cluster_rdma), "
                        "and that cluster_nccl_ib_hca names the RoCE devices of cluster_fabric_interface")
    elif rdma and kind is None:
        problems.append("NCCL did not log its transport (no NET/IB or NET/Socket line in its NCCL_DEBUG=INFO output), "
                        "so whether it used RDMA is unknown: run every rank with NCCL_DEBUG=INFO, and with INIT in "
                        "NCCL_DEBUG_SUBSYS if that is set")
    if min_busbw and rows:
        gathers = [row for row in rows if row[0] == "all_gather"]
        if not gathers:
            problems.append(f"no all_gather result to hold against fabric_min_busbw {min_busbw:g} GB/s: keep "
                            "all_gather in the test, or set fabric_min_busbw to 0")
        else:
            largest = max(row[1] for row in gathers)
            best = max(row[4] for row in gathers if row[1] == largest)
            if best < min_busbw:
                problems.append(
                    f"all_gather busbw at {format_size(largest)} is {best:.2f} GB/s, under fabric_min_busbw "
                    f"{min_busbw:g} GB/s: check MTU 9000 on cluster_fabric_interface on both nodes (and the switch, "
                    "if any), that cluster_nccl_ib_hca lists both RoCE devices of the port, and the cable; NVIDIA's "
                    f"pass mark is {NVIDIA_PASS_BUSBW:g} GB/s of the {LINE_RATE:g} GB/s line rate")
    return problems


# --- report ----------------------------------------------------------------------------------------------------

def transport_line(transport):
    """One printable line naming the transport."""
    kind = transport.get("kind")
    if kind == "ib":
        devices = ", ".join(transport.get("devices") or [])
        gid = transport.get("gid_index")
        return ("transport: NET/IB" + (f" on {devices}" if devices else "")
                + (f" (GID index {gid})" if gid is not None else ""))
    if kind == "socket":
        interfaces = ", ".join(transport.get("interfaces") or [])
        return "transport: sockets" + (f" on {interfaces}" if interfaces else "")
    return "transport: unknown (no NET/IB or NET/Socket line was logged)"


def summary_lines(results, transport):
    """Printable lines: a header, one line per result sorted by (op, size) with the size for people, the time in
    ms and algbw and busbw in GB/s, then the transport line."""
    rows = sorted((_result(item, number) for number, item in enumerate(results or [], 1)),
                  key=lambda row: (row[0], row[1]))
    lines = [f"{'op':<10} {'size':>10} {'time ms':>10} {'algbw GB/s':>10} {'busbw GB/s':>10}"]
    lines += [f"{op:<10} {format_size(size):>10} {seconds * 1e3:>10.3f} {algbw:>10.2f} {busbw:>10.2f}"
              for op, size, seconds, algbw, busbw in rows]
    lines.append(transport_line(transport))
    return lines


# --- the test's command line and its outcome ---------------------------------------------------------------------

MARK = "STACKED-SPARKS-RESULT "   # roles/fabric/files/collective.py prints the head rank's results after it
MAX_SIZE = 4 * 2**30              # fabric_sizes: a 16 GiB NCCL test buffer froze a Spark (unified memory)


def check_sizes(sizes):
    """fabric_sizes in bytes; ValueError naming fabric_sizes on an empty list, an unreadable size, or one above
    MAX_SIZE."""
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise ValueError("fabric_sizes must list at least one message size, e.g. [1M, 16M, 256M, 1G]")
    found = [parse_size(size) for size in sizes]
    for size, number in zip(sizes, found):
        if number > MAX_SIZE:
            raise ValueError(f"fabric_sizes: {size!r} is above 4G, the largest size the collection runs: a test with "
                             "a 16 GiB buffer froze a Spark (unified memory)")
    return found


def collective_args(options):
    """The arguments of roles/fabric/files/collective.py on one node. options: backend (nccl or gloo), master
    (HOST:PORT of the head's store), nodes, node_rank, ranks_per_node, ops (fabric_ops), sizes (fabric_sizes),
    iterations, warmup, timeout."""
    return (["--backend", options["backend"], "--master", options["master"], "--nodes", str(options["nodes"]),
             "--node-rank", str(options["node_rank"]), "--ranks-per-node", str(options["ranks_per_node"]),
             "--ops", *options["ops"], "--sizes", *map(str, check_sizes(options["sizes"])),
             "--iters", str(options["iterations"]), "--warmup", str(options["warmup"]),
             "--timeout", str(options["timeout"])])


def rank_output(answer):
    """What one node's rank printed, from the async_status result of its docker_container task (detach false):
    the container's output when it exited 0, the module's msg (that output) when it did not."""
    container = answer.get("container") or {}
    return str(container.get("Output") or answer.get("msg") or "")


def collective_report(options):
    """The outcome of the collective test. options: ranks ({host: the async_status result of its rank}, the head
    first), backend (nccl or gloo), interface (cluster_fabric_interface), rdma (every node has RDMA devices the
    containers get), min_busbw (fabric_min_busbw).
    Returns {"results": [{op, size, seconds, algbw, busbw}], "transport", "problems", "lines" (printable),
    "files": {"<host>.log", "results.json", "summary.txt": text}}."""
    problems, measured, logs = [], None, {}
    for host, answer in options["ranks"].items():
        text = rank_output(answer)
        logs[host] = text
        if not answer.get("finished"):
            problems.append(f"the rank on {host} did not end within fabric_timeout")
        elif answer.get("failed"):
            last = " | ".join(line.strip() for line in text.strip().splitlines()[-5:]) or "no output"
            problems.append(f"the rank on {host} failed: {last}")
        for line in text.splitlines():
            if line.startswith(MARK):
                measured = json.loads(line[len(MARK):])
    results = []
    for item in (measured or {}).get("results", []):
        algbw, busbw = bandwidths(item["op"], item["size"], item["seconds"], measured["ranks"])
        results.append(dict(item, algbw=algbw, busbw=busbw))
    logged = "\n".join(logs.values())
    transport = nccl_transport(logged) if options["backend"] == "nccl" else gloo_transport(options["interface"])
    problems += judge_collective(results, transport, options["rdma"], options["min_busbw"])
    lines = summary_lines(results, transport) if results else []
    ranks = (measured or {}).get("ranks")
    head = f"{options['backend']}, {ranks} ranks" if ranks else options["backend"]
    lines = [f"collective test ({head})"] + lines + [f"problem: {problem}" for problem in problems]
    files = {f"{host}.log": text for host, text in logs.items()}
    files["results.json"] = json.dumps({"backend": options["backend"], "ranks": ranks, "results": results,
                                        "transport": transport, "problems": problems}, indent=2) + "\n"
    files["summary.txt"] = "\n".join(lines) + "\n"
    return {"results": results, "transport": transport, "problems": problems, "lines": lines, "files": files}
