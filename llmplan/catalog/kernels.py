"""Kernel timings measured on real GPUs (data/kernels/, from aiconfigurator-core's silicon tables), as fits.

`benchmarks/fit_kernels.py` reduces each measured curve to a roofline with a launch floor (see its docstring);
this module reads those fits and picks, for any catalog GPU, the nearest measured one. The performance model
applies the picked efficiencies to the device's own datasheet peaks and bandwidth, so an unmeasured GPU is
scaled from its nearest measured relative.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from llmplan.catalog.loader import shipped_data_dir
from llmplan.catalog.schemas import GpuEntry

MEASURED_GEMM_GPUS = ("a100-80gb", "h100-sxm", "h200", "b200", "b300", "gb200", "l40s", "rtx-pro-6000")


@dataclass(frozen=True)
class Roofline:
    """t = floor_s + per_expert_s x experts + (memory_s**p + math_s**p)**(1/p) for one kernel kind."""

    floor_s: float
    bandwidth_eff: float  # share of datasheet bandwidth the kernel streams at
    math_eff: float  # share of the datasheet tensor peak it computes at
    smooth_p: float
    per_expert_s: float = 0.0
    curve: str = ""  # which measured curve: "h100-sxm fp8"


@dataclass(frozen=True)
class Collective:
    """t = floor_s + message_bytes / bytes_per_s (per GPU count), from a measured curve."""

    floor_s: float
    bytes_per_s: float
    curve: str = ""
    link_bytes_per_s: float = 0.0  # datasheet link of the measured box


def _rows(name: str) -> list[dict[str, str]]:
    with open(shipped_data_dir() / "kernels" / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=1)
def gemm_fits() -> dict[tuple[str, str], Roofline]:
    return {(r["gpu"], r["dtype"]): _roofline(r, f"{r['gpu']} {r['dtype']} GEMM") for r in _rows("gemm_fit.csv")}


@lru_cache(maxsize=1)
def moe_fits() -> dict[tuple[str, str], Roofline]:
    return {(r["gpu"], r["dtype"]): _roofline(r, f"{r['gpu']} {r['dtype']} grouped MoE") for r in _rows("moe_fit.csv")}


@lru_cache(maxsize=1)
def attention_fits() -> dict[tuple[str, str, str, str], Roofline]:
    return {
        (r["gpu"], r["engine"], r["phase"], r["kv_dtype"]): _roofline(
            r, f"{r['gpu']} {r['engine']} {r['phase']} attention ({r['kv_dtype']} cache)"
        )
        for r in _rows("attention_fit.csv")
    }


# engine -> the engine whose attention kernels were measured (TGI runs vLLM-style paged FlashAttention)
ATTENTION_TABLES = {"tensorrt-llm": "trtllm", "vllm": "vllm", "sglang": "sglang", "tgi": "vllm"}


def attention_roofline(gpu: GpuEntry, engine: str, phase: str, kv_dtype: str) -> Roofline | None:
    """One layer's measured attention (phase: generation = decode, context = prefill) for the engine on the
    nearest measured GPU; a cache dtype or engine it lacks falls back to bf16, then to TensorRT-LLM's."""
    ref = nearest_measured_gpu(gpu)
    if ref is None:
        return None
    fits = attention_fits()
    kv = "fp8" if kv_dtype == "fp8" else "bf16"
    table = ATTENTION_TABLES.get(engine, "vllm")
    for key in (
        (ref, table, phase, kv),
        (ref, table, phase, "bf16"),
        (ref, "trtllm", phase, kv),
        (ref, "trtllm", phase, "bf16"),
    ):
        if key in fits:
            return fits[key]
    return None


@lru_cache(maxsize=1)
def comm_fits() -> dict[tuple[str, str, str, int], Collective]:
    return {
        (r["gpu"], r["source"], r["op"], int(r["num_gpus"])): Collective(
            float(r["floor_us"]) * 1e-6,
            float(r["bytes_per_s"]),
            f"{r['gpu']} {r['source']} {r['op']}x{r['num_gpus']}",
            float(r["link_bytes_per_s"]),
        )
        for r in _rows("comm_fit.csv")
    }


def _roofline(r: dict[str, str], curve: str) -> Roofline:
    return Roofline(
        float(r["floor_us"]) * 1e-6,
        float(r["bandwidth_eff"]),
        float(r["math_eff"]),
        float(r["smooth_p"]),
        float(r.get("per_expert_us") or 0.0) * 1e-6,
        curve,
    )


def nearest_measured_gpu(gpu: GpuEntry) -> str | None:
    """The measured GPU whose kernels are closest to `gpu`'s (same vendor generation where there is one).

    None for devices no serving engine's CUDA kernels run on (Apple, CPUs, AMD's unified parts): llama.cpp's
    own kernels are described by its engine profile instead.
    """
    arch = gpu.architecture.lower()
    name = gpu.name.lower()
    cc = float(gpu.compute_capability) if gpu.compute_capability else 0.0
    if gpu.vendor in ("apple", "cpu") or (gpu.vendor == "amd" and gpu.kind == "unified"):
        return None
    if gpu.vendor in ("amd", "intel"):
        # Not measured: the NVIDIA part of the same generation and bandwidth class stands in
        return "b200" if gpu.memory_bandwidth_bytes_per_s >= 7e12 else "h200"
    if arch == "blackwell":
        if cc >= 12.0:
            return "rtx-pro-6000"
        if "gb200" in name:
            return "gb200"
        return "b300" if cc >= 10.3 else "b200"
    if arch == "hopper":
        return "h200" if gpu.memory_bandwidth_bytes_per_s >= 4.5e12 else "h100-sxm"
    if arch == "ada":
        return "l40s"
    return "a100-80gb"  # ampere and older: the one measured pre-Hopper part


def gemm_roofline(gpu: GpuEntry, dtype: str) -> Roofline | None:
    """Dense GEMM fit for the nearest measured GPU at `dtype` (bf16, fp8, fp8_block, nvfp4), else its bf16."""
    ref = nearest_measured_gpu(gpu)
    if ref is None:
        return None
    fits = gemm_fits()
    return fits.get((ref, dtype)) or fits.get((ref, "bf16"))


def moe_roofline(gpu: GpuEntry, dtype: str) -> Roofline | None:
    """Grouped-expert fit: per-tensor fp8 runs the block-scaled kernels' curve; missing dtypes fall to bf16."""
    ref = nearest_measured_gpu(gpu)
    if ref is None:
        return None
    fits = moe_fits()
    want = "fp8_block" if dtype in ("fp8", "fp8_block") else dtype
    hit = fits.get((ref, want)) or fits.get((ref, "bf16"))
    if hit is None:  # a100 has no MoE tables: the nearest generation that has them
        hit = fits.get(("h100-sxm", want)) or fits.get(("h100-sxm", "bf16"))
    return hit


COMM_REFERENCE = {"nvlink": None, "pcie": "l40s", "infinity-fabric": "h200", "ethernet": "l40s", "none": "l40s"}


def collective(gpu: GpuEntry, op: str, source: str, n_gpus: int) -> Collective | None:
    """Measured all-reduce / all-to-all of the nearest measured box, scaled by the link's datasheet bandwidth.

    NVLink boxes use their own generation's curve; PCIe and Ethernet boxes the L40S (PCIe) curve; AMD's
    Infinity Fabric the H200 curve. The floor (latency) is kept, the bandwidth scaled by the ratio of links.
    """
    if n_gpus <= 1:
        return None
    ref_gpu = nearest_measured_gpu(gpu) or "l40s"
    kind = gpu.interconnect.kind
    ref = COMM_REFERENCE.get(kind) or ref_gpu
    if kind == "pcie" and ref_gpu == "rtx-pro-6000":
        ref = "rtx-pro-6000"
    if kind == "nvlink" and ref in ("l40s", "rtx-pro-6000"):
        ref = "h100-sxm"
    fits = comm_fits()
    counts = sorted({k[3] for k in fits if k[0] == ref and k[2] == op})
    if not counts:
        ref, counts = "h100-sxm", [2, 4, 8]
    n = min(counts, key=lambda c: (abs(c - n_gpus), -c))
    hit = fits.get((ref, source, op, n)) or fits.get((ref, "nccl", op, n))
    if hit is None:
        return None
    scale = 1.0
    if hit.link_bytes_per_s and gpu.interconnect.bandwidth_bytes_per_s > 0:
        scale = gpu.interconnect.bandwidth_bytes_per_s / hit.link_bytes_per_s
    return Collective(
        hit.floor_s, hit.bytes_per_s * scale, hit.curve if scale == 1.0 else f"{hit.curve} scaled", hit.link_bytes_per_s
    )
