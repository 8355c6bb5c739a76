# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fabric role's collective test: its command line and its outcome; the docs are in fabric_collective.yml and
fabric_collective_args.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import collective


def fabric_collective_args(options):
    """The test's arguments on one node; see fabric_collective_args.yml."""
    try:
        return collective.collective_args(options)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"fabric_collective_args: {exc}") from exc


def fabric_collective(options):
    """The test's outcome; see fabric_collective.yml."""
    try:
        return collective.collective_report(options)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"fabric_collective: malformed options ({exc!r})") from exc


class FilterModule:
    def filters(self):
        return {"fabric_collective": fabric_collective, "fabric_collective_args": fabric_collective_args}
