"""Several models behind the gateway, on the lab (inventory/lab/models.yml): the tiny Llama across both lab hosts
at TP=2 through Ray (served as tiny), and again on spark-2 alone (tiny-small), both reached through the gateway on
the head's API port. A rerun restarts nothing; a changed entry restarts that model alone while the other answers
throughout; a removed entry's containers go, and the gateway answers 404 for it. The module ends with the lab's
single model served again."""

import json
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import API, HEAD, REPO, SITE, VLLM, WORKER, docker, playbook

MODELS = yaml.safe_load(Path(REPO, "inventory", "lab", "models.yml").read_text())["vllm_serve_models"]
BIG, SMALL = "sparks-vllm-big", "sparks-vllm-small"
GATEWAY = "sparks-gateway"
KEY = "lab-gateway-key-3e9a41"


def deploy(models, *args):
    return playbook(*SITE, "--tags", "vllm_serve", "-e", json.dumps({"vllm_serve_models": models}), *args)


def listed():
    return sorted(model["id"] for model in requests.get(f"{API}/v1/models", timeout=10).json()["data"])


def chat(model, timeout=60):
    return requests.post(f"{API}/v1/chat/completions", timeout=timeout, json={
        "model": model, "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4})


def started(host, name):
    out = docker(host, "inspect", name)
    return json.loads(out.stdout)[0]["State"]["StartedAt"] if out.returncode == 0 else None


def containers(host):
    return set(docker(host, "ps", "-a", "--format", "{{.Names}}").stdout.split())


TWO = ["-e", "@inventory/lab/models.yml"]


@pytest.fixture(scope="module")
def two_models():
    run = playbook(*SITE, *TWO)
    yield run
    # stop removes every model's containers and the gateway; then the lab inventory's single model again
    stop = playbook("playbooks/stop.yml", *TWO)
    assert stop.rc == 0, stop.output
    left = {name for host in (HEAD, WORKER) for name in containers(host) if name.startswith(("sparks-vllm", GATEWAY))}
    assert left == set(), f"stop left {left}"
    back = playbook(*SITE)
    assert back.rc == 0, back.output
    assert listed() == ["tiny"] and GATEWAY not in containers(HEAD) and VLLM in containers(HEAD)


def test_both_models_answer_through_the_gateway(two_models):
    assert two_models.rc == 0, two_models.output
    assert listed() == ["tiny", "tiny-small"]
    for model in ("tiny", "tiny-small"):
        answer = chat(model)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model"] == model
    # each model in its own containers: the TP=2 one on the head (its Ray workers on both hosts), the other on
    # spark-2; the single model's container is gone, the gateway holds the API port
    assert {BIG, GATEWAY} <= containers(HEAD) and VLLM not in containers(HEAD) and SMALL not in containers(HEAD)
    assert SMALL in containers(WORKER)
    # the models' own ports are no client's: the one on the head listens on its loopback alone
    with pytest.raises(requests.ConnectionError):
        requests.get(API.replace(":8000", ":8001") + "/v1/models", timeout=5)


def test_a_rerun_changes_nothing_and_restarts_nothing(two_models):
    before = {name: started(host, name) for host, name in ((HEAD, BIG), (HEAD, GATEWAY), (WORKER, SMALL))}
    run = playbook(*SITE, *TWO)
    assert run.rc == 0, run.output
    assert run.changed == 0, run.output
    assert {name: started(host, name) for host, name in ((HEAD, BIG), (HEAD, GATEWAY), (WORKER, SMALL))} == before


def test_smoke_asks_every_model(two_models):
    run = playbook("playbooks/smoke.yml", *TWO)
    assert run.rc == 0, run.output
    assert "tiny, tiny-small are listed" in run.output
    for model in ("tiny", "tiny-small"):
        assert f"{model} chat: " in run.output and f"{model} completion: " in run.output, run.output


def test_status_asks_each_model_behind_the_gateway(two_models):
    run = playbook("playbooks/status.yml", *TWO)
    assert run.rc == 0, run.output
    assert f"big ({BIG} on {HEAD}): vLLM at http://127.0.0.1:8001: tiny" in run.output
    assert f"small ({SMALL} on {WORKER}): vLLM at http://172.28.0.12:8002: tiny-small" in run.output
    assert f"{GATEWAY} on {HEAD}: running" in run.output


def test_status_says_which_model_is_down(two_models):
    """small's vLLM stopped by hand: the gateway still lists it (it is configured), its own vLLM does not answer."""
    assert docker(WORKER, "stop", SMALL).returncode == 0
    try:
        run = playbook("playbooks/status.yml", *TWO)
    finally:
        assert docker(WORKER, "start", SMALL).returncode == 0
    assert run.rc != 0, run.output
    assert f"{SMALL} on {WORKER} is exited" in run.output
    assert "vLLM at http://172.28.0.12:8002 does not answer" in " ".join(run.output.split())
    assert playbook(*SITE, "--tags", "vllm_serve", *TWO).rc == 0   # and it serves again


def test_the_gateway_checks_the_key_once_for_every_model(two_models):
    """With vllm_serve_api_key, the gateway refuses a missing or wrong key (401) for every model; the models'
    vLLMs behind it are not restarted (the gateway alone holds the key), and the benchmark's client sends it."""
    models_started = started(HEAD, BIG), started(WORKER, SMALL)
    key = ["-e", json.dumps({"vllm_serve_api_key": KEY})]
    run = playbook(*SITE, "--tags", "vllm_serve", *TWO, *key)
    try:
        assert run.rc == 0, run.output
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            for model in ("tiny", "tiny-small"):
                answer = requests.post(f"{API}/v1/chat/completions", headers=headers, timeout=30, json={
                    "model": model, "messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4})
                assert answer.status_code == 401, answer.text
        for model in ("tiny", "tiny-small"):
            answer = requests.post(f"{API}/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                                   timeout=30, json={"model": model, "messages": [{"role": "user", "content": "Hi!"}],
                                                     "max_tokens": 4})
            assert answer.status_code == 200, answer.text
        assert (started(HEAD, BIG), started(WORKER, SMALL)) == models_started
        assert KEY not in run.output
        assert KEY not in docker(HEAD, "inspect", GATEWAY).stdout
        bench = playbook("playbooks/benchmark.yml", *TWO, *key, "-e", "vllm_serve_bench_num_prompts=2")
        assert bench.rc == 0, bench.output
        assert "requests: 2 completed, 0 failed, in" in " ".join(bench.output.split()), bench.output[-3000:]
    finally:
        reset = playbook(*SITE, "--tags", "vllm_serve", *TWO)
        assert reset.rc == 0, reset.output
    assert requests.get(f"{API}/v1/models", timeout=10).status_code == 200


def test_a_changed_model_restarts_alone_while_the_other_answers(two_models):
    """small's max_model_len changes: small is recreated; a client asks big (tiny) through the gateway all along,
    and not one of its requests fails."""
    big_started, gateway_started = started(HEAD, BIG), started(HEAD, GATEWAY)
    outcomes, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                outcomes.append(chat("tiny", timeout=30).status_code)
            except requests.RequestException as exc:
                outcomes.append(repr(exc))
            time.sleep(0.2)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        changed = [MODELS[0], {**MODELS[1], "max_model_len": 128}]
        run = deploy(changed)
    finally:
        stop.set()
        thread.join()
    assert run.rc == 0, run.output
    failures = [outcome for outcome in outcomes if outcome != 200]
    assert len(outcomes) >= 10, f"the client sent only {len(outcomes)} requests"
    assert failures == [], f"{len(failures)} of {len(outcomes)} requests to tiny failed: {failures[:5]}"
    assert started(HEAD, BIG) == big_started and started(HEAD, GATEWAY) == gateway_started
    assert chat("tiny-small").status_code == 200
    config = json.loads(docker(WORKER, "inspect", SMALL).stdout)[0]["Config"]["Cmd"]
    assert "128" in config


def test_a_removed_model_is_gone_and_the_gateway_says_404(two_models):
    run = deploy([MODELS[0]])
    assert run.rc == 0, run.output
    assert SMALL not in containers(WORKER)
    assert listed() == ["tiny"]
    answer = chat("tiny-small")
    assert answer.status_code == 404, answer.text
    assert "tiny-small" in answer.json()["error"]["message"]
    assert chat("tiny").status_code == 200


def test_both_models_under_vllms_own_launcher(two_models):
    """cluster_backend mp (the lab's image without Ray): big on both hosts through vLLM's own launcher, small on
    spark-2, the gateway in front; a rerun changes nothing (the teardown goes back to Ray)."""
    mp = ["-e", "cluster_backend=mp", "-e", "cluster_image=172.28.0.2:5000/stacked-sparks-lab/vllm-noray:0.32.0", *TWO]
    run = playbook(*SITE, *mp)
    assert run.rc == 0, run.output
    assert listed() == ["tiny", "tiny-small"]
    assert chat("tiny").status_code == 200 and chat("tiny-small").status_code == 200
    assert BIG in containers(WORKER) and SMALL in containers(WORKER) and "sparks-ray-head" not in containers(HEAD)
    again = playbook(*SITE, *mp)
    assert again.rc == 0, again.output
    assert again.changed == 0, again.output
