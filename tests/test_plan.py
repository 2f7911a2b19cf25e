"""`llmplan plan`: the cheapest deployment meeting a workload's targets, and what it promises."""

from __future__ import annotations

import json
import shlex

import jsonschema
import pytest

EIGHT_B = (
    "plan",
    "meta-llama/Llama-3.1-8B-Instruct",
    "--requests-per-s",
    "5",
    "--input-tokens",
    "1024",
    "--output-tokens",
    "256",
)
FEW_GPUS = ("--gpu", "l4", "--gpu", "l40s", "--gpu", "h100-sxm", "--gpu", "rtx-4090")


def _plan(run, *args, code=0):
    result = run(*args, "--format", "json")
    assert result.exit_code == code, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def targeted(catalog):
    """The issue's example: 5 requests/s of 1,024 in / 256 out, TTFT <= 1 s and >= 30 tokens/s per user."""
    from llmplan.models.sources import resolve_model
    from llmplan.plans.breakeven import SelfHostTerms
    from llmplan.plans.planner import PlanInputs, plan

    inputs = PlanInputs(
        peak_requests_per_s=10,
        average_requests_per_s=5,
        input_tokens=1024,
        output_tokens=256,
        max_ttft_s=1.0,
        min_tokens_per_s=30.0,
        top=10,
    )
    return plan(catalog, resolve_model("meta-llama/Llama-3.1-8B-Instruct", catalog), inputs, SelfHostTerms())


def test_options_are_ranked_by_cost_and_meet_every_target(targeted):
    costs = [o.usd_per_month for o in targeted.options]
    assert costs == sorted(costs) and len(costs) == 10
    for o in targeted.options:
        assert o.ttft_s <= 1.0 and o.decode_tokens_per_s >= 30.0
        assert o.bound_by in ("memory", "max_ttft_s", "min_tokens_per_s", "rate")
        assert all(b.usd_per_month >= o.usd_per_month and b.gpu == o.gpu for b in o.beat)
        assert o.total_gpus == o.layout.replicas * o.gpus_per_replica
        assert o.usd_per_month == pytest.approx(o.gpu_usd_per_month + 1500 + 150, abs=0.02)  # breakeven defaults


def test_the_winner_rerun_through_fit_meets_both_targets(run, targeted):
    win = targeted.options[0]
    argv = shlex.split(win.fit_command)
    assert argv[:2] == ["llmplan", "fit"]
    data = json.loads(run(*argv[1:], "--format", "json").stdout)
    assert data["fits"] is True
    assert data["performance"]["ttft_s"] <= 1.0 and data["performance"]["decode_tokens_per_s"] >= 30.0
    assert data["performance"]["ttft_s"] == pytest.approx(win.ttft_s, rel=1e-3)


def test_a_tighter_target_never_lowers_the_cost(run):
    costs = []
    for ttft in ("5", "1", "0.3"):
        data = _plan(run, *EIGHT_B, *FEW_GPUS, "--max-ttft-s", ttft, "--min-tokens-per-s", "20")
        costs.append(data["options"][0]["usd_per_month"])
    assert costs == sorted(costs)


def test_more_traffic_never_needs_fewer_gpus(run):
    gpus = []
    for rate in ("1", "5", "25", "100"):
        data = _plan(
            run,
            "plan",
            "llama-3.1-8b-instruct",
            "--requests-per-s",
            rate,
            "--input-tokens",
            "1024",
            "--output-tokens",
            "256",
            "--max-ttft-s",
            "2",
            *FEW_GPUS,
        )
        gpus.append(data["options"][0]["total_gpus"])
    assert gpus == sorted(gpus) and gpus[-1] > gpus[0]


def test_json_follows_its_documented_schema(run):
    data = _plan(run, *EIGHT_B, *FEW_GPUS)
    schema = json.loads(run("schema", "plan").stdout)
    jsonschema.validate(data, schema)
    assert data["options"][0]["fit_command"].startswith("llmplan fit meta-llama/Llama-3.1-8B-Instruct --gpu ")


def test_the_yaml_winner_passes_check(run, tmp_path):
    result = run(*EIGHT_B, *FEW_GPUS, "--max-ttft-s", "1", "--min-tokens-per-s", "30", "--format", "yaml")
    assert result.exit_code == 0, result.stderr
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(result.stdout)
    checked = run("check", str(plan_file), "--format", "json")
    assert checked.exit_code == 0, checked.stdout
    limits = {x["limit"] for x in json.loads(checked.stdout)["deployments"][0]["limits"]}
    assert {"fits", "max_ttft_s", "min_decode_tokens_per_s"} <= limits


def test_moe_plans_offer_expert_parallel_layouts_that_check_accepts(run, tmp_path):
    data = _plan(
        run,
        "plan",
        "qwen3-30b-a3b",
        "--requests-per-s",
        "20",
        "--input-tokens",
        "1024",
        "--output-tokens",
        "256",
        "--gpu",
        "h100-sxm",
        "--quant",
        "fp8",
        "--top",
        "40",
    )
    layouts = {(o["layout"]["ep"] > 1, o["layout"]["dp_attention"]) for o in data["options"]}
    assert (True, True) in layouts and (False, False) in layouts
    dp = next(o for o in data["options"] if o["layout"]["dp_attention"])
    assert "--expert-parallel --dp-attention" in dp["fit_command"]


def test_no_option_is_an_answer_with_the_binding_target(run):
    result = run(*EIGHT_B, *FEW_GPUS, "--max-ttft-s", "0.001", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["options"] == [] and data["binding"] == ["max_ttft_s"]
    assert data["closest"] is not None and data["closest"]["ttft_s"] > 0.001
    broke = _plan(run, *EIGHT_B, *FEW_GPUS, "--max-monthly-cost-usd", "100", code=1)
    assert broke["binding"] == ["max_monthly_cost_usd"]


@pytest.mark.parametrize(
    "args,words",
    [
        (("--requests-per-s", "0"), "--requests-per-s must be positive"),
        (("--requests-per-day", "1000"), "not both"),
        (("--gpu", "h900"), "unknown GPU"),
        (("--engine", "turbo"), "unknown engine"),
        (("--max-ttft-s", "-1"), "--max-ttft-s must be greater than 0"),
        (("--quant", "int3"), "unknown quantization format"),
    ],
)
def test_bad_input_is_one_line_exit_2(run, args, words):
    result = run(*EIGHT_B, *args)
    assert result.exit_code == 2, result.stdout
    assert words in result.stderr and result.stderr.count("\n") == 1


def test_pareto_plot_is_written(run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "pareto.png"
    result = run(*EIGHT_B, *FEW_GPUS, "--min-tokens-per-s", "20", "--plot", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


TWO_TYPES = """gpus:
  test-small:
    name: Test small 4.5 GiB
    vendor: nvidia
    kind: datacenter
    memory_type: gddr
    architecture: ada
    compute_capability: '8.9'
    memory_bytes: 4831838208
    memory_bandwidth_bytes_per_s: 1.0e+12
    bf16_flops: 1.65e+14
    fp8_flops: 2.4e+14
    int8_ops: 2.4e+14
    interconnect: {kind: nvlink, bandwidth_bytes_per_s: 4.5e+11}
    tdp_watts: 72
    rental:
    - {provider: test, tier: on_demand, usd_per_gpu_hour: 0.1, source: made up for this test, as_of: 2026-12-01}
    source: made up for this test
    as_of: 2026-12-01
  test-big:
    name: Test big 80 GiB
    vendor: nvidia
    kind: datacenter
    memory_type: hbm
    architecture: hopper
    compute_capability: '9.0'
    memory_bytes: 85899345920
    memory_bandwidth_bytes_per_s: 3.35e+12
    bf16_flops: 9.894e+14
    fp8_flops: 1.9789e+15
    int8_ops: 1.9789e+15
    interconnect: {kind: nvlink, bandwidth_bytes_per_s: 4.5e+11}
    tdp_watts: 700
    rental:
    - {provider: test, tier: on_demand, usd_per_gpu_hour: 4.0, source: made up for this test, as_of: 2026-12-01}
    source: made up for this test
    as_of: 2026-12-01
"""


def test_request_classes_on_their_own_pools_win_and_add_up(run, tmp_path):
    # Two GPU types made for the test: 8B in bf16 is 16 GB; a long-document request (127k tokens of prompt)
    # adds 16.7 GB of cache, so even eight 4.5 GiB cards (4.35 GB usable each, less the engine's own overhead)
    # cannot hold one, while the big 80 GiB card can; chat requests fit eight small cards, at $0.10 an hour
    # each against $4.00 for the big one. At 350,000 requests a day the long documents keep six big cards
    # busy, and chat on a pool of small cards costs less than the seventh big card a single pool would need.
    prices = tmp_path / "two.yaml"
    prices.write_text(TWO_TYPES)
    workload = tmp_path / "classes.yaml"
    workload.write_text(
        "workload:\n  requests_per_day: 350000\n  classes:\n"
        "    - {name: chat, share: 0.95, input_tokens: 1000, output_tokens: 200}\n"
        "    - {name: long-docs, share: 0.05, input_tokens: 127000, output_tokens: 500}\n"
    )
    data = _plan(
        run,
        "plan",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--workload",
        str(workload),
        "--prices",
        str(prices),
        "--gpu",
        "test-small",
        "--gpu",
        "test-big",
        "--quant",
        "bf16",
        "--engine",
        "vllm",
    )
    best = data["options"][0]
    pools = {p["classes"][0]: p for p in best["pools"]}
    assert set(pools) == {"chat", "long-docs"}
    assert pools["chat"]["gpu"] == "test-small" and pools["long-docs"]["gpu"] == "test-big"
    singles = [o for o in data["options"] if len(o["pools"]) == 1]
    assert singles and all(o["usd_per_month"] > best["usd_per_month"] for o in singles)
    # each pool is its GPUs x the hourly price x 730 hours; the option adds engineering (15 h x $100) and
    # monitoring ($150) once
    hourly = {"test-small": 0.1, "test-big": 4.0}
    for p in best["pools"]:
        assert p["usd_per_month"] == pytest.approx(p["total_gpus"] * hourly[p["gpu"]] * 730, abs=0.01)
    assert best["total_gpus"] == sum(p["total_gpus"] for p in best["pools"])
    assert best["usd_per_month"] == pytest.approx(sum(p["usd_per_month"] for p in best["pools"]) + 1500 + 150, abs=0.02)


def test_class_shares_must_sum_to_one(run, tmp_path):
    workload = tmp_path / "classes.yaml"
    workload.write_text(
        "workload:\n  requests_per_day: 1000\n  classes:\n"
        "    - {name: a, share: 0.5, input_tokens: 100, output_tokens: 100}\n"
        "    - {name: b, share: 0.3, input_tokens: 100, output_tokens: 100}\n"
    )
    result = run("plan", "llama-3.1-8b-instruct", "--workload", str(workload))
    assert result.exit_code == 2 and "shares sum to 0.8, not 1" in result.stderr
