"""Measure the lab and print every figure beside its goal (make bench). Asserts nothing: tests/ do that.

  cold deploy       molecule destroy, then `molecule converge -s lab`: fresh lab hosts, the image pulled from the
                    lab registry into both, Ray up, vLLM serving (the images are built beforehand, not timed)
  no-op rerun       the site playbook again with nothing changed, over SSH as on the Sparks, once the machine is
                    quiet again (vLLM keeps it busy a while after it answers); the best of three, the first with
                    its per-role and per-task profile (ansible.posix.profile_roles, profile_tasks) kept
  setting switch    `--tags vllm_serve -e vllm_serve_served_model_name=...`: vLLM recreated, Ray untouched; the
                    goal is vLLM's own load (the seconds from its container starting to /v1/models answering,
                    read from the container) plus 10 s
  wait lag          vLLM restarted by hand; from /v1/models first answering (polled every 0.05 s here) to the
                    vllm_models module returning, with the module's default pauses
  bad input         `-e vllm_serve_port=70000`: from the command to its refusal; the best of three
  preflight         the preflight playbook (playbooks/preflight.yml): every check, nothing else; the best of
                    three. Beside it, the same checks as `site.yml --tags preflight`, which also runs Ansible's
                    argument checks of every role of the site playbook (tagged always by Ansible)
  vLLM death        `--tags vllm_serve` with a model that does not exist: vLLM recreated, dies, the wait fails
  seed's rerun      what the seed's scripts do for a rerun, stop everything and start it again (stop.yml, then
                    site.yml), beside the collection's no-op rerun: time, and the seconds a client polling the
                    API saw it down
  reboot            the head, the worker, both at once, both with the worker held down HOLD s, both with the
                    head held down HOLD s (a lab host's container restarted: its Docker engine starts the
                    containers again, as a boot does): from the last host's start to the first chat completion,
                    with no Ansible run; then a rerun, which has nothing to do (its log in the results)
The figures scale with the machine: the output starts with a reference (seconds for 10^7 Python additions on
one core, and the share of CPU time the hypervisor took from this machine during the run), to compare runs by.
Results: .bench/<time>/ (figures.txt, the no-op profile, each run's log). Run from the repository root with the
lab images built (make bench builds them). Leaves the lab up.
"""

import datetime
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
INVENTORY = str(REPO / "inventory" / "lab" / "hosts.yml")
API = "http://172.28.0.11:8000"
HOLD = 120   # seconds a host is held down in the reboot cases: past Ray's 60 s wait for a GCS that went away
ENV = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH=f"{REPO}/.venv/bin:{os.environ['PATH']}")
SITE = ["ansible-playbook", "-i", INVENTORY, "site.yml"]
RESULTS = REPO / ".bench" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def say(text):
    print(f"[{datetime.datetime.now():%H:%M:%S} bench] {text}", flush=True)


def run(name, *argv, fails=False, env=None):
    """Seconds the command took; its output goes to RESULTS/<name>.log. It must succeed (or fail, with fails)."""
    say(f"{name}: {' '.join(argv)}")
    log = RESULTS / f"{name}.log"
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(argv, cwd=REPO, env=dict(ENV, **(env or {})), check=False, stdout=out,
                              stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if (proc.returncode != 0) != fails:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode} after {seconds:.1f} s; see {log}:\n{tail}")
    say(f"{name}: {seconds:.1f} s")
    return seconds


class Poller(threading.Thread):
    """Polls /v1/models every 0.05 s: when it first answered, and how long it was down in total."""

    def __init__(self):
        super().__init__(daemon=True)
        self.first = None
        self.down = 0.0
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                up = requests.get(f"{API}/v1/models", timeout=1).status_code == 200
            except requests.RequestException:
                up = False
            if up and self.first is None:
                self.first = time.monotonic()
            self.stopping.wait(0.05)
            if not up:
                self.down += time.monotonic() - start

    def stop(self):
        self.stopping.set()
        self.join()


def vllm_load_seconds():
    """From the vLLM container's start to its log line of the API server starting, as vLLM itself sees it."""
    out = subprocess.run(["docker", "exec", "spark-1", "docker", "inspect", "-f", "{{.State.StartedAt}}",
                          "sparks-vllm"], capture_output=True, text=True, check=True).stdout.strip()
    started = datetime.datetime.fromisoformat(out[:26].rstrip("Z") + "+00:00" if "." in out else out)
    logs = subprocess.run(["docker", "exec", "spark-1", "docker", "logs", "-t", "sparks-vllm"], capture_output=True,
                          text=True, check=True)
    for line in (logs.stdout + logs.stderr).splitlines():
        if "Application startup complete" in line:
            stamp = line.split()[0]
            ready = datetime.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
            return (ready - started).total_seconds()
    raise SystemExit("vLLM's log has no 'Application startup complete' line")


def cpu_reference():
    """Seconds for 10**7 Python additions on one core: what the machine is worth now, to compare runs by."""
    start = time.perf_counter()
    total = 0
    for number in range(10**7):
        total += number
    return time.perf_counter() - start


def cpu_times():
    """(total, steal) jiffies of all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields[:8]), fields[7]


def settle(idle=0.8, longest=120):
    """Wait until the machine is quiet (idle CPU share over 3 s at least `idle`): vLLM keeps the lab busy for a
    while after it first answers, and the figures are of the collection, not of that."""
    def busy_idle():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]
    start = time.monotonic()
    while time.monotonic() - start < longest:
        total0, idle0 = busy_idle()
        time.sleep(3)
        total1, idle1 = busy_idle()
        share = (idle1 - idle0) / max(total1 - total0, 1)
        if share >= idle:
            say(f"settled: {share:.0%} idle after {time.monotonic() - start:.0f} s")
            return
    say(f"not settled after {longest} s (idle {share:.0%}): measuring anyway")


def wait_lag():
    say("wait lag: restarting vLLM by hand, then the vllm_models module waits for it")
    subprocess.run(["docker", "exec", "spark-1", "docker", "restart", "sparks-vllm"], check=True,
                   stdout=subprocess.DEVNULL)
    poller = Poller()
    poller.start()
    run("wait-lag", "ansible", "-i", INVENTORY, "spark-1", "-b", "-m", "stacked_sparks.vllm.vllm_models",
        "-a", "url=http://127.0.0.1:8000 model=tiny container=sparks-vllm timeout=600")
    returned = time.monotonic()
    poller.stop()
    return returned - poller.first


def reboot(hosts, held=None):
    """Restart lab hosts (a reboot: each one's Docker engine starts its containers again), held one down for HOLD
    seconds first, and wait, running no Ansible, until the API answers a chat completion: the seconds from the
    last host's start to that answer. Then a rerun, which has nothing to do."""
    what = " and ".join(hosts) + (f", {held} held down {HOLD} s" if held else "")
    say(f"reboot of {what}: restarting, then waiting for a chat completion, with no Ansible run")
    if held:
        subprocess.run(["docker", "stop", "-t", "5", held], check=True, stdout=subprocess.DEVNULL)
    others = [host for host in hosts if host != held]
    if others:
        subprocess.run(["docker", "restart", "-t", "5", *others], check=True, stdout=subprocess.DEVNULL)
    if held:
        time.sleep(HOLD)
        subprocess.run(["docker", "start", held], check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            answer = requests.post(f"{API}/v1/chat/completions", timeout=30, json={
                "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4})
            if answer.status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    else:
        raise SystemExit(f"no answer 600 s after the reboot of {what}: see docker logs on the lab hosts")
    answered = datetime.datetime.now(datetime.timezone.utc)
    starts = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", *hosts], capture_output=True,
                            text=True, check=True).stdout.split()
    last = max(datetime.datetime.fromisoformat(start[:26].rstrip("Z") + "+00:00") for start in starts)
    seconds = (answered - last).total_seconds()
    say(f"reboot of {what}: first answer {seconds:.1f} s after the last host started")
    run(f"after-reboot-{'-'.join(hosts)}{'-held-' + held if held else ''}", *SITE)   # the log says changed=0
    return what, seconds


def best(seconds):
    """The runs' seconds, for a figure that is the best of them."""
    return ", ".join(f"{each:.1f}" for each in seconds)


def downtime(name, *commands):
    """Seconds the commands took in all, and the seconds a client polling the API saw it down meanwhile."""
    poller = Poller()
    poller.start()
    seconds = sum(run(f"{name}-{n}", *argv) for n, argv in enumerate(commands))
    poller.stop()
    return seconds, poller.down


def main():
    RESULTS.mkdir(parents=True)
    figures = []   # (name, seconds, goal text)
    reference = cpu_reference()
    say(f"machine: 10^7 Python additions in {reference:.2f} s")
    total0, steal0 = cpu_times()

    def figure(name, seconds, goal):
        figures.append((name, seconds, goal))

    run("destroy", "molecule", "destroy", "-s", "lab")
    cold = run("cold-deploy", "molecule", "converge", "-s", "lab")
    figure("cold deploy (molecule converge, images built)", cold, "-")
    settle()
    profile = {"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_roles,ansible.posix.profile_tasks"}
    noops = [run("noop-rerun-profile", *SITE, env=profile)]   # the first no-op: profiled, kept with the results
    noops += [run(f"noop-rerun-{n}", *SITE) for n in (1, 2)]
    figure(f"no-op rerun of site.yml (best of {best(noops)})", min(noops), "<= 15 s")
    switch = run("setting-switch", *SITE, "--tags", "vllm_serve", "-e", "vllm_serve_served_model_name=tiny-b")
    load = vllm_load_seconds()
    figure(f"setting switch via --tags vllm_serve (vLLM's own load {load:.1f} s)", switch, f"<= {load + 10:.1f} s")
    run("switch-back", *SITE, "--tags", "vllm_serve")
    figure("lag from /v1/models answering to the wait returning", wait_lag(), "<= 0.5 s")
    bad = [run(f"bad-input-{n}", *SITE, "-e", "vllm_serve_port=70000", fails=True) for n in range(3)]
    figure(f"bad input refused (vllm_serve_port=70000; best of {best(bad)})", min(bad), "<= 3 s")
    checks = [run(f"preflight-{n}", "ansible-playbook", "-i", INVENTORY, "playbooks/preflight.yml") for n in range(3)]
    figure(f"preflight alone (playbooks/preflight.yml; best of {best(checks)})", min(checks), "<= 5 s")
    tagged = [run(f"preflight-tag-{n}", *SITE, "--tags", "preflight") for n in range(3)]
    figure(f"preflight by tag (site.yml --tags preflight; best of {best(tagged)})", min(tagged), "-")
    figure("vLLM death to the failed wait (--tags vllm_serve)",
           run("vllm-death", *SITE, "--tags", "vllm_serve", "-e", "vllm_serve_model=/opt/models/none", fails=True),
           "-")
    run("death-back", *SITE, "--tags", "vllm_serve")
    seconds, down = downtime("collection-rerun", SITE)
    figure(f"collection's no-op rerun: API down {down:.1f} s", seconds, "API down 0 s")
    seconds, down = downtime("seed-rerun", ["ansible-playbook", "-i", INVENTORY, "playbooks/stop.yml"], SITE)
    figure(f"seed's rerun (stop all, start all): API down {down:.1f} s", seconds, "-")

    for hosts, held in ((["spark-1"], None), (["spark-2"], None), (["spark-1", "spark-2"], None),
                        (["spark-1", "spark-2"], "spark-2"), (["spark-1", "spark-2"], "spark-1")):
        what, seconds = reboot(hosts, held)
        figure(f"reboot of {what}: host start to first answer (cold deploy {cold:.0f} s)", seconds, "-")

    total1, steal1 = cpu_times()
    lines = [f"machine: 10^7 Python additions in {reference:.2f} s; the hypervisor took "
             f"{(steal1 - steal0) / max(total1 - total0, 1):.0%} of the CPU time during the run", ""]
    lines += [f"{name:62} {seconds:7.1f} s   goal {goal}" for name, seconds, goal in figures]
    (RESULTS / "figures.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(["", *lines, "", f"results, logs and the no-op profile: {RESULTS}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
