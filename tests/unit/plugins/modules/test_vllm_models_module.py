from __future__ import annotations

import json
from unittest import mock

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import docker_util
from ansible_collections.stacked_sparks.vllm.plugins.modules import vllm_models

MODELS = json.dumps({"object": "list", "data": [{"id": "tiny", "object": "model", "owned_by": "vllm"}]})


@pytest.fixture
def docker(monkeypatch, docker_fakes):
    def install(states, logs=""):
        container = docker_fakes.container(states, logs=logs)
        client = docker_fakes.client({"sparks-vllm": container})
        monkeypatch.setattr(docker_util, "get_client", lambda host, timeout: client)
        return container

    return install


def test_waits_through_503_until_the_model_is_listed(run_module, http_server, fast_wait):
    clock = fast_wait(vllm_models)
    server = http_server((503, '{"error": "loading"}'), (503, '{"error": "loading"}'), (200, MODELS))
    result = run_module(vllm_models.main, {"url": server.url, "model": "tiny", "api_key": "s3cret", "sleep": 5})
    assert result.get("failed") is None, result
    assert result["changed"] is False
    assert result["models"] == ["tiny"]
    assert result["url"] == server.url + "/v1/models"
    assert result["elapsed"] == 10.0
    assert clock.sleeps == [5, 5]
    assert server.requests == [("/v1/models", "Bearer s3cret")] * 3


def test_connection_refused_then_listed(run_module, http_server, fast_wait):
    clock = fast_wait(vllm_models)
    server = http_server((200, MODELS), listening=False)
    clock.on_sleep = lambda count: server.start() if count == 1 else None
    result = run_module(vllm_models.main, {"url": server.url + "/v1", "timeout": 60, "sleep": 2})
    assert result.get("failed") is None, result
    assert result["models"] == ["tiny"]
    assert clock.sleeps == [2, 2]
    assert server.requests == [("/v1/models", None)]


def test_refused_until_timeout(run_module, http_server, fast_wait):
    fast_wait(vllm_models)
    server = http_server((200, MODELS), listening=False)
    result = run_module(vllm_models.main, {"url": server.url, "model": "tiny", "timeout": 0})
    assert result["failed"] is True
    assert result["msg"].startswith(f"vLLM does not serve 'tiny': no model list from {server.url}/v1/models: ")
    assert "Connection refused" in result["msg"]
    assert "Connection refused" in result["last_error"]
    assert result["models"] == []


def test_other_model_listed_keeps_waiting_then_says_what_is_served(run_module, http_server, fast_wait):
    clock = fast_wait(vllm_models)
    server = http_server((200, MODELS))
    result = run_module(vllm_models.main, {"url": server.url, "model": "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
                                           "timeout": 30, "sleep": 10})
    assert result["failed"] is True
    assert result["msg"] == ("vLLM does not serve 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B' after 30s: "
                             f"{server.url}/v1/models serves tiny instead")
    assert result["models"] == ["tiny"]
    assert result["last_error"] is None
    assert len(server.requests) == 4
    assert clock.sleeps == [10, 10, 10]


def test_rejected_api_key_fails_at_once(run_module, http_server, fast_wait):
    clock = fast_wait(vllm_models)
    server = http_server((401, '{"error": "Unauthorized"}'))
    result = run_module(vllm_models.main, {"url": server.url, "api_key": "wrong", "timeout": 900})
    assert result["failed"] is True
    assert result["msg"] == (f"{server.url}/v1/models answered HTTP 401: the API key was rejected; check vllm_serve_api_key")
    assert "wrong" not in json.dumps(result)
    assert clock.sleeps == []


def test_container_died_fails_fast_with_log_lines(run_module, http_server, fast_wait, docker, docker_fakes):
    attrs = docker_fakes.attrs
    clock = fast_wait(vllm_models)
    server = http_server((503, "{}"))
    logs = "".join(f"INFO loading {n}\n" for n in range(50)) + "OSError: tiny-typo is not a valid model identifier\n"
    container = docker([attrs(), attrs(), attrs("exited", exit_code=1)], logs=logs)
    result = run_module(vllm_models.main, {"url": server.url, "container": "sparks-vllm", "timeout": 900,
                                           "sleep": 5, "log_lines": 5})
    assert result["failed"] is True
    assert result["msg"].startswith("vLLM died: container sparks-vllm exited with code 1 (OOM killed: no)")
    assert result["msg"].endswith("last log lines:\nINFO loading 46\nINFO loading 47\nINFO loading 48\n"
                                  "INFO loading 49\nOSError: tiny-typo is not a valid model identifier")
    assert result["container_state"]["status"] == "exited"
    assert result["elapsed"] == 5.0
    assert container.log_calls == [5]
    assert len(server.requests) == 2   # each look asks the API first
    assert clock.sleeps == [5]


def test_container_restarted_fails(run_module, http_server, fast_wait, docker, docker_fakes):
    attrs = docker_fakes.attrs
    fast_wait(vllm_models)
    server = http_server((503, "{}"))
    docker([attrs(), attrs(restart_count=1, started_at="2026-11-28T21:30:00Z")], logs="CUDA out of memory\n")
    result = run_module(vllm_models.main, {"url": server.url, "container": "sparks-vllm", "timeout": 900})
    assert result["failed"] is True
    assert result["msg"].startswith("vLLM died: container sparks-vllm is running again after a restart "
                                    "(restart count 1, started at 2026-11-28T21:30:00Z)")
    assert result["msg"].endswith("last log lines:\nCUDA out of memory")
    assert len(server.requests) == 1


def test_container_missing_fails(run_module, http_server, fast_wait, monkeypatch, docker_fakes):
    fast_wait(vllm_models)
    monkeypatch.setattr(docker_util, "get_client", lambda host, timeout: docker_fakes.client({}))
    server = http_server((200, '{"object": "list", "data": []}'))
    result = run_module(vllm_models.main, {"url": server.url, "container": "sparks-vllm", "timeout": 900})
    assert result["failed"] is True
    assert result["msg"].startswith("vLLM container sparks-vllm does not exist")
    assert len(server.requests) == 1


def test_model_served_at_the_first_look_never_asks_docker(run_module, http_server, monkeypatch):
    """The no-op rerun's wait: the API answers with the model, so the Docker SDK is neither imported nor used."""
    monkeypatch.setattr(docker_util, "get_client", mock.Mock(side_effect=AssertionError("must not talk to Docker")))
    monkeypatch.setattr(docker_util, "sdk", mock.Mock(side_effect=AssertionError("must not import the SDK")))
    server = http_server((200, MODELS))
    result = run_module(vllm_models.main, {"url": server.url, "container": "sparks-vllm", "model": "tiny"})
    assert result.get("failed") is None, result
    assert result["models"] == ["tiny"]


def test_healthy_container_is_checked_every_probe(run_module, http_server, fast_wait, docker, docker_fakes):
    attrs = docker_fakes.attrs
    fast_wait(vllm_models)
    server = http_server((503, "{}"), (200, MODELS))
    container = docker([attrs()])
    result = run_module(vllm_models.main, {"url": server.url, "container": "sparks-vllm", "model": "tiny"})
    assert result.get("failed") is None, result
    assert container.log_calls == []


def test_dead_pid_fails_fast(run_module, http_server, fast_wait):
    fast_wait(vllm_models)
    server = http_server((503, "{}"))
    with mock.patch.object(vllm_models.os, "kill", side_effect=[None, ProcessLookupError()]) as kill:
        result = run_module(vllm_models.main, {"url": server.url, "pid": 4242, "timeout": 900})
    assert result["failed"] is True
    assert result["msg"] == "vLLM died: process 4242 is not running"
    assert kill.call_args_list == [mock.call(4242, 0)] * 2
    assert len(server.requests) == 2


def test_pid_of_another_user_counts_as_alive(run_module, http_server, fast_wait):
    fast_wait(vllm_models)
    server = http_server((503, "{}"), (200, MODELS))
    with mock.patch.object(vllm_models.os, "kill", side_effect=PermissionError()) as kill:
        result = run_module(vllm_models.main, {"url": server.url, "pid": 1, "timeout": 60})
    assert result.get("failed") is None, result
    assert kill.call_args_list == [mock.call(1, 0)]


def test_not_a_model_list_is_retried_and_reported(run_module, http_server, fast_wait):
    fast_wait(vllm_models)
    server = http_server((200, "<html>proxy</html>"))
    result = run_module(vllm_models.main, {"url": server.url, "timeout": 10, "sleep": 5})
    assert result["failed"] is True
    assert "not JSON" in result["last_error"]
    assert result["msg"].startswith("vLLM does not serve a model after 10s: no model list from")


def test_bad_url(run_module):
    result = run_module(vllm_models.main, {"url": "127.0.0.1:8000"})
    assert result["failed"] is True
    assert result["msg"].startswith("url: the vLLM URL must be an http:// or https:// URL")


def test_container_and_pid_are_exclusive(run_module):
    result = run_module(vllm_models.main, {"container": "sparks-vllm", "pid": 1})
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]


def test_check_mode_does_nothing(run_module, http_server):
    server = http_server((200, MODELS))
    result = run_module(vllm_models.main, {"url": server.url, "_ansible_check_mode": True})
    assert result == {"changed": False, "msg": "vLLM model check skipped in check mode"}
    assert server.requests == []
