from __future__ import annotations

from ansible_collections.stacked_sparks.vllm.plugins.module_utils.docker_util import (
    HAS_DOCKER,
    container_state,
    describe_death,
    exec_in_container,
    log_tail,
)

LOGS = "".join(f"line {n}\n" for n in range(1, 51))


def test_docker_sdk_is_importable_here():
    assert HAS_DOCKER is True


def test_container_state(docker_fakes):
    fake = docker_fakes
    client = fake.client({"sparks-vllm": fake.container([fake.attrs("exited", exit_code=137, restart_count=2,
                                                                    oom_killed=True, error="")])})
    assert container_state(client, "sparks-vllm") == {
        "name": "sparks-vllm",
        "status": "exited",
        "running": False,
        "exit_code": 137,
        "restart_count": 2,
        "started_at": "2026-11-28T21:20:00Z",
        "finished_at": "2026-11-28T21:25:00Z",
        "oom_killed": True,
        "error": "",
    }
    assert container_state(client, "sparks-ray-head") is None


def test_exec_in_container_decodes_and_fills_missing_streams(docker_fakes):
    fake = docker_fakes
    container = fake.container([fake.attrs()], execs=[(0, "Node status\n", None), (1, None, "ConnectionError: x\n")])
    client = fake.client({"head": container})
    assert exec_in_container(client, "head", ["ray", "status"]) == (0, "Node status\n", "")
    assert exec_in_container(client, "head", ["ray", "status"]) == (1, "", "ConnectionError: x\n")
    assert container.exec_calls == [["ray", "status"], ["ray", "status"]]


def test_log_tail(docker_fakes):
    container = docker_fakes.container([docker_fakes.attrs()], logs=LOGS)
    client = docker_fakes.client({"sparks-vllm": container})
    assert log_tail(client, "sparks-vllm", 3) == "line 48\nline 49\nline 50"
    assert container.log_calls == [3]
    assert log_tail(client, "gone", 3) == ""


def state(**overrides):
    base = {"name": "sparks-vllm", "status": "exited", "running": False, "exit_code": 1, "restart_count": 0,
            "started_at": "2026-11-28T21:20:00Z", "finished_at": "2026-11-28T21:25:00Z", "oom_killed": False,
            "error": ""}
    base.update(overrides)
    return base


def test_describe_death_exited_with_logs():
    text = describe_death(state(), "ValueError: invalid model id\n")
    assert text == ("container sparks-vllm exited with code 1 (OOM killed: no) at 2026-11-28T21:25:00Z; "
                    "last log lines:\nValueError: invalid model id")


def test_describe_death_oom_and_docker_error_without_logs():
    text = describe_death(state(exit_code=137, oom_killed=True, error="cgroup says no"), "  \n")
    assert text == ("container sparks-vllm exited with code 137 (OOM killed: yes) at 2026-11-28T21:25:00Z; "
                    "Docker error: cgroup says no; it left no log output")


def test_describe_death_restarted():
    text = describe_death(state(status="running", running=True, restart_count=3, started_at="T2"), "boom")
    assert text.startswith("container sparks-vllm is running again after a restart (restart count 3, started at T2)")
    assert text.endswith("last log lines:\nboom")


def test_describe_death_other_status():
    text = describe_death(state(status="restarting", exit_code=1), "")
    assert text.startswith("container sparks-vllm is restarting, not running (last exit code 1, OOM killed: no)")
