"""Both backends of cluster_backend side by side on the lab, in one run (make bench-backends). Asserts nothing.

For each backend, ray (the lab's image, with Ray) and mp (vLLM's own multi-node launcher; the lab's image without
Ray, lab/images/vllm-noray, which differs only by Ray's absence), TP=2 across both lab hosts:
  cold start      stop.yml, then the site playbook: from the command to the first chat completion answered
                  (images present; the containers, Ray and vLLM start from nothing)
  memory          each lab host's memory in use while serving, once the machine is quiet: the RSS of its
                  cgroup (the lab host and every container its engine runs), from memory.stat (docker stats
                  reads 0 on this cgroup v1 host)
  first token     a streamed chat completion: from the request to the first content chunk, the median of
                  ROUNDS after one warm-up request
And the image's distribution to both lab hosts, image_pull_source registry (each pulls from the lab registry) and
head (the head pulls, then sends it to the worker through the SSH trust): the cluster stopped and the image removed
from both, then `site.yml --tags image_pull`, timed.
Results: .bench/backends-<time>/ (figures.txt and each run's log). Needs the lab up (make lab); leaves it as the
lab inventory deploys it (ray).
"""

import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab  # noqa: E402  # the lab benchmark's helpers
from lab import API, INVENTORY, SITE, run, say, settle  # noqa: E402

RESULTS = lab.REPO / ".bench" / datetime.datetime.now().strftime("backends-%Y%m%d-%H%M%S")
HOSTS = ("spark-1", "spark-2")
ROUNDS = 9
IMAGE = "172.28.0.2:5000/stacked-sparks-lab/vllm:0.32.0"
NO_RAY = "172.28.0.2:5000/stacked-sparks-lab/vllm-noray:0.32.0"   # lab/images/vllm-noray
BACKENDS = {
    "ray": [],
    "mp": ["-e", "cluster_backend=mp", "-e", f"cluster_image={NO_RAY}"],
}


def answered_chat():
    try:
        return requests.post(f"{API}/v1/chat/completions", timeout=30, json={
            "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4}).status_code == 200
    except requests.RequestException:
        return False


def memory_mib(host):
    """RSS of the lab host's cgroup (the host and its engine's containers), in MiB."""
    full_id = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", host], capture_output=True, text=True,
                             check=True).stdout.strip()
    for stat in Path("/sys/fs/cgroup/memory").glob(f"**/{full_id}/memory.stat"):
        fields = dict(line.split() for line in stat.read_text().splitlines())
        return int(fields["total_rss"]) / 2**20
    raise SystemExit(f"no memory cgroup for {host} ({full_id}) under /sys/fs/cgroup/memory")


def first_token_seconds():
    """Seconds from a streamed chat completion's request to its first content chunk."""
    start = time.monotonic()
    with requests.post(f"{API}/v1/chat/completions", timeout=60, stream=True, json={
            "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 16,
            "stream": True}) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                delta = json.loads(line[6:])["choices"][0]["delta"]
                if delta.get("content"):
                    return time.monotonic() - start
    raise SystemExit("the streamed chat completion had no content")


def measure(backend, extra):
    run(f"{backend}-stop", "ansible-playbook", "-i", INVENTORY, "playbooks/stop.yml", *extra)
    start = time.monotonic()
    run(f"{backend}-deploy", *SITE, *extra)
    while not answered_chat():
        if time.monotonic() - start > 900:
            raise SystemExit(f"{backend}: no chat completion 900 s after the deploy started")
        time.sleep(0.2)
    cold = time.monotonic() - start
    say(f"{backend}: first chat completion {cold:.1f} s after the deploy started")
    first_token_seconds()   # warm-up
    tokens = [first_token_seconds() for request in range(ROUNDS)]
    say(f"{backend}: first token {', '.join(f'{t * 1000:.0f}' for t in tokens)} ms")
    settle()
    memory = {host: memory_mib(host) for host in HOSTS}
    return cold, memory, statistics.median(tokens)


def distribution(source):
    """Seconds `site.yml --tags image_pull` takes to put the image on both lab hosts, from neither having it."""
    run(f"{source}-stop", "ansible-playbook", "-i", INVENTORY, "playbooks/stop.yml")
    for host in HOSTS:   # the firewall container runs the image too; the image without Ray shares its layers
        subprocess.run(["docker", "exec", host, "docker", "rm", "-f", "stacked-sparks-firewall"], check=True,
                       capture_output=True)
        subprocess.run(["docker", "exec", host, "docker", "image", "rm", IMAGE], check=True, capture_output=True)
        subprocess.run(["docker", "exec", host, "docker", "image", "rm", NO_RAY], check=False, capture_output=True)
        left = subprocess.run(["docker", "exec", host, "docker", "image", "ls", "-q"], check=True,
                              capture_output=True, text=True).stdout.split()
        if left:
            raise SystemExit(f"{host} still has images ({', '.join(left)}): the pull would not be a whole one")
    return run(f"{source}-distribution", *SITE, "--tags", "image_pull", "-e", f"image_pull_source={source}")


def main():
    RESULTS.mkdir(parents=True)
    lab.RESULTS = RESULTS   # run() writes its logs here
    results = {backend: measure(backend, extra) for backend, extra in BACKENDS.items()}
    sources = {source: distribution(source) for source in ("registry", "head")}
    run("back-to-the-lab", *SITE)
    lines = [f"{'':34} {'ray':>10} {'mp':>10}"]
    lines.append(f"{'cold start to first answer':34} " + " ".join(f"{results[b][0]:9.1f}s" for b in BACKENDS))
    for host in HOSTS:
        lines.append(f"{'memory in use, ' + host:34} " + " ".join(f"{results[b][1][host]:7.0f}MiB" for b in BACKENDS))
    lines.append(f"{'first token (median of %d)' % ROUNDS:34} "
                 + " ".join(f"{results[b][2] * 1000:8.0f}ms" for b in BACKENDS))
    lines += ["", f"{'image to both lab hosts (3 GB)':34} {'registry':>10} {'head':>10}",
              f"{'site.yml --tags image_pull':34} " + " ".join(f"{sources[source]:9.1f}s" for source in sources)]
    (RESULTS / "figures.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(["", *lines, "", f"results and logs: {RESULTS}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
