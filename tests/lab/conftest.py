"""End-to-end tests against the lab (molecule/lab must be converged): they drive ansible-playbook as an operator
would, and read the real state from the lab hosts' Docker engines and the API."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventory" / "lab" / "hosts.yml"
HEAD, WORKER = "spark-1", "spark-2"
API = "http://172.28.0.11:8000"
RAY_CONTAINERS = {HEAD: "sparks-ray-head", WORKER: "sparks-ray-worker"}
VLLM = "sparks-vllm"
SITE = ["site.yml"]   # the lab's inventory says what differs (no NFS: cluster_hf_cache_nfs false)


class Run:
    def __init__(self, proc):
        self.rc, self.output = proc.returncode, proc.stdout

    @property
    def changed(self):
        """Sum of changed= over the PLAY RECAP lines."""
        counts = re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", self.output, re.MULTILINE)
        assert counts, "no PLAY RECAP in the output:\n" + self.output[-3000:]
        return sum(int(c) for c in counts)


def playbook(*args):
    """Run ansible-playbook on the lab inventory from the repository root, like an operator."""
    return playbook_with_inventory(INVENTORY, *args)


def playbook_with_inventory(inventory, *args):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), *args], cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800, check=False)
    return Run(proc)


def docker(host, *args):
    """docker on a lab host's own engine."""
    return subprocess.run(["docker", "exec", host, "docker", *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120, check=False)


def started_at():
    """StartedAt of the service's three containers, keyed by name (None when absent)."""
    found = {}
    for host, names in ((HEAD, [RAY_CONTAINERS[HEAD], VLLM]), (WORKER, [RAY_CONTAINERS[WORKER]])):
        for name in names:
            out = docker(host, "inspect", name)
            found[name] = json.loads(out.stdout)[0]["State"]["StartedAt"] if out.returncode == 0 else None
    return found


@pytest.fixture(scope="session", autouse=True)
def lab_is_up():
    if subprocess.run(["docker", "exec", HEAD, "true"], capture_output=True, check=False).returncode != 0:
        pytest.fail("the lab is not up: run `make lab` (or molecule converge -s lab) first")
