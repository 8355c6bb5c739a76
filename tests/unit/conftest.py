"""Shared helpers of the unit tests: fixture files, running a module's main(), fake clock and Docker client.

Run from the repository root with the collection on the Python path:
  PYTHONPATH=.ansible/collections python -m pytest tests/unit
"""

from __future__ import annotations

import functools
import pathlib
import threading
import types
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import wait
from docker.errors import NotFound
from docker.models.containers import ExecResult

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


@pytest.fixture
def ray_fixture():
    """Read a captured `ray status` output from tests/unit/fixtures/ray-status/."""

    def read(name):
        return (FIXTURES / "ray-status" / name).read_text()

    return read


class ModuleExit(SystemExit):
    """What exit_json and fail_json raise here: like the real ones (sys.exit), no `except Exception` catches it."""


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):
    kwargs.update(failed=True, msg=msg)
    raise ModuleExit(kwargs)


@pytest.fixture
def run_module():
    """Run a module's main() with the given arguments; return what it passed to exit_json or fail_json."""

    def run(main, args):
        with patch_module_args(args), mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json,
                                                          fail_json=_fail_json):
            try:
                main()
            except ModuleExit as exc:
                return exc.args[0]
        raise AssertionError("the module returned without calling exit_json or fail_json")

    return run


class FakeClock:
    """A monotonic clock that only moves when something sleeps; on_sleep runs before each sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []
        self.on_sleep = None

    def time(self):
        return self.now

    def sleep(self, seconds):
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_clock():
    return FakeClock()


@pytest.fixture
def fast_wait(monkeypatch, fake_clock):
    """Make a module's wait_until run on the fake clock: fast_wait(module) returns the clock."""

    def patch(module):
        monkeypatch.setattr(module, "wait_until",
                            functools.partial(wait.wait_until, clock=fake_clock.time, sleeper=fake_clock.sleep))
        return fake_clock

    return patch


def container_attrs(status="running", exit_code=0, restart_count=0, started_at="2026-11-28T21:20:00Z",
                    oom_killed=False, error=""):
    return {
        "State": {
            "Status": status,
            "Running": status == "running",
            "ExitCode": exit_code,
            "StartedAt": started_at,
            "FinishedAt": "2026-11-28T21:25:00Z" if status != "running" else "0001-01-01T00:00:00Z",
            "OOMKilled": oom_killed,
            "Error": error,
        },
        "RestartCount": restart_count,
    }


class FakeContainer:
    """A container whose inspect data steps through `states` (one per read, the last repeats) and whose exec
    results step through `execs` ((rc, stdout, stderr), the last repeats)."""

    def __init__(self, states, execs=(), logs=""):
        self.states = list(states)
        self.execs = list(execs)
        self.log_text = logs
        self.exec_calls = []
        self.log_calls = []

    @property
    def attrs(self):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def exec_run(self, argv, demux=False):
        assert demux is True
        self.exec_calls.append(argv)
        rc, out, err = self.execs.pop(0) if len(self.execs) > 1 else self.execs[0]
        return ExecResult(rc, (out.encode() if out else None, err.encode() if err else None))

    def logs(self, stdout=True, stderr=True, tail="all"):
        self.log_calls.append(tail)
        return "".join(self.log_text.splitlines(keepends=True)[-tail:]).encode()


class FakeDocker:
    """A Docker client with the given containers {name: FakeContainer}."""

    def __init__(self, containers):
        self.containers = self
        self.items = containers

    def get(self, name):
        if name not in self.items:
            raise NotFound(f"No such container: {name}")
        return self.items[name]


@pytest.fixture
def docker_fakes():
    """The fakes for Docker: .client(containers), .container(states, execs, logs), .attrs(status, ...)."""
    return types.SimpleNamespace(client=FakeDocker, container=FakeContainer, attrs=container_attrs)


class FakeHttp:
    """A real HTTP server on 127.0.0.1 that answers every GET with `answers` in turn (the last repeats): vLLM's
    /v1/models, Ray's State API.

    It binds at once but only listens after start(), so until then connections are refused."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake.requests.append((self.path, self.headers.get("Authorization")))
                code, body = fake.answers.pop(0) if len(fake.answers) > 1 else fake.answers[0]
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = None

    def start(self):
        if self.thread is None:
            self.server.server_activate()
            self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                           daemon=True)
            self.thread.start()

    def stop(self):
        if self.thread is not None:
            self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_server():
    servers = []

    def make(*answers, listening=True):
        server = FakeHttp(answers)
        servers.append(server)
        if listening:
            server.start()
        return server

    yield make
    for server in servers:
        server.stop()
