"""What an operator does with a running cluster, on the lab: check it, rerun it, switch a setting, stop it.
The tests run in this order; the last one stops the cluster."""

import json
import subprocess

import requests

from conftest import API, RAY_CONTAINERS, SITE, VLLM, HEAD, WORKER, docker, playbook, started_at


def test_smoke_checks_models_completion_and_chat():
    run = playbook("playbooks/smoke.yml")
    assert run.rc == 0, run.output
    assert "tiny is listed" in run.output
    assert "completion:" in run.output and "chat:" in run.output


def test_status_reports_nodes_gpus_models_and_logs():
    run = playbook("playbooks/status.yml")
    assert run.rc == 0, run.output
    text = " ".join(run.output.split())
    assert "Ray: 2 of 2 nodes, 2 of 2 GPUs" in text, run.output
    assert "spark-1 (172.28.0.11): 1 GPU" in text and "spark-2 (172.28.0.12): 1 GPU" in text, run.output
    assert "vLLM at http://127.0.0.1:8000: tiny" in text
    for host, name in ((HEAD, RAY_CONTAINERS[HEAD]), (WORKER, RAY_CONTAINERS[WORKER]), (HEAD, VLLM)):
        assert f"{name} on {host}: running since" in text and f"log: docker logs {name}" in text, run.output


def test_compile_caches_are_on_each_nodes_local_disk_not_in_the_shared_cache():
    """vLLM on the head and its Ray worker on the worker compile into cluster_compile_cache_dir on their own node;
    nothing of theirs lands in the HuggingFace cache, which the lab shares between the hosts as NFS would."""
    caches = "/var/cache/stacked-sparks"
    for host, expected in ((HEAD, {"vllm", "torchinductor"}), (WORKER, {"torchinductor"})):
        found = subprocess.run(["docker", "exec", host, "ls", caches], capture_output=True, text=True, check=False)
        assert expected <= set(found.stdout.split()), (host, found.stdout, found.stderr)
    shared = subprocess.run(["docker", "exec", HEAD, "ls", "-A", "/srv/hf-cache"], capture_output=True, text=True,
                            check=True).stdout.split()
    assert not {"vllm", "torchinductor", "triton", "flashinfer", "cuda"} & set(shared), shared
    env = json.loads(docker(WORKER, "inspect", "-f", "{{json .Config.Env}}", RAY_CONTAINERS[WORKER]).stdout)
    assert f"TRITON_CACHE_DIR={caches}/triton" in env and f"VLLM_CACHE_ROOT={caches}/vllm" in env, env


def test_preflight_playbook_checks_and_changes_nothing():
    before = started_at()
    run = playbook("playbooks/preflight.yml")
    assert run.rc == 0 and run.changed == 0, run.output
    assert "spark-2: eth0 up, 172.28.0.12/" in run.output, run.output   # the fabric report
    bad = playbook("playbooks/preflight.yml", "-e", "vllm_serve_port=70000")
    assert bad.rc != 0 and "vllm_serve_port must be a TCP port between 1 and 65535" in bad.output, bad.output
    assert started_at() == before


def test_rerun_changes_nothing_and_restarts_nothing():
    before = started_at()
    run = playbook(*SITE)
    assert run.rc == 0, run.output
    assert run.changed == 0, run.output
    assert started_at() == before


def test_rerun_mends_a_broken_ssh_trust_and_leaves_a_whole_one_alone():
    """ssh_trust checks the login first: a whole trust costs one login and changes nothing; the head's known_hosts
    gone, the login fails, and the rerun writes it again (and checks the login after)."""
    run = playbook(*SITE, "--tags", "ssh_trust")
    assert run.rc == 0 and run.changed == 0, run.output
    assert "TASK [stacked_sparks.vllm.ssh_trust : Trust the workers' host keys on the head]" not in run.output
    subprocess.run(["docker", "exec", HEAD, "rm", "/home/spark/.ssh/known_hosts"], check=True)
    run = playbook(*SITE, "--tags", "ssh_trust")
    assert run.rc == 0 and run.changed == 1, run.output
    login = subprocess.run(["docker", "exec", "-u", "spark", HEAD, "ssh", "-o", "BatchMode=yes", "-o",
                            "StrictHostKeyChecking=yes", "spark@172.28.0.12", "hostname"],
                           capture_output=True, text=True, check=False)
    assert (login.returncode, login.stdout.strip()) == (0, WORKER), login.stderr


def test_changed_model_setting_restarts_vllm_alone():
    before = started_at()
    run = playbook(*SITE, "--tags", "vllm_serve", "-e", "vllm_serve_max_model_len=256")
    assert run.rc == 0, run.output
    after = started_at()
    assert after[VLLM] != before[VLLM]
    for name in RAY_CONTAINERS.values():
        assert after[name] == before[name], f"{name} was restarted"
    models = requests.get(f"{API}/v1/models", timeout=10).json()["data"]
    assert models[0]["max_model_len"] == 256

    # and back to the inventory's setting, again without touching Ray
    run = playbook(*SITE, "--tags", "vllm_serve")
    assert run.rc == 0, run.output
    assert requests.get(f"{API}/v1/models", timeout=10).json()["data"][0]["max_model_len"] == 512
    assert {n: started_at()[n] for n in RAY_CONTAINERS.values()} == {n: before[n] for n in RAY_CONTAINERS.values()}


def test_stop_removes_what_site_created():
    run = playbook("playbooks/stop.yml")
    assert run.rc == 0, run.output
    assert all(value is None for value in started_at().values())
    for host in (HEAD, WORKER):
        assert docker(host, "ps", "-aq", "--filter", "name=^sparks-").stdout.strip() == ""
        # the firewall stays, and comes back at boot with its rules
        assert docker(host, "ps", "-q", "--filter", "name=^stacked-sparks-firewall$").stdout.strip() != ""
    assert "sparks-ray-tmp" not in docker(HEAD, "volume", "ls", "-q").stdout
    status = playbook("playbooks/status.yml")
    assert status.rc != 0
    # one line for a cron job or an AWX schedule to act on, the containers first
    assert ("The cluster is degraded: sparks-ray-head on spark-1 is absent; sparks-ray-worker on spark-2 is absent; "
            "sparks-vllm on spark-1 is absent; Ray does not answer") in " ".join(status.output.split()), status.output
