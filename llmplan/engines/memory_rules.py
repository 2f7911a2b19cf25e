"""How each engine budgets GPU memory at start-up, from its source, with the flags that change it.

- vLLM (v1 engine, 0.10-0.11; `vllm/v1/worker/gpu_worker.py` determine_available_memory): the KV cache
  gets `gpu_memory_utilization` x total memory, less the weights, the torch activation peak of a profile
  run of `max_num_batched_tokens` tokens and the non-torch memory (NCCL, cuBLAS) that appeared since
  start-up. The CUDA context and the CUDA graphs captured after the KV cache sit in the remaining share.
  Defaults (`EngineArgs._set_default_args_v1`, `vllm serve`): max_num_batched_tokens 8192 on GPUs with
  70 GiB or more, else 2048; max_num_seqs 256; block_size 16.
- SGLang (`server_args.py`, 0.4): `mem_fraction_static` of the GPU holds weights and the KV pool;
  activations and CUDA graphs use the rest. Default by tensor parallel size: 0.88 (TP 1), 0.87 (2),
  0.85 (4), 0.81 (8), 0.79 (16+). `max_total_num_tokens` = pool / bytes per token (page size 1).
- TensorRT-LLM (PyTorch back-end, KvCacheConfig): `free_gpu_memory_fraction` (0.9) of the memory free
  after weights and the activation workspace of `max_num_tokens` load; tokens_per_block 32.
- llama.cpp / Ollama: buffers of exactly what was asked: the KV cache for `-c` cells (padded to 256,
  shared by `--parallel` slots), a compute buffer sized by the micro-batch `-ub` (logits of -ub rows,
  and without flash attention the ub x n_ctx attention scores of one layer), and a CUDA context.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from llmplan.errors import InputError

GIB = 1 << 30
MIB = 1 << 20

# flag -> the engines whose own parser has it (names as each engine spells them)
FLAG_ENGINES = {
    "gpu_memory_utilization": ("vllm",),
    "max_num_seqs": ("vllm", "sglang", "tensorrt-llm"),
    "max_num_batched_tokens": ("vllm", "sglang", "tensorrt-llm"),
    "block_size": ("vllm",),
    "mem_fraction_static": ("sglang",),
    "free_gpu_memory_fraction": ("tensorrt-llm",),
    "parallel": ("llama.cpp", "ollama"),
    "ubatch_size": ("llama.cpp", "ollama"),
    "flash_attn": ("llama.cpp", "ollama"),
}
CLI_NAMES = {
    "gpu_memory_utilization": "--gpu-memory-utilization", "max_num_seqs": "--max-num-seqs",
    "max_num_batched_tokens": "--max-num-batched-tokens", "block_size": "--block-size",
    "mem_fraction_static": "--mem-fraction-static", "free_gpu_memory_fraction": "--free-gpu-memory-fraction",
    "parallel": "--parallel", "ubatch_size": "--ubatch-size", "flash_attn": "--flash-attn",
}
BLOCK_TOKENS = {"vllm": 16, "sglang": 1, "tensorrt-llm": 32, "tgi": 16, "llama.cpp": 256, "ollama": 256}
SGLANG_FRACTION_BY_TP = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))
VLLM_NON_TORCH_BYTES = 256 * MIB  # cuBLAS workspaces and allocator slack measured after start-up, one GPU
VLLM_NCCL_BYTES = 768 * MIB  # NCCL and custom all-reduce buffers under tensor parallel
LLAMA_CPP_CONTEXT_BYTES = 384 * MIB  # CUDA context of a llama.cpp process (not among its printed buffers)


@dataclass(frozen=True)
class EngineSettings:
    """The engine's own memory flags; None means the engine's default."""

    gpu_memory_utilization: float | None = None
    max_num_seqs: int | None = None
    max_num_batched_tokens: int | None = None
    block_size: int | None = None
    mem_fraction_static: float | None = None
    free_gpu_memory_fraction: float | None = None
    parallel: int | None = None
    ubatch_size: int | None = None
    flash_attn: bool | None = None
    engine_version: str | None = None

    def given(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "engine_version"}


def check_settings(engine: str, settings: EngineSettings) -> None:
    """A flag of another engine is an error naming the engine it belongs to."""
    for name, value in settings.given().items():
        owners = FLAG_ENGINES[name]
        if engine not in owners:
            raise InputError(f"{CLI_NAMES[name]} is a {' / '.join(owners)} flag, but the plan runs {engine}; "
                             f"drop it or add --engine {owners[0]}")
        if name.endswith(("utilization", "fraction_static", "memory_fraction")) and not 0 < float(value) <= 1:
            raise InputError(f"{CLI_NAMES[name]} must be in (0, 1], got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise InputError(f"{CLI_NAMES[name]} must be a positive whole number, got {value}")


def sglang_default_fraction(tp: int) -> float:
    return next(f for min_tp, f in SGLANG_FRACTION_BY_TP if tp >= min_tp)


def vllm_default_batched_tokens(gpu_memory_bytes: float) -> int:
    return 8192 if gpu_memory_bytes >= 70 * GIB else 2048


def effective_profile(profile, settings: EngineSettings, gpu_memory_bytes: float, tp: int):
    """The engine profile with its defaults resolved for this GPU and the user's flags applied."""
    name = profile.name
    fraction, max_batch, batch_tokens = profile.memory_fraction, profile.max_batch, profile.batch_tokens
    if name == "vllm":
        fraction = settings.gpu_memory_utilization or fraction
        batch_tokens = settings.max_num_batched_tokens or vllm_default_batched_tokens(gpu_memory_bytes)
    elif name == "sglang":
        fraction = settings.mem_fraction_static or sglang_default_fraction(tp)
        batch_tokens = settings.max_num_batched_tokens or batch_tokens
    elif name == "tensorrt-llm":
        fraction = settings.free_gpu_memory_fraction or fraction
        batch_tokens = settings.max_num_batched_tokens or batch_tokens
    elif name in ("llama.cpp", "ollama"):
        max_batch = settings.parallel or max_batch
        batch_tokens = settings.ubatch_size or batch_tokens
    if settings.max_num_seqs and name in FLAG_ENGINES["max_num_seqs"]:
        max_batch = settings.max_num_seqs
    return replace(profile, memory_fraction=fraction, max_batch=max_batch, batch_tokens=batch_tokens)


def parallel_slots(concurrency: int | None, max_batch: int) -> int:
    """Slots llama.cpp (`-np`) and Ollama (OLLAMA_NUM_PARALLEL) allocate: the planned concurrency up to the
    engine's slot count (default 4, `--parallel N`); requests beyond it wait in the queue and hold no cache."""
    return max(min(concurrency or max_batch, max_batch), 1)


def block_tokens(engine: str, settings: EngineSettings) -> int:
    return settings.block_size or BLOCK_TOKENS.get(engine, 16)
