# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin helpers over the Docker SDK for Python, for modules that run on the node next to its Docker engine."""

from __future__ import annotations

import importlib.util
import traceback

from ansible.module_utils.basic import missing_required_lib

# Whether the Docker SDK for Python is installed. It is imported when a module first talks to the engine (sdk()),
# so that a wait whose condition already holds at its first look, and the preflight, never pay for the import
# (about 0.15 s on a node).
HAS_DOCKER = importlib.util.find_spec("docker") is not None


def sdk():
    """The Docker SDK for Python (the package docker), imported on first use."""
    import docker  # pylint: disable=import-outside-toplevel  # see HAS_DOCKER

    return docker


# The option of every module that watches a container, as the doc fragment stacked_sparks.vllm.wait documents it.
DOCKER_OPTIONS = {"docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"}}


def engine_failure(module, exc, **result):
    """Fail the module: its Docker engine (option docker_host) did not answer."""
    module.fail_json(msg=f"cannot talk to the Docker engine at {module.params['docker_host']}: {exc}", **result)


def module_client(module, timeout, **result):
    """A Docker client for the module's docker_host; fails the module (with result) without the SDK or engine."""
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), **result)
    try:
        docker = sdk()
    except ImportError:
        module.fail_json(msg=missing_required_lib("docker"), exception=traceback.format_exc(), **result)
        raise  # not reached: fail_json exits
    try:
        return get_client(module.params["docker_host"], timeout)
    except (docker.errors.DockerException, OSError) as exc:
        engine_failure(module, exc, **result)
        raise  # not reached: fail_json exits


def module_state(module, client, name, **result):
    """container_state(client, name); fails the module (with result) when the engine does not answer."""
    try:
        return container_state(client, name)
    except (sdk().errors.DockerException, OSError) as exc:
        engine_failure(module, exc, **result)
        raise  # not reached: fail_json exits


def get_client(docker_host, timeout):
    """A Docker client for the engine at docker_host (e.g. unix:///var/run/docker.sock); API calls time out after
    timeout seconds. Raises docker.errors.DockerException when the engine does not answer."""
    return sdk().DockerClient(base_url=docker_host, timeout=timeout)


def container_state(client, name):
    """The state of container `name` as a dict, or None if there is no such container."""
    try:
        container = client.containers.get(name)
    except sdk().errors.NotFound:
        return None
    attrs = container.attrs
    state = attrs.get("State") or {}
    return {
        "name": name,
        "status": state.get("Status"),
        "running": bool(state.get("Running")),
        "exit_code": state.get("ExitCode"),
        "restart_count": attrs.get("RestartCount", 0),
        "started_at": state.get("StartedAt"),
        "finished_at": state.get("FinishedAt"),
        "oom_killed": bool(state.get("OOMKilled")),
        "error": state.get("Error") or "",
    }


def _text(data):
    return (data or b"").decode("utf-8", errors="replace")


def exec_in_container(client, name, argv):
    """Run argv in the running container `name`; return (rc, stdout, stderr) as text."""
    result = client.containers.get(name).exec_run(argv, demux=True)
    stdout, stderr = result.output if result.output else (None, None)
    return result.exit_code, _text(stdout), _text(stderr)


def log_tail(client, name, lines):
    """The last `lines` lines of the container's log (stdout and stderr), "" if the container is gone."""
    try:
        return _text(client.containers.get(name).logs(stdout=True, stderr=True, tail=lines)).rstrip("\n")
    except sdk().errors.NotFound:
        return ""


def describe_death(state, logs):
    """Say what became of a container that stopped (or restarted), with its last log lines."""
    name = state.get("name") or "?"
    code = state.get("exit_code")
    oom = "yes" if state.get("oom_killed") else "no"
    if state.get("running"):
        text = (f"container {name} is running again after a restart (restart count {state.get('restart_count')}, "
                f"started at {state.get('started_at')})")
    elif state.get("status") == "exited":
        text = f"container {name} exited with code {code} (OOM killed: {oom}) at {state.get('finished_at')}"
    else:
        text = f"container {name} is {state.get('status')}, not running (last exit code {code}, OOM killed: {oom})"
    if state.get("error"):
        text += f"; Docker error: {state['error']}"
    if logs and logs.strip():
        return text + "; last log lines:\n" + logs.rstrip("\n")
    return text + "; it left no log output"
