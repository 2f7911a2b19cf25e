"""Cost arithmetic on hand-computed cases, breakeven properties, the seed example, check and compare."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from llmplan.core import cost as C

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def test_month_is_730_hours_for_tokens_too():
    # 100,000 requests/day x 500 tokens over 730/24 = 30.4167 days
    assert float(C.monthly_tokens(100_000, 500)) == pytest.approx(100_000 * 500 * 730 / 24)
    assert float(C.monthly_tokens(100_000, 500)) == pytest.approx(1.5208e9, rel=1e-4)


def test_api_cost_by_hand():
    # gpt-4o-mini: 1.5208 B in x $0.15 + 1.5208 B out x $0.60 = $228.1 + $912.5 = $1,140.6
    monthly = float(C.api_monthly_cost_usd(100_000, 500, 500, 0.15, 0.60))
    assert monthly == pytest.approx(1140.625, rel=1e-6)
    # half the prompt cached at $0.075, and 40% of the traffic in a 50%-off batch API
    cached = float(
        C.api_monthly_cost_usd(
            100_000, 500, 500, 0.15, 0.60, 0.075, cacheable_share=0.5, batch_share=0.4, batch_discount=0.5
        )
    )
    assert cached == pytest.approx((1520.833 * (0.5 * 0.15 + 0.5 * 0.075) + 1520.833 * 0.60) * 0.8, rel=1e-5)


def test_rent_own_power_engineering_by_hand():
    assert float(C.rent_monthly_usd(2, 2.5)) == 3650.0
    terms = C.OwnershipTerms(
        years=3, usd_per_kwh=0.13, pue=1.4, server_power_share=0.5, server_capex_share=0.25, power_utilization=0.7
    )
    # one H100: 0.7 kW x 0.7 x 1.5 x 1.4 x 730 h x $0.13 = $97.65 power; $30,000 x 1.25 / 36 = $1,041.67
    assert float(C.power_monthly_usd(1, 700, terms)) == pytest.approx(0.7 * 0.7 * 1.5 * 1.4 * 730 * 0.13)
    assert float(C.own_monthly_usd(1, 30_000, 700, terms)) == pytest.approx(30_000 * 1.25 / 36 + 97.6521, rel=1e-5)
    assert float(C.engineering_monthly_usd(15, 100)) == 1500.0
    assert float(C.usd_per_mtok(3000, 3e9)) == pytest.approx(1.0)
    # $10/h at 1,000 output tokens/s, 3 input tokens per output token: 14.4 M tokens an hour -> $0.694/Mtok
    assert float(C.full_load_usd_per_mtok(10, 1000, 3000, 1000)) == pytest.approx(10 / 14.4)


def test_breakeven_steps_by_hand():
    # fixed $2,000, $3,000 per replica serving 100,000 req/day, API $0.05 per (req/day) a month:
    # one replica: $5,000 = 0.05 V -> V = 100,000 (exactly its capacity)
    assert C.breakeven_requests_per_day(0.05, 2000, 3000, 100_000) == pytest.approx(100_000)
    # cheaper API: one replica never pays off within its capacity, two replicas: $8,000 = 0.04 V = 200,000
    assert C.breakeven_requests_per_day(0.04, 2000, 3000, 100_000) == pytest.approx(200_000)
    # the API is cheaper than any replica's marginal cost: never
    assert C.breakeven_requests_per_day(0.01, 2000, 3000, 100_000) is None


def test_api_cost_by_hand_and_breakeven_monotone_in_gpu_price():
    # 1,000 requests/day x 30.4167 days x (500 x $0.15 + 500 x $0.60) per million = 30,416.7 x 0.000375 = $11.41
    vol = np.array([1e3, 1e4, 1e5, 1e6])
    api = C.api_monthly_cost_usd(vol, 500, 500, 0.15, 0.6)
    assert api == pytest.approx(vol * 730 / 24 * 0.000375)
    assert float(C.rent_monthly_usd(2, 2.5)) == pytest.approx(2 * 2.5 * 730)  # $3,650
    prev = 0.0
    for hourly in (1.0, 2.0, 3.0, 4.0):
        be = C.breakeven_requests_per_day(0.05, 1500, float(C.rent_monthly_usd(2, hourly)), 100_000)
        be = float("inf") if be is None else be
        assert be >= prev
        prev = be


def test_seed_example_runs_and_explains(run):
    r = run("breakeven", "--workload", str(EXAMPLES / "seed-breakeven.yaml"), "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    w, s = data["workload"], data["self_hosted"]
    assert w["month_hours"] == 730
    assert w["monthly_input_tokens"] == pytest.approx(1.5208e9, rel=1e-4)
    assert s["gpu_hourly_usd"] == 2.5 and s["gpu"] == "h100-sxm"
    assert s["engineering_monthly_usd"] == 1500.0  # midpoint of 10..20 h at $100
    assert s["monthly_cost_usd"] == pytest.approx(s["gpu_monthly_usd"] + 1500 + 150)
    assert s["gpu_monthly_usd"] == pytest.approx(s["gpus"] * 2.5 * 730)
    assert s["monthly_cost_low_usd"] <= s["monthly_cost_usd"] <= s["monthly_cost_high_usd"]
    assert 0 < s["utilization"] <= 1
    ids = [a["id"] for a in data["apis"]]
    assert ids == ["openai/gpt-4o-mini", "google/gemini-2.5-flash-lite"]
    mini = data["apis"][0]
    assert mini["monthly_cost_usd"] == pytest.approx(1140.625, abs=0.01)
    for key in ("requests_per_day", "input_tokens", "output_tokens"):
        assert key in w
    assert data["verdict"]
    md = run("breakeven", "--workload", str(EXAMPLES / "seed-breakeven.yaml"), "--format", "markdown")
    assert md.stdout.startswith("# Self-hosting") and "| openai/gpt-4o-mini |" in md.stdout


def test_breakeven_flags_ranges_plot_and_price_age(run, tmp_path):
    png = tmp_path / "cost.png"
    r = run(
        "breakeven",
        "qwen3-8b",
        "--gpu",
        "l4",
        "--quant",
        "fp8",
        "--requests-per-day",
        "20000",
        "--input-tokens",
        "800",
        "--output-tokens",
        "200",
        "--api",
        "openai/gpt-4o-mini",
        "--api",
        "openai/gpt-4o",
        "--gpu-hourly-usd",
        "0.7..0.9",
        "--engineering-hours",
        "5..10",
        "--engineering-rate-usd",
        "120",
        "--max-price-age-days",
        "0",
        "--plot",
        str(png),
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("days old" in w for w in data["warnings"])
    wins = {a["id"]: a["self_hosted_wins_share"] for a in data["apis"]}
    assert wins["openai/gpt-4o"] >= wins["openai/gpt-4o-mini"]
    bad = run("breakeven", "qwen3-8b", "--requests-per-day", "1000", "--engineering-hours", "20..10")
    assert bad.exit_code == 2 and "Traceback" not in bad.stderr


def test_check_examples_exit_codes_and_formats(run, tmp_path):
    ok = run("check", str(EXAMPLES / "plans" / "passing.yaml"))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert "2/2 deployments pass" in ok.stdout
    bad = run("check", str(EXAMPLES / "plans" / "failing.yaml"), "--format", "github")
    assert bad.exit_code == 1
    assert f"::error file={EXAMPLES / 'plans' / 'failing.yaml'},line=4" in bad.stdout
    j = run("check", str(EXAMPLES / "plans"), "--format", "json")
    assert j.exit_code == 1
    data = json.loads(j.stdout)
    names = {d["name"]: d for d in data["deployments"]}
    assert names["llama-70b-fp16-one-h100"]["passed"] is False
    assert names["chat-8b-l40s"]["estimate"]["memory"]["kv_bytes_per_token"] == 131_072
    assert names["rag-70b-2xh100"]["cost"]["monthly_cost_usd"] > 0
    x = run("check", str(EXAMPLES / "plans"), "--format", "junit")
    suite = ET.fromstring(x.stdout)
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    assert len(suite.findall(".//failure")) == 1  # one per failing deployment, every reason in it


def test_check_invalid_plan_names_file_line_field(run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("deployments:\n  - name: a\n    model: qwen3-8b\n    context: -5\n")
    r = run("check", str(plan))
    assert r.exit_code == 2
    assert f"{plan}:4:" in r.stderr and "'context'" in r.stderr and "Traceback" not in r.stderr
    plan.write_text("deployments:\n  - name: a\n    model: qwen3-8b\n    gpu: h100-sxn\n")
    r = run("check", str(plan))
    assert r.exit_code == 2 and f"{plan}:4:" in r.stderr and "gpu" in r.stderr
    init = run("check", "--init")
    p2 = tmp_path / "init.yaml"
    p2.write_text(init.stdout)
    assert run("check", str(p2)).exit_code in (0, 1)


def test_compare_ordering_and_costs(run):
    r = run(
        "compare",
        "llama-3.1-8b-instruct",
        "--quant",
        "q4_k_m",
        "--gpu",
        "rtx-3090",
        "--gpu",
        "rtx-4090",
        "--gpu",
        "rtx-3070",
        "--gpu",
        "apple-m2-ultra",
        "--sort",
        "speed",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    speeds = {x["option"]: x["performance"]["decode_tokens_per_s"] for x in rows}
    assert speeds["rtx-4090"] > speeds["rtx-3090"] > speeds["rtx-3070"]  # more bandwidth, faster at batch 1
    order = [x["option"] for x in rows]
    assert order.index("rtx-4090") < order.index("rtx-3070")
    for x in rows:
        assert "price" in x and "usd_per_mtok_owned" in x and "usd_per_mtok_rented" in x
    r = run(
        "compare",
        "meta-llama/Llama-3.3-70B-Instruct",
        "--quant",
        "q4_k_m",
        "--gpu",
        "rtx-5090",
        "--gpu",
        "2xrtx-3090",
        "--sort",
        "speed",
        "--format",
        "json",
    )
    rows = json.loads(r.stdout)
    assert rows[0]["option"] == "2x rtx-3090" and rows[0]["fits"]
    assert rows[1]["fits"] is False and rows[1]["fits_with_offload"] is True  # offload never ranks above a fit


def test_compare_cost_arithmetic_matches_core(run):
    r = run(
        "compare",
        "qwen3-8b",
        "--quant",
        "fp8",
        "--gpu",
        "l40s",
        "--years",
        "4",
        "--usd-per-kwh",
        "0.2",
        "--format",
        "json",
    )
    row = json.loads(r.stdout)[0]
    # by hand: owning one L40S for 4 years is its price plus a quarter for its share of the server, over 48
    # months, plus power: its watts x 0.7 average draw x 1.5 with the server x 1.4 (PUE) x 730 h x $0.20/kWh;
    # at full load it serves F output tokens/s, i.e. F x (in + out) / out tokens of both kinds a second
    purchase = row["price"]["purchase_usd"]["usd"]
    owned_month = purchase * 1.25 / 48 + row["power_watts"] / 1000 * 0.7 * 1.5 * 1.4 * 730 * 0.2
    tokens_per_hour = (
        row["full_load_tokens_per_s"] * (row["input_tokens"] + row["output_tokens"]) / row["output_tokens"] * 3600
    )
    assert row["usd_per_mtok_owned"] == pytest.approx(owned_month / 730 / tokens_per_hour * 1e6, rel=2e-3)
    rent = row["price"]["hourly_usd"]["usd"]
    assert row["usd_per_mtok_rented"] == pytest.approx(rent / tokens_per_hour * 1e6, rel=2e-3)
    for fmt in ("csv", "markdown", "table"):
        assert run("compare", "qwen3-8b", "--gpu", "all", "--max-price-usd", "3000", "--format", fmt).exit_code == 0


def test_breakeven_sizes_replicas_for_the_demand(run, tmp_path):
    r = run(
        "breakeven",
        "llama-3.1-8b-instruct",
        "--gpu",
        "l4",
        "--requests-per-day",
        "1000",
        "--api",
        "openai/gpt-4o-mini",
        "--format",
        "json",
    )
    s = json.loads(r.stdout)["self_hosted"]
    assert s["gpus"] == 1 and s["gpu_monthly_usd"] == pytest.approx(s["gpu_hourly_usd"] * 730, rel=1e-4)
    r = run(
        "breakeven",
        "--workload",
        str(EXAMPLES / "seed-breakeven.yaml"),
        "--tokens-per-month",
        "1e9",
        "--format",
        "json",
    )
    w = json.loads(r.stdout)["workload"]
    assert w["requests_per_day"] == pytest.approx(1e9 / 1000 / (730 / 24))
    r = run("breakeven", "--workload", str(EXAMPLES / "seed-breakeven.yaml"), "--plot", str(tmp_path / "no" / "x.png"))
    assert r.exit_code == 2 and "does not exist" in r.stderr


def test_check_names_the_line_of_an_engine_format_mismatch(run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("deployments:\n  - name: x\n    model: qwen3-8b\n    engine: vllm\n    quant: q4_k_m\n")
    r = run("check", str(plan))
    assert r.exit_code == 2 and f"{plan}:5:" in r.stderr and "'quant'" in r.stderr
    init = tmp_path / "init.yaml"
    init.write_text(run("check", "--init").stdout)
    assert run("check", str(init)).exit_code == 0  # the starter plan passes its own gate


def test_breakeven_plot_curve_prices_the_report_figure_with_spares_and_headroom(catalog):
    # issue 27: the plot rebuilt the self-hosted cost and dropped --redundancy; it now calls the same rule
    from llmplan.plans.breakeven import SelfHostTerms, Workload, plan_breakeven, volume_curve
    from llmplan.plans.deploy import build_deployment

    dep, _ = build_deployment(catalog, "llama-3.1-8b-instruct", gpu="l40s", quant="fp8")
    workload = Workload(requests_per_day=200_000, input_tokens=500, output_tokens=300)
    for terms in (SelfHostTerms(redundancy=1), SelfHostTerms(max_utilization=0.5), SelfHostTerms()):
        report = plan_breakeven(dep, workload, terms, [])
        curve = volume_curve(report)
        at = int(np.nonzero(curve["requests_per_day"] == 200_000)[0][0])  # the workload's own volume is a point
        assert curve["self_hosted"][at] == pytest.approx(report.self_hosted.monthly_cost_usd, rel=1e-6)
    spare = plan_breakeven(dep, workload, SelfHostTerms(redundancy=1), [])
    plain = plan_breakeven(dep, workload, SelfHostTerms(), [])
    assert spare.self_hosted.replicas == plain.self_hosted.replicas + 1
    half = plan_breakeven(dep, workload, SelfHostTerms(max_utilization=0.5), [])
    assert half.self_hosted.replicas >= 2 * plain.self_hosted.replicas - 1
