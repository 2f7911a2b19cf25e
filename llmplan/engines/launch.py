"""`--emit ENGINE`: the command that launches exactly the planned deployment.

Flag names are each engine's own, at the releases listed in tests/data/engine_flags/ (a test checks every
emitted flag against those lists). llmplan's meanings stay: `--context` is the context per sequence and
`--concurrency` the planned load; llama.cpp's `-c` is shared by its `-np` slots, so it is context x slots.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from llmplan.engines.memory_rules import parallel_slots, sglang_default_fraction


@dataclass(frozen=True)
class LaunchPlan:
    """The plain values a launch line is made of (engines sit below the core: no Deployment here;
    llmplan.plans.launch fills this in from one)."""

    model_id: str
    model_source: str  # catalog | hub | local | gguf
    native_quant: str  # the checkpoint's own format
    is_moe: bool
    quant: str  # the planned weight format
    kv_dtype: str
    context: int  # tokens per sequence
    concurrency: int | None  # planned sequences at once; None: full load
    n_gpus: int
    expert_parallel: bool
    memory_fraction: float  # the engine's resolved fraction (vLLM --gpu-memory-utilization, ...)
    max_batch: int  # max_num_seqs / max_batch_size / slots
    batch_tokens: int  # tokens per step / llama.cpp -ub
    block_size: int | None = None  # vLLM --block-size, when given
    mem_fraction_static: float | None = None  # SGLang, when given
    flash_attn: bool | None = None  # llama.cpp / Ollama, when given


# weight formats an engine can produce on the fly from a 16-bit checkpoint (`--quantization fp8` in vLLM and
# SGLang); the others need a checkpoint saved in that format
ONLINE_QUANT = {"fp8"}
GGUF_TYPES = {
    "q8_0": "Q8_0",
    "q6_k": "Q6_K",
    "q5_k_m": "Q5_K_M",
    "q4_k_m": "Q4_K_M",
    "q3_k_m": "Q3_K_M",
    "q2_k": "Q2_K",
    "q4_0": "Q4_0",
    "iq4_xs": "IQ4_XS",
    "fp16": "F16",
    "bf16": "BF16",
}


@dataclass(frozen=True)
class Launch:
    engine: str
    argv: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def _slots(dep: LaunchPlan) -> int:
    return parallel_slots(dep.concurrency, dep.max_batch)


def _queue_note(dep: LaunchPlan, slots: int, flag: str) -> list[str]:
    """Said where the planned concurrency is more than the engine's slots: the rest wait."""
    if dep.concurrency and dep.concurrency > slots:
        return [
            f"{slots} slots as planned: the other {dep.concurrency - slots} of {dep.concurrency} concurrent "
            f"requests queue ({flag} {dep.concurrency} to serve them at once, with more memory)"
        ]
    return []


def _checkpoint_notes(dep: LaunchPlan) -> tuple[bool, list[str]]:
    """(pass --quantization, notes): a format the checkpoint is not in needs a checkpoint that is."""
    native = dep.native_quant
    if dep.quant == native or dep.quant in ("bf16", "fp16"):
        return False, []
    if dep.quant in ONLINE_QUANT and native in ("bf16", "fp16"):
        return True, []
    return False, [f"{dep.model_id} ships as {native}: point the command at a {dep.quant} checkpoint of it"]


def _vllm(dep: LaunchPlan) -> Launch:
    quantize, notes = _checkpoint_notes(dep)
    argv = [
        "vllm",
        "serve",
        dep.model_id,
        "--max-model-len",
        str(dep.context),
        "--gpu-memory-utilization",
        f"{dep.memory_fraction:g}",
        "--max-num-seqs",
        str(dep.max_batch),
        "--max-num-batched-tokens",
        str(dep.batch_tokens),
    ]
    if dep.n_gpus > 1:
        argv[3:3] = ["--tensor-parallel-size", str(dep.n_gpus)]
    if dep.expert_parallel and dep.is_moe and dep.n_gpus > 1:
        argv.append("--enable-expert-parallel")
    if dep.block_size:
        argv += ["--block-size", str(dep.block_size)]
    if dep.kv_dtype == "fp8":
        argv += ["--kv-cache-dtype", "fp8"]
    if quantize:
        argv += ["--quantization", dep.quant]
    return Launch("vllm", argv, notes)


def _sglang(dep: LaunchPlan) -> Launch:
    quantize, notes = _checkpoint_notes(dep)
    tp = dep.n_gpus
    fraction = dep.mem_fraction_static or sglang_default_fraction(tp)
    argv = [
        "python",
        "-m",
        "sglang.launch_server",
        "--model-path",
        dep.model_id,
        "--context-length",
        str(dep.context),
        "--mem-fraction-static",
        f"{fraction:g}",
        "--max-running-requests",
        str(dep.max_batch),
        "--chunked-prefill-size",
        str(dep.batch_tokens),
    ]
    if tp > 1:
        argv += ["--tp-size", str(tp)]
    if dep.expert_parallel and dep.is_moe and tp > 1:
        argv += ["--ep-size", str(tp), "--enable-dp-attention", "--dp-size", str(tp)]
    if dep.kv_dtype == "fp8":
        argv += ["--kv-cache-dtype", "fp8_e4m3"]
    if quantize:
        argv += ["--quantization", dep.quant]
    return Launch("sglang", argv, notes)


def _trtllm(dep: LaunchPlan) -> Launch:
    _, notes = _checkpoint_notes(dep)
    argv = [
        "trtllm-serve",
        dep.model_id,
        "--backend",
        "pytorch",
        "--max_seq_len",
        str(dep.context),
        "--max_batch_size",
        str(dep.max_batch),
        "--max_num_tokens",
        str(dep.batch_tokens),
        "--kv_cache_free_gpu_memory_fraction",
        f"{dep.memory_fraction:g}",
    ]
    if dep.n_gpus > 1:
        argv += ["--tp_size", str(dep.n_gpus)]
    if dep.expert_parallel and dep.is_moe and dep.n_gpus > 1:
        argv += ["--ep_size", str(dep.n_gpus)]
    if dep.kv_dtype == "fp8":
        notes.append("fp8 KV cache: set kv_cache_config.dtype: fp8 in the --extra_llm_api_options YAML")
    return Launch("tensorrt-llm", argv, notes)


def _gguf_file(dep: LaunchPlan) -> str:
    if dep.model_source == "gguf":
        return dep.model_id
    return f"{dep.model_id.split('/')[-1]}-{GGUF_TYPES.get(dep.quant, dep.quant.upper())}.gguf"


def _llama_cpp(dep: LaunchPlan, gpu_layers: int | None) -> Launch:
    slots = _slots(dep)
    flash = dep.flash_attn is not False
    argv = [
        "llama-server",
        "-m",
        _gguf_file(dep),
        "-c",
        str(dep.context * slots),
        "-np",
        str(slots),
        "-ngl",
        str(999 if gpu_layers is None else gpu_layers),
        "-ub",
        str(dep.batch_tokens),
        "-fa",
        "on" if flash else "off",
    ]
    if dep.kv_dtype in ("q8_0", "q4_0"):
        argv += ["-ctk", dep.kv_dtype, "-ctv", dep.kv_dtype]
    if dep.n_gpus > 1:
        argv += ["-sm", "layer"]
    notes = [] if dep.model_source == "gguf" else [f"download a {dep.quant} GGUF of {dep.model_id} as that file"]
    return Launch("llama.cpp", argv, notes + _queue_note(dep, slots, "plan with --parallel"))


def _ollama(dep: LaunchPlan) -> Launch:
    slots = _slots(dep)
    env = [
        f"OLLAMA_NUM_PARALLEL={slots}",
        f"OLLAMA_CONTEXT_LENGTH={dep.context}",
        f"OLLAMA_FLASH_ATTENTION={0 if dep.flash_attn is False else 1}",
    ]
    if dep.kv_dtype in ("q8_0", "q4_0"):
        env.append(f"OLLAMA_KV_CACHE_TYPE={dep.kv_dtype}")
    notes = [
        f"requests (or a Modelfile PARAMETER) may set num_ctx {dep.context}; Ollama allocates num_ctx x "
        f"{slots} parallel slots"
    ] + _queue_note(dep, slots, "plan with --parallel")
    return Launch("ollama", ["env", *env, "ollama", "serve"], notes)


def launch_for(dep: LaunchPlan, engine: str, gpu_layers: int | None = None) -> Launch:
    """The launch command of `dep` on `engine` (which must be the deployment's engine)."""
    builders = {"vllm": _vllm, "sglang": _sglang, "tensorrt-llm": _trtllm, "ollama": _ollama}
    if engine == "llama.cpp":
        return _llama_cpp(dep, gpu_layers)
    return builders[engine](dep)


EMIT_ENGINES = ("vllm", "sglang", "tensorrt-llm", "llama.cpp", "ollama")
