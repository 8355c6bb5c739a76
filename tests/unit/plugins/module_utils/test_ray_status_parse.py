from __future__ import annotations

import pathlib
import re
from typing import NamedTuple

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.ray_status import (
    TESTED_RAY_VERSIONS,
    RayStatusParseError,
    check_requirements,
    classify_output,
    describe,
    parse_ray_status,
)

GIB = 2**30
MIB = 2**20


class Read(NamedTuple):
    """What must be read from one capture that parses ("ok")."""

    nodes: int
    gpus: float
    gpus_used: float | None  # None: no GPU line at all
    cpus: float
    mem_gib: float  # the cluster's memory total, as printed
    demands: tuple = ()  # the pending demands, as printed
    node_usage: tuple = ()  # the ids of the per-node blocks of ``ray status -v``, in order


# Every captured output (``ray-<Ray version>-<case>.txt``, made by really running that Ray; most by the recipe
# ``capture`` beside them), with the exit code it came with, the state classify_output must give and, for
# "ok", what must be read from it.
# The recipe's "pending" case: a placement group of three one-GPU bundles on a cluster of two GPUs.
PENDING_PG = ("{'GPU': 1.0} * 3 (PACK): 1+ pending placement groups",)
# fmt: off
FIXTURES = {
    "ray-2.10.0-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=18.07)),
    "ray-2.10.0-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.03)),
    "ray-2.10.0-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=34.03)),
    "ray-2.10.0-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.03,
        node_usage=("8edc3a22b3ed227482a310cd2be3d553ebf504aac08a26e4f176b418",
                    "5c6c1ece8c9c1635b69b954728b97144f627a4eb02342479de0c8527"))),
    "ray-2.10.0-none.txt": (1, "no_cluster", None),
    "ray-2.10.0-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.03, demands=PENDING_PG)),

    "ray-2.40.0-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=16.16)),
    "ray-2.40.0-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=37.48)),
    "ray-2.40.0-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=37.48)),
    "ray-2.40.0-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=37.48,
        node_usage=("bc7bfd2c147323daba351a8d470cec1b464abe2bea4e1a40bc2e52e9",
                    "7092060ef1fada837e0035d6b717564e7d75da0338ea86258b6fce82"))),
    "ray-2.40.0-none.txt": (1, "no_cluster", None),
    "ray-2.40.0-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=37.48, demands=PENDING_PG)),

    "ray-2.49.2-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=17.56)),
    "ray-2.49.2-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.89)),
    "ray-2.49.2-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=34.89)),
    "ray-2.49.2-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.89,
        node_usage=("c5ba9732e1e027e8ae9b3b8fedee2d3b635dc9c91f7b4334c053a7cc",
                    "e09e280a6181e775f359aa6b530df26c69065475013cf690eac9c131"))),
    "ray-2.49.2-none.txt": (1, "no_cluster", None),
    "ray-2.49.2-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=34.89, demands=PENDING_PG)),

    "ray-2.51.1-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=17.60)),
    "ray-2.51.1-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.04)),
    "ray-2.51.1-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=35.04)),
    "ray-2.51.1-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.04,
        node_usage=("4f80c734adecfd852ee6b781c815e3c1a328447735bef56f3303db82",
                    "44fd9763717779054e7b8f6fb4e99fa761afc8af15de57a147af575f"))),
    "ray-2.51.1-none.txt": (1, "no_cluster", None),
    "ray-2.51.1-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.04, demands=PENDING_PG)),

    "ray-2.52.1-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=17.60)),
    "ray-2.52.1-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.03)),
    "ray-2.52.1-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=35.03)),
    "ray-2.52.1-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.03,
        node_usage=("bfd588b67217ac4c9d64e8849c2755ae5cab8c03157a324c897d2ed5",
                    "2cce111d4264b350d197576dbcb0c88045d208c04526fd2fea74b2c0"))),
    "ray-2.52.1-none.txt": (1, "no_cluster", None),
    "ray-2.52.1-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=35.03, demands=PENDING_PG)),

    "ray-2.60-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=22.67)),
    "ray-2.60-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=45.16)),
    "ray-2.60-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=45.16)),
    "ray-2.60-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=0.0, gpus_used=None, cpus=4.0, mem_gib=45.18,
        node_usage=("6b18658c01c9ca5fcbcebeefcd15077976b6f5f78349f62ccb211042",
                    "3ff051e7f0a9db0d2df45858cb8c6a8b66d66da7a4551a489b2c6bc9"))),
    "ray-2.60-2nodes.txt": (0, "ok", Read(nodes=2, gpus=0.0, gpus_used=None, cpus=4.0, mem_gib=45.18)),
    "ray-2.60-deadnode-late.txt": (0, "ok", Read(nodes=1, gpus=1.0, gpus_used=0.0, cpus=2.0, mem_gib=22.66)),
    "ray-2.60-none.txt": (1, "no_cluster", None),
    "ray-2.60-starting-exit0.txt": (0, "starting", None),
    "ray-2.60.0-1node.txt": (0, "ok", Read(nodes=1, gpus=0.0, gpus_used=None, cpus=2.0, mem_gib=17.83)),
    "ray-2.60.0-2nodes-gpu.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=42.32)),
    "ray-2.60.0-2nodes-serving.txt": (0, "ok", Read(nodes=2, gpus=2.0, gpus_used=2.0, cpus=4.0, mem_gib=42.32)),
    "ray-2.60.0-2nodes-v.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=42.32,
        node_usage=("222079afc11c130939dbc9b86b9bb5270dcd20a03a2b96c774425695",
                    "fbae7c63bc1b2a7a2402b0d0798c319f8748ee1a652d611f24bb1413"))),
    "ray-2.60.0-none.txt": (1, "no_cluster", None),
    "ray-2.60.0-pending.txt": (0, "ok", Read(
        nodes=2, gpus=2.0, gpus_used=0.0, cpus=4.0, mem_gib=42.32, demands=PENDING_PG)),
}
# fmt: on
FIXTURE_DIR = pathlib.Path(__file__).parents[2] / "fixtures" / "ray-status"
# The cases the recipe captures for each version.
RECIPE_CASES = {"none", "1node", "2nodes-gpu", "2nodes-v", "2nodes-serving", "pending"}
_NAME = re.compile(r"^ray-(\d+\.\d+(?:\.\d+)?)-(.+)\.txt$")


def _version_and_case(name):
    version, case = _NAME.match(name).groups()
    return version + ".0" * (2 - version.count(".")), case  # "2.60" is 2.60.0


def _version_key(version):
    return tuple(int(part) for part in version.split("."))


def test_every_fixture_file_has_expectations():
    assert sorted(p.name for p in FIXTURE_DIR.glob("*.txt")) == sorted(FIXTURES)


def test_tested_ray_versions_are_the_captured_ones():
    assert all(_NAME.match(name) for name in FIXTURES)
    assert set(TESTED_RAY_VERSIONS) == {_version_and_case(name)[0] for name in FIXTURES}
    assert list(TESTED_RAY_VERSIONS) == sorted(set(TESTED_RAY_VERSIONS), key=_version_key)


@pytest.mark.parametrize("version", TESTED_RAY_VERSIONS)
def test_every_tested_version_has_every_recipe_case(version):
    cases = {case for name in FIXTURES for v, case in [_version_and_case(name)] if v == version}
    assert RECIPE_CASES <= cases


@pytest.mark.parametrize("name", sorted(FIXTURES, key=lambda name: (_version_key(_version_and_case(name)[0]), name)))
def test_fixture(name, ray_fixture):
    rc, state, read = FIXTURES[name]
    text = ray_fixture(name)
    stdout, stderr = (text, "") if rc == 0 else ("", text)
    assert classify_output(rc, stdout, stderr)[0] == state
    if state != "ok":
        with pytest.raises(RayStatusParseError):
            parse_ray_status(text)
        return
    status = parse_ray_status(text)
    assert status["nodes"] == read.nodes
    assert len(status["active_nodes"]) == read.nodes
    assert all(node.startswith("node_") for node in status["active_nodes"])
    assert status["idle_nodes"] == []
    assert status["gpus"] == read.gpus
    assert status["resources"]["CPU"] == {"used": 0.0, "total": read.cpus}
    if read.gpus_used is None:
        assert "GPU" not in status["resources"]
    else:
        assert status["resources"]["GPU"] == {"used": read.gpus_used, "total": read.gpus}
    assert status["resources"]["memory"]["used"] == 0.0
    assert status["resources"]["memory"]["total"] == pytest.approx(read.mem_gib * GIB)
    # 500 MB a node (the recipe's --object-store-memory; the lab's too), as printed.
    store_mib = {1: 476.84, 2: 953.67}[read.nodes]
    assert status["resources"]["object_store_memory"]["total"] == pytest.approx(store_mib * MIB)
    assert set(status["resources"]) == {"CPU", "memory", "object_store_memory"} | (
        {"GPU"} if read.gpus_used is not None else set())
    assert status["pending_nodes"] == []
    assert status["recent_failures"] == []
    assert status["pending_demands"] == list(read.demands)
    assert list(status["node_usage"]) == list(read.node_usage)
    if read.node_usage:  # one block for each active node
        assert sorted(f"node_{node}" for node in read.node_usage) == sorted(status["active_nodes"])
    for usage in status["node_usage"].values():
        assert usage["CPU"] == {"used": 0.0, "total": read.cpus / read.nodes}
        assert usage.get("GPU", {}).get("total", 0.0) == read.gpus / read.nodes
    assert check_requirements(status, read.nodes, read.gpus) == []
    assert check_requirements(status, read.nodes + 1, read.gpus + 1) == [
        f"{read.nodes} of {read.nodes + 1} nodes", f"{read.gpus} of {read.gpus + 1} GPU"]


def test_verbose_per_node_usage_is_not_the_cluster_usage(ray_fixture):
    status = parse_ray_status(ray_fixture("ray-2.60-2nodes-v.txt"))
    assert status["resources"]["CPU"]["total"] == 4.0
    first, second = list(status["node_usage"].values())
    assert first["CPU"] == {"used": 0.0, "total": 2.0}
    assert first["memory"]["total"] == pytest.approx(22.67 * GIB)
    assert second["memory"]["total"] == pytest.approx(22.50 * GIB)
    assert status["active_nodes"] == ["node_6b18658c01c9ca5fcbcebeefcd15077976b6f5f78349f62ccb211042",
                                      "node_3ff051e7f0a9db0d2df45858cb8c6a8b66d66da7a4551a489b2c6bc9"]


def _status(node_lines=" 1 node_a\n 1 node_b", usage=" 0.0/4.0 CPU\n 1.0/2.0 GPU\n 0B/45.16GiB memory",
            demands=" (no resource demands)", usage_header="Total Usage:", extra_node_sections=""):
    return f"""======== Autoscaler status: 2026-11-28 21:27:56.216237 ========
Node status
---------------------------------------------------------------
Active:
{node_lines}
{extra_node_sections}Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
{usage_header}
{usage}

From request_resources:
 (none)
Pending Demands:
{demands}
"""


def test_hand_made_baseline_parses():
    status = parse_ray_status(_status())
    assert (status["nodes"], status["gpus"]) == (2, 2.0)
    assert status["resources"]["GPU"] == {"used": 1.0, "total": 2.0}


def test_older_usage_header():
    assert parse_ray_status(_status(usage_header="Usage:")) == parse_ray_status(_status())


def test_autoscaler_node_types_are_counted():
    status = parse_ray_status(_status(node_lines=" 1 ray.head.default\n 2 ray.worker.gpu"))
    assert status["nodes"] == 3
    assert status["active_nodes"] == ["ray.head.default", "ray.worker.gpu"]


def test_idle_nodes_count_as_nodes():
    status = parse_ray_status(_status(node_lines=" 1 node_a", extra_node_sections="Idle:\n 1 node_b\n"))
    assert status["nodes"] == 2
    assert status["active_nodes"] == ["node_a"]
    assert status["idle_nodes"] == ["node_b"]


def test_no_active_nodes_placeholder():
    status = parse_ray_status(_status(node_lines=" (no active nodes)", extra_node_sections="Idle:\n 2 node_b\n"))
    assert status["nodes"] == 2
    assert status["active_nodes"] == []


def test_pending_demands_and_describe():
    demand = "{'GPU': 1.0} * 2 (PACK): 1+ pending placement groups"
    status = parse_ray_status(_status(node_lines=" 1 node_a", usage=" 0.0/2.0 CPU\n 0.0/1.0 GPU",
                                      demands=" " + demand))
    assert status["pending_demands"] == [demand]
    assert describe(status, 2, 2) == "1 of 2 nodes, 1.0 of 2.0 GPU; pending: " + demand


def test_pending_nodes_and_failures_are_kept():
    text = _status().replace(" (no pending nodes)", " ray.worker.gpu, 1 launching").replace(
        " (no failures)", " node_c: NodeTerminated (ip: 192.168.100.12)")
    status = parse_ray_status(text)
    assert status["pending_nodes"] == ["ray.worker.gpu, 1 launching"]
    assert status["recent_failures"] == ["node_c: NodeTerminated (ip: 192.168.100.12)"]
    assert status["nodes"] == 2


def test_autoscaler_v2_headers_and_activity_blocks():
    constraints = "Total Constraints:\n (no request_resources() constraints)"
    text = _status(node_lines=" 1 node_a").replace("From request_resources:\n (none)", constraints)
    text = text.replace("Pending Demands:", "Total Demands:")
    text += "\nNode: a (head)\n Usage:\n  0.0/4.0 CPU\n Activity:\n  Resource: CPU currently in use.\n"
    status = parse_ray_status(text)
    assert status["nodes"] == 1
    assert status["node_usage"] == {"a": {"CPU": {"used": 0.0, "total": 4.0}}}


@pytest.mark.parametrize("line, used, total", [
    (" 0B/1.5KiB memory", 0.0, 1.5 * 1024),
    (" 1KB/2MB memory", 1000.0, 2e6),
    (" 1GB/1TB memory", 1e9, 1e12),
    (" 1.5GiB/2TiB memory", 1.5 * GIB, 2 * 2**40),
    (" 512.0B/1024B memory", 512.0, 1024.0),
])
def test_memory_units(line, used, total):
    status = parse_ray_status(_status(usage=line))
    assert status["resources"]["memory"] == {"used": pytest.approx(used), "total": pytest.approx(total)}


def test_custom_resources_and_placement_group_note():
    usage = (" 2.0/2.0 GPU (2.0 used of 2.0 reserved in placement groups)\n 0.0/1.0 node:192.168.100.10\n"
             " 0.0/1.0 accelerator_type:GB10")
    status = parse_ray_status(_status(usage=usage))
    assert status["resources"] == {
        "GPU": {"used": 2.0, "total": 2.0},
        "node:192.168.100.10": {"used": 0.0, "total": 1.0},
        "accelerator_type:GB10": {"used": 0.0, "total": 1.0},
    }


def test_windows_line_endings_and_trailing_spaces():
    text = _status().replace(" 1 node_a\n", " 1 node_a   \n").replace("\n", "\r\n")
    assert parse_ray_status(text)["nodes"] == 2


GOOD = _status()
V_GOOD = GOOD + "\nNode: a (node_a)\n Usage:\n  0.0/2.0 CPU\n"


@pytest.mark.parametrize("text, expected", [
    ("", "'Node status' section"),
    ("Traceback (most recent call last):\nConnectionError: nope", "'Node status' section"),
    (GOOD.replace("Active:", "Healthy:"), "got line 4: 'Healthy:'"),
    (GOOD.replace("Active:\n 1 node_a\n 1 node_b\n", ""), "'Active:' list"),
    (GOOD.replace(" 1 node_a", " 1 node_a is alive"), "a node line like ' 1 node_<id>'"),
    (GOOD.replace(" 1 node_a", " one node_a"), "got line 5: ' one node_a'"),
    (GOOD.replace(" 1 node_a", " (3 more nodes)"), "' (3 more nodes)'"),
    (GOOD.replace(" 1 node_a", "1 node_a"), "got line 5: '1 node_a'"),
    (GOOD.partition("Resources")[0], "'Resources' section"),
    (GOOD.partition("From request_resources")[0], "'Pending Demands:' list"),
    (GOOD.replace(" 0B/45.16GiB memory", " 0B/45."), "got line 17: ' 0B/45.'"),
    (GOOD.replace(" 0B/45.16GiB memory", " 0B/45.16QiB memory"), "' 0B/45.16QiB memory'"),
    (GOOD.replace(" 0.0/4.0 CPU", " 0.0 of 4.0 CPU"), "a resource line like"),
    (GOOD.replace(" 0B/45.16GiB memory", " 0.00/45.166 GiB memory"), "' 0.00/45.166 GiB memory'"),
    (GOOD.replace(" 0.0/4.0 CPU", " 0.0/4.0 GPU"), "each resource once"),
    (GOOD.replace(" 0.0/4.0 CPU\n 1.0/2.0 GPU\n 0B/45.16GiB memory", " (no resources)"), "resource lines"),
    (GOOD.replace("Total Usage:", "Total Usage:\n 0.0/1.0 CPU\nUsage:"), "'Usage:' once"),
    (GOOD.replace("Total Usage:", "Cluster Usage:"), "'Cluster Usage:'"),
    (GOOD.replace("Resources\n", "Resources\nNode status\n"), "'Node status' once"),
    (GOOD + "Resources\n", "'Resources' once"),
    (GOOD.replace("Recent failures:", "Resources\nRecent failures:"), "in the 'Resources' section, got line 10"),
    (GOOD + "garbage at the end\n", "'garbage at the end'"),
    (V_GOOD + " Usage:\n  0.0/2.0 GPU\n Sparkles:\n", "' Sparkles:'"),
    (V_GOOD + "Total Usage:\n 0.0/8.0 CPU\n", "'Total Usage:'"),
    (V_GOOD + "Node: a (node_a)\n Usage:\n  0.0/2.0 CPU\n", "each node block once"),
])
def test_unreadable_output_raises(text, expected):
    with pytest.raises(RayStatusParseError) as err:
        parse_ray_status(text)
    assert expected in str(err.value)
    assert str(err.value).startswith("unexpected 'ray status' output: expected ")


def test_per_node_usage_never_stands_in_for_the_cluster_usage(ray_fixture):
    text = ray_fixture("ray-2.60-2nodes-v.txt")
    cluster_usage = "Total Usage:\n 0.0/4.0 CPU\n 0B/45.18GiB memory\n 0B/953.67MiB object_store_memory\n"
    assert cluster_usage in text
    with pytest.raises(RayStatusParseError, match="'Total Usage:' before the per-node blocks"):
        parse_ray_status(text.replace(cluster_usage, ""))


def test_node_block_inside_node_status_raises():
    with pytest.raises(RayStatusParseError, match="per-node blocks"):
        parse_ray_status(GOOD.replace("Pending:", "Node: a (node_a)\nPending:"))


def test_not_text_raises():
    with pytest.raises(RayStatusParseError, match="expected text"):
        parse_ray_status(b"Node status")


@pytest.mark.parametrize("rc, stdout, stderr, state, detail", [
    (0, "No cluster status. It may take a few seconds for the Ray internal services to start up.\n", "",
     "starting", "Ray is still starting: No cluster status. It may take a few seconds"),
    (0, "", "No cluster status. It may take a few seconds.", "starting", "No cluster status"),
    (1, "", "Traceback (most recent call last):\n  ...\nConnectionError: Could not find any running Ray instance.\n\n",
     "no_cluster", "ConnectionError: Could not find any running Ray instance."),
    (1, "Failed to connect to GCS at address 192.168.100.10:6379 within 5 seconds.\n", "", "no_cluster",
     "Failed to connect to GCS at address 192.168.100.10:6379 within 5 seconds."),
    (1, "", "TimeoutError: Timed out while waiting for GCS to become available.", "no_cluster", "TimeoutError"),
    (126, ("OCI runtime exec failed: exec failed: unable to start container process: exec: \"ray\": "
           "executable file not found in $PATH: unknown\r\n"), "", "error", "executable file not found"),
    (1, "", "RuntimeError: Version mismatch: The cluster was started with Ray 2.60.0, this is 2.61.0", "error",
     "RuntimeError: Version mismatch"),
    (2, "", "", "error", "exit code 2 without output"),
    (0, "Node status\n...", "", "ok", ""),
])
def test_classify_output(rc, stdout, stderr, state, detail):
    got_state, got_detail = classify_output(rc, stdout, stderr)
    assert got_state == state
    assert detail in got_detail
    if state in ("no_cluster", "error") and detail:
        assert "\n" not in got_detail


@pytest.mark.parametrize("name", sorted(name for name in FIXTURES if name.endswith("-none.txt")))
def test_classify_none_fixture_detail(name, ray_fixture):
    state, detail = classify_output(1, "", ray_fixture(name))
    assert state == "no_cluster"
    assert detail.startswith("ConnectionError: Could not find any running Ray instance.")


def _counts(nodes, gpus, demands=()):
    return {"nodes": nodes, "gpus": gpus, "pending_demands": list(demands)}


@pytest.mark.parametrize("status, min_nodes, min_gpus, shortfalls, text", [
    (_counts(1, 1.0), 2, 2, ["1 of 2 nodes", "1.0 of 2.0 GPU"], "1 of 2 nodes, 1.0 of 2.0 GPU"),
    (_counts(2, 1.0), 2, 2, ["1.0 of 2.0 GPU"], "2 of 2 nodes, 1.0 of 2.0 GPU"),
    (_counts(1, 2.0), 2, 0, ["1 of 2 nodes"], "1 of 2 nodes"),
    (_counts(2, 0.0), 0, 1.5, ["0.0 of 1.5 GPU"], "0.0 of 1.5 GPU"),
    (_counts(2, 2.0), 2, 2, [], "2 of 2 nodes, 2.0 of 2.0 GPU"),
    (_counts(3, 4.0), 2, 2, [], "3 of 2 nodes, 4.0 of 2.0 GPU"),
    (_counts(1, 0.0), 1, 0, [], "1 of 1 node"),
    (_counts(2, 2.0), 0, 0, [], "2 nodes, 2.0 GPU"),
    (_counts(1, 0.0), 0, 0, [], "1 node, 0.0 GPU"),
    (_counts(1, 0.0, ["{'GPU': 1.0} * 2 (PACK): 1+ pending placement groups", "{'CPU': 1.0}: 2+ pending tasks/actors"]),
     0, 0, [], ("1 node, 0.0 GPU; pending: {'GPU': 1.0} * 2 (PACK): 1+ pending placement groups, "
                "{'CPU': 1.0}: 2+ pending tasks/actors")),
])
def test_requirements_and_describe(status, min_nodes, min_gpus, shortfalls, text):
    assert check_requirements(status, min_nodes, min_gpus) == shortfalls
    assert describe(status, min_nodes, min_gpus) == text
