"""The serving benchmark on the lab: vllm bench serve from the lab image on the head against the tiny model (the
lab's inventory: 8 short requests, two at a time), its printed summary, and one results directory per run on the
controller. It restarts nothing."""

import json

from conftest import playbook, started_at

BENCHMARK = "playbooks/benchmark.yml"


def test_each_run_prints_a_summary_and_leaves_its_results_beside_the_last(tmp_path):
    before = started_at()
    for _run in range(2):
        run = playbook(BENCHMARK, "-e", f"cluster_results_dir={tmp_path}")
        assert run.rc == 0, run.output
        text = " ".join(run.output.split())
        assert "requests: 8 completed, 0 failed, in" in text and "(request rate inf/s, concurrency 2)" in text, text
        for line in ("output tokens/s: ", "TTFT ms: median ", "ITL ms: median "):
            assert line in text, f"no {line!r} in the summary"
    runs = sorted(tmp_path.iterdir())
    assert len(runs) == 2 and all(path.name.startswith("benchmark-") for path in runs)
    for found in runs:
        assert sorted(path.name for path in found.iterdir()) == ["output.log", "result.json", "summary.txt"]
        result = json.loads((found / "result.json").read_text())
        assert result["completed"] == 8 and result["failed"] == 0 and result["output_throughput"] > 0
        assert "Serving Benchmark Result" in (found / "output.log").read_text()
    assert started_at() == before, "the benchmark restarted a container of the cluster"
