"""Measure the lab and print the figures (make bench). Asserts nothing: tests/ do that.

  cold deploy     molecule destroy, then `molecule converge -s lab`: fresh lab hosts, the image pulled from the
                  lab registry into both, Ray up, vLLM serving (the images are built beforehand, not timed)
  no-op rerun     the site playbook again with nothing changed
  wait lag        vLLM restarted by hand; the time from /v1/models first answering (polled every 0.1 s here)
                  to the vllm_models module returning, with the module's sleep at the role's value
  setting switch  `--tags vllm_serve -e vllm_serve_served_model_name=...`: vLLM recreated, Ray untouched
  preflight       `--tags preflight`: every check, nothing else
  bad input       `-e vllm_serve_port=70000`: from the command to its refusal
  vLLM death      `--tags vllm_serve` with a model that does not exist: vLLM recreated, dies, the wait fails
                  (its timeout is 600 s in the lab)
Run from the repository root with the lab images built (make lab builds them). Leaves the lab up.
"""

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
ENV = dict(os.environ, ANSIBLE_NOCOLOR="1", PATH=f"{REPO}/.venv/bin:{os.environ['PATH']}")
SITE = ["ansible-playbook", "-i", INVENTORY, "site.yml", "--skip-tags", "nfs_server,nfs_client"]


def run(*argv, fails=False):
    """Seconds the command took; it must succeed, or fail when fails is set."""
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, env=ENV, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if (proc.returncode != 0) != fails:
        raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}")
    return time.monotonic() - start


def first_answer(deadline_s, found):
    """Poll /v1/models until it answers; record the monotonic time of the first answer."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and "at" not in found:
        try:
            if requests.get(f"{API}/v1/models", timeout=1).status_code == 200:
                found["at"] = time.monotonic()
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)


def wait_lag():
    subprocess.run(["docker", "exec", "spark-1", "docker", "restart", "sparks-vllm"], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(2)  # the old process is gone and the API down
    found = {}
    poller = threading.Thread(target=first_answer, args=(600, found))
    poller.start()
    run("ansible", "-i", INVENTORY, "spark-1", "-b", "-m", "stacked_sparks.vllm.vllm_models",
        "-a", "url=http://127.0.0.1:8000 model=tiny container=sparks-vllm timeout=600 sleep=2")
    returned = time.monotonic()
    poller.join()
    return returned - found["at"]


def main():
    figures = []
    run("molecule", "destroy", "-s", "lab")
    figures.append(("cold deploy (molecule converge, images built)", run("molecule", "converge", "-s", "lab")))
    figures.append(("no-op rerun of site", run(*SITE)))
    figures.append(("lag from /v1/models answering to the wait returning", wait_lag()))
    figures.append(("setting switch through --tags vllm_serve",
                    run(*SITE, "--tags", "vllm_serve", "-e", "vllm_serve_served_model_name=tiny-b")))
    run(*SITE, "--tags", "vllm_serve")  # back to the inventory's setting
    figures.append(("preflight alone (--tags preflight)", run(*SITE, "--tags", "preflight")))
    figures.append(("bad input refused (vllm_serve_port=70000)", run(*SITE, "-e", "vllm_serve_port=70000",
                                                                     fails=True)))
    figures.append(("vLLM death to the failed wait (--tags vllm_serve)",
                    run(*SITE, "--tags", "vllm_serve", "-e", "vllm_serve_model=/opt/models/none", fails=True)))
    run(*SITE, "--tags", "vllm_serve")
    for name, seconds in figures:
        print(f"{name:55} {seconds:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
