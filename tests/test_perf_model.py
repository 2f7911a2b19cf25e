"""`--perf-model analytic|aiconfigurator`: one model per run, in every command, and outputs that say which."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

HAS_AIC = any(importlib.util.find_spec(p) is not None for p in ("aiconfigurator_core", "aisimulate_core"))
needs_aic = pytest.mark.skipif(not HAS_AIC, reason="aiconfigurator-core (the aiconfigurator extra) is not installed")

H100_8B = (
    "llama-3.1-8b-instruct",
    "--gpu",
    "h100-sxm",
    "--engine",
    "vllm",
    "--concurrency",
    "16",
    "--input-tokens",
    "1024",
    "--output-tokens",
    "256",
)


def _perf(run, *args):
    result = run("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_analytic_is_named_in_json_and_table_with_its_curve(run):
    perf = _perf(run, *H100_8B, "--perf-model", "analytic")
    assert perf["model"] == "analytic" and perf["model_note"] == "step model on measured kernels: h100-sxm bf16 GEMM"
    table = run("fit", *H100_8B, "--perf-model", "analytic")
    assert "performance model" in table.stdout and "analytic" in table.stdout
    gguf = _perf(run, "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m")
    assert gguf["model_note"] == "llama.cpp kernels: fitted efficiencies for consumer devices"


def test_default_is_analytic_whatever_is_installed(run, monkeypatch):
    monkeypatch.delenv("LLMPLAN_PERF_MODEL", raising=False)
    assert _perf(run, *H100_8B)["model"] == "analytic"


def test_old_auto_is_read_as_analytic_with_one_note(run):
    result = run("fit", *H100_8B, "--perf-model", "auto", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["performance"]["model"] == "analytic"
    assert (
        result.stderr == "note: --perf-model auto is gone: every command now uses one model per run; using analytic\n"
    )
    bad = run("fit", *H100_8B, "--perf-model", "magic")
    assert bad.exit_code == 2 and "choose analytic or aiconfigurator" in bad.stderr


def test_fit_and_check_agree_on_one_deployment(run, tmp_path):
    # examples/plans/passing.yaml's chat-8b-l40s: the CI gate judges the figures fit shows
    from pathlib import Path

    plan = Path(__file__).resolve().parents[1] / "examples" / "plans" / "passing.yaml"
    checked = json.loads(run("check", str(plan), "--format", "json").stdout)
    entry = next(d for d in checked["deployments"] if d["name"] == "chat-8b-l40s")
    est = entry["estimate"]
    fitted = _perf(
        run,
        est["model"]["id"],
        "--gpu",
        f"{est['gpu']['count']}x{est['gpu']['id']}",
        "--quant",
        est["quant"],
        "--engine",
        est["engine"],
        "--context",
        est["context"],
        "--concurrency",
        est["concurrency"],
        "--input-tokens",
        est["input_tokens"],
        "--output-tokens",
        est["output_tokens"],
    )
    assert fitted["ttft_s"] == est["performance"]["ttft_s"]
    assert fitted["decode_tokens_per_s"] == est["performance"]["decode_tokens_per_s"]


@pytest.mark.parametrize(
    "command",
    [
        ("compare", "llama-3.1-8b-instruct", "--gpu", "l40s", "--format", "json"),
        ("breakeven", "llama-3.1-8b-instruct", "--gpu", "l40s", "--requests-per-day", "10000", "--format", "json"),
    ],
)
def test_every_command_takes_the_perf_model(run, command):
    ok = run(*command, "--perf-model", "analytic")
    assert ok.exit_code == 0, ok.stderr
    bad = run(*command, "--perf-model", "magic")
    assert bad.exit_code == 2 and "choose analytic or aiconfigurator" in bad.stderr


def test_asking_for_aiconfigurator_where_it_cannot_serve_is_one_line_exit_2(run):
    result = run(
        "fit", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--perf-model", "aiconfigurator"
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --perf-model aiconfigurator: ")
    assert result.stderr.count("\n") == 1


def test_missing_package_is_named_with_the_install_command(run, monkeypatch):
    from llmplan.engines import aiconfigurator as aic

    monkeypatch.setattr(aic, "installed", lambda: False)
    result = run("fit", *H100_8B, "--perf-model", "aiconfigurator")
    assert result.exit_code == 2
    assert "pip install 'llmplan[aiconfigurator]'" in result.stderr
    # compare keeps the row, with the analytic figures and the reason
    rows = json.loads(
        run(
            "compare",
            "llama-3.1-8b-instruct",
            "--gpu",
            "h100-sxm",
            "--perf-model",
            "aiconfigurator",
            "--format",
            "json",
        ).stdout
    )
    assert rows[0]["performance"]["model"] == "analytic"
    assert "not installed" in rows[0]["performance"]["model_note"]


def test_cli_start_does_not_import_aiconfigurator():
    code = "import sys, llmplan.cli; print('aiconfigurator_core' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_aic
def test_aiconfigurator_estimate_is_used_and_named(run):
    analytic = _perf(run, *H100_8B, "--perf-model", "analytic")
    aic = _perf(run, *H100_8B, "--perf-model", "aiconfigurator")
    assert aic["model"] == "aiconfigurator"
    assert "vllm" in aic["model_note"] and "h100_sxm" in aic["model_note"]
    # its own figures, not the analytic ones, and physically sensible for an 8B on an H100 at 16 users
    assert aic["decode_tokens_per_s"] != analytic["decode_tokens_per_s"]
    assert 30 < aic["decode_tokens_per_s"] < 400
    assert 0.005 < aic["ttft_s"] < 2
    assert aic["throughput_tokens_per_s"] == pytest.approx(16 * aic["decode_tokens_per_s"], rel=0.25)


@needs_aic
def test_aiconfigurator_idle_attention_ranks_produce_nothing(catalog):
    # issue 22: 4 users on 8 attention-DP ranks came out as 8 users' worth of tokens
    from llmplan.engines import aiconfigurator as aic
    from llmplan.plans.deploy import build_deployment

    dep, resolved = build_deployment(
        catalog,
        "deepseek-ai/DeepSeek-R1",
        gpu="8xb200",
        quant="nvfp4",
        engine="sglang",
        expert_parallel=True,
        dp_attention=True,
        concurrency=4,
        input_tokens=1024,
        output_tokens=1024,
    )
    config = resolved.entry.config
    four = aic.estimate(dep, config, 4)
    eight = aic.estimate(dep, config, 8)
    assert four.throughput_tokens_per_s <= 4 * four.decode_tokens_per_s * 1.01
    assert eight.throughput_tokens_per_s > four.throughput_tokens_per_s


@needs_aic
def test_aiconfigurator_coverage_rules(catalog):
    from llmplan.engines import aiconfigurator as aic
    from llmplan.plans.deploy import build_deployment

    def reason(**kw):
        dep, resolved = build_deployment(catalog, kw.pop("model", "meta-llama/Llama-3.1-8B-Instruct"), **kw)
        return aic.coverage(dep, resolved.entry.config if resolved.entry else None)

    assert reason(gpu="h100-sxm", engine="vllm") is None
    assert reason(gpu="4xb200", engine="tensorrt-llm", quant="nvfp4") is None
    assert "rtx-4090" in reason(gpu="rtx-4090", engine="vllm")
    assert "tgi" in reason(gpu="h100-sxm", engine="tgi")
    assert "awq" in reason(gpu="h100-sxm", engine="vllm", quant="awq")


@needs_aic
def test_sweep_uses_aiconfigurator_only_when_named(run):
    args = (
        "llama-3.1-8b-instruct",
        "--gpu",
        "h100-sxm",
        "--engine",
        "vllm",
        "--context",
        "2048",
        "--sweep",
        "concurrency",
        "--format",
        "json",
    )
    default = json.loads(run("fit", *args, "--perf-model", "analytic").stdout)
    assert default["performance"]["model"] == "analytic"
    named = run("fit", *args, "--perf-model", "aiconfigurator")
    assert named.exit_code == 0, named.stderr
    data = json.loads(named.stdout)
    assert data["performance"]["model"] == "aiconfigurator"
    assert [r["concurrency"] for r in data["rows"]] == [r["concurrency"] for r in default["rows"]]
    assert data["rows"][0]["decode_tokens_per_s"] != default["rows"][0]["decode_tokens_per_s"]


@needs_aic
def test_comparison_benchmark_runs_on_sample_rows(catalog, capsys, monkeypatch):
    """benchmarks/aiconfigurator_vs_llmplan.py keeps working as the analytic model changes."""
    import importlib.util as iu
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = iu.spec_from_file_location("aic_vs", root / "benchmarks" / "aiconfigurator_vs_llmplan.py")
    bench = iu.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "aic_vs", bench)  # dataclasses look their module up there
    spec.loader.exec_module(bench)
    data = root / "tests" / "data" / "aiconfigurator"
    rows = bench.latest_serving_rows(data / "serving_rows.csv")
    results = bench.compare_serving(rows, catalog) + bench.compare_max_throughput(
        data / "max_throughput_rows.csv", catalog
    )
    kinds = {(r.source, r.metric) for r in results}
    assert kinds == {
        ("serving", "out_tok_s_per_gpu"),
        ("serving", "tok_s_per_user"),
        ("serving", "ttft_s"),
        ("max_throughput", "out_tok_s_per_gpu"),
    }
    h200 = next(r for r in results if r.group.startswith("sglang 8xh200") and r.metric == "tok_s_per_user")
    assert h200.measured == 97.26
    assert all(r.aiconfigurator is not None and r.aiconfigurator > 0 for r in results)
    bench.report(results)
    out = capsys.readouterr().out
    assert "serving (all)" in out and "max_throughput (all)" in out
