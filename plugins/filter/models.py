# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The models the service serves and the gateway's config; the docs are in vllm_serve_plan.yml and gateway_config.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import models
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.commands import OptionError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.settings import plain


def vllm_serve_plan(settings, nodes, node_ips, gpus_per_node, backend, container):
    """Where and how each model runs; see vllm_serve_plan.yml."""
    try:
        return models.serving_plan(plain(settings), plain(nodes), plain(node_ips), plain(gpus_per_node),
                                   plain(backend), plain(container))
    except OptionError as exc:
        raise AnsibleFilterError(f"vllm_serve_plan: {exc}") from exc


def gateway_config(plan_models, master_key=""):
    """The gateway's config.yaml; see gateway_config.yml."""
    try:
        return models.gateway_config(plain(plan_models), plain(master_key))
    except OptionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"vllm_serve_plan": vllm_serve_plan, "gateway_config": gateway_config}
