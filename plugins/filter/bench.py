# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The serving benchmark's command line and summary; the docs are in vllm_bench_args.yml and vllm_bench_summary.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.stacked_sparks.vllm.plugins.module_utils import bench


def vllm_bench_args(options):
    """See vllm_bench_args.yml."""
    try:
        return bench.bench_args(options)
    except (ValueError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"vllm_bench_args: {exc}") from exc


def vllm_bench_summary(result):
    """See vllm_bench_summary.yml."""
    try:
        return bench.bench_summary(result)
    except (ValueError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"vllm_bench_summary: malformed result ({exc!r})") from exc


class FilterModule:
    def filters(self):
        return {"vllm_bench_args": vllm_bench_args, "vllm_bench_summary": vllm_bench_summary}
