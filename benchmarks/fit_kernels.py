"""Fit each measured kernel curve in data/kernels/ to a roofline with a launch floor; write the fits beside it.

A kernel on a GPU takes a fixed launch-and-sync time plus the larger of its memory time (bytes over the GPU's
datasheet bandwidth times the share its kernels reach) and its math time (FLOPs over the datasheet tensor peak
times the share reached). Where the two are close the kernel is neither purely memory- nor compute-bound: a
smooth maximum (p-norm) joins them. Each GPU and dtype gets its own four numbers, fitted by least squares on
log latency over every measured point of that GPU and dtype:

    t = floor_s + (memory_s ** p + math_s ** p) ** (1 / p)

- gemm_fit.csv: dense GEMMs `[m x k] @ [k x n]` (bytes: weights n x k at the dtype's width, activations in
  and out at 16 bits; FLOPs 2 m n k).
- moe_fit.csv: the whole routed-expert FFN of one layer on one GPU (gate/up and down grouped GEMMs). Bytes:
  the weights of the experts the step touches (balanced routing, as the tables were measured: min(experts,
  tokens x top-k) of the GPU's experts); FLOPs 2 x 3 x tokens x top-k x hidden x intermediate / EP size (padding
  each expert's rows to whole 64-row tiles was tried and fits the curves worse: small-M kernels use small tiles);
  plus a time per touched expert (each expert is its own small GEMM problem in the grouped kernel).
- attention_fit.csv: one layer's decode (generation) and prefill (context) attention per GPU, engine and cache
  dtype, on the same roofline (bytes read; FLOPs at the 16-bit tensor peak).
- comm_fit.csv: each collective (NCCL all-reduce, all-to-all, the engines' custom all-reduce) per GPU count as
  `t = floor_s + message_bytes / bus_bytes_per_s`, fitted on relative error, with the measured box's datasheet
  link bandwidth (from the catalog) that scales the curve to other links.

Run: python benchmarks/fit_kernels.py   (needs scipy; rewrites the three *_fit.csv files)
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import least_squares

KERNELS = Path(__file__).resolve().parents[1] / "data" / "kernels"
GPUS = Path(__file__).resolve().parents[1] / "data" / "gpu_prices.yaml"
WEIGHT_BYTES = {"bf16": 2.0, "fp8": 1.0, "fp8_block": 1.0 + 4.0 / (128 * 128), "nvfp4": 0.5 + 1.0 / 16}
PEAK_FIELD = {"bf16": "bf16_flops", "fp8": "fp8_flops", "fp8_block": "fp8_flops", "nvfp4": "fp4_flops"}


def _rows(name: str) -> list[dict[str, str]]:
    with open(KERNELS / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _gpu_specs() -> dict[str, dict]:
    with open(GPUS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["gpus"]


def _bandwidth(spec: dict) -> float:
    return float(spec["memory_bandwidth_bytes_per_s"])


def _peak(spec: dict, dtype: str) -> float:
    return float(spec[PEAK_FIELD[dtype]])


def roofline_s(params, bytes_, flops, bandwidth, peak):
    floor_s, bw_eff, math_eff, p = params
    mem = bytes_ / (bandwidth * bw_eff)
    math = flops / (peak * math_eff)
    return floor_s + (mem**p + math**p) ** (1.0 / p)


def _roofline_columns(x) -> dict:
    """The four fitted roofline parameters as the *_fit.csv columns."""
    return dict(floor_us=round(x[0], 3), bandwidth_eff=round(x[1], 4), math_eff=round(x[2], 4), smooth_p=round(x[3], 3))


def _fit_roofline(bytes_, flops, latency_s, bandwidth, peak):
    def resid(x):
        params = (x[0] * 1e-6, x[1], x[2], x[3])
        return np.log(roofline_s(params, bytes_, flops, bandwidth, peak)) - np.log(latency_s)

    sol = least_squares(resid, x0=[5.0, 0.7, 0.7, 3.0], bounds=([0.0, 0.05, 0.05, 1.0], [200.0, 1.2, 1.2, 12.0]))
    rms = float(np.sqrt(np.mean(sol.fun**2)))
    return sol.x, rms


def fit_gemm(specs) -> list[dict]:
    rows = _rows("gemm_curves.csv")
    out = []
    for gpu, dtype in sorted({(r["gpu"], r["dtype"]) for r in rows}):
        pts = [r for r in rows if r["gpu"] == gpu and r["dtype"] == dtype]
        m = np.array([float(r["m"]) for r in pts])
        n = np.array([float(r["n"]) for r in pts])
        k = np.array([float(r["k"]) for r in pts])
        lat = np.array([float(r["latency_us"]) for r in pts]) * 1e-6
        bytes_ = n * k * WEIGHT_BYTES[dtype] + (m * k + m * n) * 2.0
        x, rms = _fit_roofline(bytes_, 2 * m * n * k, lat, _bandwidth(specs[gpu]), _peak(specs[gpu], dtype))
        out.append(
            dict(
                gpu=gpu,
                dtype=dtype,
                **_roofline_columns(x),
                points=len(pts),
                rms_log_error=round(rms, 4),
            )
        )
    return out


def fit_moe(specs) -> list[dict]:
    rows = _rows("moe_curves.csv")
    out = []
    for gpu, dtype in sorted({(r["gpu"], r["dtype"]) for r in rows}):
        pts = [r for r in rows if r["gpu"] == gpu and r["dtype"] == dtype]
        f = {
            c: np.array([float(r[c]) for r in pts])
            for c in ("hidden_size", "inter_size", "topk", "num_experts", "moe_ep_size", "num_tokens", "latency_us")
        }
        mats = np.array([2.0 if r["kernel_source"].endswith("nongated") else 3.0 for r in pts])
        local = f["num_experts"] / f["moe_ep_size"]
        touched = np.minimum(local, f["num_tokens"] * f["topk"])
        per_expert = mats * f["hidden_size"] * f["inter_size"] * WEIGHT_BYTES[dtype]
        bytes_ = touched * per_expert
        flops = 2.0 * mats * f["num_tokens"] * f["topk"] * f["hidden_size"] * f["inter_size"] / f["moe_ep_size"]
        bw, peak, lat = _bandwidth(specs[gpu]), _peak(specs[gpu], dtype), f["latency_us"] * 1e-6

        def resid(x, bytes_=bytes_, flops=flops, touched=touched, bw=bw, peak=peak, lat=lat):
            params = (x[0] * 1e-6, x[1], x[2], x[3])
            t = roofline_s(params, bytes_, flops, bw, peak) + touched * x[4] * 1e-6
            return np.log(t) - np.log(lat)

        sol = least_squares(
            resid,
            x0=[10.0, 0.7, 0.5, 2.0, 0.5],
            bounds=([0.0, 0.05, 0.02, 1.0, 0.0], [300.0, 1.2, 1.2, 12.0, 50.0]),
            loss="soft_l1",
            f_scale=0.1,
        )  # robust: a few points (Scout at EP 8) are noisy
        x = sol.x
        out.append(
            dict(
                gpu=gpu,
                dtype=dtype,
                **_roofline_columns(x),
                per_expert_us=round(x[4], 4),
                points=len(pts),
                median_log_error=round(float(np.median(np.abs(sol.fun))), 4),
            )
        )
    return out


def fit_comm(specs) -> list[dict]:
    rows = _rows("comm_curves.csv")
    out = []
    keys = sorted({(r["gpu"], r["source"], r["op"], int(r["num_gpus"])) for r in rows})
    for gpu, source, op, n in keys:
        pts = [r for r in rows if (r["gpu"], r["source"], r["op"], int(r["num_gpus"])) == (gpu, source, op, n)]
        size = np.array([float(r["message_bytes"]) for r in pts])
        lat = np.array([float(r["latency_us"]) for r in pts]) * 1e-6

        def resid(x, size=size, lat=lat):
            return np.log(x[0] * 1e-6 + size / (x[1] * 1e9)) - np.log(lat)

        sol = least_squares(resid, x0=[10.0, 50.0], bounds=([0.1, 0.1], [1000.0, 5000.0]))
        out.append(
            dict(
                gpu=gpu,
                source=source,
                op=op,
                num_gpus=n,
                floor_us=round(sol.x[0], 3),
                bytes_per_s=round(sol.x[1] * 1e9, -6),
                link_bytes_per_s=float(specs[gpu]["interconnect"]["bandwidth_bytes_per_s"]),
                points=len(pts),
                rms_log_error=round(float(np.sqrt(np.mean(sol.fun**2))), 4),
            )
        )
    return out


KV_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0}


def fit_attention(specs) -> list[dict]:
    """Per GPU, engine, phase and cache dtype. Generation (decode) reads each sequence's K and V: bytes = batch
    x cached tokens x KV heads x head size x 2 x cache width; its math is 4 x batch x heads x head size x
    cached tokens. Context (prefill) reads Q, K and V once and does the causal math: 4 x batch x heads x head
    size x prompt^2 / 2 FLOPs, on the 16-bit tensor peak."""
    rows = _rows("attention_curves.csv")
    out = []
    for gpu, engine, phase, kv in sorted({(r["gpu"], r["engine"], r["phase"], r["kv_dtype"]) for r in rows}):
        pts = [r for r in rows if (r["gpu"], r["engine"], r["phase"], r["kv_dtype"]) == (gpu, engine, phase, kv)]
        f = {
            c: np.array([float(r[c]) for r in pts])
            for c in ("batch_size", "isl", "step", "num_heads", "num_key_value_heads", "head_dim", "latency_us")
        }
        b, h, kvh, hd = f["batch_size"], f["num_heads"], f["num_key_value_heads"], f["head_dim"]
        if phase == "generation":
            ctx = f["step"] + 1
            bytes_ = b * ctx * kvh * hd * 2 * KV_BYTES[kv]
            flops = 4.0 * b * h * hd * ctx
        else:
            bytes_ = b * f["isl"] * (h + 2 * kvh) * hd * 2 * 2.0
            flops = 4.0 * b * h * hd * f["isl"] ** 2 / 2
        x, rms = _fit_roofline(bytes_, flops, f["latency_us"] * 1e-6, _bandwidth(specs[gpu]), _peak(specs[gpu], "bf16"))
        out.append(
            dict(
                gpu=gpu,
                engine=engine,
                phase=phase,
                kv_dtype=kv,
                **_roofline_columns(x),
                points=len(pts),
                rms_log_error=round(rms, 4),
            )
        )
    return out


def _write(name: str, rows: list[dict]) -> None:
    with open(KERNELS / name, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    specs = _gpu_specs()
    for name, rows in (
        ("gemm_fit.csv", fit_gemm(specs)),
        ("moe_fit.csv", fit_moe(specs)),
        ("comm_fit.csv", fit_comm(specs)),
        ("attention_fit.csv", fit_attention(specs)),
    ):
        _write(name, rows)
        key = "median_log_error" if "median_log_error" in rows[0] else "rms_log_error"
        print(f"{name}: {len(rows)} curves, worst {key.replace('_', ' ')} {max(r[key] for r in rows):.3f}")


if __name__ == "__main__":
    main()
