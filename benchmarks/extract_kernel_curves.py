"""Extract small kernel-timing curves from aiconfigurator-core's silicon tables into data/kernels/.

aiconfigurator-core (NVIDIA, Apache-2.0) ships per-GPU, per-engine-version parquet tables of measured kernel
latencies. This script keeps a few slices that the analytic model's mechanisms can be fitted to:

- gemm_curves.csv: dense GEMM latency and achieved TFLOP/s against M (tokens in the step) for a few (N, K)
  shapes, per GPU and dtype (TensorRT-LLM tables; A100 from its 1.0.0 tables).
- moe_curves.csv: grouped MoE (the whole expert FFN: up/gate + down GEMMs) latency against tokens, for a few
  real models' expert shapes, at expert parallel 1 and 8, balanced routing.
- comm_curves.csv: NCCL all-reduce and all-to-all, and each engine's custom all-reduce, latency against
  message bytes per GPU count, with algorithm and bus bandwidth (nccl-tests conventions).
- attention_curves.csv: one layer's context (prefill) and generation (decode) attention per engine
  (TensorRT-LLM, vLLM, SGLang), head size 128, full attention, against batch, prompt length and cache length.

Run: pip install "aiconfigurator-core==0.12.0" && python benchmarks/extract_kernel_curves.py
Re-running rewrites the three CSVs; the README beside them states the package version and license.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

OUT_DIR = Path(__file__).resolve().parent.parent / "data" / "kernels"
CATALOG_GPUS = Path(__file__).resolve().parent.parent / "data" / "gpu_prices.yaml"

# aiconfigurator system name -> llmplan catalog GPU id (GB200's GPU is the catalog's gb200 entry).
SYSTEMS = {
    "a100_sxm": "a100-80gb",
    "h100_sxm": "h100-sxm",
    "h200_sxm": "h200",
    "b200_sxm": "b200",
    "b300_sxm": "b300",
    "gb200": "gb200",
    "l40s": "l40s",
    "rtx_pro_6000_server": "rtx-pro-6000",
}
DTYPE_NAMES = {
    "bfloat16": "bf16",
    "half": "fp16",
    "fp8": "fp8",
    "fp8_block": "fp8_block",
    "nvfp4": "nvfp4",
    "int8": "int8",
    "float16": "fp16",
}
DTYPE_BYTES = {"bfloat16": 2, "half": 2, "int8": 1}
PEAK_FIELD = {"bf16": "bf16_flops", "fp8": "fp8_flops", "fp8_block": "fp8_flops", "nvfp4": "fp4_flops"}

GEMM_SHAPES_NK = [(4096, 4096), (8192, 8192), (16384, 8192)]
GEMM_M = [
    1,
    2,
    4,
    8,
    16,
    32,
    48,
    64,
    96,
    128,
    192,
    256,
    384,
    512,
    768,
    1024,
    1536,
    2048,
    3072,
    4096,
    6144,
    8192,
    16384,
    32768,
]
# (hidden, moe intermediate, top-k, experts): Mixtral 8x7B, Qwen3-30B-A3B, Qwen3-235B-A22B, DeepSeek-V3/R1,
# Llama 4 Scout. Shapes from the models' config.json.
MOE_SHAPES = {
    "mixtral-8x7b": (4096, 14336, 2, 8),
    "qwen3-30b-a3b": (2048, 768, 8, 128),
    "qwen3-235b-a22b": (4096, 1536, 8, 128),
    "deepseek-v3": (7168, 2048, 8, 256),
    "llama4-scout": (5120, 8192, 1, 16),
}
MOE_EP = [1, 8]
MOE_DTYPES = ["bfloat16", "fp8_block", "nvfp4"]
MOE_TOKENS = [2**i for i in range(15)]  # 1 .. 16384 tokens in the step


def package_root() -> Path:
    import aiconfigurator_core

    return Path(aiconfigurator_core.__file__).parent / "systems" / "data"


def version_dirs(root: Path, system: str, kind: str, framework: str, filename: str) -> list[Path]:
    """Every engine-version folder holding `filename`, oldest first."""
    from packaging.version import InvalidVersion, Version

    def key(p: Path):
        try:
            return (1, Version(p.name))
        except InvalidVersion:
            return (0, Version("0"))

    base = root / system / kind / framework
    return sorted((d for d in base.glob("*") if (d / filename).is_file()), key=key) if base.is_dir() else []


def newest_version_dir(root: Path, system: str, kind: str, framework: str, filename: str) -> Path | None:
    found = version_dirs(root, system, kind, framework, filename)
    return found[-1] if found else None


def catalog_peaks() -> dict[str, dict]:
    with open(CATALOG_GPUS) as f:
        doc = yaml.safe_load(f)
    gpus = doc.get("gpus", doc)
    return {gid: gpus[gid] for gid in SYSTEMS.values() if gid in gpus}


def gemm_curves(root: Path, peaks: dict[str, dict]) -> pd.DataFrame:
    frames = []
    for system, gpu_id in SYSTEMS.items():
        folder = newest_version_dir(root, system, "gemm", "trtllm", "gemm_perf.parquet")
        if folder is None:
            continue
        d = pd.read_parquet(folder / "gemm_perf.parquet")
        shapes = pd.MultiIndex.from_frame(d[["n", "k"]])
        d = d[shapes.isin(GEMM_SHAPES_NK) & d["m"].isin(GEMM_M) & d["gemm_dtype"].isin(list(PEAK_FIELD) + ["bfloat16"])]
        d = d.groupby(["gemm_dtype", "m", "n", "k"], as_index=False)["latency"].min()
        d["dtype"] = d["gemm_dtype"].map(DTYPE_NAMES)
        d["gpu"] = gpu_id
        d["aic_system"] = system
        d["engine"] = "trtllm"
        d["engine_version"] = folder.name
        d["latency_us"] = d["latency"] * 1e3  # tables store milliseconds
        d["achieved_tflops"] = 2.0 * d["m"] * d["n"] * d["k"] / (d["latency"] * 1e-3) / 1e12
        peak = d["dtype"].map(lambda dt, gpu_id=gpu_id: peaks.get(gpu_id, {}).get(PEAK_FIELD.get(dt, "")) or np.nan)
        d["catalog_peak_tflops"] = peak / 1e12
        d["pct_of_catalog_peak"] = 100.0 * d["achieved_tflops"] / d["catalog_peak_tflops"]
        frames.append(d)
    cols = [
        "gpu",
        "aic_system",
        "engine",
        "engine_version",
        "dtype",
        "m",
        "n",
        "k",
        "latency_us",
        "achieved_tflops",
        "catalog_peak_tflops",
        "pct_of_catalog_peak",
    ]
    return pd.concat(frames)[cols].sort_values(["gpu", "dtype", "n", "k", "m"])


def moe_curves(root: Path) -> pd.DataFrame:
    frames = []
    for system, gpu_id in SYSTEMS.items():
        # Newer versions re-measure only some shapes: take each point from the newest version that has it.
        for rank, folder in enumerate(version_dirs(root, system, "moe", "trtllm", "moe_perf.parquet")):
            d = pd.read_parquet(folder / "moe_perf.parquet")
            d = d[(d["distribution"] == "balanced") & (d["moe_tp_size"] == 1) & d["moe_ep_size"].isin(MOE_EP)]
            d = d[d["moe_dtype"].isin(MOE_DTYPES) & d["num_tokens"].isin(MOE_TOKENS)]
            for model, (hidden, inter, topk, experts) in MOE_SHAPES.items():
                sel = d[
                    (d["hidden_size"] == hidden)
                    & (d["inter_size"] == inter)
                    & (d["topk"] == topk)
                    & (d["num_experts"] == experts)
                ].copy()
                sel["model_shape"], sel["gpu"], sel["aic_system"] = model, gpu_id, system
                sel["engine_version"], sel["version_rank"] = folder.name, rank
                frames.append(sel)
    d = pd.concat(frames)
    point = ["gpu", "model_shape", "moe_dtype", "moe_ep_size", "num_tokens"]
    d = d[d["version_rank"] == d.groupby(point)["version_rank"].transform("max")]
    # Where several kernels were measured for one point, keep the fastest (what the engine's autotuner picks).
    d = d.sort_values("latency").drop_duplicates(point)
    d["dtype"] = d["moe_dtype"].map(DTYPE_NAMES)
    d["latency_us"] = d["latency"] * 1e3
    # Balanced routing: each expert receives tokens x top-k / experts rows (the grouped GEMM's M per expert).
    d["tokens_per_expert"] = d["num_tokens"] * d["topk"] / d["num_experts"]
    # Gated FFN (gate+up, then down): 3 matrices of hidden x inter per expert; this GPU holds experts / ep of them.
    matrices = np.where(d["kernel_source"].str.contains("nongated"), 2, 3)
    flops = 2.0 * matrices * d["num_tokens"] * d["topk"] * d["hidden_size"] * d["inter_size"] / d["moe_ep_size"]
    d["achieved_tflops"] = flops / (d["latency"] * 1e-3) / 1e12
    cols = [
        "gpu",
        "aic_system",
        "engine_version",
        "model_shape",
        "dtype",
        "kernel_source",
        "hidden_size",
        "inter_size",
        "topk",
        "num_experts",
        "moe_ep_size",
        "num_tokens",
        "tokens_per_expert",
        "latency_us",
        "achieved_tflops",
    ]
    return d[cols].sort_values(["gpu", "model_shape", "dtype", "moe_ep_size", "num_tokens"])


def _comm_rows(path: Path, system: str, source: str, version: str, op_filter: list[str]) -> pd.DataFrame:
    d = pd.read_parquet(path)
    dtype_col = "nccl_dtype" if "nccl_dtype" in d.columns else "allreduce_dtype"
    d = d[d["op_name"].isin(op_filter) & d[dtype_col].isin(["half", "bfloat16"])].copy()
    d["dtype"] = d[dtype_col].map(DTYPE_NAMES)
    d["gpu"] = SYSTEMS[system]
    d["aic_system"] = system
    d["source"] = source
    d["source_version"] = version
    return d


def comm_curves(root: Path) -> pd.DataFrame:
    frames = []
    for system in SYSTEMS:
        folder = newest_version_dir(root, system, "comm", "nccl", "nccl_perf.parquet")
        if folder is not None:
            frames.append(
                _comm_rows(folder / "nccl_perf.parquet", system, "nccl", folder.name, ["all_reduce", "alltoall"])
            )
        for engine in ("trtllm", "vllm", "sglang"):
            folder = newest_version_dir(root, system, "comm", engine, "custom_allreduce_perf.parquet")
            if folder is not None:
                frames.append(
                    _comm_rows(
                        folder / "custom_allreduce_perf.parquet",
                        system,
                        f"{engine}_custom",
                        folder.name,
                        ["all_reduce"],
                    )
                )
    d = pd.concat(frames)
    d = d.groupby(
        ["gpu", "aic_system", "source", "source_version", "op_name", "dtype", "num_gpus", "message_size"],
        as_index=False,
    )["latency"].min()
    # message_size counts elements (aiconfigurator's comm shims factor it as tokens x per-token elements).
    d["message_bytes"] = d["message_size"] * 2
    d["latency_us"] = d["latency"] * 1e3
    seconds = d["latency"] * 1e-3
    d["algbw_gbs"] = d["message_bytes"] / seconds / 1e9
    n = d["num_gpus"]
    # nccl-tests bus bandwidth: all-reduce moves 2(n-1)/n of the buffer over each link, all-to-all (n-1)/n.
    factor = np.where(d["op_name"] == "all_reduce", 2.0 * (n - 1) / n, (n - 1) / n)
    d["busbw_gbs"] = d["algbw_gbs"] * factor
    d = d.rename(columns={"op_name": "op"})
    cols = [
        "gpu",
        "aic_system",
        "source",
        "source_version",
        "op",
        "dtype",
        "num_gpus",
        "message_bytes",
        "latency_us",
        "algbw_gbs",
        "busbw_gbs",
    ]
    return d[cols].sort_values(["gpu", "source", "op", "num_gpus", "message_bytes"])


# Attention points kept: head size 128 (most current models), full attention (no window), one beam, Llama-style
# GQA (32 query heads on 8 KV heads); batches and lengths on a coarse grid, to keep the file small.
ATTN_HEADS = [(32, 8)]
ATTN_ENGINES = ("trtllm", "vllm", "sglang")
ATTN_BATCH = [1, 4, 16, 64, 256, 1024]
ATTN_STEPS = [63, 255, 1023, 4095, 16383, 65535]  # generation: tokens already in the cache
ATTN_ISL = [128, 512, 1024, 2048, 4096, 8192, 16384]  # context: prompt tokens


def attention_curves(root: Path) -> pd.DataFrame:
    """Context (prefill) and generation (decode) attention of one layer, per GPU, engine and cache dtype."""
    frames = []
    for system, gpu_id in SYSTEMS.items():
        for engine in ATTN_ENGINES:
            for phase in ("context", "generation"):
                folder = newest_version_dir(root, system, "attention", engine, f"{phase}_attention_perf.parquet")
                if folder is None:
                    continue
                d = pd.read_parquet(folder / f"{phase}_attention_perf.parquet")
                if "window_size" in d.columns:
                    d = d[d["window_size"] == 0]
                heads = pd.MultiIndex.from_frame(d[["num_heads", "num_key_value_heads"]])
                d = d[
                    (d["head_dim"] == 128)
                    & (d["beam_width"] == 1)
                    & heads.isin(ATTN_HEADS)
                    & (d["attn_dtype"] == "bfloat16")
                    & d["batch_size"].isin(ATTN_BATCH)
                ].copy()
                d = d[d["step"].isin(ATTN_STEPS)] if phase == "generation" else d[d["isl"].isin(ATTN_ISL)]
                d["gpu"], d["aic_system"], d["engine"], d["engine_version"] = gpu_id, system, engine, folder.name
                d["phase"] = phase
                frames.append(d)
    d = pd.concat(frames)
    point = [
        "gpu",
        "engine",
        "phase",
        "kv_cache_dtype",
        "batch_size",
        "isl",
        "step",
        "num_heads",
        "num_key_value_heads",
    ]
    d = d.sort_values("latency").drop_duplicates(point)  # the fastest kernel measured for a point
    d["kv_dtype"] = d["kv_cache_dtype"].map(DTYPE_NAMES)
    d["latency_us"] = d["latency"] * 1e3
    cols = [
        "gpu",
        "aic_system",
        "engine",
        "engine_version",
        "phase",
        "kernel_source",
        "kv_dtype",
        "batch_size",
        "isl",
        "step",
        "num_heads",
        "num_key_value_heads",
        "head_dim",
        "latency_us",
    ]
    return d[cols].sort_values(
        ["gpu", "engine", "phase", "kv_dtype", "num_heads", "num_key_value_heads", "batch_size", "isl", "step"]
    )


def main() -> None:
    from importlib.metadata import version

    root = package_root()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    peaks = catalog_peaks()
    outputs = {
        "gemm_curves.csv": gemm_curves(root, peaks),
        "moe_curves.csv": moe_curves(root),
        "comm_curves.csv": comm_curves(root),
        "attention_curves.csv": attention_curves(root),
    }
    for name, frame in outputs.items():
        frame.to_csv(OUT_DIR / name, index=False, float_format="%.5g")
        print(f"{name}: {len(frame)} rows, {(OUT_DIR / name).stat().st_size / 1024:.0f} KiB")
    print(f"from aiconfigurator-core {version('aiconfigurator-core')}", file=sys.stderr)


if __name__ == "__main__":
    main()
