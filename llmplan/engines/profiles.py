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

Speed: vLLM, SGLang, TGI and TensorRT-LLM run the cuBLAS/CUTLASS/flash kernels NVIDIA measured (data/kernels/,
llmplan/core/): their profile says only which measured tables apply and what their scheduler does. llama.cpp and
Ollama run their own kernels, described here by device class relative to the fitted constants of
llmplan/core/speed_constants.py. Every engine difference is a keyword field of its profile.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmplan.engines.memory_rules import RuleSet

GIB = 1 << 30
MIB = 1 << 20


@dataclass(frozen=True)
class Efficiency:
    """What an engine's own kernels reach on one device class (engines without measured kernel tables)."""

    bandwidth: float  # weight streaming, relative to the fitted device-class share (speed_constants)
    attention: float  # attention FLOP rate, share of the 16-bit tensor peak
    kv_read: float  # cache reads, share of the datasheet bandwidth
    quant_decode: float = 1.0  # GGUF dequantizing mat-vec kernels vs 16-bit ones (decode)
    quant_prefill: float = 1.0  # GGUF quantized mat-mat kernels vs 16-bit GEMMs (prefill)


@dataclass(frozen=True, kw_only=True)
class EngineProfile:
    name: str
    continuous_batching: bool
    memory_fraction: float  # share of memory the engine allows itself (see `fraction_of_free`)
    fraction_of_free: bool  # True: the fraction applies to memory left after weights (TensorRT-LLM)
    context_bytes: int  # CUDA context, cuBLAS workspaces, allocator slack
    cuda_graph_bytes: int
    max_batch: int  # max_num_seqs / max_batch_size / parallel slots
    batch_tokens: int  # tokens per forward pass the activations are sized for
    efficiency: dict[str, Efficiency]  # own kernels by device kind: datacenter, workstation, consumer, apple...
    tensor_parallel: bool  # splits each layer; False: splits by layers (llama.cpp, Ollama)
    wgmma_factor: float = 1.0  # Hopper/Blackwell peaks need wgmma/tcgen05; mma.sync kernels reach this share
    concurrency_penalty: float = 0.0  # throughput lost per extra slot (engines without real batching)
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
    rules: RuleSet | None = None  # the release's rule set (memory_rules.RULE_SETS), resolved per deployment
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
    "consumer": Efficiency(1.0, 0.135, 0.27, 0.85, 0.8),
    "workstation": Efficiency(1.0, 0.0675, 0.27, 0.85, 0.8),
    "datacenter": Efficiency(1.0, 0.063, 0.165, 0.85, 0.8),
    "apple": Efficiency(1.0, 0.49, 0.176, 0.75, 0.8),
    "unified": Efficiency(1.0, 0.15, 0.17, 0.90, 0.8),
    "cpu": Efficiency(1.0, 0.25, 0.30, 0.90, 0.8),
}
# Serving engines on a device no measured table covers (AMD's and Apple's unified parts): their flash and paged
# kernels near the 16-bit peak and at most of the bandwidth, the rest as the device class's fitted shares.
_SERVING_FALLBACK = {kind: Efficiency(1.0, 0.5, 0.7) for kind in ("datacenter", "workstation", "consumer", "unified")}
_SERVING = EngineProfile(
    name="serving",
    continuous_batching=True,
    memory_fraction=0.9,
    fraction_of_free=False,
    context_bytes=1 * GIB,
    cuda_graph_bytes=512 * MIB,
    max_batch=256,
    batch_tokens=8192,
    efficiency=_SERVING_FALLBACK,
    tensor_parallel=True,
)
_LLAMA = EngineProfile(
    name="llama",
    continuous_batching=False,
    memory_fraction=1.0,
    fraction_of_free=False,
    context_bytes=400 * MIB,
    cuda_graph_bytes=0,
    max_batch=4,
    batch_tokens=512,
    efficiency=_LLAMA_CPP,
    tensor_parallel=False,
    wgmma_factor=0.55,
    measured_kernels=False,
    speed_group="llama.cpp",
    budget="buffers",
)

ENGINES: dict[str, EngineProfile] = {
    e.name: e
    for e in [
        replace(
            _SERVING,
            name="vllm",
            memory_fraction=0.90,
            max_batch=256,
            allreduce_kernel="vllm_custom",
            budget="profiled",
        ),
        replace(
            _SERVING,
            name="sglang",
            memory_fraction=0.88,
            max_batch=1024,
            allreduce_kernel="sglang_custom",
            budget="static",
        ),
        replace(_SERVING, name="tgi", memory_fraction=0.95, max_batch=512, batch_tokens=4096),
        replace(
            _SERVING,
            name="tensorrt-llm",
            memory_fraction=0.90,
            fraction_of_free=True,
            max_batch=2048,
            aliases=("trtllm", "trt-llm", "tensorrt_llm"),
            speed_group="tensorrt-llm",
            allreduce_kernel="trtllm_custom",
            reserves_whole_request=True,
            budget="free_fraction",
        ),
        replace(_LLAMA, name="llama.cpp", concurrency_penalty=0.08, aliases=("llamacpp", "llama-cpp")),
        replace(
            _LLAMA,
            name="ollama",
            context_bytes=500 * MIB,
            concurrency_penalty=0.15,
            efficiency={k: replace(v, bandwidth=v.bandwidth * 0.97) for k, v in _LLAMA_CPP.items()},
        ),
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
