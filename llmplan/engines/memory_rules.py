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

Each engine's rules changed between releases; `--engine-version` picks the rule set (RULE_SETS below, each with
its source). The default is the newest modelled release of each engine.
"""

from __future__ import annotations

import re
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
    "gpu_memory_utilization": "--gpu-memory-utilization",
    "max_num_seqs": "--max-num-seqs",
    "max_num_batched_tokens": "--max-num-batched-tokens",
    "block_size": "--block-size",
    "mem_fraction_static": "--mem-fraction-static",
    "free_gpu_memory_fraction": "--free-gpu-memory-fraction",
    "parallel": "--parallel",
    "ubatch_size": "--ubatch-size",
    "flash_attn": "--flash-attn",
}
BLOCK_TOKENS = {"vllm": 16, "sglang": 1, "tensorrt-llm": 32, "tgi": 16, "llama.cpp": 256, "ollama": 256}
SGLANG_FRACTION_BY_TP = ((16, 0.79), (8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))
V0_CHUNKED_BATCHED_TOKENS = 2048  # vLLM V0 max_num_batched_tokens with chunked prefill (SchedulerConfig, 0.6.4+)
# SGLang >= 0.5.4 defaults by GPU memory (GiB below which the bucket applies): chunked_prefill_size and
# cuda_graph_max_bs at TP < 4 and TP >= 4 (server_args._handle_gpu_memory_settings, PR #10975)
SGLANG_BUCKETS = (
    (20, 2048, 8, 8),
    (35, 2048, 24, 80),
    (60, 4096, 32, 160),
    (90, 8192, 256, 512),
    (160, 8192, 256, 512),
    (10**9, 16384, 512, 512),
)

# ---- fitted by benchmarks/fit_engine_memory.py on tests/data/engine_logs/ (rerun it to refit) ----
# non-torch memory at start-up by tensor-parallel size: (smallest TP, bytes), largest first
NON_TORCH_BYTES_BY_TP = {
    "vllm": ((2, 404 * MIB), (1, 113 * MIB)),  # medians of 'non_torch_memory': TP1 (13 rows), TP2+ (6 rows)
    "sglang": ((2, 544 * MIB), (1, 839 * MIB)),  # CUDA total - 'avail mem' at 'Load weight begin'
}
# activation peak of the profile run: bytes per profiled token per unit of (3 x intermediate / TP + 4 x hidden)
# x dtype bytes (the MLP's and residual buffers), and per profiled logit row per vocab entry (fp32 logits and
# the sampler's copies); V0 computes logits for max_num_seqs rows, V1 for every profiled token
ACTIVATION_WIDTH_FACTOR = {"0.6": 0.716, "0.8": 0.085, "0.21": 0.085}
ACTIVATION_LOGIT_BYTES = {"0.6": 18.645, "0.8": 4.786, "0.21": 4.786}
# vLLM CUDA graphs: bytes per captured batch row per layer per hidden element (>= 0.21 counts them in the budget)
VLLM_GRAPH_BYTES_PER_ELEMENT = 24.3  # median of 11 V1 rows printing their graph memory
VLLM_NON_TORCH_BYTES = NON_TORCH_BYTES_BY_TP["vllm"][-1][1]
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


@dataclass(frozen=True)
class RuleSet:
    """How one range of an engine's releases budgets memory at start-up."""

    engine: str
    name: str  # what --engine-version names it by (its first modelled release)
    first: tuple[int, ...]  # first release it covers
    last: tuple[int, ...]  # newest release it covers (the newest checked against a log or the source)
    summary: str
    source: str
    profile: str = ""  # vLLM: "max_model_len" (V0 profiles max(max_model_len, 2048) tokens) | "batched_tokens"
    chunked_above: int = 0  # vLLM V0: chunked prefill on by default only above this max_model_len
    graphs_in_budget: bool = False  # vLLM >= 0.21: CUDA-graph memory reserved inside the utilization budget
    printed_tokens: str = "capacity"  # "concurrency_x_len": hybrid/sliding models print concurrency x max_model_len
    fraction_rule: str = ""  # SGLang: "by_tp" table | "reserved" (GPU-memory heuristic)
    backend: str = ""  # TensorRT-LLM: "cpp" (trtllm-build engine) | "pytorch"

    @property
    def releases(self) -> str:
        return f"{_dotted(self.first)}-{_dotted(self.last)}.x"


def _dotted(v: tuple[int, ...]) -> str:
    return ".".join(str(x) for x in v)


RULE_SETS: dict[str, tuple[RuleSet, ...]] = {
    "vllm": (
        RuleSet(
            "vllm",
            "0.6",
            (0, 5),
            (0, 7),
            "V0 engine: the profile run holds max(max_model_len, 2048) tokens unless chunked prefill is on, which "
            "V0 turned on by default only above 32K context (then max_num_batched_tokens, 2048)",
            "vllm/worker/worker.py determine_num_available_blocks; vllm/engine/arg_utils.py (v0.6.4-v0.7.3): "
            "enable_chunked_prefill default for max_model_len > 32K; vllm/config.py SchedulerConfig",
            profile="max_model_len",
            chunked_above=32768,
        ),
        RuleSet(
            "vllm",
            "0.8",
            (0, 8),
            (0, 20),
            "V1 engine: the profile run holds max_num_batched_tokens tokens (8192 on 70+ GiB GPUs, else 2048); "
            "CUDA graphs are captured after the KV cache, outside the budget",
            "vllm/v1/worker/gpu_worker.py determine_available_memory; EngineArgs._set_default_args_v1",
            profile="batched_tokens",
            printed_tokens="concurrency_x_len",
        ),
        RuleSet(
            "vllm",
            "0.21",
            (0, 21),
            (0, 25),
            "V1 with the estimated CUDA-graph memory reserved inside the gpu_memory_utilization budget",
            "start-up logs of vLLM 0.25.1 ('Estimated CUDA graph memory ... 0.85 is equivalent to 0.8489 "
            "without it'), tests/data/engine_logs/engine_logs.csv rows 17-18",
            profile="batched_tokens",
            graphs_in_budget=True,
            printed_tokens="concurrency_x_len",
        ),
    ),
    "sglang": (
        RuleSet(
            "sglang",
            "0.4",
            (0, 4),
            (0, 5, 3),
            "mem_fraction_static by tensor parallel size: 0.88 (TP1), 0.87 (2), 0.85 (4), 0.81 (8), 0.79 (16+)",
            "python/sglang/srt/server_args.py __post_init__ (v0.4.x)",
            fraction_rule="by_tp",
        ),
        RuleSet(
            "sglang",
            "0.5.4",
            (0, 5, 4),
            (0, 5),
            "mem_fraction_static = (GPU memory - reserved) / GPU memory, reserved = 512 MiB + 1.5 MiB per "
            "chunked-prefill token + 2 MiB per CUDA-graph batch + 128 MiB per TP rank, at least 10 GiB above "
            "60 GiB GPUs",
            "sgl-project/sglang PR #10975 (server_args._handle_gpu_memory_settings)",
            fraction_rule="reserved",
        ),
    ),
    "tensorrt-llm": (
        RuleSet(
            "tensorrt-llm",
            "0.9",
            (0, 9),
            (0, 21),
            "C++ engine (trtllm-build): the KV pool is free_gpu_memory_fraction of what is free once the engine "
            "(weights and its activation workspace for max_num_tokens) is loaded",
            "tensorrt_llm/runtime KV cache manager ('Memory usage when calculating max tokens in paged kv cache')",
            backend="cpp",
        ),
        RuleSet(
            "tensorrt-llm",
            "1.0",
            (1, 0),
            (1, 2),
            "PyTorch backend: free_gpu_memory_fraction of what is free after the weights and a profiling "
            "forward of max_num_tokens",
            "tensorrt_llm/_torch/pyexecutor/_util.py KvCacheCreator ('Peak memory during memory usage profiling')",
            backend="pytorch",
        ),
    ),
}


def _pad(v: tuple[int, ...], fill: int) -> tuple[int, ...]:
    return v + (fill,) * (3 - len(v))


def known_versions(engine: str) -> str:
    sets = RULE_SETS.get(engine, ())
    return ", ".join(f"{r.name} ({r.releases})" for r in sets)


def _parse_version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return tuple(int(x) for x in m.groups() if x is not None)


def rule_set(engine: str, version: str | None = None) -> RuleSet | None:
    """The rule set for `version` of `engine` (None: the newest modelled); None for engines without versions.

    An unknown or unmodelled version is an error naming the known ones."""
    sets = RULE_SETS.get(engine)
    if not sets:
        if version:
            raise InputError(
                f"--engine-version selects the memory rules of vllm, sglang or tensorrt-llm; {engine} "
                "has one rule set: drop --engine-version"
            )
        return None
    if not version:
        return sets[-1]
    v = _parse_version(version)
    for r in sets:
        if v is not None and _pad(r.first, 0) <= _pad(v, 0) and _pad(v, 0) <= _pad(r.last, 999):
            return r
    raise InputError(
        f"unknown {engine} version {version!r}; known: {known_versions(engine)} "
        f"(give one of them to --engine-version, or leave it out for {sets[-1].name})"
    )


def version_from_log(engine: str, text: str) -> str | None:
    """The --engine-version a start-up log's release corresponds to (builds without a version: the newest)."""
    sets = RULE_SETS.get(engine)
    if not sets:
        return None
    if engine == "tensorrt-llm":
        return "1.0" if "pytorch" in text.lower() else "0.9"
    if engine == "vllm" and re.search(r"\bV0\b", text):
        return sets[0].name  # the V0 engine, still selectable (VLLM_USE_V1=0) up to 0.10
    v = _parse_version(text)
    if v is None or v[0] > 1000 or (len(v) >= 2 and v[0] >= 2000):
        return sets[-1].name
    try:
        found = rule_set(engine, ".".join(map(str, v)))
    except InputError:
        found = None
    return (found or sets[-1]).name


def check_settings(engine: str, settings: EngineSettings) -> None:
    """A flag of another engine is an error naming the engine it belongs to."""
    for name, value in settings.given().items():
        owners = FLAG_ENGINES[name]
        if engine not in owners:
            raise InputError(
                f"{CLI_NAMES[name]} is a {' / '.join(owners)} flag, but the plan runs {engine}; "
                f"drop it or add --engine {owners[0]}"
            )
        if (
            name.endswith(("utilization", "fraction_static", "memory_fraction"))
            and isinstance(value, (int, float))
            and not 0 < float(value) <= 1
        ):
            raise InputError(f"{CLI_NAMES[name]} must be in (0, 1], got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise InputError(f"{CLI_NAMES[name]} must be a positive whole number, got {value}")


def sglang_default_fraction(tp: int) -> float:
    return next(f for min_tp, f in SGLANG_FRACTION_BY_TP if tp >= min_tp)


def vllm_default_batched_tokens(gpu_memory_bytes: float) -> int:
    return 8192 if gpu_memory_bytes >= 70 * GIB else 2048


def vllm_profile_tokens(rules: RuleSet, settings: EngineSettings, gpu_memory_bytes: float, context: int | None) -> int:
    """Tokens of vLLM's start-up profile run: V1 runs max_num_batched_tokens; V0 runs max(max_model_len, 2048)
    unless chunked prefill is on (by default only above 32K context), which caps it at max_num_batched_tokens."""
    if settings.max_num_batched_tokens:
        return settings.max_num_batched_tokens
    if rules.profile == "max_model_len":
        if context and context > rules.chunked_above:
            return V0_CHUNKED_BATCHED_TOKENS
        return max(context or 2048, 2048)
    return vllm_default_batched_tokens(gpu_memory_bytes)


def sglang_reserved_fraction(gpu_memory_bytes: float, tp: int, chunked_prefill: int | None) -> float:
    """SGLang >= 0.5.4: mem_fraction_static = (GPU memory - reserved) / GPU memory (PR #10975), with its
    chunked-prefill and CUDA-graph batch defaults by GPU memory bucket (MiB)."""
    gpu_mib = gpu_memory_bytes / MIB
    # the first bucket the GPU's memory falls under (the last one holds every larger GPU)
    _, chunk, graphs_small_tp, graphs_large_tp = next(
        (b for b in SGLANG_BUCKETS if gpu_mib < b[0] * 1024), SGLANG_BUCKETS[-1]
    )
    chunk = chunked_prefill or chunk
    graphs = graphs_small_tp if tp < 4 else graphs_large_tp
    reserved = 512 + max(chunk, 2048) * 1.5 + graphs * 2 + tp / 8 * 1024
    if gpu_mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return round((gpu_mib - reserved) / gpu_mib, 3)


def non_torch_bytes(engine: str, tp: int) -> int:
    """Memory outside torch's allocator that appears at start-up (CUDA context growth, NCCL, custom all-reduce
    buffers), by tensor-parallel size: fitted on the start-up logs (benchmarks/fit_engine_memory.py)."""
    table = NON_TORCH_BYTES_BY_TP.get(engine)
    if not table:
        return 0
    return next(b for min_tp, b in table if tp >= min_tp)


def effective_profile(profile, settings: EngineSettings, gpu_memory_bytes: float, tp: int, context: int | None = None):
    """The engine profile with its release's rules and defaults resolved for this GPU and the user's flags."""
    name = profile.name
    rules = rule_set(name, settings.engine_version)
    fraction, max_batch, batch_tokens = profile.memory_fraction, profile.max_batch, profile.batch_tokens
    profile_tokens = 0
    if name == "vllm" and rules is not None:
        fraction = settings.gpu_memory_utilization or fraction
        batch_tokens = profile_tokens = vllm_profile_tokens(rules, settings, gpu_memory_bytes, context)
    elif name == "sglang" and rules is not None:
        batch_tokens = settings.max_num_batched_tokens or batch_tokens
        if settings.mem_fraction_static:
            fraction = settings.mem_fraction_static
        elif rules.fraction_rule == "reserved":
            fraction = sglang_reserved_fraction(gpu_memory_bytes, tp, settings.max_num_batched_tokens)
        else:
            fraction = sglang_default_fraction(tp)
    elif name == "tensorrt-llm":
        fraction = settings.free_gpu_memory_fraction or fraction
        batch_tokens = profile_tokens = settings.max_num_batched_tokens or batch_tokens
    elif name in ("llama.cpp", "ollama"):
        max_batch = settings.parallel or max_batch
        batch_tokens = settings.ubatch_size or batch_tokens
    if settings.max_num_seqs and name in FLAG_ENGINES["max_num_seqs"]:
        max_batch = settings.max_num_seqs
    return replace(
        profile,
        memory_fraction=fraction,
        max_batch=max_batch,
        batch_tokens=batch_tokens,
        rules=rules,
        profile_tokens=profile_tokens,
        non_torch_bytes=non_torch_bytes(name, tp),
    )


def parallel_slots(concurrency: int | None, max_batch: int) -> int:
    """Slots llama.cpp (`-np`) and Ollama (OLLAMA_NUM_PARALLEL) allocate: the planned concurrency up to the
    engine's slot count (default 4, `--parallel N`); requests beyond it wait in the queue and hold no cache."""
    return max(min(concurrency or max_batch, max_batch), 1)


def block_tokens(engine: str, settings: EngineSettings) -> int:
    return settings.block_size or BLOCK_TOKENS.get(engine, 16)
