# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ray_status
short_description: Read the Ray cluster's nodes and wait until it has enough nodes and GPUs
version_added: 0.1.0
description:
  - Asks Ray's State API on the head's dashboard (O(dashboard)), or runs C(ray status) on the target, on the host
    or inside a Docker container, and reports the nodes and resources of the Ray cluster.
  - With O(timeout), waits until the cluster has at least O(min_nodes) nodes and O(min_gpus) GPUs, and says
    which of them is missing when it gives up (a worker that never joined, or joined without its GPU).
  - While the head's services start (C(No cluster status)) or no cluster answers yet, it keeps waiting.
  - It fails at once, without waiting for the timeout, when O(container) does not exist or is not running (with
    its last log lines), when C(ray status) fails in another way, and when the output cannot be read with
    certainty (a format drift gives an error, never a wrong count).
  - It reads the output of C(ray status) and the State API's answers of Ray 2.10 to 2.60, tested with real ones of
    Ray 2.10.0, 2.40.0, 2.49.2, 2.51.1, 2.52.1 and 2.60.0.
extends_documentation_fragment:
  - stacked_sparks.vllm.attributes
  - stacked_sparks.vllm.wait
options:
  container:
    description:
      - Name of the Docker container to run C(ray status) in (through the Docker engine at O(docker_host)).
      - Without it, C(ray status) runs on the host.
    type: str
  executable:
    description:
      - The C(ray) command, a name looked up in E(PATH) or a full path.
    type: str
    default: ray
  address:
    description:
      - The Ray cluster to ask, as C(ip:port) of the head's GCS, passed as C(--address).
      - Without it, C(ray status) finds the cluster running on the node.
    type: str
  dashboard:
    description:
      - The URL of the head's Ray dashboard as the target reaches it, for example V(http://127.0.0.1:8265).
      - When set, each probe first asks Ray's State API (C(GET /api/v0/nodes), what C(ray list nodes) reads), which
        answers in milliseconds where C(ray status) takes seconds, counts the nodes in state C(ALIVE) by their
        addresses and sums their GPUs. When the dashboard does not answer (not started yet, turned off, another
        host) or its answer cannot be read, that probe runs C(ray status) instead; RV(source) says which answered.
      - A cluster the State API shows ready ends the wait without asking the Docker engine; otherwise O(container)
        is checked as well, so a dead head fails the wait at once.
    type: str
  token_file:
    description:
      - "A file on the target holding the Ray cluster's token (Ray's token authentication, C(RAY_AUTH_MODE=token)),
        sent to the State API as C(Authorization: Bearer ...). It is read by the module, never passed on a command
        line nor returned. C(ray status) in O(container) finds the token as that container does
        (C(RAY_AUTH_TOKEN_PATH))."
    type: path
  min_nodes:
    description:
      - The number of nodes the cluster must have (active and idle nodes count).
    type: int
    default: 0
  min_gpus:
    description:
      - The number of GPUs the cluster must have in total.
    type: float
    default: 0.0
  nodes:
    description:
      - "The nodes that must be in the cluster, as C({name: address}): each node's name (for the messages) and
        the address it must register with (its C(--node-ip-address))."
      - Checked where the answer shows addresses, that is when the State API answered (O(dashboard)); the wait
        then names the nodes missing and any node that registered with another address.
    type: dict
  timeout:
    description:
      - How many seconds to wait for O(min_nodes) and O(min_gpus).
      - V(0) probes once.
    type: int
    default: 0
  hint:
    description:
      - Text appended to failure messages, for example where the worker's logs are.
    type: str
notes:
  - C(ray status) does not show IP addresses; a node that joined with the wrong address still counts as a node.
    The State API (O(dashboard)) does, in RV(node_ips), and the wait checks them against O(nodes).
  - A killed worker stays listed as active for about 25 seconds.
seealso:
  - module: stacked_sparks.vllm.vllm_models
author:
  - stacked_sparks maintainers (@stacked-sparks)
"""

EXAMPLES = r"""
- name: Wait until both nodes and both GPUs are in the Ray cluster
  stacked_sparks.vllm.ray_status:
    container: sparks-ray-head
    min_nodes: 2
    min_gpus: 2
    timeout: 120
    hint: "See the worker's log with: docker logs sparks-ray-worker (on the worker)"
  register: ray_cluster

- name: Show the cluster
  ansible.builtin.debug:
    msg: "{{ ray_cluster.nodes }} nodes, {{ ray_cluster.gpus }} GPUs, CPU {{ ray_cluster.resources.CPU }}"

- name: The same, asking the head's dashboard first (milliseconds, where ray status takes seconds)
  stacked_sparks.vllm.ray_status:
    container: sparks-ray-head
    dashboard: http://127.0.0.1:8265
    min_nodes: 2
    timeout: 120

- name: Read the status once, with ray on the host's PATH
  stacked_sparks.vllm.ray_status:
    executable: /opt/venv/bin/ray
    address: 192.168.100.10:6379
"""

RETURN = r"""
nodes:
  description: Number of nodes in the cluster (active and idle).
  returned: when C(ray status) could be read
  type: int
  sample: 2
node_ids:
  description: The node ids (or autoscaler node types) listed as active or idle.
  returned: when C(ray status) could be read
  type: list
  elements: str
  sample: [node_6b18658c01c9ca5fcbcebeefcd15077976b6f5f78349f62ccb211042]
node_ips:
  description: The addresses of the nodes in state C(ALIVE).
  returned: when the State API answered (O(dashboard))
  type: list
  elements: str
  sample: [192.168.100.10, 192.168.100.11]
node_gpus:
  description: The GPUs of each node in state C(ALIVE), by address.
  returned: when the State API answered (O(dashboard))
  type: dict
  sample: {"192.168.100.10": 1.0, "192.168.100.11": 1.0}
source:
  description: What the last probe read, V(state_api) or V(ray status).
  returned: when the cluster could be read
  type: str
  sample: state_api
gpus:
  description: Total GPUs in the cluster, V(0.0) without any.
  returned: when C(ray status) could be read
  type: float
  sample: 2.0
resources:
  description:
    - The cluster's resources, each with the amount used and the total (memory in bytes).
    - From the State API, the totals of CPU, GPU, memory and object_store_memory, with C(used) V(null).
  returned: when C(ray status) could be read
  type: dict
  sample: {"CPU": {"used": 0.0, "total": 4.0}, "GPU": {"used": 2.0, "total": 2.0}, "memory": {"used": 0.0, "total": 48490180853.76}}
pending_demands:
  description: Resource demands the cluster cannot meet, such as placement groups waiting for GPUs.
  returned: when C(ray status) could be read
  type: list
  elements: str
  sample: ["{'GPU': 1.0} * 2 (PACK): 1+ pending placement groups"]
elapsed:
  description: Seconds spent waiting.
  returned: always, except in check mode
  type: float
  sample: 14.2
raw:
  description: The last output of C(ray status) (standard output), or the State API's answer.
  returned: when a probe ran
  type: str
last_error:
  description: Why the last probe could not read the cluster (no cluster yet, still starting), on failure.
  returned: failure
  type: str
  sample: "ConnectionError: Could not find any running Ray instance."
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.docker_util import (
    DOCKER_OPTIONS,
    container_state,
    describe_death,
    exec_in_container,
    log_tail,
    module_client,
)
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.ray_status import (
    RayStatusParseError,
    check_requirements,
    classify_output,
    describe,
    parse_ray_status,
    parse_state_nodes,
)
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.wait import (
    PAUSE_OPTIONS,
    Hopeless,
    negative_option,
    wait_until,
)

DOCKER_API_TIMEOUT = 120  # a ray status that waits for an unreachable GCS takes ~40 s
STATE_API_TIMEOUT = 5
LOG_LINES = 20


class NotReady(Exception):
    """ray status cannot report yet (still starting, no cluster): worth another probe."""


def read_state_api(dashboard, token=None):
    """The State API's nodes, parsed, or None when the dashboard does not answer or its answer cannot be read."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        text = open_url(f"{dashboard.rstrip('/')}/api/v0/nodes?limit=10000", timeout=STATE_API_TIMEOUT,
                        headers=headers).read()
        return text.decode(), parse_state_nodes(text.decode())
    except Exception:  # noqa: BLE001 - any failure of this shortcut means: ask ray status
        return None


def status_result(status):
    return {
        "nodes": status["nodes"],
        **({key: status[key] for key in ("node_ips", "node_gpus") if key in status}),
        "node_ids": status["active_nodes"] + status["idle_nodes"],
        "gpus": status["gpus"],
        "resources": status["resources"],
        "pending_demands": status["pending_demands"],
    }


def main():
    module = AnsibleModule(
        argument_spec={
            **PAUSE_OPTIONS,
            **DOCKER_OPTIONS,
            "container": {"type": "str"},
            "executable": {"type": "str", "default": "ray"},
            "address": {"type": "str"},
            "dashboard": {"type": "str"},
            "token_file": {"type": "path", "no_log": False},
            "min_nodes": {"type": "int", "default": 0},
            "min_gpus": {"type": "float", "default": 0.0},
            "nodes": {"type": "dict"},
            "timeout": {"type": "int", "default": 0},
            "hint": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, msg="ray status skipped in check mode")
    problem = negative_option(p, ("min_nodes", "min_gpus", "timeout", "sleep", "max_sleep"))
    if problem:
        module.fail_json(msg=problem, elapsed=0.0)
    hint = f". {p['hint']}" if p["hint"] else ""
    token = None
    if p["token_file"]:
        try:
            with open(p["token_file"]) as handle:
                token = handle.read().strip()
        except OSError as exc:
            module.fail_json(msg=f"cannot read the Ray token file {p['token_file']}: {exc.strerror}{hint}", elapsed=0.0)
        module.no_log_values.add(token)
    argv = [p["executable"], "status"] + (["--address", p["address"]] if p["address"] else [])
    command = " ".join(argv)
    container = p["container"]
    if not container:
        argv[0] = module.get_bin_path(p["executable"])
        if not argv[0]:
            module.fail_json(msg=f"cannot find {p['executable']!r} on the host: install Ray, set executable, or set "
                             f"container to run ray status in the Ray container{hint}", elapsed=0.0)
    engine = {}   # the Docker client, made at the first look the dashboard alone does not settle
    last = {"raw": "", "status": None, "source": None}

    def client():
        if not engine:
            engine["client"] = module_client(module, DOCKER_API_TIMEOUT, elapsed=0.0)
        return engine["client"]

    def probe():
        # The dashboard first: a cluster it shows ready is ready, and Docker is not asked.
        answer = read_state_api(p["dashboard"], token) if p["dashboard"] else None
        if answer:
            last["raw"], last["status"] = answer
            last["source"] = "state_api"
            if not check_requirements(last["status"], p["min_nodes"], p["min_gpus"], p["nodes"]):
                return True, last["status"]
        if container:
            state = container_state(client(), container)
            if state is None:
                raise Hopeless(f"container {container} does not exist: the Ray node is not started{hint}",
                               {"container_state": None})
            if not state["running"]:
                death = describe_death(state, log_tail(client(), container, LOG_LINES))
                raise Hopeless(f"Ray is not running: {death}" + (f"\n{p['hint']}" if p["hint"] else ""),
                               {"container_state": state})
        if answer:
            return False, last["status"]
        if container:
            rc, out, err = exec_in_container(client(), container, argv)
        else:
            rc, out, err = module.run_command(argv)
        last["raw"] = out
        kind, detail = classify_output(rc, out, err)
        if kind in ("starting", "no_cluster"):
            raise NotReady(detail)
        if kind == "error":
            raise Hopeless(f"{command} failed (exit code {rc}): {detail}{hint}", {"stderr": err})
        try:
            last["status"] = parse_ray_status(out)
        except RayStatusParseError as exc:
            raise Hopeless(f"cannot read the output of {command}: {exc}") from None
        last["source"] = "ray status"
        return not check_requirements(last["status"], p["min_nodes"], p["min_gpus"], p["nodes"]), last["status"]

    def found():
        return dict(status_result(last["status"]), source=last["source"]) if last["status"] else {}

    try:
        result = wait_until(probe, p["timeout"], p["sleep"], p["max_sleep"])
    except Hopeless as exc:
        module.fail_json(msg=exc.message, elapsed=exc.elapsed, raw=last["raw"], **dict(found(), **exc.details))

    status = last["status"]
    if result.done:
        ready = describe(status, p["min_nodes"], p["min_gpus"], p["nodes"])
        module.exit_json(changed=False, msg=f"Ray cluster ready: {ready}",
                         elapsed=result.elapsed, raw=last["raw"], **found())
    waited = f" after {p['timeout']}s" if p["timeout"] else ""
    if status:
        where = describe(status, p["min_nodes"], p["min_gpus"], p["nodes"])
        if result.last_error:
            where += f" (last probe: {result.last_error})"
    else:
        where = f"no cluster status ({result.last_error})"
    module.fail_json(msg=f"Ray cluster not ready{waited}: {where}{hint}", elapsed=result.elapsed,
                     raw=last["raw"], last_error=result.last_error, **found())


if __name__ == "__main__":
    main()
