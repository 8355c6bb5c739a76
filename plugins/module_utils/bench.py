# Copyright: stacked_sparks maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The serving benchmark of role vllm_serve (entry point benchmark): `vllm bench serve`'s command line from the
settings, and the summary of the JSON result it saves (--save-result). Pure functions."""

from __future__ import annotations

import math

DATASETS = ("random", "sharegpt")
RESULT_FILE = "result.json"


def check_rate(value):
    """vllm_serve_bench_request_rate: a number of requests per second above 0, or inf (all at once)."""
    text = str(value).strip().lower()
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if text != "inf" and not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"vllm_serve_bench_request_rate must be requests per second above 0, or inf, got {value!r}")
    return text


def bench_args(options):
    """The arguments of `vllm` for the benchmark. options: base_url (the API on the head), model (the served name),
    tokenizer (vllm_serve_model), dataset (random or sharegpt), dataset_path (in the container, sharegpt),
    input_len, output_len, num_prompts, request_rate, max_concurrency (0: unbounded), result_dir (in the
    container). ValueError naming the setting on a value vLLM would refuse late."""
    dataset = options["dataset"]
    if dataset not in DATASETS:
        raise ValueError(f"vllm_serve_bench_dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    if dataset == "sharegpt" and not options.get("dataset_path"):
        raise ValueError("vllm_serve_bench_dataset sharegpt needs vllm_serve_bench_dataset_path, the ShareGPT JSON "
                         "file on the head")
    args = ["bench", "serve", "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
            "--base-url", options["base_url"], "--model", options["model"], "--tokenizer", options["tokenizer"],
            "--dataset-name", dataset, "--num-prompts", str(options["num_prompts"]),
            "--request-rate", check_rate(options["request_rate"])]
    if dataset == "random":
        args += ["--random-input-len", str(options["input_len"]), "--random-output-len", str(options["output_len"])]
    else:
        args += ["--dataset-path", options["dataset_path"], "--sharegpt-output-len", str(options["output_len"])]
    if options.get("max_concurrency"):
        args += ["--max-concurrency", str(options["max_concurrency"])]
    return args + ["--save-result", "--result-dir", options["result_dir"], "--result-filename", RESULT_FILE]


def bench_summary(result):
    """Printable lines from the JSON that `vllm bench serve --save-result` wrote: the requests, output tokens/s,
    requests/s, TTFT and ITL median and p99."""
    def number(key, digits=2):
        value = result.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    concurrency = result.get("max_concurrency") or "unbounded"
    return [
        f"requests: {result.get('completed', 0)} completed, {result.get('failed', 0)} failed, in "
        f"{number('duration')} s (request rate {result.get('request_rate', 'inf')}/s, concurrency {concurrency})",
        f"output tokens/s: {number('output_throughput')}; requests/s: {number('request_throughput')}",
        f"TTFT ms: median {number('median_ttft_ms')}, p99 {number('p99_ttft_ms')}",
        f"ITL ms: median {number('median_itl_ms')}, p99 {number('p99_itl_ms')}",
    ]
