"""The serving benchmark: vllm bench serve's command line and the summary of its saved result."""

from __future__ import annotations

import pytest
from ansible_collections.stacked_sparks.vllm.plugins.module_utils.bench import bench_args, bench_summary, check_rate

OPTIONS = {"base_url": "http://127.0.0.1:8000", "model": "tiny", "tokenizer": "/opt/models/tiny-llama",
           "dataset": "random", "dataset_path": None, "input_len": 64, "output_len": 16, "num_prompts": 8,
           "request_rate": "inf", "max_concurrency": 2, "result_dir": "/results"}

# What vllm bench serve (vLLM 0.32.0, the lab image) saved against the lab's tiny model, its scalar fields.
LAB_RESULT = {
    "date": "20261204-230832", "endpoint_type": "openai-chat", "backend": "openai-chat", "label": None,
    "model_id": "tiny", "tokenizer_id": "/opt/models/tiny-llama", "num_prompts": 8, "request_rate": "inf",
    "burstiness": 1.0, "max_concurrency": 2, "duration": 1.7242274890013505, "completed": 8, "failed": 0,
    "total_input_tokens": 650, "total_output_tokens": 128, "request_throughput": 4.639758994118283,
    "request_goodput": None, "output_throughput": 74.23614390589253, "total_token_throughput": 451.2165621780031,
    "max_output_tokens_per_s": 83.0, "max_concurrent_requests": 6, "rtfx": 0.0, "mean_ttft_ms": 74.21858012367011,
    "median_ttft_ms": 63.47640949752531, "std_ttft_ms": 31.23329638929823, "p99_ttft_ms": 142.91492694428595,
    "mean_tpot_ms": 22.619733674946477, "median_tpot_ms": 23.067467566579584, "std_tpot_ms": 4.860300898749381,
    "p99_tpot_ms": 30.89699001871243, "mean_itl_ms": 21.372976700736825, "median_itl_ms": 21.408168999187183,
    "std_itl_ms": 11.211724564820395, "p99_itl_ms": 50.014120885462034,
}


def test_random_prompts_with_bounded_concurrency():
    assert bench_args(OPTIONS) == [
        "bench", "serve", "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
        "--base-url", "http://127.0.0.1:8000", "--model", "tiny", "--tokenizer", "/opt/models/tiny-llama",
        "--dataset-name", "random", "--num-prompts", "8", "--request-rate", "inf",
        "--random-input-len", "64", "--random-output-len", "16", "--max-concurrency", "2",
        "--save-result", "--result-dir", "/results", "--result-filename", "result.json"]


def test_sharegpt_at_a_request_rate_without_a_concurrency_bound():
    args = bench_args(dict(OPTIONS, dataset="sharegpt", dataset_path="/data/dataset.json", request_rate=4,
                           max_concurrency=0))
    assert args[args.index("--request-rate") + 1] == "4"
    assert args[args.index("--dataset-name") + 1:args.index("--num-prompts")] == ["sharegpt"]
    assert "--dataset-path /data/dataset.json --sharegpt-output-len 16" in " ".join(args)
    assert "--random-input-len" not in args and "--max-concurrency" not in args


def test_bad_benchmark_settings_are_named():
    with pytest.raises(ValueError, match="vllm_serve_bench_dataset must be one of random, sharegpt, got 'sonnet'"):
        bench_args(dict(OPTIONS, dataset="sonnet"))
    with pytest.raises(ValueError, match="vllm_serve_bench_dataset sharegpt needs vllm_serve_bench_dataset_path"):
        bench_args(dict(OPTIONS, dataset="sharegpt"))
    for rate in ("fast", "0", "-1", "nan"):
        with pytest.raises(ValueError, match="vllm_serve_bench_request_rate must be requests per second above 0"):
            check_rate(rate)
    assert check_rate("INF") == "inf" and check_rate(2.5) == "2.5"


def test_the_summary_of_a_real_result():
    assert bench_summary(LAB_RESULT) == [
        "requests: 8 completed, 0 failed, in 1.72 s (request rate inf/s, concurrency 2)",
        "output tokens/s: 74.24; requests/s: 4.64",
        "TTFT ms: median 63.48, p99 142.91",
        "ITL ms: median 21.41, p99 50.01",
    ]
    assert bench_summary({"completed": 0, "failed": 3, "max_concurrency": None})[0] == (
        "requests: 0 completed, 3 failed, in n/a s (request rate inf/s, concurrency unbounded)")
