"""The gateway against vLLM direct, on the lab's head (issue 13). Asserts nothing.

  requests per second   through the gateway (LiteLLM's proxy on the API port) and straight to one vLLM behind it
  added latency         the gateway's median and p99 per request minus vLLM direct's
for each --concurrency. The direct vLLM listens on the head's loopback (127.0.0.1:<the model's port>) or on a worker's
fabric address, so the client runs on the head: benchmarks/gateway_load.py (standard library only) streamed into
`docker exec -i spark-1 python3 -`. It sends small chat completions of one fixed short prompt (temperature 0,
--max-tokens) to the model both answer to: a few warm-up requests, then rounds that alternate between the two
targets, the order swapped every round, so that load and machine noise hit both alike. Any answer but 200, or an
exception, is a failure: counted and listed, never in the latencies. p99 of a few dozen requests is near the slowest.
The lab runs everything on one 2-core machine: the client, the gateway and vLLM share those cores, so the figures
compare the two paths here rather than predict a Spark's.
Results: .bench/gateway-<time>/ (figures.txt, and per concurrency the client's JSON and its progress log). Needs the
lab deployed with several models (make lab), or any gateway in front of a vLLM the head reaches.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402  # the lab benchmark's helpers
from lab import say  # noqa: E402

HEAD = "spark-1"
CLIENT = Path(__file__).resolve().parent / "gateway_load.py"
RESULTS = lab.REPO / ".bench" / datetime.datetime.now().strftime("gateway-%Y%m%d-%H%M%S")


def client(args, *extra, log=None):
    """Run gateway_load.py on the head with the targets and keys of args; its stderr relayed through say() (and
    written to log), its stdout returned as JSON."""
    # the keys go in the environment (docker exec -e NAME passes this process's value), not in any command line
    env = dict(os.environ, GATEWAY_LOAD_GATEWAY_KEY=args.api_key or "", GATEWAY_LOAD_DIRECT_KEY=args.direct_key or "")
    argv = ["docker", "exec", "-i", "-e", "GATEWAY_LOAD_GATEWAY_KEY", "-e", "GATEWAY_LOAD_DIRECT_KEY", HEAD,
            "python3", "-", "--gateway", args.gateway, "--direct", args.direct, "--model", args.model, *extra]
    with CLIENT.open("rb") as script:
        proc = subprocess.Popen(argv, stdin=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
    out = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    lines = []
    for line in proc.stderr:
        lines.append(line)
        say(line.rstrip().removeprefix("[gateway_load] "))
    proc.wait()
    reader.join()
    if log:
        log.write_text("".join(lines))
    if proc.returncode != 0:
        raise SystemExit(f"the load client on {HEAD} exited with {proc.returncode}:\n{''.join(lines[-20:])}"
                         + (f"see {log}" if log else ""))
    return json.loads(out[0])


def check_lab(args):
    """The head runs python3, and both targets answer GET /v1/models with the model; else a message naming what to
    look at."""
    try:
        subprocess.run(["docker", "exec", HEAD, "python3", "-c", "pass"], check=True, capture_output=True, timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SystemExit(f"no answer from the lab host {HEAD} (docker exec {HEAD} python3): is the lab up? make lab "
                         f"({detail.decode(errors='replace').strip() or exc})") from None
    answers = client(args, "--check")
    hints = {
        "gateway": f"is the lab deployed with several models (vllm_serve_models), the gateway on the API port? make "
                   f"lab, then docker exec {HEAD} docker ps: the gateway container, and its logs",
        "direct": f"--direct is one model's own vLLM as the head reaches it (127.0.0.1:<its port in "
                  f"vllm_serve_models>, or a worker's fabric address): docker exec {HEAD} docker ps, and its logs",
    }
    for name, answer in answers.items():
        where = f"{answer['url']} on {HEAD}"
        if answer["status"] is None:
            raise SystemExit(f"no answer from {where} ({answer['error']}): {hints[name]}")
        if answer["status"] in (401, 403):
            option = "--api-key" if name == "gateway" else "--direct-key"
            raise SystemExit(f"{where} answered {answer['status']} ({answer['error']}): give its key with {option}")
        if answer["status"] == 400 and name == "gateway":
            raise SystemExit(f"{where} answered 400 ({answer['error']}): the wrong --api-key? (LiteLLM answers 400 "
                             f"no_db_connection to a key other than its master key)")
        if answer["status"] != 200:
            raise SystemExit(f"{where} answered {answer['status']} ({answer['error']}): {hints[name]}")
        if args.model not in answer["models"]:
            raise SystemExit(f"{where} serves {', '.join(answer['models']) or 'no model'}, not {args.model}: give "
                             f"the served model name both answer to with --model")
        say(f"{name}: {answer['url']} answers, serving {', '.join(answer['models'])}")


def table(args, runs):
    lines = [f"gateway {args.gateway} against direct {args.direct}, from {HEAD}",
             f"model {args.model}, max_tokens {args.max_tokens}, {args.requests} requests to each per concurrency in "
             f"{args.rounds} alternating rounds",
             f"load average before and after: {runs['load'][0]:.2f}, {runs['load'][1]:.2f} (2-core machine, shared)",
             "",
             f"{'concurrency':>11} {'target':8} {'requests':>8} {'failures':>8} {'wall s':>7} {'req/s':>7} "
             f"{'median ms':>9} {'p99 ms':>8} {'tokens':>6}"]
    for concurrency, figures in runs["by_concurrency"].items():
        for name in ("gateway", "direct"):
            each = figures["targets"][name]
            lines.append(f"{concurrency:>11} {name:8} {each['requests']:>8} {each['failures']:>8} "
                         f"{each['wall_s']:>7.2f} {number(each['requests_per_s'], 7, '.2f')} "
                         f"{number(each['median_ms'], 9, '.1f')} {number(each['p99_ms'], 8, '.1f')} "
                         f"{each['completion_tokens']:>6}")
        added, gateway, direct = figures["gateway_added"], figures["targets"]["gateway"], figures["targets"]["direct"]
        ratio = (f"{gateway['requests_per_s'] / direct['requests_per_s']:.0%} of direct's req/s"
                 if gateway["requests_per_s"] and direct["requests_per_s"] else "req/s not comparable")
        lines.append(f"{concurrency:>11} {'added':8} {'':>8} {'':>8} {'':>7} {'':>7} "
                     f"{number(added['median_ms'], 9, '+.1f')} {number(added['p99_ms'], 8, '+.1f')}   ({ratio})")
        for name in ("gateway", "direct"):
            for error in figures["targets"][name]["errors"]:
                lines.append(f"{'':>11} {name} failed {error['count']}x: {error['error']}")
    return lines


def number(value, width, form):
    return f"{format(value, form) if value is not None else '-':>{width}}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--model", default="tiny", help="the served model name both answer to (default tiny)")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000",
                        help="the gateway as the head reaches it (default http://127.0.0.1:8000)")
    parser.add_argument("--direct", required=True, help="one vLLM behind it as the head reaches it, e.g. "
                        "http://127.0.0.1:8101")
    parser.add_argument("--api-key", default=None, help="the gateway's key (default: none)")
    parser.add_argument("--direct-key", default=None, help="the direct vLLM's key, if it has one (default: none)")
    parser.add_argument("--requests", type=int, default=40, help="requests to each target per concurrency (default 40)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4], help="requests in flight, one run "
                        "each (default 1 4)")
    parser.add_argument("--max-tokens", type=int, default=8, help="max_tokens of each completion (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds alternating the targets (default 5)")
    args = parser.parse_args()

    check_lab(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = {"load": [os.getloadavg()[0]], "by_concurrency": {}}
    for concurrency in args.concurrency:
        say(f"concurrency {concurrency}: {args.requests} requests to each, max_tokens {args.max_tokens}")
        figures = client(args, "--requests", str(args.requests), "--concurrency", str(concurrency),
                         "--max-tokens", str(args.max_tokens), "--rounds", str(args.rounds),
                         log=RESULTS / f"c{concurrency}.log")
        (RESULTS / f"c{concurrency}.json").write_text(json.dumps(figures, indent=2) + "\n")
        runs["by_concurrency"][concurrency] = figures
    runs["load"].append(os.getloadavg()[0])
    lines = table(args, runs)
    (RESULTS / "figures.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(["", *lines, "", f"results: {RESULTS}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
