"""`--perf-model auto|analytic|aiconfigurator`: which model produced the figures, and that outputs say so."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

HAS_AIC = importlib.util.find_spec("aiconfigurator_core") is not None
needs_aic = pytest.mark.skipif(not HAS_AIC, reason="aiconfigurator-core (the aiconfigurator extra) is not installed")

H100_8B = ("llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--engine", "vllm", "--concurrency", "16",
           "--input-tokens", "1024", "--output-tokens", "256")


def _perf(run, *args):
    result = run("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["performance"]


def test_analytic_is_named_in_json_and_table(run):
    perf = _perf(run, *H100_8B, "--perf-model", "analytic")
    assert perf["model"] == "analytic" and perf["model_note"] is None
    table = run("fit", *H100_8B, "--perf-model", "analytic")
    assert "performance model" in table.stdout and "analytic" in table.stdout


def test_auto_falls_back_to_analytic_where_aiconfigurator_has_no_data(run):
    perf = _perf(run, "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--perf-model", "auto")
    assert perf["model"] == "analytic"
    assert perf["decode_tokens_per_s"] > 0
    # why, where the extra is installed: it has no measurements for this GPU
    if HAS_AIC:
        assert "rtx-4090" in perf["model_note"]
    else:
        assert perf["model_note"] is None


def test_asking_for_aiconfigurator_where_it_cannot_serve_is_one_line_exit_2(run):
    result = run("fit", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m",
                 "--perf-model", "aiconfigurator")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --perf-model aiconfigurator: ")
    assert result.stderr.count("\n") == 1


def test_missing_package_is_named_with_the_install_command(run, monkeypatch):
    from llmplan.engines import aiconfigurator as aic

    monkeypatch.setattr(aic, "installed", lambda: False)
    result = run("fit", *H100_8B, "--perf-model", "aiconfigurator")
    assert result.exit_code == 2
    assert "pip install 'llmplan[aiconfigurator]'" in result.stderr
    auto = _perf(run, *H100_8B, "--perf-model", "auto")
    assert auto["model"] == "analytic" and auto["model_note"] is None


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
    # auto picks it where it covers the GPU, engine and model
    assert _perf(run, *H100_8B, "--perf-model", "auto")["model"] == "aiconfigurator"


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
    args = ("llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--engine", "vllm", "--context", "2048",
            "--sweep", "concurrency", "--format", "json")
    default = json.loads(run("fit", *args, "--perf-model", "auto").stdout)
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
        data / "max_throughput_rows.csv", catalog)
    kinds = {(r.source, r.metric) for r in results}
    assert kinds == {("serving", "out_tok_s_per_gpu"), ("serving", "tok_s_per_user"), ("serving", "ttft_s"),
                     ("max_throughput", "out_tok_s_per_gpu")}
    h200 = next(r for r in results if r.group.startswith("sglang 8xh200") and r.metric == "tok_s_per_user")
    assert h200.measured == 97.26
    assert all(r.aiconfigurator is not None and r.aiconfigurator > 0 for r in results)
    bench.report(results)
    out = capsys.readouterr().out
    assert "serving (all)" in out and "max_throughput (all)" in out
