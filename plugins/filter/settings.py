# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that check the collection's settings before anything changes; the docs are in the <name>.yml files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import settings


def check_settings(values, specs, nodes=0):
    try:
        return settings.check_settings(values, specs, nodes)
    except TypeError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"check_settings": check_settings, "model_location": settings.model_location}
