"""`llmplan fit`, `models`, `gpus` through the CLI: JSON keys, verdicts, and one-line errors."""

from __future__ import annotations

import json

import pytest

REQUIRED_KEYS = [
    "model.id",
    "model.params",
    "model.active_params",
    "gpu.id",
    "gpu.count",
    "quant",
    "engine",
    "context",
    "concurrency",
    "memory.weights_bytes",
    "memory.kv_bytes_per_token",
    "memory.kv_cache_bytes",
    "memory.overhead_bytes",
    "memory.total_bytes",
    "memory.usable_bytes",
    "memory.state_bytes_per_sequence",
    "fits",
    "min_gpus",
    "max_context",
    "max_concurrency",
    "performance.decode_tokens_per_s",
    "performance.throughput_tokens_per_s",
    "performance.prefill_tokens_per_s",
    "performance.ttft_s",
    "performance.request_latency_s",
    "warnings",
]


def fit_json(run, *args):
    result = run("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _get(d, dotted):
    for part in dotted.split("."):
        d = d[part]
    return d


def test_json_has_the_documented_keys_with_integer_bytes(run):
    data = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m")
    for key in REQUIRED_KEYS:
        _get(data, key)
    for key in ("weights_bytes", "kv_cache_bytes", "overhead_bytes", "total_bytes", "usable_bytes"):
        assert isinstance(data["memory"][key], int)
    assert data["memory"]["kv_bytes_per_token"] == 131_072
    assert data["engine"] == "llama.cpp"  # GGUF formats default to llama.cpp


def test_seed_claim_70b_fp16_on_one_h100_does_not_fit(run):
    data = fit_json(run, "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "h100-sxm", "--quant", "bf16")
    assert data["fits"] is False
    assert data["memory"]["weights_bytes"] > data["memory"]["usable_bytes"]
    # two H100s hold the 65.7 GiB of weights per GPU, but vLLM's budget (0.9 x 79.22 GiB = 71.3 GiB) also holds
    # the profile run's ~4.8 GiB activation peak (llm-d's 70B start printed 4.84 GiB) and non-torch memory, which
    # leaves less than the 1.25 GiB an 8192-token sequence needs at TP2: four
    assert data["min_gpus"] == 4
    assert data["performance"]["decode_tokens_per_s"] is None
    text = " ".join(data["suggestions"])
    assert "4xh100-sxm" in text
    assert "quantize to" in text
    table = run("fit", "meta-llama/Llama-3.1-70B-Instruct", "--gpu", "h100-sxm", "--quant", "bf16")
    assert "DOES NOT FIT" in table.stdout
    assert "4x h100-sxm" in table.stdout


def test_kv_cache_is_context_times_concurrency(run):
    a = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--context", "4096", "--concurrency", "2")
    b = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--context", "8192", "--concurrency", "4")
    assert a["memory"]["kv_cache_bytes"] == 131_072 * 4096 * 2
    assert b["memory"]["kv_cache_bytes"] == 131_072 * 8192 * 4


def test_max_context_and_concurrency_are_consistent(run):
    data = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8", "--context", "8192")
    free = data["memory"]["usable_bytes"] - data["memory"]["weights_bytes"] - data["memory"]["overhead_bytes"]
    assert data["max_concurrency"] == free // (131_072 * 8192)
    assert data["max_context"] == min(free // 131_072, 131_072)


def test_tensor_parallel_splits_weights(run):
    one = fit_json(run, "qwen3-32b", "--gpu", "h100-sxm", "--quant", "fp8")
    two = fit_json(run, "qwen3-32b", "--gpu", "2xh100-sxm", "--quant", "fp8")
    assert two["gpu"]["count"] == 2
    assert abs(two["memory"]["weights_bytes"] * 2 - one["memory"]["weights_bytes"]) <= 2


def test_concurrency_max_reports_the_concurrency_it_used(run):
    data = fit_json(
        run,
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--quant",
        "fp8",
        "--concurrency",
        "max",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "1000",
        "--context",
        "2048",
    )
    assert data["concurrency_mode"] == "max"
    assert 1 < data["concurrency"] <= 256  # vLLM max_num_seqs
    assert data["fits"] is True


def test_markdown_and_table_render(run):
    md = run("fit", "qwen3-8b", "--gpu", "rtx-4090", "--format", "markdown")
    assert md.exit_code == 0 and md.stdout.startswith("## Qwen/Qwen3-8B")
    table = run("fit", "qwen3-8b", "--gpu", "rtx-4090")
    assert "Memory" in table.stdout and "decode speed" in table.stdout and "tokens/s" in table.stdout


def test_gguf_format_on_tgi_is_an_error_naming_engines(run):
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--quant", "q4_k_m", "--engine", "tgi")
    assert r.exit_code == 2
    assert "llama.cpp" in r.stderr and "ollama" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["no-such-model-xyz"], ["unknown model"]),
        (["llama-3.1-8b-instrct"], ["did you mean", "llama-3.1-8b-instruct"]),
        (["llama-3.1-8b-instruct", "--gpu", "h100-sxn"], ["unknown GPU", "h100-sxm"]),
        (["llama-3.1-8b-instruct", "--context", "-5"], ["context", "positive"]),
        (["llama-3.1-8b-instruct", "--concurrency", "many"], ["concurrency"]),
        (["llama-3.1-8b-instruct", "--concurrency", "0"], ["concurrency"]),
        (["llama-3.1-8b-instruct", "--quant", "q9_z"], ["unknown quantization format"]),
        (["llama-3.1-8b-instruct", "--quant", "awq", "--engine", "llama.cpp"], ["cannot run awq", "vllm"]),
        (
            ["llama-3.1-8b-instruct", "--quant", "nvfp4", "--gpu", "h100-sxm", "--engine", "tensorrt-llm"],
            ["nvfp4", "fp4 tensor cores", "vllm or sglang"],
        ),
        (["llama-3.1-8b-instruct", "--quant", "nvfp4", "--gpu", "t4"], ["nvfp4", "8.0+"]),
        (["llama-3.1-8b-instruct", "--engine", "warp-drive"], ["unknown engine"]),
        (["llama-3.1-8b-instruct", "--kv-dtype", "fp3"], ["KV cache dtype"]),
        (["llama-3.1-8b-instruct", "--gpu", "apple-m2-ultra", "--engine", "vllm"], ["does not run on"]),
    ],
)
def test_bad_input_is_one_line_exit_2(run, args, words):
    r = run("fit", *args)
    assert r.exit_code == 2, r.stdout
    assert "Traceback" not in r.stderr + r.stdout
    line = r.stderr.strip()
    assert "\n" not in line and line.startswith("error:")
    for w in words:
        assert w.lower() in line.lower()


def test_non_numeric_context_is_a_usage_error(run):
    r = run("fit", "llama-3.1-8b-instruct", "--context", "lots")
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr


def test_broken_catalog_file_names_file_entry_and_field(run, tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text(
        "gpus:\n  my-gpu:\n    name: X\n    vendor: nvidia\n    kind: datacenter\n"
        "    architecture: hopper\n    memory_type: hbm\n    memory_bytes: -1\n"
        "    memory_bandwidth_bytes_per_s: 1e12\n    interconnect: {kind: pcie, bandwidth_bytes_per_s: 1}\n"
        "    tdp_watts: 300\n    source: x\n    as_of: 2026-01-01\n"
    )
    r = run("fit", "llama-3.1-8b-instruct", "--prices", str(bad))
    assert r.exit_code == 2
    assert str(bad) in r.stderr and "my-gpu" in r.stderr and "memory_bytes" in r.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("gpus: [unclosed\n")
    r = run("gpus", "--prices", str(broken))
    assert r.exit_code == 2 and "invalid YAML" in r.stderr


def test_user_prices_merge_over_the_shipped_table(run, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "gpus:\n  lab-card:\n    name: Lab card\n    vendor: nvidia\n    kind: workstation\n"
        "    architecture: ada\n    compute_capability: '8.9'\n    memory_type: gddr\n"
        "    memory_bytes: 51539607552\n    memory_bandwidth_bytes_per_s: 9.6e11\n"
        "    bf16_flops: 3.6e14\n    interconnect: {kind: pcie, bandwidth_bytes_per_s: 3.2e10}\n"
        "    tdp_watts: 300\n    source: our lab\n    as_of: 2026-11-01\n"
    )
    r = run("fit", "qwen3-8b", "--gpu", "lab-card", "--prices", str(extra), "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["gpu"]["id"] == "lab-card"
    r = run("gpus", "--prices", str(extra), "--format", "json")
    ids = {g["id"] for g in json.loads(r.stdout)}
    assert "lab-card" in ids and "h100-sxm" in ids


def test_models_and_gpus_listings(run):
    r = run("models", "--format", "json")
    models = json.loads(r.stdout)
    assert len(models) >= 65
    ids = {m["id"] for m in models}
    for needed in (
        "meta-llama/Llama-2-7b-hf",
        "meta-llama/Llama-3.1-405B-Instruct",
        "mistralai/Mixtral-8x22B-Instruct-v0.1",
        "google/gemma-3-27b-it",
        "openai/gpt-oss-120b",
        "deepseek-ai/DeepSeek-R1",
        "tiiuae/falcon-40b",
    ):
        assert needed in ids
    r = run("models", "list", "qwen3", "--format", "json")
    assert all("qwen3" in (m["id"] + m["family"]).lower() for m in json.loads(r.stdout))
    r = run("models", "show", "gpt-oss-20b", "--format", "json")
    shown = json.loads(r.stdout)
    assert shown["native_quant"] == "mxfp4" and shown["layer_kinds"] == {"full": 12, "sliding": 12}
    r = run("gpus", "--format", "json")
    gpus = {g["id"]: g for g in json.loads(r.stdout)}
    assert len(gpus) >= 35
    for gid in (
        "h100-sxm",
        "h100-pcie",
        "h200",
        "b200",
        "b300",
        "gb200",
        "a100-80gb",
        "a100-40gb",
        "l40s",
        "l4",
        "a10g",
        "t4",
        "rtx-3090",
        "rtx-4090",
        "rtx-5090",
        "rtx-5080",
        "rtx-6000-ada",
        "rtx-pro-6000",
        "mi300x",
        "mi325x",
        "mi355x",
        "h20",
        "gaudi3",
        "dgx-spark",
        "strix-halo",
        "apple-m2-ultra",
        "apple-m3-max",
        "apple-m3-ultra",
        "apple-m4-max",
        "apple-m4-pro",
        "cpu-ddr5",
    ):
        assert gid in gpus, gid
        assert gpus[gid]["source"] and gpus[gid]["as_of"]
    assert gpus["apple-m2-ultra"]["gpu_memory_fraction"] < 1


def test_full_load_needs_room_for_one_full_context_sequence(run):
    data = fit_json(
        run,
        "qwen3.5-35b-a3b",
        "--gpu",
        "rtx-4090",
        "--engine",
        "vllm",
        "--quant",
        "awq",
        "--concurrency",
        "max",
        "--context",
        "262144",
    )
    assert data["max_concurrency"] == 0 and data["fits"] is False
    ok = fit_json(run, "qwen3-32b", "--gpu", "h100-sxm", "--quant", "fp8", "--concurrency", "max")
    assert ok["fits"] is True and ok["min_gpus"] == 1 and ok["concurrency"] > 1


@pytest.mark.parametrize(
    "args",
    [["--host-bandwidth-gbs", "nan"], ["--host-bandwidth-gbs", "-3"], ["--sweep", "concurrency", "--max-ttft-s", "-1"]],
)
def test_non_finite_or_negative_numbers_are_rejected(run, args):
    r = run("fit", "meta-llama/Llama-3.3-70B-Instruct", "--gpu", "rtx-5090", "--quant", "q4_k_m", *args)
    assert r.exit_code == 2 and r.stderr.startswith("error:")


def test_sweep_marks_rows_that_do_not_fit(run):
    data = json.loads(
        run(
            "fit",
            "llama-3.1-8b-instruct",
            "--gpu",
            "l4",
            "--quant",
            "fp8",
            "--sweep",
            "concurrency",
            "--max-ttft-s",
            "5",
            "--format",
            "json",
        ).stdout
    )
    assert all(row["fits"] for row in data["rows"])  # the concurrency sweep stops at what fits
    out = json.loads(
        run(
            "fit",
            "llama-3.1-8b-instruct",
            "--gpu",
            "l4",
            "--quant",
            "fp8",
            "--sweep",
            "input-tokens",
            "--format",
            "json",
        ).stdout
    )
    assert all(row["meets_target"] <= row["fits"] for row in out["rows"])


def test_console_script_errors_are_one_line_and_pipes_close_quietly(tmp_path):
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("llmplan", path=str(Path(sys.executable).parent)) or shutil.which("llmplan")
    if exe is None:
        pytest.skip("llmplan console script not installed")
    env = {**os.environ, "LLMPLAN_HOME": str(tmp_path)}
    r = subprocess.run([exe, "fit", "qwen3-8b", "--format", "xml"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error:")
    r = subprocess.run(
        f"'{exe}' compare qwen3-8b --gpu all --format csv | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
    )
    assert r.stderr == "" and r.stdout.startswith("option,")


@pytest.mark.parametrize(
    "spelled, canonical, gpu",
    [
        ("gptq_int4", "gptq-int4", "h100-sxm"),
        ("GPTQ-INT4", "gptq-int4", "h100-sxm"),
        ("bnb_nf4", "bnb-nf4", "h100-sxm"),
        ("q4-k-m", "q4_k_m", "rtx-4090"),
        ("Q4-K-M", "q4_k_m", "rtx-4090"),
        ("iq4-xs", "iq4_xs", "rtx-4090"),
        ("fp8-e4m3", "fp8", "h100-sxm"),
    ],
)
def test_quant_names_take_hyphens_and_underscores_alike(run, spelled, canonical, gpu):
    data = fit_json(run, "llama-3.1-8b-instruct", "--gpu", gpu, "--quant", spelled)
    assert data["quant"] == canonical


def test_default_context_covers_the_request(run):
    long = fit_json(
        run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--input-tokens", "8000", "--output-tokens", "1000"
    )
    assert long["context"] == 9000  # 8,000 + 1,000, not the default 8,192
    assert long["memory"]["kv_cache_bytes"] == 131_072 * 9000
    assert not any("exceed the context" in w for w in long["warnings"])
    short = fit_json(
        run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--input-tokens", "2000", "--output-tokens", "500"
    )
    assert short["context"] == 8192  # a smaller request keeps the default
    given = fit_json(
        run,
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--input-tokens",
        "8000",
        "--output-tokens",
        "1000",
        "--context",
        "4096",
    )
    assert given["context"] == 4096 and any("exceed the context" in w for w in given["warnings"])
