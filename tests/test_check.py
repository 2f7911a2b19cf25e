"""`llmplan check`: plans read the same from any directory, and a deployment that cannot run never passes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import TINY_CONFIG

EXAMPLES = Path(__file__).parents[1] / "examples"


def _check_json(run, *args):
    result = run("check", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return result, json.loads(result.stdout)


@pytest.mark.parametrize("written", ["../models/tiny", "./../models/tiny"])
def test_relative_model_path_is_read_from_the_plan_folder(run, tmp_path, monkeypatch, written):
    models = tmp_path / "repo" / "models" / "tiny"
    models.mkdir(parents=True)
    (models / "config.json").write_text(json.dumps(TINY_CONFIG))
    plans = tmp_path / "repo" / "plans"
    plans.mkdir()
    plan = plans / "plan.yaml"
    plan.write_text(
        "deployments:\n  - name: tiny\n"
        f"    model: {written}\n    gpu: l4\n    context: 1024\n    input_tokens: 100\n"
        "    output_tokens: 100\n    require:\n      fits: true\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the repository root nor the plan's folder
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 0, result.stdout
    estimate = data["deployments"][0]["estimate"]
    assert estimate["model"]["id"] == "tiny" and estimate["model"]["source"] == "local"
    # the same plan given by a relative path from another folder
    monkeypatch.chdir(tmp_path)
    result = run("check", "repo/plans/plan.yaml")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_missing_relative_model_names_the_path_it_looked_at(run, tmp_path):
    plan = tmp_path / "sub" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text("deployments:\n  - name: gone\n    model: ./no-such-folder/model.gguf\n    gpu: l4\n")
    result = run("check", str(plan))
    assert result.exit_code == 2
    assert str(tmp_path / "sub" / "no-such-folder") in result.stderr


def test_catalog_and_hub_ids_are_not_taken_for_paths(tmp_path):
    from llmplan.plans.check import PlanDeployment, resolve_relative_paths

    for model in ("llama-3.1-8b-instruct", "meta-llama/Llama-3.3-70B-Instruct"):
        plan = PlanDeployment(name="x", model=model)
        assert resolve_relative_paths(plan, tmp_path / "plan.yaml").model == model


def _plan(tmp_path, body: str) -> Path:
    plan = tmp_path / "plan.yaml"
    plan.write_text("deployments:\n" + body)
    return plan


def _limits(data, i=0):
    return {x["limit"]: x for x in data["deployments"][i]["limits"]}


def test_a_deployment_that_does_not_fit_fails_without_require(run, tmp_path):
    # 70B in bf16 is ~141 GB of weights; one L4 has 24 GB
    plan = _plan(tmp_path, "  - name: big\n    model: llama-3.3-70b-instruct\n    gpu: l4\n    quant: bf16\n")
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 1
    fits = _limits(data)["fits"]
    assert fits["passed"] is False and fits["actual"] is False and "require.fits: false" in fits["note"]
    table = run("check", str(plan))
    assert table.exit_code == 1 and "0/1 deployments pass" in table.stdout


def test_fits_false_accepts_a_deployment_that_does_not_fit(run, tmp_path):
    plan = _plan(
        tmp_path,
        "  - name: offload\n    model: llama-3.3-70b-instruct\n    gpu: rtx-4090\n"
        "    quant: q4_k_m\n    require:\n      fits: false\n",
    )
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 0, result.stdout
    assert data["deployments"][0]["estimate"]["fits"] is False


def test_request_longer_than_the_context_fails(run, tmp_path):
    plan = _plan(
        tmp_path,
        "  - name: long\n    model: llama-3.1-8b-instruct\n    gpu: h100-sxm\n"
        "    context: 4096\n    input_tokens: 4000\n    output_tokens: 500\n",
    )
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 1
    limit = _limits(data)["max_request_tokens"]
    assert (limit["actual"], limit["required"], limit["passed"]) == (4500, 4096, False)  # 4000 + 500 > 4096
    assert _limits(data)["fits"]["passed"] is True  # it fits: the request is what cannot run


def test_context_beyond_the_model_maximum_fails(run, tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))  # max_position_embeddings 2048
    plan = _plan(
        tmp_path,
        "  - name: tiny\n    model: ./tiny\n    gpu: h100-sxm\n    context: 4096\n"
        "    input_tokens: 100\n    output_tokens: 100\n",
    )
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 1
    limit = _limits(data)["max_context"]
    assert (limit["actual"], limit["required"], limit["passed"]) == (4096, 2048, False)
    assert "max_position_embeddings" in limit["note"]


def test_every_warning_of_the_json_is_in_the_table_and_github_and_junit(run, tmp_path):
    # fp8 on an A100 (no fp8 math) runs weight-only in vLLM: a warning
    plan = _plan(
        tmp_path,
        "  - name: warned\n    model: llama-3.1-8b-instruct\n    gpu: a100-80gb\n    quant: fp8\n    engine: vllm\n",
    )
    result, data = _check_json(run, str(plan))
    warnings = data["deployments"][0]["warnings"]
    assert warnings and warnings == data["deployments"][0]["estimate"]["warnings"]
    wide = {"COLUMNS": "1000"}
    table = run("check", str(plan), env=wide).stdout
    github = run("check", str(plan), "--format", "github").stdout
    junit = ET.fromstring(run("check", str(plan), "--format", "junit").stdout)
    system_out = junit.find(".//system-out").text
    for w in warnings:
        assert f"warning warned: {w}" in table
        assert f"::warning file={plan},line=2,title=llmplan check::warned: {w}" in github
        assert f"warning: {w}" in system_out


def test_junit_has_one_failure_per_test_case_with_every_reason(run):
    x = run("check", str(EXAMPLES / "plans" / "failing.yaml"), "--format", "junit")
    assert x.exit_code == 1
    case = ET.fromstring(x.stdout).find("testcase")
    failures = case.findall("failure")
    assert len(failures) == 1
    text = failures[0].get("message") + failures[0].text
    assert "fits" in text and "min_decode_tokens_per_s" in text


def test_check_prices_a_deployment_as_breakeven_does(run):
    """rag-70b-2xh100: 2 H100 x $2.50 x 730 h = $3,650; 10 h x $100 = $1,000; monitoring, breakeven's default
    $100..200, base $150: $4,800 a month in both commands (check said $4,650, leaving monitoring out)."""
    _, data = _check_json(run, str(EXAMPLES / "plans" / "passing.yaml"))
    check_cost = {d["name"]: d for d in data["deployments"]}["rag-70b-2xh100"]["cost"]["monthly_cost_usd"]
    be = run(
        "breakeven",
        "meta-llama/Llama-3.3-70B-Instruct",
        "--gpu",
        "2xh100-sxm",
        "--quant",
        "fp8",
        "--engine",
        "vllm",
        "--requests-per-day",
        "20000",
        "--input-tokens",
        "4000",
        "--output-tokens",
        "500",
        "--gpu-hourly-usd",
        "2.5",
        "--engineering-hours",
        "10",
        "--api",
        "openai/gpt-4o-mini",
        "--format",
        "json",
    )
    assert be.exit_code == 0, be.stderr
    assert check_cost == json.loads(be.stdout)["self_hosted"]["monthly_cost_usd"] == 4800.0


def test_check_and_breakeven_share_one_set_of_defaults():
    from llmplan.core import cost as C
    from llmplan.plans.breakeven import SelfHostTerms

    terms = SelfHostTerms()
    assert (terms.monitoring_usd.low, terms.monitoring_usd.high) == C.DEFAULT_MONITORING_USD_PER_MONTH
    assert (terms.engineering_hours.low, terms.engineering_hours.high) == C.DEFAULT_ENGINEERING_HOURS_PER_MONTH
