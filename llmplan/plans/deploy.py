"""Assemble a Deployment from what a user named: resolution, defaults and validation in one place.

`fit`, `compare` and `check` all build their deployments here, so defaults never drift apart.
"""

from __future__ import annotations

import math

from llmplan.catalog.loader import Catalog
from llmplan.core.fit import Deployment
from llmplan.core.hardware import compute_capability, gpu_memory_bytes
from llmplan.engines.formats import FORMATS, canonical_kv_dtype, canonical_quant, lacks_bf16
from llmplan.engines.memory_rules import EngineSettings, check_settings, effective_profile
from llmplan.engines.profiles import ENGINES, canonical_engine
from llmplan.errors import InputError, UnsupportedError, check_magnitude
from llmplan.models.resolved import ResolvedModel
from llmplan.models.sources import resolve_model

DEFAULT_CONTEXT = 8192
DEFAULT_INPUT_TOKENS = 1024
DEFAULT_OUTPUT_TOKENS = 256


def parse_concurrency(value: str | int | None) -> int | None:
    """An integer, or `max` (steady full load) -> None."""
    if value is None:
        return 1
    text = str(value).strip().lower()
    if text == "max":
        return None
    try:
        n = int(text)
    except ValueError:
        raise InputError(f"concurrency must be a positive whole number or 'max', got {value!r}") from None
    if n < 1:
        raise InputError(f"concurrency must be at least 1, got {n}")
    check_magnitude("concurrency", n)
    return n


def parse_gpu_spec(value: str) -> tuple[int, str]:
    text = str(value).strip().lower().replace(" ", "")
    head, sep, tail = text.partition("x")
    if sep and head.isdigit() and tail:
        n = int(head)
        if n < 1:
            raise InputError(f"GPU count must be at least 1 in {value!r}")
        return n, tail
    if not text or text.startswith("-"):
        raise InputError(f"cannot read GPU {value!r}; use ID or NxID, e.g. h100-sxm or 4xh100-sxm")
    return 1, text


def default_engine(quant: str, gpu_vendor: str) -> str:
    fmt = FORMATS[quant]
    if fmt.is_gguf or gpu_vendor in ("apple", "cpu"):
        return "llama.cpp"
    return "vllm"


def no_bf16(gpu_entry) -> float | None:
    """The compute capability of an NVIDIA GPU without bf16 math (V100, T4), else None."""
    cc = compute_capability(gpu_entry)
    return cc if lacks_bf16(gpu_entry.vendor, cc) else None


def _weight_format(quant: str | None, resolved: ResolvedModel, gpu_id: str, gpu_entry, notes: list[str]) -> str:
    """The format key the weights run in: the asked one, else the checkpoint's; bf16 runs as fp16 on a GPU
    without bf16 math."""
    quant_name = quant or resolved.gguf_quant or resolved.spec.native_quant
    key = canonical_quant(quant_name)
    if key is None:
        raise InputError(f"unknown quantization format {quant_name!r}; choose one of: {', '.join(FORMATS)}")
    cc = no_bf16(gpu_entry)
    if cc is not None and key == "bf16":
        if quant is not None and canonical_quant(quant) == "bf16":
            raise UnsupportedError(
                f"{gpu_id} (compute capability {cc:.1f}) has no bf16 math; use the fp16 format "
                "instead (--quant fp16: the same bytes, run in fp16)"
            )
        notes.append(f"{gpu_id} has no bf16 math (compute capability {cc:.1f}): the bf16 checkpoint runs as fp16")
        return "fp16"
    return key


def _engine_key(
    engine: str | None, quant_key: str, gpu_entry, settings: EngineSettings, dp_attention: bool, expert_parallel: bool
) -> str:
    engine_name = engine or default_engine(quant_key, gpu_entry.vendor)
    ekey = canonical_engine(engine_name)
    if ekey is None:
        raise InputError(f"unknown engine {engine_name!r}; choose one of: {', '.join(ENGINES)}")
    check_settings(ekey, settings)
    check_dp_attention(dp_attention, expert_parallel)
    return ekey


def check_dp_attention(dp_attention: bool, expert_parallel: bool) -> None:
    if dp_attention and not expert_parallel:
        raise InputError(
            "--dp-attention spreads attention over the GPUs of an expert-parallel MoE; "
            "add --expert-parallel, or drop --dp-attention"
        )


def _kv_cache_dtype(kv_dtype: str | None, spec, gpu_id: str, gpu_entry, ekey: str) -> str:
    """The KV cache dtype: the asked one, else the checkpoint's, as the engine and GPU can store it."""
    cc = no_bf16(gpu_entry)
    if kv_dtype is None or kv_dtype == "auto":
        kv = spec.native_kv_dtype or spec.dtype
        if kv == "bf16" and cc is not None:
            kv = "fp16"  # the same 2 bytes; said in the weights' note when the weights moved too
    else:
        kv = canonical_kv_dtype(kv_dtype)
        if kv is None:
            raise InputError(f"unknown KV cache dtype {kv_dtype!r}; choose bf16, fp16, fp8, int8, q8_0 or q4_0")
        if kv == "bf16" and cc is not None:
            raise UnsupportedError(f"{gpu_id} (compute capability {cc:.1f}) has no bf16 math; use --kv-dtype fp16")
    if kv in ("q8_0", "q4_0") and ekey not in ("llama.cpp", "ollama"):
        raise InputError(f"a {kv} KV cache is a llama.cpp/Ollama feature; with {ekey} use --kv-dtype fp8")
    if kv == "fp8" and ekey in ("llama.cpp", "ollama"):
        raise InputError(f"{ekey} stores the KV cache as f16, q8_0 or q4_0, not fp8")
    return kv


def _request_shape(
    context: int | None, input_tokens: int | None, output_tokens: int | None, replicas: int, max_context: int
) -> tuple[int, int, int]:
    """(context, input, output tokens), defaults filled in; each given size must be a positive whole number."""
    for name, value in (
        ("context", context),
        ("input tokens", input_tokens),
        ("output tokens", output_tokens),
        ("replicas", replicas),
    ):
        if value is not None and value < 1:
            raise InputError(f"{name} must be a positive whole number, got {value}")
        check_magnitude(name, value)
    base_ctx = context or min(DEFAULT_CONTEXT, max_context)
    inp = input_tokens or min(DEFAULT_INPUT_TOKENS, max(base_ctx // 2, 1))
    out = output_tokens or min(DEFAULT_OUTPUT_TOKENS, max(base_ctx // 4, 1))
    # without --context the cache holds at least one whole request (8,000 in + 1,000 out: 9,000 tokens)
    return context or max(base_ctx, inp + out), inp, out


def build_deployment(
    catalog: Catalog,
    model: str | ResolvedModel,
    gpu: str = "h100-sxm",
    quant: str | None = None,
    engine: str | None = None,
    kv_dtype: str | None = None,
    context: int | None = None,
    concurrency: str | int | None = 1,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    replicas: int = 1,
    host_bandwidth_gbs: float | None = None,
    offline: bool = False,
    refresh: bool = False,
    expert_parallel: bool = False,
    settings: EngineSettings | None = None,
    dp_attention: bool = False,
) -> tuple[Deployment, ResolvedModel]:
    resolved = (
        model if isinstance(model, ResolvedModel) else resolve_model(model, catalog, offline=offline, refresh=refresh)
    )
    spec = resolved.spec
    n_gpus, gpu_name = parse_gpu_spec(gpu)
    gpu_id, gpu_entry = catalog.gpu_entry(gpu_name)
    notes: list[str] = []
    quant_key = _weight_format(quant, resolved, gpu_id, gpu_entry, notes)
    settings = settings or EngineSettings()
    ekey = _engine_key(engine, quant_key, gpu_entry, settings, dp_attention, expert_parallel)
    tp = n_gpus if ENGINES[ekey].tensor_parallel else 1
    profile = effective_profile(
        ENGINES[ekey], settings, gpu_memory_bytes(gpu_entry), tp, context or min(DEFAULT_CONTEXT, spec.max_context)
    )
    kv = _kv_cache_dtype(kv_dtype, spec, gpu_id, gpu_entry, ekey)
    ctx, inp, out = _request_shape(context, input_tokens, output_tokens, replicas, spec.max_context)
    if host_bandwidth_gbs is not None and not (math.isfinite(host_bandwidth_gbs) and host_bandwidth_gbs > 0):
        raise InputError(f"host bandwidth must be a positive number of GB/s, got {host_bandwidth_gbs}")
    dep = Deployment(
        model=spec,
        model_source=resolved.source,
        gpu_id=gpu_id,
        gpu=gpu_entry,
        n_gpus=n_gpus,
        fmt=FORMATS[quant_key],
        engine=profile,
        kv_dtype=kv,
        context=ctx,
        concurrency=parse_concurrency(concurrency),
        input_tokens=inp,
        output_tokens=out,
        replicas=replicas,
        host_bandwidth_bytes_per_s=host_bandwidth_gbs * 1e9 if host_bandwidth_gbs else None,
        expert_parallel=expert_parallel,
        settings=settings,
        dp_attention=dp_attention and n_gpus > 1,
        notes=tuple(notes),
    )
    return dep, resolved
