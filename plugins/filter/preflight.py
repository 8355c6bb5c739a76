# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight filters over the nodes' facts; the docs are in the <name>.yml files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import preflight


def fabric_report(options):
    """Cross-node checks of the fabric; see fabric_report.yml."""
    try:
        return preflight.fabric_report(options)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"fabric_report": fabric_report}
