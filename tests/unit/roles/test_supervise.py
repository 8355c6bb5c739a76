"""The supervisor every container of the cluster runs under (roles/cluster/files/supervise.py): its pure functions,
and the script itself run as Docker runs it, against real processes, a real socket and a real HTTP server."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "roles" / "cluster" / "files" / "supervise.py"
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "ray-status"
spec = importlib.util.spec_from_file_location("supervise", SCRIPT)
supervise = importlib.util.module_from_spec(spec)
spec.loader.exec_module(supervise)


def test_the_count_starts_again_after_a_boot():
    kept = {"boot": "a", "failures": 3, "last_code": 1, "last_lines": ["x"]}
    assert supervise.fresh_state(kept, "a") is kept
    assert supervise.fresh_state(kept, "b") == {"boot": "b", "failures": 0, "last_code": None, "last_lines": []}
    assert supervise.fresh_state(None, "b")["failures"] == 0


@pytest.mark.parametrize(("failures", "backoff", "seconds"),
                         [(0, 10, 0), (1, 10, 10), (2, 10, 20), (3, 10, 40), (9, 10, 300), (4, 0, 0)])
def test_the_pause_doubles_up_to_five_minutes(failures, backoff, seconds):
    assert supervise.pause(failures, backoff) == seconds


def test_what_counts_as_a_failure():
    state = {"boot": "a", "failures": 2, "last_code": None, "last_lines": []}
    expected = dict(state, failures=3, last_code=1, last_lines=["boom"])
    assert supervise.after_exit(state, 1, False, True, ["boom"]) == expected
    # a node went away: vLLM's exit is not its own failure
    assert supervise.after_exit(state, 1, False, False, ["lost"])["failures"] == 2
    # it had got ready (vLLM served, Ray ran a minute): the row of failures ends, and this exit is not counted
    assert supervise.after_exit(state, 1, True, True, [])["failures"] == 0


def test_what_it_says_when_it_gives_up():
    state = {"boot": "a", "failures": 3, "last_code": 2, "last_lines": ["Traceback", "ValueError: no model"]}
    assert supervise.gave_up_text("sparks-vllm", state, 3).splitlines() == [
        "sparks-vllm gave up after 3 failed starts in a row (cluster_restart_limit 3; last exit code 2); fix the "
        "cause, then rerun the site playbook or `docker restart sparks-vllm`. Its last lines:",
        "  Traceback", "  ValueError: no model"]


def test_ray_missing_names_each_node_that_is_not_there_or_lacks_gpus():
    whole = json.loads((FIXTURES / "ray-2.10.0-nodes-2nodes-gpu.json").read_text())
    dead = json.loads((FIXTURES / "ray-2.10.0-nodes-2nodes-dead.json").read_text())
    assert supervise.ray_missing(whole, ["127.0.0.1", "127.0.0.2"], 1) == []
    assert supervise.ray_missing(dead, ["127.0.0.1", "127.0.0.2"], 1) == ["127.0.0.2 not in Ray"]
    assert supervise.ray_missing(whole, ["127.0.0.1", "127.0.0.2"], 2) == [
        "127.0.0.1 has 1 of 2 GPUs", "127.0.0.2 has 1 of 2 GPUs"]
    assert supervise.ray_missing({"result": False}, ["127.0.0.1"], 1) == ["127.0.0.1 not in Ray"]


def test_the_state_api_is_asked_with_the_rays_token_where_the_container_has_one(http_server, tmp_path, monkeypatch):
    whole = (FIXTURES / "ray-2.10.0-nodes-2nodes-gpu.json").read_text()
    dashboard = http_server((200, whole))
    args = supervise.argparse.Namespace(wait_firewall=None, wait_tcp=None, wait_ray=dashboard.url,
                                        node=["127.0.0.1"], gpus=1)
    assert supervise.needs(args) == []
    token = tmp_path / "ray-token"
    token.write_text("ray-token-3b9f\n")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(token))
    assert supervise.needs(args) == []
    assert [auth for _path, auth in dashboard.requests] == [None, "Bearer ray-token-3b9f"]


def rest(run, timeout):
    """What the supervisor writes until it exits. Not communicate(): with a timeout it reads the pipe itself, past
    the lines an earlier readline() already took into stdout's buffer (a race that lost the last line)."""
    run.wait(timeout=timeout)
    return run.stdout.read()


def start(tmp_path, *options, command=("sh", "-c", "echo boom; exit 3")):
    env = {"STACKED_SPARKS_SUPERVISE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen([sys.executable, str(SCRIPT), "--name", "sparks-vllm", "--limit", "2", "--backoff", "0",
                             *options, "--", *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_crash_loop_stops_after_the_limit_and_a_stop_starts_the_count_again(tmp_path):
    for failure in (1, 2):
        run = start(tmp_path)
        out = rest(run, 30)
        assert run.returncode == 3, out          # the command's exit code: Docker's policy starts it again
        assert "boom" in out and f"failure {failure} of 2 in a row" in out, out
    gave_up = start(tmp_path)
    deadline = time.monotonic() + 30
    while not (tmp_path / "gave-up").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = (tmp_path / "gave-up").read_text()
    assert text.startswith("sparks-vllm gave up after 2 failed starts in a row"), text
    assert "  boom" in text
    assert gave_up.poll() is None, "it must stay up, starting nothing, until it is stopped"
    gave_up.send_signal(signal.SIGTERM)           # docker restart, a rerun, a shutdown
    out = rest(gave_up, 30)
    assert gave_up.returncode == 0, out
    assert not (tmp_path / "gave-up").exists() and not (tmp_path / "supervise.json").exists()


def test_a_stop_is_passed_on_to_the_command(tmp_path):
    run = start(tmp_path, command=("sh", "-c", "trap 'echo stopping; exit 0' TERM; echo up; while :; do sleep 0.1; done"))
    assert run.stdout.readline().startswith("[stacked-sparks supervise sparks-vllm] starting")
    assert run.stdout.readline().strip() == "up"
    run.send_signal(signal.SIGTERM)
    out = rest(run, 30)
    assert run.returncode == 0 and "stopping" in out, out
    assert not (tmp_path / "supervise.json").exists()


def test_it_waits_for_the_port_it_needs_and_does_not_count_an_exit_after_it_went(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = start(tmp_path, "--wait-tcp", f"127.0.0.1:{port}", command=("sh", "-c", "echo ran"))
    first = run.stdout.readline()
    assert f"waiting 0 s for: 127.0.0.1:{port} does not answer" in first, first
    with socket.create_server(("127.0.0.1", port)) as server:
        out = rest(run, 30)
        assert "ran" in out and "failure 1 of 2 in a row" in out, out   # exit 0 with the port there: a failure
        server.close()
    run = start(tmp_path, "--wait-tcp", f"127.0.0.1:{port}", command=("sh", "-c", "sleep 1; exit 1"))
    time.sleep(0.5)
    with socket.create_server(("127.0.0.1", port)) as server:
        # what it needs is there when it starts, gone when it exits (here: at once): not its failure
        server.listen()
        line = run.stdout.readline()
        while "starting" not in line:
            line = run.stdout.readline()
    out = rest(run, 30)
    assert f"not counted, it lost: 127.0.0.1:{port} does not answer" in out, out
    assert json.loads((tmp_path / "supervise.json").read_text())["failures"] == 1


def test_it_waits_for_the_firewall_before_it_starts_anything(tmp_path):
    ready = tmp_path / "firewall-in-place"
    run = start(tmp_path, "--wait-firewall", str(ready), command=("sh", "-c", "echo listening"))
    first = run.stdout.readline()
    assert f"waiting 0 s for: the host firewall ({ready} is not there yet" in first, first
    time.sleep(1.5)
    assert run.poll() is None, "nothing may start before the rules are in place"
    ready.touch()                                 # stacked-sparks-firewall has put the rules back
    out = rest(run, 30)
    assert "listening" in out, out


def held_connection(server):
    """The connection the supervisor holds, past the ones its checks opened and closed."""
    while True:
        conn = server.accept()[0]
        conn.settimeout(0.5)
        try:
            if conn.recv(1) == b"":
                conn.close()
                continue
        except socket.timeout:
            conn.settimeout(None)
            return conn


def test_a_worker_whose_head_went_away_stops_and_waits_for_it_again(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    run = start(tmp_path, "--wait-tcp", f"127.0.0.1:{port}", command=("sh", "-c", "echo joined; exec sleep 600"))
    assert "starting" in run.stdout.readline()
    assert run.stdout.readline().strip() == "joined"
    held_connection(server).close()               # the server may close the connection it holds while it answers
    again = held_connection(server)               # so it holds a new one, and the command runs on
    time.sleep(supervise.GONE + 1)
    assert run.poll() is None, "a closed connection to a port that still answers is not a head that went away"
    began = time.monotonic()
    again.close()                                 # the head's GCS goes (its host rebooted)
    server.close()
    line = run.stdout.readline()
    assert f"127.0.0.1:{port} went away: stopping sh, to wait for it to come back" in line, line
    assert time.monotonic() - began < supervise.GONE + 5, line
    with socket.create_server(("127.0.0.1", port)):   # a new head, already up when the command has exited
        out = rest(run, 60)
    assert f"not counted, it lost: 127.0.0.1:{port} went away while it ran" in out, out
    assert json.loads((tmp_path / "supervise.json").read_text())["failures"] == 0


def test_a_reset_connection_is_a_head_that_came_back_without_it(tmp_path):
    """A host that rebooted answers the old connection with a reset, while its new GCS may answer already."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    run = start(tmp_path, "--wait-tcp", f"127.0.0.1:{port}", command=("sh", "-c", "echo joined; exec sleep 600"))
    assert "starting" in run.stdout.readline() and run.stdout.readline().strip() == "joined"
    held = held_connection(server)
    held.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    held.close()                                  # a reset; the port still answers
    line = run.stdout.readline()
    assert f"127.0.0.1:{port} went away: stopping sh" in line, line
    out = rest(run, 60)
    assert f"not counted, it lost: 127.0.0.1:{port} went away while it ran" in out, out
    server.close()
