"""From a catalog GPU entry to the numbers the performance model needs."""

from __future__ import annotations

from llmplan.catalog import kernels as measured
from llmplan.catalog.schemas import GpuEntry, efficiency_class
from llmplan.core.performance import DEFAULT_HOST_BANDWIDTH, Hardware, Kernels
from llmplan.engines.formats import QuantFormat
from llmplan.engines.profiles import EngineProfile
from llmplan.errors import UnsupportedError

NON_CUDA_ENGINES = ("llama.cpp", "ollama")
# The kernels vLLM and SGLang fall back to when the GPU lacks the format's math (vLLM
# model_executor/layers/quantization/utils/marlin_utils_fp8.py and marlin_utils_fp4.py; gpt-oss mxfp4 MoE
# through Marlin on Ampere and triton_kernels matmul_ogs on Hopper).
WEIGHT_ONLY_KERNELS = {
    "fp8": "the Marlin FP8 kernel",
    "nvfp4": "the Marlin FP4 kernel",
    "mxfp4": "the Marlin / Triton MXFP4 kernels",
}


# TensorRT-LLM on Hopper: MXFP4 MoE weights with bf16 activations through the TRITON MoE backend, Hopper's default
# (https://nvidia.github.io/TensorRT-LLM/deployment-guide/deployment-guide-for-gpt-oss-on-trtllm.html, MoE backend
# support matrix: H200, BF16 activations, MXFP4 weights, TRITON; Blackwell runs MXFP8 x MXFP4 on TRTLLM).
TRTLLM_HOPPER_MXFP4 = "the Triton MoE kernels (triton_kernels matmul_ogs)"


def compute_capability(gpu: GpuEntry) -> float | None:
    try:
        return float(gpu.compute_capability) if gpu.compute_capability else None
    except ValueError:
        return None


def gpu_memory_bytes(gpu: GpuEntry) -> int:
    """Memory the GPU may use: unified-memory machines give the GPU a share of system RAM."""
    return int(gpu.memory_bytes * gpu.gpu_memory_fraction)


def has_native_math(gpu: GpuEntry, fmt: QuantFormat) -> bool:
    if fmt.math == "fp8":
        return gpu.fp8_flops is not None
    if fmt.math == "fp4":
        return gpu.fp4_flops is not None
    if fmt.math == "int8":
        return gpu.int8_ops is not None
    return True


def peak_flops(gpu: GpuEntry, fmt: QuantFormat) -> float:
    """Dense FLOP/s for the format's math; weight-only formats (and fp8 without fp8 units) run in 16-bit."""
    bf16 = gpu.bf16_flops or gpu.memory_bandwidth_bytes_per_s * 2.0
    if fmt.math == "fp8" and gpu.fp8_flops:
        return gpu.fp8_flops
    if fmt.math == "fp4" and gpu.fp4_flops:
        return gpu.fp4_flops
    if fmt.math == "int8" and gpu.int8_ops:
        return gpu.int8_ops
    return bf16


def check_runnable(gpu_id: str, gpu: GpuEntry, fmt: QuantFormat, engine: str) -> list[str]:
    """Raise when the engine/format/GPU cannot run; return warnings for degraded paths."""
    from llmplan.engines.formats import FORMATS

    warnings: list[str] = []
    if engine not in fmt.engines:
        can = ", ".join(fmt.engines)
        raise UnsupportedError(f"{engine} cannot run {fmt.name} weights; engines that can: {can}")
    if gpu.vendor in ("apple", "cpu") and engine not in NON_CUDA_ENGINES:
        raise UnsupportedError(f"{engine} does not run on {gpu_id}; use --engine llama.cpp or ollama")
    if gpu.vendor == "amd" and engine in ("tensorrt-llm",):
        raise UnsupportedError(f"{engine} runs on NVIDIA GPUs only; use vllm or sglang on {gpu_id}")
    if gpu.vendor == "intel" and engine not in ("vllm", "tgi"):
        raise UnsupportedError(f"{engine} has no Gaudi back-end; use vllm or tgi (Habana builds) on {gpu_id}")
    cc = compute_capability(gpu)
    if gpu.vendor == "nvidia" and cc is not None and fmt.min_compute_capability and cc < fmt.min_compute_capability:
        able = [
            name for name, f in FORMATS.items() if f.min_compute_capability is None or f.min_compute_capability <= cc
        ]
        if fmt.math == "fp4" and fmt.name == "nvfp4":
            raise UnsupportedError(
                f"nvfp4 needs compute capability 8.0+ (Marlin FP4, weight-only) or Blackwell (10.0+, native); "
                f"{gpu_id} is {cc}. Use awq or gptq-int4 there, or a newer GPU"
            )
        raise UnsupportedError(
            f"{fmt.name} needs compute capability {fmt.min_compute_capability}+; "
            f"{gpu_id} is {cc}; formats it runs: {', '.join(able[:8])}"
        )
    if fmt.name == "nvfp4" and gpu.vendor != "nvidia":
        raise UnsupportedError(f"nvfp4 kernels exist for NVIDIA GPUs only; on {gpu_id} use fp8 or mxfp4")
    if (
        not has_native_math(gpu, fmt)
        and engine == "tensorrt-llm"
        and fmt.name == "mxfp4"
        and cc is not None
        and cc >= 9.0
    ):
        # TensorRT-LLM's gpt-oss guide runs MXFP4 MoE weights on Hopper (H100/H200) through its TRITON MoE backend
        warnings.append(
            f"{gpu_id} has no fp4 tensor cores: tensorrt-llm runs mxfp4 weight-only through {TRTLLM_HOPPER_MXFP4} "
            "(moe_config backend TRITON; bf16 activations): the memory savings hold, but prefill and batched steps "
            "run at 16-bit math speed"
        )
        return warnings
    if not has_native_math(gpu, fmt) and fmt.math in ("fp8", "fp4"):
        if engine == "tensorrt-llm":
            raise UnsupportedError(
                f"tensorrt-llm runs {fmt.name} only on GPUs with {fmt.math} tensor cores, which {gpu_id} lacks; "
                f"use --engine vllm or sglang (weight-only, through {WEIGHT_ONLY_KERNELS[fmt.name]}), or "
                f"{'fp8 or awq' if fmt.math == 'fp4' else 'awq or int8'} with tensorrt-llm"
            )
        warnings.append(
            f"{gpu_id} has no {fmt.math} tensor cores: {engine} runs {fmt.name} weight-only through "
            f"{WEIGHT_ONLY_KERNELS[fmt.name]} (weights dequantized to 16-bit inside the GEMM): the memory savings "
            "hold and decode keeps its bandwidth gain, but prefill and batched steps run at 16-bit math speed"
        )
    return warnings


def kernel_dtype(gpu: GpuEntry, fmt: QuantFormat) -> str:
    """The measured GEMM curve's dtype the format's math runs at on this GPU (weight-only formats: bf16)."""
    if not has_native_math(gpu, fmt):
        return "bf16"
    if fmt.math == "fp4":
        return "nvfp4"
    if fmt.math == "fp8" or (fmt.math == "int8" and gpu.fp8_flops):
        return "fp8"
    return "bf16"


def kernels_for(
    gpu: GpuEntry, fmt: QuantFormat, n_gpus: int, engine: EngineProfile | None = None, kv_dtype: str = "bf16"
) -> Kernels | None:
    """Fits of the nearest measured GPU's kernels for this format and cache, and its collectives for `n_gpus`."""
    dtype = kernel_dtype(gpu, fmt)
    gemm = measured.gemm_roofline(gpu, dtype)
    moe = measured.moe_roofline(gpu, dtype)
    if gemm is None or moe is None:
        return None
    name = engine.name if engine is not None else "vllm"
    source = engine.allreduce_kernel if engine is not None else "nccl"
    return Kernels(
        gemm,
        moe,
        measured.collective(gpu, "all_reduce", source, n_gpus),
        measured.collective(gpu, "alltoall", "nccl", n_gpus),
        measured.attention_roofline(gpu, name, "generation", kv_dtype),
        measured.attention_roofline(gpu, name, "context", kv_dtype),
    )


def hardware_for(
    gpu: GpuEntry,
    fmt: QuantFormat,
    n_gpus: int,
    host_bandwidth_bytes_per_s: float | None = None,
    expert_parallel: bool = False,
    engine: EngineProfile | None = None,
    dp_attention: bool = False,
    kv_dtype: str = "bf16",
) -> Hardware:
    host = host_bandwidth_bytes_per_s or gpu.host_memory_bandwidth_bytes_per_s or DEFAULT_HOST_BANDWIDTH
    return Hardware(
        memory_bandwidth_bytes_per_s=gpu.memory_bandwidth_bytes_per_s,
        peak_flops_per_s=peak_flops(gpu, fmt),
        memory_bytes=gpu_memory_bytes(gpu),
        n_gpus=n_gpus,
        link_bandwidth_bytes_per_s=max(gpu.interconnect.bandwidth_bytes_per_s, 1e9),
        link_kind=gpu.interconnect.kind,
        kind=efficiency_class(gpu),
        wgmma=gpu.vendor == "nvidia" and 9.0 <= (compute_capability(gpu) or 0.0) < 11.0,
        host_bandwidth_bytes_per_s=host,
        attention_flops_per_s=gpu.bf16_flops or peak_flops(gpu, fmt),
        expert_parallel=expert_parallel and n_gpus > 1,
        dp_attention=dp_attention and expert_parallel and n_gpus > 1,
        kernels=kernels_for(gpu, fmt, n_gpus, engine, kv_dtype),
    )
