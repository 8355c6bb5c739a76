# Copyright: stacked_sparks maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Thin helpers over the Docker SDK for Python, for modules that run on the node next to its Docker engine."""

from __future__ import annotations

import traceback

try:
    import docker
    from docker.errors import NotFound
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None


def get_client(docker_host, timeout):
    """A Docker client for the engine at docker_host (e.g. unix:///var/run/docker.sock); API calls time out after
    timeout seconds. Raises docker.errors.DockerException when the engine does not answer."""
    return docker.DockerClient(base_url=docker_host, timeout=timeout)


def container_state(client, name):
    """The state of container `name` as a dict, or None if there is no such container."""
    try:
        container = client.containers.get(name)
    except NotFound:
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
    except NotFound:
        return ""


def describe_death(state, logs):
    """Say what became of a container that stopped (or restarted), with its last log lines."""
    name = state.get("name") or "?"
    if state.get("running"):
        text = "container %s is running again after a restart (restart count %s, started at %s)" % (
            name, state.get("restart_count"), state.get("started_at"))
    elif state.get("status") == "exited":
        text = "container %s exited with code %s (OOM killed: %s) at %s" % (
            name, state.get("exit_code"), "yes" if state.get("oom_killed") else "no", state.get("finished_at"))
    else:
        text = "container %s is %s, not running (last exit code %s, OOM killed: %s)" % (
            name, state.get("status"), state.get("exit_code"), "yes" if state.get("oom_killed") else "no")
    if state.get("error"):
        text += "; Docker error: %s" % state["error"]
    if logs and logs.strip():
        return text + "; last log lines:\n" + logs.rstrip("\n")
    return text + "; it left no log output"
