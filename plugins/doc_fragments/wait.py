# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """What the collection's wait modules share: they only read (with stacked_sparks.vllm.attributes), the Docker
    engine of the container they watch (module_utils/docker_util.py), and the pauses of their wait
    (module_utils/wait.py)."""

    DOCUMENTATION = r"""
requirements:
  - The Docker SDK for Python (C(docker)) on the target, when O(container) is set.
attributes:
  check_mode:
    support: full
    details: In check mode the module does not probe; it returns C(changed=false) at once.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  docker_host:
    description:
      - The Docker engine to talk to when O(container) is set.
    type: str
    default: unix:///var/run/docker.sock
  sleep:
    description:
      - Seconds of the first pause between two probes. Each next pause doubles, up to O(max_sleep).
      - With the defaults the module returns within a quarter of a second of the condition holding (plus one probe).
    type: float
    default: 0.1
  max_sleep:
    description:
      - Seconds of the longest pause between two probes (the backoff's cap). A value below O(sleep) keeps every
        pause at O(sleep).
      - Raise it for a long wait on a busy node, where each probe costs something.
    type: float
    default: 0.25
"""
