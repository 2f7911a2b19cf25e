"""Inference engines: how each budgets GPU memory and how efficiently it uses the hardware.

Memory behaviour is taken from each engine's documentation:
- vLLM: `gpu_memory_utilization` (default 0.9) of the WHOLE GPU holds weights, activations, CUDA graphs
  and the KV cache; `max_num_seqs` 256.
- SGLang: `mem_fraction_static` (about 0.88 on 80 GB cards) of the GPU holds weights and the KV pool;
  activations live outside it.
- TensorRT-LLM: `free_gpu_memory_fraction` (default 0.9) of the memory LEFT FREE after weights and
  activations load becomes the KV pool; `max_batch_size` 2048 in trtllm-bench.
- TGI: `cuda_memory_fraction` 1.0 less a safety margin; token-budgeted batching.
- llama.cpp / Ollama: no memory fraction; a CUDA context plus a compute buffer; a few parallel slots
  (`-np`, OLLAMA_NUM_PARALLEL) sharing one context.

Efficiency factors say what share of the datasheet bandwidth / tensor throughput the engine's kernels
reach. They come from public measurements across many GPUs (see tests/data/calibration.csv), not from
one case, and are the same for every model and GPU of a device class.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class Efficiency:
    """Share of the catalog's datasheet figures an engine's kernels reach on one device class."""

    bandwidth: float  # decode: streaming weights
    compute: float  # GEMMs, of the catalog's dense 16-bit (or fp8/fp4) tensor figure
    attention: float  # attention FLOPs relative to GEMM FLOPs (flash kernels near 1)
    kv_read: float  # decode: reading the cache, relative to `bandwidth`
    layer_overhead_s: float  # per layer per step: launches and syncs not hidden by graphs
    quant_decode: float = 1.0  # GGUF dequantizing mat-vec kernels vs 16-bit ones (decode)
    quant_prefill: float = 1.0  # GGUF quantized mat-mat kernels vs 16-bit GEMMs (prefill)


@dataclass(frozen=True)
class EngineProfile:
    name: str
    continuous_batching: bool
    memory_fraction: float  # share of memory the engine allows itself (see `fraction_of_free`)
    fraction_of_free: bool  # True: the fraction applies to memory left after weights (TensorRT-LLM)
    context_bytes: int  # CUDA context, cuBLAS workspaces, allocator slack
    cuda_graph_bytes: int
    max_batch: int  # max_num_seqs / max_batch_size / parallel slots
    batch_tokens: int  # tokens per forward pass the activations are sized for
    efficiency: dict[str, Efficiency]  # by device kind: datacenter, workstation, consumer, apple, unified, cpu
    step_overhead_s: float  # per decode step: scheduler, sampling
    tensor_parallel: bool  # splits each layer; False: splits by layers (llama.cpp, Ollama)
    wgmma_factor: float = 1.0  # Hopper/Blackwell peaks need wgmma/tcgen05; mma.sync kernels reach this share
    concurrency_penalty: float = 0.0  # throughput lost per extra slot (engines without real batching)
    moe_compute_factor: float = 1.0  # grouped expert GEMMs vs dense GEMMs of the same FLOPs
    moe_bandwidth_factor: float = 1.0  # expert weight reads (many small matrices) vs dense weight streaming
    sequence_overhead_s: float = 0.0  # host time per sequence per step (scheduling, sampling)
    tp_scaling_loss: float = 0.0  # extra step time per doubling of tensor parallel (thinner GEMMs)
    ep_efficiency_gain: float = 0.0  # expert GEMM efficiency grows as n_gpus ** this under expert parallel
    aliases: tuple[str, ...] = ()
    measured_kernels: bool = True  # its GEMMs are the cuBLAS/CUTLASS kinds aiconfigurator measured
    speed_group: str = "serving"  # which fitted framework constants apply (core/speed_constants.py)
    allreduce_kernel: str = "nccl"  # measured all-reduce it runs: nccl or its own custom kernel
    reserves_whole_request: bool = False  # admits a request only with cache for input + output reserved
    # How the engine sizes its KV pool (llmplan.engines.memory_rules): "profiled" (vLLM: a fraction of the GPU less
    # weights, a profile run's activation peak and non-torch memory), "static" (SGLang: a static fraction holds
    # weights + pool), "free_fraction" (TensorRT-LLM: a fraction of what is free after loading), "buffers" (llama.cpp,
    # Ollama: exactly the cells asked for), "fraction" (TGI: a fraction less a fixed overhead).
    budget: str = "fraction"
    rules: object = None  # the release's RuleSet (memory_rules.RULE_SETS), resolved per deployment
    profile_tokens: int = 0  # tokens of the start-up profile run (vLLM), resolved per deployment
    non_torch_bytes: int = 0  # CUDA context growth, NCCL and all-reduce buffers at this TP, resolved per deployment

    def eff(self, kind: str) -> Efficiency:
        return self.efficiency.get(kind) or self.efficiency["datacenter"]


# llama.cpp (llama-bench, CUDA/Metal/CPU back-ends). Its mat-vec and mat-mat kernels' shares of datasheet
# bandwidth and tensor peak per device class are fitted constants (core/speed_constants.py); here, relative to
# them: `bandwidth` (1.0; Ollama's build a little below), and in absolute terms the attention FLOP rate as a
# share of the 16-bit peak (CUDA builds of 2024 ran attention without flash kernels, far below GEMM speed;
# Metal's ran near it), the cache-read share of datasheet bandwidth, and GGUF's dequantizing kernels against
# 16-bit ones (decode and prefill).
_LLAMA_CPP = {
    "consumer": Efficiency(1.0, 0.0, 0.135, 0.27, 0.0, 0.85, 0.8),
    "workstation": Efficiency(1.0, 0.0, 0.0675, 0.27, 0.0, 0.85, 0.8),
    "datacenter": Efficiency(1.0, 0.0, 0.063, 0.165, 0.0, 0.85, 0.8),
    "apple": Efficiency(1.0, 0.0, 0.49, 0.176, 0.0, 0.75, 0.8),
    "unified": Efficiency(1.0, 0.0, 0.15, 0.17, 0.0, 0.90, 0.8),
    "cpu": Efficiency(1.0, 0.0, 0.25, 0.30, 0.0, 0.90, 0.8),
}
# Serving engines with paged/flash attention and CUDA graphs, calibrated on TensorRT-LLM 1.0 offline
# full-load throughput (159 rows: 7 models, H100/B200/RTX PRO 6000, TP 1-8, ten request shapes) with
# a handful of global factors, none per row: weights stream at 75% of datasheet bandwidth, paged KV
# reads at 85% of that; dense GEMMs reach 80% of the tensor peak (100% of the RTX PRO 6000's catalog
# figure, whose fp32-accumulate rate understates what fp8/fp4 kernels get); grouped MoE expert GEMMs run
# at 20% of dense efficiency (rising as n^0.3 under expert parallel) and expert weight reads at half the
# dense streaming rate; 30% step-time loss per doubling of tensor parallel; 5 us host time per sequence
# per step. vLLM and SGLang land ~20% below TensorRT-LLM on compute-bound work (their own benchmarks
# put them within 4% of each other).
_TRTLLM = {
    "datacenter": Efficiency(0.75, 0.80, 0.9, 0.85, 3e-6),
    "workstation": Efficiency(0.75, 1.00, 0.9, 0.85, 3e-6),
    "consumer": Efficiency(0.75, 1.00, 0.9, 0.85, 3e-6),
    "unified": Efficiency(0.65, 0.50, 0.8, 0.85, 5e-6),
}
_SERVING = {k: replace(v, compute=v.compute * 0.8, layer_overhead_s=4e-6) for k, v in _TRTLLM.items()}
_SERVING_KW = dict(moe_compute_factor=0.2, moe_bandwidth_factor=0.5, sequence_overhead_s=5e-6, tp_scaling_loss=0.3,
                   ep_efficiency_gain=0.3)

ENGINES: dict[str, EngineProfile] = {
    e.name: e
    for e in [
        EngineProfile("vllm", True, 0.90, False, 1 * GIB, 512 * MIB, 256, 8192, _SERVING, 4e-4, True,
                      allreduce_kernel="vllm_custom", budget="profiled", **_SERVING_KW),
        EngineProfile("sglang", True, 0.88, False, 1 * GIB, 512 * MIB, 1024, 8192, _SERVING, 4e-4, True,
                      allreduce_kernel="sglang_custom", budget="static", **_SERVING_KW),
        EngineProfile("tgi", True, 0.95, False, 1 * GIB, 512 * MIB, 512, 4096,
                      {k: replace(v, bandwidth=v.bandwidth * 0.95, compute=v.compute * 0.9, layer_overhead_s=5e-6)
                       for k, v in _SERVING.items()}, 6e-4, True, **_SERVING_KW),
        EngineProfile("tensorrt-llm", True, 0.90, True, 1 * GIB, 512 * MIB, 2048, 8192, _TRTLLM, 2e-4, True,
                      aliases=("trtllm", "trt-llm", "tensorrt_llm"), speed_group="tensorrt-llm",
                      allreduce_kernel="trtllm_custom", reserves_whole_request=True, budget="free_fraction", **_SERVING_KW),
        EngineProfile("llama.cpp", False, 1.0, False, 400 * MIB, 0, 4, 512, _LLAMA_CPP, 3e-4, False,
                      wgmma_factor=0.55, concurrency_penalty=0.08, aliases=("llamacpp", "llama-cpp"),
                      measured_kernels=False, speed_group="llama.cpp", budget="buffers"),
        EngineProfile("ollama", False, 1.0, False, 500 * MIB, 0, 4, 512,
                      {k: replace(v, bandwidth=v.bandwidth * 0.97) for k, v in _LLAMA_CPP.items()}, 5e-4, False,
                      wgmma_factor=0.55, concurrency_penalty=0.15, measured_kernels=False,
                      speed_group="llama.cpp", budget="buffers"),
    ]
}

_ALIASES = {alias: e.name for e in ENGINES.values() for alias in e.aliases}


def canonical_engine(name: str) -> str | None:
    key = name.strip().lower()
    if key in ENGINES:
        return key
    return _ALIASES.get(key)


def get_engine(name: str) -> EngineProfile:
    from llmplan.errors import InputError

    key = canonical_engine(name)
    if key is None:
        raise InputError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
    return ENGINES[key]
