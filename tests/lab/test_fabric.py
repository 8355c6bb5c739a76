"""The fabric check on the lab: the collective test across both lab hosts with Gloo over the lab network (no GPU,
no RDMA), its report, its results directory on the controller and on the head, and its pass mark. It runs while
vLLM serves and restarts nothing."""

import json
import subprocess

from conftest import HEAD, SITE, WORKER, docker, playbook, started_at

FABRIC = "playbooks/fabric.yml"   # the lab's inventory: fabric_sizes 64K, 1M, 16M, no pass mark


def run_dirs(results):
    return sorted(path for path in results.iterdir() if path.name.startswith("fabric-"))


def test_the_fabric_check_reports_the_transport_and_the_bandwidth_at_each_size(tmp_path):
    before = started_at()
    run = playbook(FABRIC, "-e", f"cluster_results_dir={tmp_path}")
    assert run.rc == 0, run.output
    text = " ".join(run.output.split())
    assert "collective test (gloo, 2 ranks)" in text and "transport: sockets on eth0" in text, text
    for op in ("all_gather", "all_reduce"):
        for size in ("64 KiB", "1 MiB", "16 MiB"):
            assert f"{op} {size}" in text, f"no line for {op} at {size}"

    [found] = run_dirs(tmp_path)
    names = sorted(path.name for path in found.iterdir())
    assert names == ["results.json", "spark-1.log", "spark-2.log", "summary.txt"]
    saved = json.loads((found / "results.json").read_text())
    assert saved["backend"] == "gloo" and saved["ranks"] == 2 and saved["problems"] == []
    assert [(row["op"], row["size"]) for row in saved["results"]] == [
        (op, size) for op in ("all_gather", "all_reduce") for size in (2**16, 2**20, 2**24)]
    assert all(row["busbw"] > 0 and row["seconds"] > 0 for row in saved["results"])
    assert "transport: sockets on eth0" in (found / "summary.txt").read_text()
    on_head = subprocess.run(["docker", "exec", HEAD, "cat", f"/var/lib/stacked-sparks/results/{found.name}/summary.txt"],
                             capture_output=True, text=True, check=False)
    assert on_head.stdout == (found / "summary.txt").read_text(), "the head does not keep the same results"

    assert started_at() == before, "the fabric check restarted a container of the cluster"
    for host in (HEAD, WORKER):
        assert docker(host, "inspect", "stacked-sparks-fabric").returncode != 0, f"the test's container is left on {host}"


def test_the_fabric_check_fails_under_a_pass_mark_above_what_it_measured(tmp_path):
    """Here by the site playbook's tag, the other way in."""
    run = playbook(*SITE, "--tags", "fabric", "-e", f"cluster_results_dir={tmp_path}", "-e", "fabric_min_busbw=1000",
                   "-e", '{"fabric_sizes": ["1M"]}')
    assert run.rc != 0, run.output
    text = " ".join(run.output.split())
    assert "all_gather busbw at 1 MiB is" in text and "under fabric_min_busbw 1000 GB/s" in text, text
    [found] = run_dirs(tmp_path)   # kept all the same, with the problem
    assert json.loads((found / "results.json").read_text())["problems"]
    assert "TASK [stacked_sparks.vllm.image_pull : Pull the image" not in run.output, "--tags fabric ran another role"
