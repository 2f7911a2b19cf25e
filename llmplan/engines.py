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

from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20


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
    bandwidth_efficiency: float  # decode: share of datasheet bandwidth reached streaming weights
    compute_efficiency: float  # prefill / large batches: share of dense tensor throughput
    attention_efficiency: float  # attention math relative to GEMM throughput (flash kernels ~ 1)
    step_overhead_s: float  # per decode step: scheduler, sampling, launches not hidden by graphs
    layer_overhead_s: float  # per layer per step: kernel launch latency
    tensor_parallel: bool  # splits each layer; False: splits by layers (llama.cpp, Ollama)
    concurrency_penalty: float = 0.0  # throughput lost per extra slot (engines without real batching)
    aliases: tuple[str, ...] = ()


ENGINES: dict[str, EngineProfile] = {
    e.name: e
    for e in [
        EngineProfile("vllm", True, 0.90, False, 1 * GIB, 512 * MIB, 256, 8192,
                      0.80, 0.62, 0.85, 4e-4, 4e-6, True),
        EngineProfile("sglang", True, 0.88, False, 1 * GIB, 512 * MIB, 1024, 8192,
                      0.80, 0.62, 0.85, 4e-4, 4e-6, True),
        EngineProfile("tgi", True, 0.95, False, 1 * GIB, 512 * MIB, 512, 4096,
                      0.75, 0.55, 0.8, 6e-4, 5e-6, True),
        EngineProfile("tensorrt-llm", True, 0.90, True, 1 * GIB, 512 * MIB, 2048, 8192,
                      0.85, 0.70, 0.9, 2e-4, 3e-6, True, aliases=("trtllm", "trt-llm", "tensorrt_llm")),
        EngineProfile("llama.cpp", False, 1.0, False, 400 * MIB, 0, 4, 512,
                      0.80, 0.45, 0.12, 3e-4, 3e-5, False, concurrency_penalty=0.08,
                      aliases=("llamacpp", "llama-cpp")),
        EngineProfile("ollama", False, 1.0, False, 500 * MIB, 0, 4, 512,
                      0.78, 0.45, 0.12, 5e-4, 3e-5, False, concurrency_penalty=0.15),
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
