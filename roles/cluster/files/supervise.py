# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry point of every container of the cluster (stacked_sparks.vllm, roles/cluster/tasks/container.yml).

    supervise.py --name NAME [--wait-firewall FILE] [--wait-tcp HOST:PORT] [--wait-ray URL --node IP ... --gpus N]
                 [--ready-url URL] --limit N --backoff SECONDS -- COMMAND...

It runs COMMAND (ray start, or vllm serve) after what COMMAND depends on is there, and bounds a crash loop:
  1. It waits, saying so every 30 s, until what COMMAND needs is there: the host firewall put back after a boot
     (FILE, which the container stacked-sparks-firewall writes once the rules are in place), the Ray head's GCS
     port (a Ray worker), every node at its fabric address alive in Ray with its GPUs, read from the head's
     State API (vLLM). So after a reboot of any node, in any order, each container waits for the others instead
     of dying against them, and nothing listens before the firewall is there.
  2. Before the k-th start after failures it sleeps BACKOFF * 2^(k-1) seconds, at most 300.
  3. It runs COMMAND, passing its output through and keeping the last lines, and exits with COMMAND's exit
     code; Docker's restart policy (unless-stopped) starts the container again, and so this script.
  4. While COMMAND runs it holds a connection to HOST:PORT. When the process behind it goes (the connection is
     reset, its keepalive probes go unanswered, or it is closed and the port does not answer for GONE seconds
     after), it stops COMMAND and waits for the port again: a Ray worker whose head restarted would otherwise wait for a GCS that comes back as a new cluster
     (Ray notices after about 60 s), where now it joins the new head as soon as its GCS answers. A connection
     the server closes while it still answers (an idle connection) is opened again.
  5. A failure is an exit while what COMMAND depends on is still there: an exit because a node went away is not
     COMMAND's fault (it waits again), nor is the exit of a run that got ready (READY_URL answered: vLLM's
     /health; without it, a run of a minute), which also ends a row of failures. After LIMIT failures in a row
     it stops starting COMMAND: it prints why with COMMAND's last lines, writes them to GAVE_UP (which
     the container's health check reports: `docker ps` shows it unhealthy) and sleeps.
The count lives in the container (STATE), so Docker's restarts keep it. It starts again from zero when the
container is new (a rerun that changed its definition), after a boot (the kernel's boot id), and after a stop by
hand or by a shutdown (SIGTERM): `docker restart NAME`, or a rerun of the site playbook, tries again.
"""

import argparse
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HOME = os.environ.get("STACKED_SPARKS_SUPERVISE_DIR", "/var/lib/stacked-sparks")   # in the container's own layer
STATE = os.path.join(HOME, "supervise.json")
GAVE_UP = os.path.join(HOME, "gave-up")
BOOT_ID = "/proc/sys/kernel/random/boot_id"
LONGEST_PAUSE = 300      # seconds: the backoff doubles up to this
GONE = 3                 # seconds: a port that has not answered this long after it closed our connection is gone
KEEPALIVE = (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 6))   # a host down 35 s is gone
STEADY = 60              # seconds: without --ready-url, a run this long got ready
LAST_LINES = 20
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback and fabric: never a proxy


def say(name, text):
    print(f"[stacked-sparks supervise {name}] {text}", flush=True)


# --- pure functions ------------------------------------------------------------------------------------------

def fresh_state(state, boot_id):
    """The failure count to go on with: the stored one, or a new one after a boot."""
    if not isinstance(state, dict) or state.get("boot") != boot_id:
        return {"boot": boot_id, "failures": 0, "last_code": None, "last_lines": []}
    return state


def pause(failures, backoff):
    """Seconds to sleep before a start that follows `failures` failures in a row."""
    if failures <= 0 or backoff <= 0:
        return 0
    return min(backoff * 2 ** (failures - 1), LONGEST_PAUSE)


def after_exit(state, code, ready, needs_met, lines):
    """The state after COMMAND exited with `code`, having got ready or not, what it needs there or not."""
    state = dict(state, last_code=code, last_lines=list(lines))
    if not needs_met:          # a node went away: not COMMAND's fault, and not a failure
        return state
    state["failures"] = 0 if ready else state["failures"] + 1   # after a run that served, start again at once
    return state


def gave_up_text(name, state, limit):
    """What the container says when it stops starting COMMAND."""
    head = (f"{name} gave up after {state['failures']} failed starts in a row (cluster_restart_limit {limit}; "
            f"last exit code {state['last_code']}); fix the cause, then rerun the site playbook or "
            f"`docker restart {name}`. Its last lines:")
    return "\n".join([head] + [f"  {line}" for line in state["last_lines"]])


def ray_missing(answer, nodes, gpus):
    """What the State API's answer (GET /api/v0/nodes) lacks of `nodes` (fabric addresses), each with `gpus`
    GPUs: a list of phrases, empty when every node is there."""
    found = {}
    for node in ((answer.get("data") or {}).get("result") or {}).get("result") or []:
        if node.get("state") == "ALIVE":
            gpu = float((node.get("resources_total") or {}).get("GPU", 0))
            found[node.get("node_ip")] = max(gpu, found.get(node.get("node_ip"), 0.0))
    missing = []
    for node in nodes:
        if node not in found:
            missing.append(f"{node} not in Ray")
        elif found[node] < gpus:
            missing.append(f"{node} has {found[node]:g} of {gpus} GPUs")
    return missing


# --- what COMMAND needs --------------------------------------------------------------------------------------

def endpoint(address):
    """(host, port) of HOST:PORT or [IPv6]:PORT."""
    host, port = address.rsplit(":", 1)
    return host.strip("[]"), int(port)


def tcp_missing(address):
    """[why HOST:PORT does not answer], or [] when it accepts a connection."""
    try:
        socket.create_connection(endpoint(address), timeout=2).close()
        return []
    except OSError as exc:
        return [f"{address} does not answer ({exc.strerror or exc})"]


def held_until_gone(address, done):
    """Hold a connection to HOST:PORT until the process behind it is gone (True), or done is set (False).
    Gone: the connection is reset (the host came back without it) or its keepalive probes go unanswered for
    35 s (KEEPALIVE: the host is down), or it is closed and the port does not answer for GONE seconds
    after (the process ended). A connection closed while the port still answers is opened again."""
    while not done.is_set():
        try:
            held = socket.create_connection(endpoint(address), timeout=2)
        except OSError:
            held = None
        if held:
            with held:
                held.settimeout(1)
                held.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for option, value in KEEPALIVE:
                    if hasattr(socket, option):
                        held.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
                while not done.is_set():
                    try:
                        if not held.recv(4096):   # closed by the other end
                            break
                    except socket.timeout:
                        continue
                    except OSError:               # reset, or no answer to the keepalive probes
                        return True
        since = time.monotonic()                 # closed or refused: gone if it does not answer for GONE seconds
        while tcp_missing(address) and not done.is_set():
            if time.monotonic() - since >= GONE:
                return True
            time.sleep(0.5)
    return False


def needs(args, without_state_api=False):
    """What COMMAND still needs (a list of phrases), empty when all is there. without_state_api: a State API that
    does not answer is left out (a head started without its dashboard)."""
    missing = []
    if args.wait_firewall and not os.path.exists(args.wait_firewall):
        missing.append(f"the host firewall ({args.wait_firewall} is not there yet: docker logs stacked-sparks-firewall)")
    if args.wait_tcp:
        missing += tcp_missing(args.wait_tcp)
    if args.wait_ray:
        url = args.wait_ray.rstrip("/") + "/api/v0/nodes?limit=10000"
        token = load(os.environ.get("RAY_AUTH_TOKEN_PATH", ""), "")   # Ray's token, where the cluster has one
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with OPENER.open(request, timeout=5) as answer:
                missing += ray_missing(json.load(answer), args.node, args.gpus)
        except (OSError, ValueError) as exc:
            if not without_state_api:
                missing.append(f"Ray's State API at {args.wait_ray} does not answer ({exc})")
    return missing


def load(path, default=None):
    try:
        with open(path) as handle:
            return json.load(handle) if path.endswith(".json") else handle.read().strip()
    except (OSError, ValueError):
        return default


def save(state):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE + ".new", "w") as handle:
        json.dump(state, handle)
    os.replace(STATE + ".new", STATE)


def clear():
    for path in (STATE, GAVE_UP):
        if os.path.exists(path):
            os.remove(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--wait-firewall")
    parser.add_argument("--wait-tcp")
    parser.add_argument("--wait-ray")
    parser.add_argument("--node", action="append", default=[])
    parser.add_argument("--gpus", type=float, default=0)
    parser.add_argument("--ready-url")
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--backoff", type=float, default=10)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)

    child, stopping, done = None, threading.Event(), threading.Event()   # done: COMMAND exited (reaped below)

    def on_stop(signum, _frame):     # docker stop, a shutdown: pass it on; the count starts again
        stopping.set()
        if child and not done.is_set():
            child.send_signal(signum)
        elif child is None:
            clear()
            sys.exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_stop)

    state = fresh_state(load(STATE), load(BOOT_ID, ""))
    if args.limit and state["failures"] >= args.limit:
        text = gave_up_text(args.name, state, args.limit)
        say(args.name, text)
        os.makedirs(os.path.dirname(GAVE_UP), exist_ok=True)
        with open(GAVE_UP, "w") as handle:
            handle.write(text + "\n")
        while True:
            signal.pause()
    waited, told, gcs_since = time.monotonic(), 0.0, None
    while True:              # the State API may be off: a minute after the GCS answers, go on without it
        missing = needs(args, without_state_api=gcs_since is not None and time.monotonic() - gcs_since > 60)
        if not missing:
            break
        if gcs_since is None and not any(args.wait_tcp and phrase.startswith(args.wait_tcp) for phrase in missing):
            gcs_since = time.monotonic()
        if time.monotonic() - told >= 30:
            say(args.name, f"waiting {time.monotonic() - waited:.0f} s for: {'; '.join(missing)}")
            told = time.monotonic()
        time.sleep(1)
    seconds = pause(state["failures"], args.backoff)
    if seconds:
        say(args.name, f"{state['failures']} failed start(s) in a row: starting again in {seconds:g} s")
        time.sleep(seconds)
    say(args.name, f"starting: {' '.join(args.command[:2])} ...")
    began = time.monotonic()
    lines = collections.deque(maxlen=LAST_LINES)
    child = subprocess.Popen(args.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def relay():
        for raw in child.stdout:
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            lines.append(raw.decode(errors="replace").rstrip())

    ready = threading.Event()

    def watch():                     # has the run got ready?
        while not done.is_set() and not ready.is_set():
            if args.ready_url:
                try:
                    with OPENER.open(args.ready_url, timeout=2):
                        ready.set()
                except urllib.error.HTTPError:   # it answers (401 where /health needs the key): the server is up
                    ready.set()
                except (OSError, ValueError):
                    pass
            elif time.monotonic() - began >= STEADY:
                ready.set()
            time.sleep(2)

    went = threading.Event()

    def hold():                      # is the process behind HOST:PORT (the head's GCS) still the one we joined?
        if held_until_gone(args.wait_tcp, done):
            went.set()
            say(args.name, f"{args.wait_tcp} went away: stopping {args.command[0]}, to wait for it to come back")
            child.terminate()
            if not done.wait(30):
                child.kill()

    relaying = threading.Thread(target=relay, daemon=True)
    relaying.start()
    threading.Thread(target=watch, daemon=True).start()
    if args.wait_tcp:
        threading.Thread(target=hold, daemon=True).start()
    while True:                      # as PID 1 (the Ray containers) it also reaps the orphans COMMAND leaves
        pid, status = os.wait()
        if pid == child.pid:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            child.returncode = code  # reaped here, not by Popen
            done.set()
            break
    relaying.join(timeout=5)
    ran = time.monotonic() - began
    if stopping.is_set():
        clear()
        return code
    missing = needs(args) or ([f"{args.wait_tcp} went away while it ran"] if went.is_set() else [])
    state = after_exit(state, code, ready.is_set(), not missing, lines)
    save(state)
    if missing:
        verdict = f"not counted, it lost: {'; '.join(missing)}"
    elif ready.is_set():
        verdict = "not counted, it had got ready"
    else:
        verdict = f"failure {state['failures']} of {args.limit or 'unlimited'} in a row"
    say(args.name, f"{args.command[0]} exited with code {code} after {ran:.0f} s; {verdict}")
    return code


if __name__ == "__main__":
    sys.exit(main())
