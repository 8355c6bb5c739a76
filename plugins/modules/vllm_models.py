# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vllm_models
short_description: Wait until a vLLM server lists its model, and fail fast when vLLM dies
version_added: 0.1.0
description:
  - Polls the C(/v1/models) endpoint of vLLM's OpenAI-compatible API until it lists O(model) (or any model when
    O(model) is not set), and returns the listed models.
  - Connection errors, HTTP 503 and timeouts mean vLLM is still loading, so the module keeps waiting.
  - Each probe asks the API first. When the model is not listed yet, it checks the vLLM process, the Docker
    O(container) or the host process O(pid). When it is gone, stopped, or restarted since that first check, the
    module fails at once with the container's state and last log lines, so a bad model id or an out-of-memory
    fails within seconds, not after O(timeout). A model listed at the first probe costs one request, and the Docker
    engine is not asked.
  - HTTP 401 and 403 fail at once, as the API key was rejected.
extends_documentation_fragment:
  - stacked_sparks.vllm.attributes
  - stacked_sparks.vllm.wait
options:
  url:
    description:
      - The base URL of the vLLM server, for example V(http://127.0.0.1:8000) or V(http://127.0.0.1:8000/v1).
    type: str
    default: http://127.0.0.1:8000
  model:
    description:
      - The model id (the served model name) that must be listed.
      - Without it, any listed model will do.
    type: str
  api_key:
    description:
      - "The API key vLLM was started with, sent as C(Authorization: Bearer <key>)."
    type: str
  timeout:
    description:
      - How many seconds to wait for the model.
      - V(0) probes once.
    type: int
    default: 900
  validate_certs:
    description:
      - Whether to validate the server's TLS certificate for an C(https) O(url).
    type: bool
    default: true
  container:
    description:
      - The Docker container running vLLM. Checked at every probe that does not find the model listed.
      - Mutually exclusive with O(pid).
    type: str
  pid:
    description:
      - The process id of a vLLM running on the host. Checked at every probe that does not find the model listed.
      - Mutually exclusive with O(container).
    type: int
  log_lines:
    description:
      - How many lines of the container's log to report when vLLM died.
    type: int
    default: 40
notes:
  - The module connects directly, without any HTTP proxy from the environment.
seealso:
  - module: stacked_sparks.vllm.ray_status
author:
  - stacked_sparks maintainers (@stacked-sparks)
"""

EXAMPLES = r"""
- name: Wait until vLLM serves the model, failing fast if the container dies
  stacked_sparks.vllm.vllm_models:
    url: http://127.0.0.1:8000
    model: deepseek-ai/DeepSeek-R1-Distill-Llama-8B
    container: sparks-vllm
    api_key: "{{ vllm_serve_api_key }}"
    timeout: 900
  register: vllm_ready

- name: Show what is served
  ansible.builtin.debug:
    var: vllm_ready.models

- name: Check once that some model is served
  stacked_sparks.vllm.vllm_models:
    url: http://192.168.100.10:8000/v1
    timeout: 0
"""

RETURN = r"""
models:
  description: The ids of the models the server lists (the last list seen, on failure).
  returned: always, except in check mode and on invalid arguments
  type: list
  elements: str
  sample: [deepseek-ai/DeepSeek-R1-Distill-Llama-8B]
elapsed:
  description: Seconds spent waiting.
  returned: always, except in check mode
  type: float
  sample: 31.4
url:
  description: The models URL that was polled.
  returned: always, except in check mode and on invalid arguments
  type: str
  sample: http://127.0.0.1:8000/v1/models
last_error:
  description: Why the last probe got no model list (connection refused, HTTP 503, ...), on failure.
  returned: failure
  type: str
  sample: "http://127.0.0.1:8000/v1/models answered HTTP 503 Service Unavailable"
container_state:
  description: The state of O(container) when vLLM died.
  returned: failure, when the container is gone, stopped or restarted
  type: dict
  sample: {"name": "sparks-vllm", "status": "exited", "running": false, "exit_code": 1, "oom_killed": false}
"""

import os
from urllib.error import HTTPError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import SSLValidationError, open_url
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.docker_util import (
    DOCKER_OPTIONS,
    container_state,
    describe_death,
    log_tail,
    module_client,
    module_state,
)
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.vllm_api import (
    model_listed,
    models_url,
    parse_models,
)
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.wait import (
    PAUSE_OPTIONS,
    Hopeless,
    negative_option,
    wait_until,
)

DOCKER_API_TIMEOUT = 60
REQUEST_TIMEOUT = 10


def main():
    module = AnsibleModule(
        argument_spec={
            **PAUSE_OPTIONS,
            **DOCKER_OPTIONS,
            "url": {"type": "str", "default": "http://127.0.0.1:8000"},
            "model": {"type": "str"},
            "api_key": {"type": "str", "no_log": True},
            "timeout": {"type": "int", "default": 900},
            "validate_certs": {"type": "bool", "default": True},
            "container": {"type": "str"},
            "pid": {"type": "int"},
            "log_lines": {"type": "int", "default": 40},
        },
        mutually_exclusive=[("container", "pid")],
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, msg="vLLM model check skipped in check mode")
    problem = negative_option(p, ("timeout", "sleep", "max_sleep", "log_lines"))
    if problem:
        module.fail_json(msg=problem, elapsed=0.0)
    try:
        url = models_url(p["url"])
    except ValueError as exc:
        module.fail_json(msg=f"url: {exc}", elapsed=0.0)
    headers = {"Accept": "application/json"}
    if p["api_key"]:
        headers["Authorization"] = f"Bearer {p['api_key']}"
    container = p["container"]
    watched = {}   # the engine and the container's state, from the first look that found vLLM not serving
    last = {"models": []}

    def check_process():
        if container:
            if not watched:
                watched["client"] = module_client(module, DOCKER_API_TIMEOUT, elapsed=0.0, url=url, models=[])
                watched["baseline"] = module_state(module, watched["client"], container, elapsed=0.0, url=url,
                                                   models=[])
            client, baseline = watched["client"], watched["baseline"]
            state = container_state(client, container)
            if state is None:
                raise Hopeless(f"vLLM container {container} does not exist (it was never started, or was removed)",
                               {"container_state": None})
            restarted = baseline is not None and (state["restart_count"] != baseline["restart_count"]
                                                  or state["started_at"] != baseline["started_at"])
            if not state["running"] or restarted:
                death = describe_death(state, log_tail(client, container, p["log_lines"]))
                raise Hopeless(f"vLLM died: {death}", {"container_state": state})
        elif p["pid"] is not None:
            try:
                os.kill(p["pid"], 0)
            except ProcessLookupError:
                raise Hopeless(f"vLLM died: process {p['pid']} is not running") from None
            except PermissionError:
                pass  # it exists, under another user

    def ask():
        try:
            response = open_url(url, headers=headers, method="GET", timeout=REQUEST_TIMEOUT, use_proxy=False,
                                validate_certs=p["validate_certs"])
            with response:
                body = response.read()
        except SSLValidationError as exc:
            raise Hopeless(f"cannot verify the TLS certificate of {url} (set validate_certs=false for a self-signed "
                           f"one): {exc}") from None
        except HTTPError as exc:
            if exc.code in (401, 403):
                raise Hopeless(f"{url} answered HTTP {exc.code}: the API key was rejected; "
                               "check vllm_serve_api_key") from None
            raise RuntimeError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
        last["models"] = parse_models(body)
        return model_listed(last["models"], p["model"]), last["models"]

    def probe():
        # The API first: a wait whose model is already served never talks to Docker. Otherwise: is vLLM alive?
        try:
            answer = ask()
        except Hopeless:
            raise
        except Exception:
            check_process()
            raise
        if not answer[0]:
            check_process()
        return answer

    try:
        result = wait_until(probe, p["timeout"], p["sleep"], p["max_sleep"])
    except Hopeless as exc:
        module.fail_json(msg=exc.message, elapsed=exc.elapsed, url=url, models=last["models"], **exc.details)

    served = ", ".join(last["models"])
    if result.done:
        module.exit_json(changed=False, msg=f"vLLM serves {served}", models=last["models"], elapsed=result.elapsed,
                         url=url)
    waited = f" after {p['timeout']}s" if p["timeout"] else ""
    wanted = repr(p["model"]) if p["model"] else "a model"
    if result.last_error:
        why = f"no model list from {url}: {result.last_error}"
    else:
        why = f"{url} serves {served or 'no model'} instead"
    module.fail_json(msg=f"vLLM does not serve {wanted}{waited}: {why}", elapsed=result.elapsed,
                     url=url, models=last["models"], last_error=result.last_error)


if __name__ == "__main__":
    main()
