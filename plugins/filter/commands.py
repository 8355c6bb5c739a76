# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build the Ray and vLLM command lines, environments and closed ports; the docs are in the <name>.yml
files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import commands


def _filter(builder):
    def run(options):
        try:
            return builder(options)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc

    run.__name__ = builder.__name__
    run.__doc__ = builder.__doc__
    return run


class FilterModule:
    def filters(self):
        return {
            name: _filter(getattr(commands, name))
            for name in ("ray_start_args", "vllm_serve_args", "ray_node_env", "ray_closed_ports")
        }
