"""The State API reader (parse_state_nodes) against real answers of Ray's dashboard, GET /api/v0/nodes.

ray-2.60.0-nodes-lab-*.json were taken from the lab's Ray 2.60.0 (two lab hosts, one logical GPU each):
  lab-2nodes             the cluster whole
  lab-worker-restarting  the worker's container restarted: the new node is ALIVE and the old one still is
  lab-worker-rejoined    a moment later: the old node DEAD, the new ALIVE
  lab-worker-lost        the worker restarted while cut from the GCS: the old node DEAD, no new one
ray-VERSION-nodes-CASE.json come from the capture recipe beside them (capture), which really runs that Ray
(Ray 2.10.0 to 2.60.0: every version the ray status parser is tested with): 1node (a head without GPUs),
2nodes-gpu, and 2nodes-dead (the second node's raylet killed, until the GCS lists it DEAD). The answers' shape is
the same in all of them; the node order is not.
"""

from __future__ import annotations

import pathlib

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.ray_status import (
    TESTED_RAY_VERSIONS,
    RayStatusParseError,
    check_requirements,
    describe,
    parse_ray_status,
    parse_state_nodes,
)

FIXTURE_DIR = pathlib.Path(__file__).parents[2] / "fixtures" / "ray-status"
HEAD, WORKER = "172.28.0.11", "172.28.0.12"
# case -> (nodes, GPUs, the addresses of the live nodes, or None where the recipe's addresses are its own)
CASES = {
    "lab-2nodes": (2, 2.0, [WORKER, HEAD]),
    "lab-worker-restarting": (2, 2.0, None),
    "lab-worker-rejoined": (2, 2.0, None),
    "lab-worker-lost": (1, 1.0, [HEAD]),
    "1node": (1, 0.0, ["127.0.0.1"]),
    "2nodes-gpu": (2, 2.0, None),
    "2nodes-dead": (1, 1.0, ["127.0.0.1"]),
}
ANSWERS = sorted(FIXTURE_DIR.glob("ray-*-nodes-*.json"))


def case_of(path):
    return path.stem.split("-nodes-", 1)[1]


def test_every_answer_has_its_expectations_and_every_tested_version_its_answers():
    assert ANSWERS, f"no State API answers in {FIXTURE_DIR}"
    assert {case_of(path) for path in ANSWERS} <= set(CASES)
    for version in TESTED_RAY_VERSIONS:
        cases = {case_of(path) for path in ANSWERS if path.name.startswith(f"ray-{version}-nodes-")}
        assert cases >= {"1node", "2nodes-gpu", "2nodes-dead"}, version


@pytest.mark.parametrize("path", ANSWERS, ids=lambda path: path.name)
def test_real_answers(path):
    nodes, gpus, ips = CASES[case_of(path)]
    status = parse_state_nodes(path.read_text())
    assert status["nodes"] == nodes
    assert status["gpus"] == gpus
    assert len(status["node_ips"]) == nodes
    assert sorted(status["node_gpus"]) == sorted(status["node_ips"]) and sum(status["node_gpus"].values()) == gpus
    if ips is not None:
        assert sorted(status["node_ips"]) == sorted(ips)
    assert status["resources"]["CPU"]["total"] > 0 and status["resources"]["CPU"]["used"] is None


def test_a_restarted_worker_listed_twice_counts_once():
    status = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-worker-restarting.json").read_text())
    assert len(status["active_nodes"]) == 3
    assert status["node_ips"] == [WORKER, HEAD] or sorted(status["node_ips"]) == [HEAD, WORKER]
    assert status["nodes"] == 2


def test_each_live_node_has_its_gpus():
    status = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-worker-lost.json").read_text())
    assert status["node_gpus"] == {HEAD: 1.0}
    status = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-2nodes.json").read_text())
    assert status["node_gpus"] == {HEAD: 1.0, WORKER: 1.0}


def test_the_wait_reads_it_as_it_reads_ray_status():
    status = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-worker-lost.json").read_text())
    assert check_requirements(status, 2, 2) == ["1 of 2 nodes", "1.0 of 2.0 GPU"]
    assert describe(status, 2, 2) == "1 of 2 nodes, 1.0 of 2.0 GPU"


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not JSON"),
    ('{"result": false, "msg": "Failed to get nodes"}', "Failed to get nodes"),
    ('{"result": true, "data": {"result": {"total": 0}}}', "expected data.result.result"),
    ('{"result": true, "data": {"result": {"result": [{"node_id": "x"}]}}}', "unexpected node"),
])
def test_anything_else_is_an_error_not_a_count(text, message):
    with pytest.raises(RayStatusParseError, match=message):
        parse_state_nodes(text)


def test_the_wait_names_the_missing_node_and_a_stranger():
    lost = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-worker-lost.json").read_text())
    nodes = {"spark-1": HEAD, "spark-2": WORKER}
    assert check_requirements(lost, 2, 2, nodes) == ["1 of 2 nodes", "1.0 of 2.0 GPU", "missing spark-2 (172.28.0.12)"]
    assert describe(lost, 2, 2, nodes) == "1 of 2 nodes, 1.0 of 2.0 GPU; missing spark-2 (172.28.0.12)"
    whole = parse_state_nodes((FIXTURE_DIR / "ray-2.60.0-nodes-lab-2nodes.json").read_text())
    assert check_requirements(whole, 2, 2, nodes) == []
    wrong = {"spark-1": HEAD, "spark-2": "192.168.100.11"}   # the worker registered on another interface
    assert check_requirements(whole, 2, 2, wrong) == ["missing spark-2 (192.168.100.11)"]
    assert describe(whole, 2, 2, wrong) == (
        "2 of 2 nodes, 2.0 of 2.0 GPU; missing spark-2 (192.168.100.11); a node registered as 172.28.0.12, which is "
        "no node's fabric address: its Ray node IP (--node-ip-address, VLLM_HOST_IP) must be its address on the "
        "fabric")


def test_ray_status_has_no_addresses_to_check():
    status = parse_ray_status((FIXTURE_DIR / "ray-2.60-2nodes-gpu.txt").read_text())
    assert check_requirements(status, 2, 2, {"spark-1": HEAD, "spark-2": "192.168.100.11"}) == []
