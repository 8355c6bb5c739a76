# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The Docker engine of the wait modules that watch a container (module_utils/docker_util.py)."""

    DOCUMENTATION = r"""
requirements:
  - The Docker SDK for Python (C(docker)) on the target, when O(container) is set.
options:
  docker_host:
    description:
      - The Docker engine to talk to when O(container) is set.
    type: str
    default: unix:///var/run/docker.sock
"""
