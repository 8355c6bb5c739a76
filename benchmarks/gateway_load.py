"""Load client for benchmarks/gateway.py: the gateway against vLLM direct, run ON THE HEAD (the direct ports listen
on the head's loopback or a worker's fabric address), with the standard library only (the lab host's python3):

  docker exec -i spark-1 python3 - --gateway http://127.0.0.1:8000 --direct http://127.0.0.1:8101 < gateway_load.py

Both targets answer to the same served model name. Small chat completions (a fixed short prompt, temperature 0,
--max-tokens): --warmup sequential requests to each target first (not counted; any failure there stops the run), then
--rounds rounds, each sending its share of --requests to one target and then the other at --concurrency, the order
swapped every round, so that load and machine noise hit both alike. Each worker thread keeps one HTTP/1.1 connection
per target, as an SDK client's pool does (a connection the server closed while idle is reopened and the request
retried once, its time counted from the retry: counted as reconnects).

A failure is any answer other than 200 with a JSON body, or an exception (refused, reset, timeout): counted, the first
distinct errors listed. Latency (from sending the request to the whole body read) and requests per second (successful
requests over the summed wall time of that target's rounds) count successful requests only. The gateway's added
latency is its median (p99) minus the direct median (p99). p99 is statistics.quantiles' inclusive 99th percentile:
with a few dozen requests it is close to the slowest.

The keys (Bearer) come from --gateway-key and --direct-key, or from $GATEWAY_LOAD_GATEWAY_KEY and
$GATEWAY_LOAD_DIRECT_KEY (as benchmarks/gateway.py passes them, out of the command line). Prints one JSON document on
stdout; progress lines on stderr as rounds finish. --check instead prints what GET
/v1/models answers on each target (status, model ids, error) and sends nothing else.
"""

import argparse
import concurrent.futures
import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse

PROMPT = "Say hello."
TARGETS = ("gateway", "direct")


def log(text):
    print(f"[gateway_load] {text}", file=sys.stderr, flush=True)


class Target:
    """One base URL: its worker threads (each with a persistent connection) and what they measured."""

    def __init__(self, name, base, key, concurrency, timeout):
        self.name = name
        self.base = base
        parts = urllib.parse.urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SystemExit(f"--{name} {base!r}: expected http(s)://host:port")
        self.connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.netloc = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.timeout = timeout
        self.local = threading.local()
        self.pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix=name)
        self.lock = threading.Lock()
        self.latencies = []
        self.failures = 0
        self.errors = {}
        self.wall = 0.0
        self.reconnects = 0
        self.completion_tokens = 0

    def connection(self, fresh=False):
        conn = getattr(self.local, "conn", None)
        if fresh and conn is not None:
            conn.close()
            conn = None
        if conn is None:
            conn = self.local.conn = self.connection_class(self.netloc, timeout=self.timeout)
            self.local.used = False
        return conn

    def call(self, method, path, body=None):
        """(status, body bytes, seconds) of one request on this thread's connection."""
        conn = self.connection()
        reused = self.local.used
        start = time.perf_counter()
        try:
            conn.request(method, self.prefix + path, body=body, headers=self.headers)
            answer = conn.getresponse()
        except (ConnectionResetError, BrokenPipeError, http.client.BadStatusLine):
            if not reused:   # a new connection that fails is a failure, not a stale one
                self.connection(fresh=True)
                raise
            with self.lock:
                self.reconnects += 1
            conn = self.connection(fresh=True)
            start = time.perf_counter()
            conn.request(method, self.prefix + path, body=body, headers=self.headers)
            answer = conn.getresponse()
        data = answer.read()
        seconds = time.perf_counter() - start
        self.local.used = True
        if answer.will_close:
            self.connection(fresh=True)
        return answer.status, data, seconds

    def chat(self, body):
        """One chat completion: (ok, seconds, error, completion tokens)."""
        try:
            status, data, seconds = self.call("POST", "/v1/chat/completions", body)
        except Exception as exc:   # noqa: BLE001  # any exception is a failure, by its type and text
            self.connection(fresh=True)
            return False, None, f"{type(exc).__name__}: {exc}", 0
        if status != 200:
            return False, seconds, f"HTTP {status}: {data[:200].decode(errors='replace')}", 0
        try:
            tokens = (json.loads(data).get("usage") or {}).get("completion_tokens") or 0
        except (ValueError, AttributeError) as exc:
            return False, seconds, f"HTTP 200 without a JSON body: {exc}", 0
        return True, seconds, None, tokens

    def round(self, count, body):
        """count requests at the pool's concurrency; returns (ok, failed, seconds)."""
        start = time.perf_counter()
        results = list(self.pool.map(lambda _: self.chat(body), range(count)))
        seconds = time.perf_counter() - start
        self.wall += seconds
        ok = 0
        for success, latency, error, tokens in results:
            if success:
                ok += 1
                self.latencies.append(latency)
                self.completion_tokens += tokens
            else:
                self.failures += 1
                self.errors[error] = self.errors.get(error, 0) + 1
        return ok, count - ok, seconds

    def figures(self):
        ok = len(self.latencies)
        ms = sorted(latency * 1000 for latency in self.latencies)
        return {
            "url": self.base,
            "requests": ok + self.failures,
            "failures": self.failures,
            "errors": [{"error": error, "count": count} for error, count in list(self.errors.items())[:5]],
            "wall_s": round(self.wall, 3),
            "requests_per_s": round(ok / self.wall, 2) if self.wall else None,
            "median_ms": round(statistics.median(ms), 1) if ms else None,
            "p99_ms": round(p99(ms), 1) if ms else None,
            "min_ms": round(ms[0], 1) if ms else None,
            "max_ms": round(ms[-1], 1) if ms else None,
            "completion_tokens": self.completion_tokens,
            "reconnects": self.reconnects,
        }


def p99(values):
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]


def check(targets):
    """What GET /v1/models answers on each target."""
    answers = {}
    for target in targets:
        answer = {"url": target.base + "/v1/models", "status": None, "models": [], "error": None}
        try:
            status, data, _elapsed = target.call("GET", "/v1/models")
            answer["status"] = status
            if status == 200:
                answer["models"] = [model.get("id") for model in json.loads(data).get("data", [])]
            else:
                answer["error"] = data[:200].decode(errors="replace")
        except Exception as exc:   # noqa: BLE001  # reported, the driver says what to look at
            answer["error"] = f"{type(exc).__name__}: {exc}"
        answers[target.name] = answer
    return answers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--gateway", required=True, help="the gateway's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--direct", required=True, help="one vLLM's base URL, e.g. http://127.0.0.1:8101")
    parser.add_argument("--model", default="tiny", help="the served model name both answer to")
    parser.add_argument("--gateway-key", default=os.environ.get("GATEWAY_LOAD_GATEWAY_KEY") or None,
                        help="the gateway's API key (Bearer); default $GATEWAY_LOAD_GATEWAY_KEY")
    parser.add_argument("--direct-key", default=os.environ.get("GATEWAY_LOAD_DIRECT_KEY") or None,
                        help="vLLM's API key, if it has one; default $GATEWAY_LOAD_DIRECT_KEY")
    parser.add_argument("--requests", type=int, default=40, help="requests to each target (default 40)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (default 1)")
    parser.add_argument("--max-tokens", type=int, default=8, help="max_tokens of each completion (default 8)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds alternating the targets (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="uncounted requests to each target first (default 3)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per request (default 60)")
    parser.add_argument("--check", action="store_true", help="only GET /v1/models on each target")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.rounds < 1 or args.max_tokens < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency, --rounds and --max-tokens must be at least 1, --warmup at least 0")

    targets = [Target("gateway", args.gateway, args.gateway_key, args.concurrency, args.timeout),
               Target("direct", args.direct, args.direct_key, args.concurrency, args.timeout)]
    if args.check:
        print(json.dumps(check(targets), indent=2))
        return 0

    body = json.dumps({"model": args.model, "messages": [{"role": "user", "content": PROMPT}],
                       "max_tokens": args.max_tokens, "temperature": 0}).encode()
    for target in targets:
        for _round in range(args.warmup):
            ok, _seconds, error, _tokens = target.chat(body)
            if not ok:
                log(f"warm-up request to {target.name} {target.base} failed: {error}")
                return 2
    log(f"warmed up: {args.warmup} request(s) to each target")

    rounds = min(args.rounds, args.requests)
    shares = [args.requests // rounds + (1 if index < args.requests % rounds else 0) for index in range(rounds)]
    for index, count in enumerate(shares):
        order = targets if index % 2 == 0 else targets[::-1]
        done = []
        for target in order:
            ok, failed, seconds = target.round(count, body)
            done.append(f"{target.name} {ok}/{count} ok in {seconds:.2f} s" + (f" ({failed} failed)" if failed else ""))
        log(f"concurrency {args.concurrency}, round {index + 1}/{rounds}: {', '.join(done)}")
    for target in targets:
        target.pool.shutdown()

    figures = {target.name: target.figures() for target in targets}
    gateway, direct = figures["gateway"], figures["direct"]
    added = {key: (round(gateway[key] - direct[key], 1) if gateway[key] is not None and direct[key] is not None
                   else None) for key in ("median_ms", "p99_ms")}
    print(json.dumps({
        "model": args.model, "prompt": PROMPT, "max_tokens": args.max_tokens, "temperature": 0,
        "concurrency": args.concurrency, "rounds": rounds, "warmup": args.warmup,
        "targets": figures, "gateway_added": added,
        "notes": "a failure is any answer but 200 with a JSON body, or an exception; latencies and requests per "
                 "second count successful requests only; p99 is the inclusive 99th percentile (near the slowest "
                 "with few requests)",
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
