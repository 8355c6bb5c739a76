"""The job templates of awx/ run the way AWX runs them: ansible-runner on a private data directory holding the
project (the repository's files, as AWX checks them out), the collections the project sync installs from
collections/requirements.yml, the inventory, and the survey's default answers as extra variables; nobody to
answer a prompt (ansible-runner answers only the passwords it is given: none), an empty home directory. The
tests run before test_operations, which stops the cluster, and leave it serving the lab inventory's settings."""

import os
import shutil
import subprocess
from pathlib import Path

import ansible_runner
import pytest
import requests
import yaml

from conftest import API, REPO, started_at

LAB_VARS = yaml.safe_load((REPO / "inventory" / "lab" / "group_vars" / "all.yml").read_text())
SERVICE_ROLES = {"nfs_server", "nfs_client", "ssh_trust", "image_pull", "ray_head", "ray_worker", "vllm_serve"}


def template(name):
    return yaml.safe_load((REPO / "awx" / "job_templates" / f"{name}.yml").read_text())[name]


def default_answers(name):
    """The survey's default answers on the lab, as awx/configure.yml sets them: the inventory's value of each
    question's variable, else the question's own default."""
    return {q["variable"]: LAB_VARS.get(q["variable"], q["default"]) for q in template(name)["survey_spec"]["spec"]}


@pytest.fixture(scope="module")
def private_data_dir(tmp_path_factory):
    """What AWX prepares for a job: project/, requirements_collections/ (the project sync), inventory/, and here
    an empty home directory for the job."""
    pdd = tmp_path_factory.mktemp("awx-job")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, stdout=subprocess.PIPE,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (pdd / "project" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, pdd / "project" / name, follow_symlinks=False)
    sync = subprocess.run(["ansible-galaxy", "collection", "install", "-r", "collections/requirements.yml"],
                          cwd=pdd / "project", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(pdd / "requirements_collections")),
                          timeout=300, check=False)
    assert sync.returncode == 0, sync.stdout
    shutil.copytree(REPO / "inventory" / "lab", pdd / "inventory")
    # The machine credential: the lab's key and known hosts, where the lab inventory names them in the job's home.
    shutil.copytree(Path.home() / ".cache" / "stacked-sparks" / "lab" / "ssh",
                    pdd / "home" / ".cache" / "stacked-sparks" / "lab" / "ssh")
    return pdd


def job(pdd, playbook, extravars, skip_tags=""):
    """One job: env/extravars (the survey's answers), env/envvars, env/cmdline written as AWX writes them, then
    ansible-runner."""
    env = pdd / "env"
    env.mkdir(exist_ok=True)
    (env / "extravars").write_text(yaml.safe_dump(extravars))
    (env / "envvars").write_text(yaml.safe_dump({
        # AWX: the sync's collections first, then the usual places
        "ANSIBLE_COLLECTIONS_PATH": f"{pdd}/requirements_collections:~/.ansible/collections:"
                                    "/usr/share/ansible/collections",
        "HOME": str(pdd / "home"),
        "ANSIBLE_NOCOLOR": "1",
    }))
    (env / "cmdline").write_text(f"--skip-tags={skip_tags}" if skip_tags else "")
    return ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, quiet=True, timeout=1800)


def output(run):
    return run.stdout.read()


def tail(run):
    return output(run)[-6000:]


def changed(run):
    return sum(run.stats["changed"].values())


def test_deploy_job_succeeds_serves_and_changes_nothing_the_second_time(private_data_dir):
    answers = default_answers("deploy")
    assert answers["vllm_serve_served_model_name"] == "tiny" and answers["vllm_serve_max_model_len"] == 512
    first = job(private_data_dir, template("deploy")["playbook"], answers)
    assert (first.status, first.rc) == ("successful", 0), tail(first)
    models = requests.get(f"{API}/v1/models", timeout=10).json()["data"]
    assert [(m["id"], m["max_model_len"]) for m in models] == [("tiny", 512)]

    second = job(private_data_dir, template("deploy")["playbook"], answers)
    assert (second.status, second.rc) == ("successful", 0), tail(second)
    assert changed(second) == 0, tail(second)


def test_out_of_range_answer_fails_clearly_before_anything_changes(private_data_dir):
    [question] = [q for q in template("deploy")["survey_spec"]["spec"]
                  if q["variable"] == "vllm_serve_gpu_memory_utilization"]
    before = started_at()
    run = job(private_data_dir, template("deploy")["playbook"],
              dict(default_answers("deploy"), vllm_serve_gpu_memory_utilization=question["max"] + 0.5))
    assert run.status == "failed" and run.rc != 0, tail(run)
    failures = [event["event_data"]["res"].get("msg", "") for event in run.events
                if event["event"] == "runner_on_failed"]
    assert failures and "vllm_serve_gpu_memory_utilization" in str(failures[0]), tail(run)
    # before any role that changes the nodes started: the checks come first, not at the vLLM container
    started = {event["event_data"].get("role") for event in run.events if event["event"] == "runner_on_start"}
    assert started.isdisjoint(SERVICE_ROLES), f"{sorted(started & SERVICE_ROLES)} ran before the failure"
    assert changed(run) == 0, tail(run)
    assert started_at() == before


def test_status_and_smoke_job_reports_and_checks_the_api(private_data_dir):
    run = job(private_data_dir, template("check")["playbook"], default_answers("check"))
    assert (run.status, run.rc) == ("successful", 0), tail(run)
    text = output(run)
    assert "Ray: 2 of 2 nodes" in text and "tiny is listed" in text
