# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status playbook's verdict on the cluster; the docs are in cluster_health.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import health


def cluster_health(options):
    """The report and what is degraded; see cluster_health.yml."""
    try:
        return health.cluster_health(options)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"cluster_health: malformed options ({exc!r})") from exc


class FilterModule:
    def filters(self):
        return {"cluster_health": cluster_health}
