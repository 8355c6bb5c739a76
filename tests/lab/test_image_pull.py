"""image_pull_source head on the lab: the head alone pulls the image from the lab registry (or loads an archive,
as an air-gapped site would) and sends it to the worker over the lab network through the SSH trust; a rerun moves
nothing. The lab registry's log says who pulled."""

import subprocess

import pytest
import requests

from conftest import API, HEAD, SITE, WORKER, docker, playbook

IMAGE = "172.28.0.2:5000/stacked-sparks-lab/vllm:0.32.0"
HEAD_IP, WORKER_IP = "172.28.0.11", "172.28.0.12"
ARCHIVE = "/var/tmp/stacked-sparks-lab-vllm.tar"


def manifest_pulls():
    """How many times each lab host asked the lab registry for the image's manifest."""
    log = subprocess.run(["docker", "logs", "sparks-lab-registry"], capture_output=True, text=True, check=True)
    lines = [line for line in (log.stdout + log.stderr).splitlines()
             if '"GET /v2/stacked-sparks-lab/vllm/manifests/' in line]
    return {ip: sum(line.startswith(ip + " ") for line in lines) for ip in (HEAD_IP, WORKER_IP)}


def image_ids():
    """The image's ID on each lab host, "" where it is absent."""
    found = {host: docker(host, "image", "inspect", "-f", "{{.Id}}", IMAGE) for host in (HEAD, WORKER)}
    return {host: out.stdout.strip() if out.returncode == 0 else "" for host, out in found.items()}


def without_the_image(*hosts):
    """Stop the cluster and remove the image from these lab hosts (the firewall container runs it too)."""
    assert playbook("playbooks/stop.yml").rc == 0
    for host in hosts:
        docker(host, "rm", "-f", "stacked-sparks-firewall")
        docker(host, "image", "rm", IMAGE)
    assert {host: image_ids()[host] for host in hosts} == dict.fromkeys(hosts, "")


@pytest.fixture(scope="module", autouse=True)
def back_to_the_registry():
    yield
    subprocess.run(["docker", "exec", HEAD, "rm", "-f", ARCHIVE], check=False)
    run = playbook(*SITE)
    assert run.rc == 0, run.output


def served():
    return requests.post(f"{API}/v1/chat/completions", timeout=60, json={
        "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4}).status_code == 200


def test_the_head_pulls_once_and_sends_the_image_to_the_worker():
    without_the_image(HEAD, WORKER)
    before = manifest_pulls()
    run = playbook(*SITE, "-e", "image_pull_source=head")
    assert run.rc == 0, run.output
    after = manifest_pulls()
    assert after[HEAD_IP] > before[HEAD_IP] and after[WORKER_IP] == before[WORKER_IP], (before, after)
    ids = image_ids()
    assert ids[HEAD] and ids[HEAD] == ids[WORKER]
    assert "spark-2: sent in" in run.output
    assert served()

    again = playbook(*SITE, "-e", "image_pull_source=head")
    assert again.rc == 0 and again.changed == 0, again.output
    assert "changed: [spark-1] => (item=spark-2)" not in again.output


def test_an_air_gapped_head_loads_an_archive():
    """The head loads the archive; the worker, which has that very image (the test above sent it), gets nothing
    (sending is the test above's: skipping it here saves the lab a minute and more)."""
    subprocess.run(["docker", "exec", HEAD, "sh", "-c", f"docker save {IMAGE} > {ARCHIVE}"], check=True)
    worker_id = image_ids()[WORKER]
    without_the_image(HEAD)
    before = manifest_pulls()
    run = playbook(*SITE, "-e", "image_pull_source=head", "-e", f"image_pull_archive={ARCHIVE}")
    assert run.rc == 0, run.output
    assert manifest_pulls() == before, "a node asked the registry"
    assert image_ids() == {HEAD: worker_id, WORKER: worker_id}
    assert "spark-2: sent in" not in run.output
    assert served()
