"""Ray's token on the lab (cluster_ray_token, on by default; the lab image's Ray is 2.60): a client without it is
refused, the waits, status and smoke work with it, and it shows in no Ansible output, command line, `docker
inspect` or file other users can read."""

import subprocess

import pytest
import requests

from conftest import HEAD, RAY_CONTAINERS, SITE, VLLM, WORKER, docker, playbook

TOKEN_FILE = "/etc/stacked-sparks-ray-token"


def token():
    out = subprocess.run(["docker", "exec", HEAD, "cat", TOKEN_FILE], capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def verbose_run():
    """The site playbook with -vv, as someone debugging would run it, on the deployed lab."""
    run = playbook(*SITE, "-vv")
    assert run.rc == 0, run.output
    return run


def test_the_token_is_made_once_and_kept_root_only_on_every_node(verbose_run):
    secret = token()
    assert len(secret) == 64
    for host in (HEAD, WORKER):
        out = subprocess.run(["docker", "exec", host, "stat", "-c", "%U %G %a", TOKEN_FILE],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == "root root 600", (host, out)
        copy = subprocess.run(["docker", "exec", host, "cat", TOKEN_FILE], capture_output=True, text=True,
                              check=True).stdout
        assert copy.strip() == secret
    run = playbook(*SITE)
    assert run.rc == 0 and run.changed == 0, run.output
    assert token() == secret, "a rerun made a new token"


def test_ray_without_the_token_is_refused():
    # ray status in the head container, without the file the container is given
    out = docker(HEAD, "exec", RAY_CONTAINERS[HEAD], "env", "-u", "RAY_AUTH_TOKEN_PATH", "-u", "RAY_AUTH_MODE",
                 "ray", "status")
    assert out.returncode != 0 and "Authentication token is missing or incorrect" in out.stdout, out.stdout[-2000:]
    assert docker(HEAD, "exec", RAY_CONTAINERS[HEAD], "ray", "status").returncode == 0
    # the dashboard (the State API), from the head itself
    ask = ["exec", HEAD, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:8265/api/v0/nodes"]
    assert subprocess.run(["docker", *ask], capture_output=True, text=True, check=False).stdout == "401"
    with_token = ["docker", *ask[:3], "-H", f"Authorization: Bearer {token()}", *ask[3:]]
    assert subprocess.run(with_token, capture_output=True, text=True, check=False).stdout == "200"


def test_status_and_smoke_work_with_the_token():
    run = playbook("playbooks/status.yml")
    assert run.rc == 0, run.output
    assert "Ray: 2 of 2 nodes, 2 of 2 GPUs" in " ".join(run.output.split())
    assert playbook("playbooks/smoke.yml").rc == 0


def test_the_token_shows_nowhere(verbose_run):
    secret = token()
    assert secret not in verbose_run.output
    for host, names in ((HEAD, [RAY_CONTAINERS[HEAD], VLLM]), (WORKER, [RAY_CONTAINERS[WORKER]])):
        for name in names:
            inspect = docker(host, "inspect", name).stdout
            assert '"RAY_AUTH_TOKEN_PATH=/run/secrets/ray-token"' in inspect and '"RAY_AUTH_MODE=token"' in inspect
            assert secret not in inspect, f"the token is in docker inspect {name} on {host}"
        processes = subprocess.run(["docker", "exec", host, "ps", "-eo", "args"], capture_output=True, text=True,
                                   check=True)
        assert secret not in processes.stdout, f"the token is on a command line on {host}"


def test_a_rerun_after_the_token_is_lost_makes_a_new_one_and_restarts_ray():
    old = token()
    subprocess.run(["docker", "exec", HEAD, "rm", TOKEN_FILE], check=True)
    run = playbook(*SITE)
    assert run.rc == 0, run.output
    assert token() != old
    assert requests.get("http://172.28.0.11:8000/v1/models", timeout=10).status_code == 200
    assert playbook(*SITE).changed == 0
