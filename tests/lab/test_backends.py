"""cluster_backend on the lab: vLLM across both lab hosts with Ray (ray, the lab's default) and with vLLM's own
multi-node launcher (mp), an image without Ray refused under ray and served under mp, and each switch a rerun of
the site playbook. The tests run in order; the last one leaves the lab as the lab inventory deploys it."""

import json
import subprocess

import pytest
import requests

from conftest import API, HEAD, RAY_CONTAINERS, SITE, VLLM, WORKER, docker, playbook

NO_RAY = "172.28.0.2:5000/stacked-sparks-lab/vllm-noray:0.32.0"   # lab/images/vllm-noray
MP = ["-e", "cluster_backend=mp", "-e", f"cluster_image={NO_RAY}"]
REFUSED = (f"cluster_image {NO_RAY} has no Ray (vLLM 0.32.0+cpu; NVIDIA's images from 26.05 on and vLLM's own ship "
           "without it), and cluster_backend is ray. Either set cluster_backend: mp, vLLM's own multi-node launcher, "
           "which needs no Ray, or set cluster_image_add_ray to a Ray version")
# pip reaches the package index from the lab only through the outer host's CA bundle (LAB.md)
CA_BUNDLE = "/etc/lab/pip-ca.crt"
ADD_RAY = ["-e", f"cluster_image={NO_RAY}", "-e", "image_pull_ray_ca_bundle=" + CA_BUNDLE]


def chat():
    answer = requests.post(f"{API}/v1/chat/completions", timeout=60, json={
        "model": "tiny", "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 8})
    answer.raise_for_status()
    return answer.json()["choices"][0]["message"]["role"]


def inspect(host, name):
    """docker inspect of a container on a lab host, None when it does not exist."""
    out = docker(host, "inspect", name)
    return json.loads(out.stdout)[0] if out.returncode == 0 else None


def states():
    """Id and StartedAt of every container the cluster may run, by host and name."""
    names = [*RAY_CONTAINERS.values(), VLLM, "stacked-sparks-firewall"]
    found = {}
    for host in (HEAD, WORKER):
        for name in names:
            info = inspect(host, name)
            found[host, name] = info and (info["Id"], info["State"]["StartedAt"])
    return found


def test_an_image_without_ray_is_refused_under_ray_before_ray_changes():
    for host in (HEAD, WORKER):   # absent first: pulled after the preflight, it is checked before Ray starts
        docker(host, "image", "rm", NO_RAY)
    before = states()
    run = playbook(*SITE, "-e", f"cluster_image={NO_RAY}")
    assert run.rc != 0 and REFUSED in " ".join(run.output.split()), run.output
    assert "Check the image against cluster_backend where this run has not" in run.output
    assert "TASK [stacked_sparks.vllm.cluster : Run container" not in run.output, "a container was started"
    assert states() == before

    run = playbook(*SITE, "-e", f"cluster_image={NO_RAY}")   # now here: the preflight refuses it
    assert run.rc != 0 and REFUSED in " ".join(run.output.split()), run.output
    assert run.changed == 0 and "TASK [stacked_sparks.vllm.image_pull" not in run.output, run.output
    assert states() == before


def test_an_image_without_ray_serves_under_ray_once_ray_is_added():
    """cluster_image_add_ray: each lab host builds, once, the image without Ray with Ray 2.60.0, and the Ray
    containers and vLLM run it; a rerun builds and restarts nothing."""
    for host in (HEAD, WORKER):
        subprocess.run(["docker", "cp", "/etc/ssl/certs/ca-certificates.crt", f"{host}:{CA_BUNDLE}"], check=True)
        built = docker(host, "images", "--format", "{{.Repository}}:{{.Tag}}", "stacked-sparks/vllm-with-ray").stdout
        if built.split():   # from an earlier run: built again here
            assert docker(host, "image", "rm", *built.split()).returncode == 0
    run = playbook(*SITE, *ADD_RAY, "-e", "cluster_image_add_ray=2.60.0")
    assert run.rc == 0, run.output
    built = run.output.split("pip install ray[default]==2.60.0")[1].split("TASK [")[0]
    assert built.count("changed: [") == 2, f"not built on both lab hosts: {built}"
    assert chat() == "assistant"
    image = inspect(HEAD, VLLM)["Config"]["Image"]
    assert image.startswith("stacked-sparks/vllm-with-ray:2.60.0-"), image
    base = docker(HEAD, "image", "inspect", "--format", "{{.Id}}", NO_RAY).stdout.strip()
    for host in (HEAD, WORKER):
        assert inspect(host, RAY_CONTAINERS[host])["Config"]["Image"] == image
        assert docker(host, "run", "--rm", "--entrypoint", "python3", image, "-c",
                      "import ray; print(ray.__version__)").stdout.strip() == "2.60.0"
        label = docker(host, "image", "inspect", "--format",
                       '{{index .Config.Labels "org.stacked-sparks.base-image-id"}}', image).stdout.strip()
        assert label == base, f"the image on {host} is not labelled with cluster_image's ID"

    before = states()
    run = playbook(*SITE, *ADD_RAY, "-e", "cluster_image_add_ray=2.60.0")
    assert run.rc == 0 and run.changed == 0, run.output
    assert "Read the IDs of cluster_image and of the image with Ray" not in run.output, "a rerun asked Docker"
    assert states() == before

    # a role alone, on nodes without the image with Ray it asks for: refused before any container changes
    run = playbook(*SITE, *ADD_RAY, "-e", "cluster_image_add_ray=2.59.0", "--tags", "ray_head")
    assert run.rc != 0 and "(cluster_image_add_ray), is not on spark-1: role image_pull builds it" in \
        " ".join(run.output.split()), run.output
    assert states() == before


def test_mp_serves_across_both_hosts_without_ray():
    run = playbook(*SITE, *MP)
    assert run.rc == 0, run.output
    assert chat() == "assistant"
    for host in (HEAD, WORKER):
        assert inspect(host, RAY_CONTAINERS[host]) is None, f"the Ray container on {host} is left"
        assert docker(host, "volume", "ls", "-q").stdout.split() == ["stacked-sparks-firewall"]
    head, worker = inspect(HEAD, VLLM), inspect(WORKER, VLLM)
    assert head["Config"]["Image"] == worker["Config"]["Image"] == NO_RAY
    assert " ".join(head["Config"]["Cmd"]).count("--node-rank 0 --master-addr 172.28.0.11 --master-port 29501") == 1
    assert "--headless" not in head["Config"]["Cmd"]
    assert "--node-rank 1 --master-addr 172.28.0.11 --master-port 29501 --headless" in " ".join(worker["Config"]["Cmd"])
    # the worker holds a tensor-parallel shard: rank 1 of 2
    assert "rank 1 in world size 2 is assigned as DP rank 0, PP rank 0, PCP rank 0, TP rank 1" in \
        docker(WORKER, "logs", VLLM).stdout


def test_mp_rerun_changes_nothing_and_restarts_nothing():
    before = states()
    run = playbook(*SITE, *MP)
    assert run.rc == 0 and run.changed == 0, run.output
    assert states() == before


def test_mp_status_and_smoke():
    run = playbook("playbooks/status.yml", *MP)
    assert run.rc == 0, run.output
    text = " ".join(run.output.split())
    assert f"'{VLLM} on {HEAD}: running since" in text and f"'{VLLM} on {WORKER}: running since" in text, text
    assert "Ray:" not in text
    run = playbook("playbooks/smoke.yml", *MP)
    assert run.rc == 0, run.output


def test_mp_setting_switch_restarts_vllm_alone():
    before = states()
    run = playbook(*SITE, *MP, "--tags", "vllm_serve", "-e", "vllm_serve_max_model_len=256")
    assert run.rc == 0, run.output
    after = states()
    assert {key for key in before if before[key] != after[key]} == {(HEAD, VLLM), (WORKER, VLLM)}
    assert chat() == "assistant"


def test_mp_stop_removes_vllm_on_every_node():
    run = playbook("playbooks/stop.yml", *MP)
    assert run.rc == 0, run.output
    assert inspect(HEAD, VLLM) is None and inspect(WORKER, VLLM) is None


@pytest.mark.parametrize("backend", ["mp", "ray"])
def test_each_backend_by_a_rerun(backend):
    """mp from nothing (after stop), then back to ray, the lab's own: each answers."""
    run = playbook(*SITE, *(MP if backend == "mp" else []))
    assert run.rc == 0, run.output
    assert chat() == "assistant"
    ray_running = {host: inspect(host, RAY_CONTAINERS[host]) is not None for host in (HEAD, WORKER)}
    assert ray_running == {HEAD: backend == "ray", WORKER: backend == "ray"}
    assert (inspect(WORKER, VLLM) is not None) == (backend == "mp")
