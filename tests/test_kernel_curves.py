"""data/kernels/: the slice of aiconfigurator's measured kernel tables stays small and self-consistent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

KERNELS = Path(__file__).resolve().parents[1] / "data" / "kernels"


def _rows(name: str) -> list[dict[str, str]]:
    with open(KERNELS / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_small_and_documented():
    files = sorted(KERNELS.glob("*.csv"))
    assert [f.name for f in files] == ["comm_curves.csv", "gemm_curves.csv", "moe_curves.csv"]
    assert sum(f.stat().st_size for f in files) < 1_000_000
    readme = (KERNELS / "README.md").read_text()
    assert "aiconfigurator-core 0.12.0" in readme and "Apache-2.0" in readme


def test_gemm_rate_is_flops_over_latency_and_below_peak():
    rows = _rows("gemm_curves.csv")
    assert {r["gpu"] for r in rows} >= {"a100-80gb", "h100-sxm", "h200", "b200", "l40s"}
    for r in rows:
        m, n, k, us = int(r["m"]), int(r["n"]), int(r["k"]), float(r["latency_us"])
        assert float(r["achieved_tflops"]) == pytest.approx(2 * m * n * k / (us * 1e-6) / 1e12, rel=1e-3)
        assert 0 < float(r["pct_of_catalog_peak"]) < 100


def test_moe_tokens_per_expert_and_comm_bandwidths():
    for r in _rows("moe_curves.csv"):
        expected = int(r["num_tokens"]) * int(r["topk"]) / int(r["num_experts"])
        assert float(r["tokens_per_expert"]) == pytest.approx(expected, rel=1e-4)
    for r in _rows("comm_curves.csv"):
        n, algbw = int(r["num_gpus"]), float(r["algbw_gbs"])
        factor = 2 * (n - 1) / n if r["op"] == "all_reduce" else (n - 1) / n
        assert float(r["busbw_gbs"]) == pytest.approx(algbw * factor, rel=1e-3)
        # no single-box link here beats NVLink 5's 900 GB/s per direction
        assert float(r["busbw_gbs"]) < 900
