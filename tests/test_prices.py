"""Prices: a rental tier the catalog does not price is an error, and --prices can change one field of a GPU."""

from __future__ import annotations

import json

import pytest


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_breakeven_refuses_a_tier_without_a_price(run):
    r = run(
        "breakeven", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--requests-per-day", "1000", "--rental-tier", "spot"
    )
    _one_line_error(r, "no spot price for h100-sxm", "tiers it has: on_demand")


def test_breakeven_prices_the_tier_asked(run):
    # l4 in the catalog: on-demand from $0.8048, reserved $0.5239 a GPU-hour
    r = run(
        "breakeven",
        "llama-3.1-8b-instruct",
        "--gpu",
        "l4",
        "--quant",
        "fp8",
        "--requests-per-day",
        "1000",
        "--rental-tier",
        "reserved",
        "--api",
        "openai/gpt-4o-mini",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    s = json.loads(r.stdout)["self_hosted"]
    assert s["gpu_hourly_usd"] == 0.5239
    assert s["gpu_monthly_usd"] == pytest.approx(s["gpus"] * 0.5239 * 730, abs=0.01)


@pytest.mark.parametrize(
    "tier, words",
    [
        ("spot", ("no spot price for h100-sxm", "on_demand")),
        ("reserved_1y", ("unknown rental tier", "on_demand, reserved, spot")),
    ],
)
def test_finetune_refuses_a_tier_without_a_price(run, tier, words):
    _one_line_error(run("finetune", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--rental-tier", tier), *words)


def _gpus(run, *args):
    r = run("gpus", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return {g["id"]: g for g in json.loads(r.stdout)}


@pytest.mark.parametrize("key", ["h100-sxm", "h100"])  # by id or by alias
def test_prices_file_overrides_one_field_of_a_shipped_gpu(run, tmp_path, key):
    prices = tmp_path / "prices.yaml"
    prices.write_text(f"gpus:\n  {key}:\n    purchase_usd: 25000\n")
    shipped = _gpus(run)["h100-sxm"]
    merged = _gpus(run, "--prices", prices)["h100-sxm"]
    assert merged["purchase_usd"] == 25000
    assert str(prices) in merged["purchase_source"]  # the price is sourced to the file that set it
    for field in ("memory_bytes", "memory_bandwidth_bytes_per_s", "bf16_flops", "tdp_watts", "rental", "name"):
        assert merged[field] == shipped[field]
    # and the price is the one used: compare's purchase column
    r = run("compare", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--prices", prices, "--format", "json")
    assert json.loads(r.stdout)[0]["purchase_usd"] == 25000


def test_prices_file_errors_name_the_entry_and_field(run, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("gpus:\n  h100-sxm:\n    purchase_usdd: 25000\n")
    _one_line_error(run("gpus", "--prices", prices), str(prices), "'h100-sxm'", "purchase_usdd")
    prices.write_text("gpus:\n  my-new-card:\n    purchase_usd: 1000\n")  # a new GPU must be complete
    _one_line_error(run("gpus", "--prices", prices), "'my-new-card'")
