"""A reboot, on the lab: a restart of a lab host's container, whose Docker engine comes back and starts its
containers again as a real boot does. The cluster must come back by itself (the supervisor of each container
waits for what it needs), with no Ansible run: the test first shows it broken, then recovered, and says how long
the first answer took from the hosts' start. Then a rerun restores what a boot loses (the host firewall)."""

import datetime
import subprocess
import time

import requests

from conftest import API, HEAD, RAY_CONTAINERS, SITE, VLLM, WORKER, docker, playbook


def chat():
    """A chat completion from the API, or None while it does not answer."""
    try:
        answer = requests.post(f"{API}/v1/chat/completions", timeout=30, json={
            "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4})
    except requests.RequestException:
        return None
    return answer.json()["choices"][0]["message"] if answer.status_code == 200 else None


def host_started(host):
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", host], capture_output=True, text=True,
                         check=True).stdout.strip()
    return datetime.datetime.fromisoformat(out[:26].rstrip("Z") + "+00:00")


def container_ids():
    ids = {}
    for host, name in ((HEAD, RAY_CONTAINERS[HEAD]), (HEAD, VLLM), (WORKER, RAY_CONTAINERS[WORKER])):
        ids[name] = docker(host, "inspect", "-f", "{{.Id}}", name).stdout.strip()
    return ids


def test_after_a_reboot_of_both_hosts_the_cluster_comes_back_by_itself():
    assert chat(), "the cluster must answer before the test"
    before = container_ids()
    subprocess.run(["docker", "restart", "-t", "5", HEAD, WORKER], check=True, capture_output=True)
    # broken first: the API refuses, and status fails saying what is missing
    assert chat() is None
    deadline = time.monotonic() + 120
    while docker(HEAD, "info").returncode != 0 or docker(WORKER, "info").returncode != 0:
        assert time.monotonic() < deadline, "the lab hosts' Docker engines did not come back"
        time.sleep(1)
    status = playbook("playbooks/status.yml")
    assert status.rc != 0 and "The cluster is degraded: " in " ".join(status.output.split()), status.output
    # then back by itself: nothing of Ansible runs until it answers
    deadline = time.monotonic() + 420
    while not chat():
        assert time.monotonic() < deadline, "\n".join(
            docker(host, "logs", "--tail", "15", name).stdout for host, name in
            ((HEAD, RAY_CONTAINERS[HEAD]), (WORKER, RAY_CONTAINERS[WORKER]), (HEAD, VLLM)))
        time.sleep(1)
    answered = datetime.datetime.now(datetime.timezone.utc)
    seconds = (answered - max(host_started(HEAD), host_started(WORKER))).total_seconds()
    print(f"\nreboot of both hosts: first answer {seconds:.0f} s after the last host started")
    assert container_ids() == before, "the same containers, started again by Docker, not recreated by a run"
    assert playbook("playbooks/status.yml").rc == 0   # every container running, every node and GPU in Ray
    # a boot loses the host firewall (cluster_firewall): the rerun restores it, and restarts nothing
    run = playbook(*SITE)
    assert run.rc == 0, run.output
    assert container_ids() == before, run.output
