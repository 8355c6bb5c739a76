"""vLLM's API key end to end, on the lab: clients without it are refused, and neither it nor the HuggingFace
token shows in Ansible's output, on a command line, in `docker inspect`, or in a file other users can read."""

import json
import subprocess

import pytest
import requests

from conftest import API, HEAD, SITE, VLLM, docker, playbook

KEY = "lab-api-key-5f1c9e"
TOKEN = "hf_labtoken7d3a0b"
SECRETS_FILE = "/etc/stacked-sparks/vllm.env"


def models(key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.get(f"{API}/v1/models", headers=headers, timeout=10)


@pytest.fixture(scope="module")
def keyed_run():
    """Serve with an API key and a token (-vv, as someone debugging would), then serve without them again."""
    run = playbook(*SITE, "--tags", "vllm_serve", "-vv", "-e",
                   json.dumps({"vllm_serve_api_key": KEY, "vllm_serve_hf_token": TOKEN}))
    yield run
    reset = playbook(*SITE, "--tags", "vllm_serve")
    assert reset.rc == 0, reset.output
    assert models().status_code == 200


def test_the_key_is_required_by_the_api(keyed_run):
    assert keyed_run.rc == 0, keyed_run.output
    assert models().status_code == 401
    assert models("wrong-key").status_code == 401
    assert [m["id"] for m in models(KEY).json()["data"]] == ["tiny"]


def test_smoke_playbook_sends_the_key(keyed_run):
    run = playbook("playbooks/smoke.yml", "-e", f"vllm_serve_api_key={KEY}")
    assert run.rc == 0, run.output
    assert KEY not in run.output


def test_the_benchmark_sends_the_key_from_the_secrets_file(keyed_run, tmp_path):
    """vllm bench serve gets the key as OPENAI_API_KEY inside its container, from the secrets file: every request
    answered, and the key nowhere in Ansible's output or the results."""
    run = playbook("playbooks/benchmark.yml", "-vv", "-e", f"vllm_serve_api_key={KEY}", "-e",
                   f"cluster_results_dir={tmp_path}")
    assert run.rc == 0, run.output
    assert "requests: 8 completed, 0 failed" in " ".join(run.output.split())
    assert KEY not in run.output.replace(f"vllm_serve_api_key={KEY}", "")   # the command line Ansible echoes at -vv
    for path in tmp_path.rglob("*"):
        assert path.is_dir() or KEY not in path.read_text(), f"the key is in {path}"


def test_secrets_show_nowhere(keyed_run):
    assert KEY not in keyed_run.output and TOKEN not in keyed_run.output
    inspect = docker(HEAD, "inspect", VLLM).stdout
    assert KEY not in inspect and TOKEN not in inspect
    processes = docker(HEAD, "exec", VLLM, "ps", "-eo", "args").stdout
    assert "vllm" in processes and KEY not in processes and TOKEN not in processes


def test_secrets_file_is_root_only(keyed_run):
    mode = docker(HEAD, "exec", VLLM, "stat", "-c", "%a %U", "/run/secrets/vllm.env")
    assert mode.stdout.split() == ["600", "root"], mode.stdout
    on_host = _host("stat", "-c", "%a %U", SECRETS_FILE)
    assert on_host.split() == ["600", "root"]
    assert "Permission denied" in _host_as_spark("cat", SECRETS_FILE)
    assert "Permission denied" in _host_as_spark("ls", "/etc/stacked-sparks")


def _host(*argv):
    return subprocess.run(["docker", "exec", HEAD, *argv], capture_output=True, text=True, check=False).stdout


def _host_as_spark(*argv):
    proc = subprocess.run(["docker", "exec", "-u", "spark", HEAD, *argv], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr
