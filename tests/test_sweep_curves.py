"""The curve users buy on: throughput per GPU against tokens/s per user, as a table, JSON and a PNG."""

from __future__ import annotations

import json

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _json(run, *args):
    result = run("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_per_gpu_column_is_total_over_all_gpus_exactly(run):
    # 2 GPUs per replica x 2 replicas: the aggregate is over 4 GPUs
    data = _json(run, "llama-3.1-8b-instruct", "--gpu", "2xh100-sxm", "--replicas", "2", "--sweep", "concurrency")
    assert len(data["rows"]) > 3
    for row in data["rows"]:
        assert row["output_tokens_per_s_per_gpu"] == row["throughput_tokens_per_s"] / 4
    assert data["performance"]["model"] == "analytic"
    # interactivity falls and throughput per GPU rises as users are added
    first, last = data["rows"][0], data["rows"][-1]
    assert last["decode_tokens_per_s"] < first["decode_tokens_per_s"]
    assert last["output_tokens_per_s_per_gpu"] > first["output_tokens_per_s_per_gpu"]


def test_table_shows_per_user_and_per_gpu_columns(run):
    result = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--sweep", "concurrency")
    assert result.exit_code == 0, result.stderr
    assert "per user" in result.stdout and "per GPU" in result.stdout
    assert "analytic performance model" in result.stdout
    md = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--sweep", "concurrency", "--format", "markdown")
    assert "| tok/s per user | total tok/s | tok/s per GPU |" in md.stdout


def test_plot_one_line_per_engine_writes_a_png(run, tmp_path):
    png = tmp_path / "curve.png"
    result = run(
        "fit",
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--sweep",
        "concurrency",
        "-e",
        "vllm",
        "-e",
        "sglang",
        "--plot",
        png,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == PNG_MAGIC
    series = json.loads(result.stdout)["series"]
    assert [s["label"] for s in series] == ["vllm", "sglang"]
    assert [s["engine"] for s in series] == ["vllm", "sglang"]


def test_compare_layouts_draws_tensor_and_expert_parallel_for_moe(run, tmp_path):
    png = tmp_path / "layouts.png"
    data = _json(
        run, "qwen3-30b-a3b", "--gpu", "h100-sxm", "--sweep", "concurrency", "--compare-layouts", "--plot", png
    )
    labels = [s["label"] for s in data["series"]]
    assert "h100-sxm" in labels and "2x h100-sxm TP2" in labels and "2x h100-sxm EP2" in labels
    by_label = {s["label"]: s for s in data["series"]}
    assert by_label["2x h100-sxm EP2"]["expert_parallel"] is True
    assert by_label["2x h100-sxm EP2"]["gpu_count"] == 2
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_dense_model_compare_layouts_has_no_expert_parallel(run):
    data = _json(run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--sweep", "concurrency", "--compare-layouts")
    labels = [s["label"] for s in data["series"]]
    assert labels == ["h100-sxm", "2x h100-sxm TP2", "4x h100-sxm TP4", "8x h100-sxm TP8"]


def test_csv_of_several_series_has_a_series_column(run):
    result = run(
        "fit",
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--sweep",
        "concurrency",
        "-e",
        "vllm",
        "-e",
        "tensorrt-llm",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    assert "series" in header and "output_tokens_per_s_per_gpu" in header


def test_plot_and_repeated_engines_need_a_concurrency_sweep(run, tmp_path):
    cases = [
        ["-e", "vllm", "-e", "sglang"],
        ["--plot", str(tmp_path / "a.png")],
        ["--compare-layouts"],
        ["--sweep", "input-tokens", "--plot", str(tmp_path / "b.png")],
        ["--sweep", "concurrency", "--plot", str(tmp_path / "missing" / "c.png")],
    ]
    for extra in cases:
        result = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", *extra)
        assert result.exit_code == 2, extra
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
