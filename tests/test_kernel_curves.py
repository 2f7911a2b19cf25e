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
    assert [f.name for f in files] == [
        "attention_curves.csv",
        "attention_fit.csv",
        "comm_curves.csv",
        "comm_fit.csv",
        "gemm_curves.csv",
        "gemm_fit.csv",
        "moe_curves.csv",
        "moe_fit.csv",
    ]
    assert sum(f.stat().st_size for f in files) < 1_200_000
    readme = (KERNELS / "README.md").read_text()
    assert "aiconfigurator-core 0.12.0" in readme and "Apache-2.0" in readme
    notice = (KERNELS / "NOTICE").read_text()
    assert "Apache License, Version 2.0" in notice and "NVIDIA" in notice


def test_fits_reproduce_the_measured_curves():
    # each GEMM curve's roofline-with-floor fit stays within 25% (log error) of its points on average
    for r in _rows("gemm_fit.csv"):
        assert float(r["rms_log_error"]) < 0.25, r["gpu"]
        assert 0.3 < float(r["bandwidth_eff"]) <= 1.2 and 0.2 < float(r["math_eff"]) <= 1.2
    assert {(r["gpu"], r["dtype"]) for r in _rows("gemm_fit.csv")} >= {("h100-sxm", "fp8"), ("b200", "nvfp4")}
    moe = {(r["gpu"], r["dtype"]): float(r["median_log_error"]) for r in _rows("moe_fit.csv")}
    assert moe[("h100-sxm", "bf16")] < 0.1 and moe[("b200", "fp8_block")] < 0.1


def test_attention_fits_predict_measured_layers():
    # H100, TensorRT-LLM, bf16 cache, 32 query / 8 KV heads of 128: decoding 64 sequences of 4,096 cached tokens
    # reads 64 x 4096 x 8 x 128 x 2 x 2 B = 1.07 GB a layer, measured 0.365 ms (~1.5 TB/s); prefilling one
    # 8,192-token prompt does 4 x 32 x 128 x 8192^2 / 2 = 550 GFLOP a layer, measured 1.084 ms (attention_curves.csv)
    from llmplan.catalog.kernels import attention_fits
    from llmplan.core import gemm

    dec = attention_fits()[("h100-sxm", "trtllm", "generation", "bf16")]
    read = 64 * 4096 * 8 * 128 * 2 * 2.0
    assert float(gemm.roofline_seconds(dec, read, 4 * 64 * 32 * 128 * 4096, 3.35e12, 989.4e12)) == pytest.approx(
        365e-6, rel=0.3
    )
    pre = attention_fits()[("h100-sxm", "trtllm", "context", "bf16")]
    flops = 4 * 32 * 128 * 8192**2 / 2
    assert float(gemm.roofline_seconds(pre, 8192 * 48 * 128 * 4.0, flops, 3.35e12, 989.4e12)) == pytest.approx(
        1084e-6, rel=0.2
    )


def test_the_fitted_roofline_predicts_a_measured_point():
    # H100 bf16, 8192 x 8192 at M = 1 measured 49.2 us; at M = 8192, 1404.8 us (gemm_curves.csv)
    from llmplan.catalog.kernels import gemm_fits
    from llmplan.core import gemm

    roof = gemm_fits()[("h100-sxm", "bf16")]
    one = gemm.Gemm("x", 8192, 8192, 1, 8192 * 8192 * 2.0)
    assert float(gemm.seconds((one,), 1, roof, 3.35e12, 989.4e12, 1)) == pytest.approx(49.2e-6, rel=0.15)
    assert float(gemm.seconds((one,), 8192, roof, 3.35e12, 989.4e12, 1)) == pytest.approx(1404.8e-6, rel=0.15)


def test_every_catalog_gpu_gets_its_nearest_measured_relative(catalog):
    from llmplan.catalog.kernels import MEASURED_GEMM_GPUS, collective, nearest_measured_gpu

    picks = {gid: nearest_measured_gpu(g) for gid, g in catalog.gpus.items()}
    for gid in MEASURED_GEMM_GPUS:
        assert picks[gid] == gid
    assert picks["rtx-4090"] == "l40s" and picks["rtx-5090"] == "rtx-pro-6000" and picks["gh200"] == "h100-sxm"
    assert picks["mi300x"] == "h200" and picks["mi355x"] == "b200"
    assert picks["apple-m2-ultra"] is None and picks["cpu-ddr5"] is None
    # a PCIe box's all-reduce is the L40S curve scaled by its link: the RTX 4090 (PCIe 4, 32 GB/s) matches the
    # L40S's, the H100 PCIe (PCIe 5, 64 GB/s) moves bytes twice as fast; the latency floor is kept
    l40s = collective(catalog.gpus["l40s"], "all_reduce", "nccl", 2)
    assert collective(catalog.gpus["rtx-4090"], "all_reduce", "nccl", 2).bytes_per_s == l40s.bytes_per_s
    h100p = collective(catalog.gpus["h100-pcie"], "all_reduce", "nccl", 2)
    assert h100p.bytes_per_s == pytest.approx(2 * l40s.bytes_per_s) and h100p.floor_s == l40s.floor_s
    # the measured boxes' links in the fits are the catalog's
    for r in _rows("comm_fit.csv"):
        assert float(r["link_bytes_per_s"]) == catalog.gpus[r["gpu"]].interconnect.bandwidth_bytes_per_s


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
