"""The fit planner: memory verdict, limits, suggestions and performance for one deployment."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from llmplan.catalog.schemas import GpuEntry
from llmplan.core import memory as mem
from llmplan.core.hardware import check_runnable, gpu_memory_bytes, hardware_for
from llmplan.core.performance import (
    kernel_note,
    model_cost,
    offload_decode_seconds,
    prefill_seconds,
    serve,
)
from llmplan.core.reports import (
    FitReport,
    GpuInfo,
    MemoryInfo,
    ModelInfo,
    OffloadInfo,
    PerformanceInfo,
)
from llmplan.engines.formats import FORMATS, KV_DTYPE_BYTES, QuantFormat
from llmplan.engines.memory_rules import EngineSettings, block_tokens, parallel_slots
from llmplan.engines.parallel import nearest_runnable_tp, tp_refusal
from llmplan.engines.profiles import EngineProfile
from llmplan.errors import LlmplanError
from llmplan.models.architecture import ModelSpec

GPU_COUNTS = (1, 2, 4, 8, 16, 32, 64)
MAX_PER_BOX = 8


@dataclass(frozen=True)
class Deployment:
    model: ModelSpec
    model_source: str
    gpu_id: str
    gpu: GpuEntry
    n_gpus: int
    fmt: QuantFormat
    engine: EngineProfile
    kv_dtype: str
    context: int
    concurrency: int | None  # None: --concurrency max
    input_tokens: int
    output_tokens: int
    replicas: int = 1
    host_bandwidth_bytes_per_s: float | None = None
    expert_parallel: bool = False
    settings: EngineSettings = EngineSettings()
    dp_attention: bool = False  # with expert parallel: each GPU runs attention for its own sequences
    notes: tuple[str, ...] = ()  # what the planner changed from what was asked, shown as warnings

    @property
    def kv_elem_bytes(self) -> float:
        return KV_DTYPE_BYTES[self.kv_dtype]


@dataclass(frozen=True)
class MemoryPlan:
    weights_per_gpu: float
    overhead: float
    usable: float
    kv_free: float  # per GPU room for cache once weights and overhead sit
    kv_per_seq: float  # per GPU, at the context


def deployment_hardware(dep: Deployment, n: int | None = None):
    """The performance model's view of the deployment's hardware (of `n` GPUs, default the deployment's)."""
    return hardware_for(
        dep.gpu,
        dep.fmt,
        dep.n_gpus if n is None else n,
        dep.host_bandwidth_bytes_per_s,
        dep.expert_parallel,
        dep.engine,
        dep.dp_attention,
        dep.kv_dtype,
    )


def _tp_valid(model: ModelSpec, n: int, engine: EngineProfile) -> bool:
    """Whether the engine starts with tensor parallel `n` (its rule lives in llmplan.engines.parallel)."""
    if n == 1 or not engine.tensor_parallel:
        return True
    return tp_refusal(engine.name, model.num_heads, model.num_kv_heads, n) is None


def tp_problem(dep: Deployment) -> str | None:
    """Why the deployment's engine refuses its tensor-parallel size, naming the nearest sizes that run."""
    if not dep.engine.tensor_parallel:
        return None
    why = tp_refusal(dep.engine.name, dep.model.num_heads, dep.model.num_kv_heads, dep.n_gpus)
    if why is None:
        return None
    below, above = nearest_runnable_tp(dep.engine.name, dep.model.num_heads, dep.model.num_kv_heads, dep.n_gpus)
    sizes = " or ".join(f"{n}x{dep.gpu_id}" if n > 1 else dep.gpu_id for n in (below, above) if n)
    return f"{dep.engine.name} refuses tensor parallel {dep.n_gpus}: {why}" + (
        f"; nearest sizes that run: {sizes}" if sizes else ""
    )


def weights_per_gpu(dep: Deployment, n: int | None = None) -> float:
    n = n or dep.n_gpus
    total = mem.weights_bytes(dep.model, dep.fmt)
    if n <= 1:
        return float(total)
    if dep.dp_attention and dep.model.is_moe:
        # experts spread over the GPUs, the rest replicated (each GPU runs attention for its own sequences)
        experts = mem.expert_weights_bytes(dep.model, dep.fmt)
        return (total - experts) + experts / n
    return total / n


def memory_plan(dep: Deployment, n: int | None = None, context: float | None = None) -> MemoryPlan:
    n = n or dep.n_gpus
    tp = n if dep.engine.tensor_parallel else 1
    w = weights_per_gpu(dep, n)
    n_ctx = int(dep.context * max(dep.concurrency or dep.engine.max_batch, 1))  # llama.cpp's -c: all slots
    if not dep.engine.continuous_batching:
        n_ctx = int(dep.context * parallel_slots(dep.concurrency, dep.engine.max_batch))
    overhead = mem.engine_overhead_bytes(
        dep.model, dep.engine, tp, n_ctx=n_ctx, flash_attn=dep.settings.flash_attn is not False
    )
    usable = float(mem.usable_bytes(gpu_memory_bytes(dep.gpu), dep.engine, w, overhead))
    kv_free = usable - w - overhead
    ctx = dep.context if context is None else context
    return MemoryPlan(w, overhead, usable, kv_free, float(kv_per_seq_per_gpu(dep, n, ctx)))


def kv_per_seq_per_gpu(dep: Deployment, n: int, ctx) -> np.ndarray:
    """Cache one sequence of `ctx` tokens holds on each GPU: heads split under tensor parallel; under
    layer split each GPU holds its own layers' cache."""
    if dep.dp_attention and dep.model.is_moe and n > 1:
        # each GPU keeps whole caches of its own share of the sequences
        return mem.kv_bytes_per_sequence(dep.model, dep.kv_elem_bytes, ctx, 1) / n
    tp = n if dep.engine.tensor_parallel else 1
    kv = mem.kv_bytes_per_sequence(dep.model, dep.kv_elem_bytes, ctx, tp)
    if not dep.engine.tensor_parallel and n > 1:
        kv = kv / n
    return kv


def full_load_concurrency(dep: Deployment, n: int | None = None) -> int:
    """`--concurrency max`: sequences in flight hold input + output/2 tokens on average, capped by the
    engine's batch limit. An engine whose scheduler reserves each request's whole length before admitting it
    (TensorRT-LLM's default GUARANTEED_NO_EVICT) holds input + output per sequence."""
    n = n or dep.n_gpus
    plan = memory_plan(dep, n)
    avg = dep.input_tokens + dep.output_tokens * (1.0 if dep.engine.reserves_whole_request else 0.5)
    per = float(kv_per_seq_per_gpu(dep, n, avg))
    if plan.kv_free <= 0 or per <= 0:
        return 0
    return int(min(dep.engine.max_batch, plan.kv_free // per))


def max_concurrency(dep: Deployment, n: int | None = None) -> int:
    """Sequences that fit when each holds the full --context."""
    n = n or dep.n_gpus
    plan = memory_plan(dep, n)
    if plan.kv_free <= 0:
        return 0
    return int(plan.kv_free // max(plan.kv_per_seq, 1.0))


def max_context(dep: Deployment, concurrency: int, n: int | None = None) -> int:
    """Largest context (capped at the model's) at which `concurrency` sequences fit."""
    n = n or dep.n_gpus
    plan = memory_plan(dep, n)
    limit = dep.model.max_context
    if plan.kv_free <= 0:
        return 0

    def fits(ctx: int) -> bool:
        return float(kv_per_seq_per_gpu(dep, n, ctx)) * concurrency <= plan.kv_free

    if fits(limit):
        return limit
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True)
class KvPool:
    """What the engine prints at start-up about its cache, per GPU."""

    bytes: int  # the pool it allocates (vLLM "Available KV cache memory", SGLang K + V sizes)
    tokens: int  # its token capacity, in whole blocks (vLLM "GPU KV cache size", SGLang max_total_num_tokens)
    max_concurrency_at_context: float  # tokens / --context (vLLM "Maximum concurrency for N tokens")
    tokens_printed: int = 0  # the token figure the engine release prints (see kv_tokens_printed)


def kv_pool(dep: Deployment, plan: MemoryPlan | None = None) -> KvPool:
    """Serving engines fill their budget with cache; llama.cpp and Ollama allocate exactly `-c` cells."""
    plan = plan or memory_plan(dep)
    n = dep.n_gpus
    per_token = float(kv_per_seq_per_gpu(dep, n, dep.context)) / max(dep.context, 1)
    block = block_tokens(dep.engine.name, dep.settings)
    if not dep.engine.continuous_batching or dep.engine.budget == "buffers":
        slots = parallel_slots(dep.concurrency, dep.engine.max_batch)
        cells = -(-dep.context * slots // block) * block  # -c padded to whole 256-cell blocks
        return KvPool(int(cells * per_token), int(cells), round(cells / max(dep.context, 1), 2), int(cells))
    if plan.kv_free <= 0 or per_token <= 0:
        return KvPool(0, 0, 0.0)
    tokens = int(plan.kv_free // (per_token * block)) * block
    return KvPool(
        int(plan.kv_free), tokens, round(tokens / max(dep.context, 1), 2), kv_tokens_printed(dep, plan.kv_free, tokens)
    )


def kv_tokens_printed(dep: Deployment, pool_bytes: float, capacity: int) -> int:
    """The token figure the engine release prints for its pool. vLLM V1 ("GPU KV cache size") prints max
    concurrency x max_model_len; for a model whose layers all grow with context that is the capacity, but for
    hybrid and sliding-window models (cache that stops growing at a window, or fixed recurrent state) a sequence
    of max_model_len tokens costs less than max_model_len x the per-token size, so the printed figure is above
    the pool's capacity in tokens."""
    rules = dep.engine.rules
    if rules is None or rules.printed_tokens != "concurrency_x_len":
        return capacity
    ctx = max(dep.context, 1)
    per_seq = float(kv_per_seq_per_gpu(dep, dep.n_gpus, ctx))
    if per_seq <= 0 or pool_bytes <= 0:
        return 0
    return int(pool_bytes / per_seq * ctx)


def fits_on(dep: Deployment, n: int, concurrency: int) -> bool:
    plan = memory_plan(dep, n)
    return plan.kv_free >= plan.kv_per_seq * max(concurrency, 1) and plan.kv_free > 0


def min_gpus(dep: Deployment, concurrency: int) -> int | None:
    candidates = GPU_COUNTS if dep.engine.tensor_parallel else tuple(range(1, 17))
    for n in candidates:
        if _tp_valid(dep.model, n, dep.engine) and fits_on(dep, n, concurrency):
            return n
    return None


def offload_plan(dep: Deployment, concurrency: int) -> OffloadInfo | None:
    """llama.cpp / Ollama: how many layers fit on the GPU(s) when the whole model does not."""
    if dep.engine.tensor_parallel:
        return None
    n = dep.n_gpus
    plan = memory_plan(dep, n)
    total_weights = mem.weights_bytes(dep.model, dep.fmt)
    layer_w = mem.layer_weights_bytes(dep.model, dep.fmt)
    kv_total = float(mem.kv_bytes_per_sequence(dep.model, dep.kv_elem_bytes, dep.context, 1)) * concurrency
    layer_kv = kv_total / dep.model.num_layers
    non_layer = max(total_weights - layer_w * dep.model.num_layers, 0.0)
    room = plan.usable * n - plan.overhead * n - non_layer
    gpu_layers = int(max(0, min(dep.model.num_layers, room // max(layer_w + layer_kv, 1.0))))
    host = (dep.model.num_layers - gpu_layers) * (layer_w + layer_kv)
    return OffloadInfo(gpu_layers=gpu_layers, total_layers=dep.model.num_layers, host_bytes=int(host))


def _suggestions(
    dep: Deployment, concurrency: int, fits: bool, best_n: int | None, max_ctx: int, refused: str | None = None
) -> list[str]:
    if fits:
        return []
    tips: list[str] = []
    if refused:
        below, above = nearest_runnable_tp(dep.engine.name, dep.model.num_heads, dep.model.num_kv_heads, dep.n_gpus)
        runnable = [n for n in (below, above) if n and fits_on(dep, n, concurrency)]
        if runnable:
            return [
                f"use {' or '.join(f'{n}x{dep.gpu_id}' if n > 1 else dep.gpu_id for n in runnable)} "
                f"({dep.engine.name} runs tensor parallel {' or '.join(str(n) for n in runnable)})"
            ]
    if best_n and best_n != dep.n_gpus:
        where = "" if best_n <= MAX_PER_BOX else " (more than one 8-GPU box: multi-node)"
        tips.append(f"use {best_n}x{dep.gpu_id}{where}")
    # the largest format that fits on the GPUs given, else the one needing the fewest GPUs
    on_same: str | None = None
    fewest: tuple[int, str] | None = None
    for name in ("fp8", "int8", "q8_0", "q6_k", "q5_k_m", "awq", "gptq-int4", "nvfp4", "q4_k_m", "q3_k_m", "q2_k"):
        fmt = FORMATS[name]
        if fmt.linear_bits >= dep.fmt.linear_bits or dep.engine.name not in fmt.engines:
            continue
        try:
            check_runnable(dep.gpu_id, dep.gpu, fmt, dep.engine.name)
        except LlmplanError:
            continue
        alt = replace(dep, fmt=fmt)
        if fits_on(alt, dep.n_gpus, concurrency):
            on_same = name
            break
        n = min_gpus(alt, concurrency)
        if n and (fewest is None or n < fewest[0]):
            fewest = (n, name)
    if on_same:
        tips.append(f"quantize to {on_same} (fits on {dep.n_gpus}x{dep.gpu_id})")
    elif fewest:
        tips.append(f"quantize to {fewest[1]} and use {fewest[0]}x{dep.gpu_id}")
    if max_ctx > 0 and max_ctx < dep.context:
        tips.append(f"shorten the context: --max-model-len {max_ctx} fits at concurrency {concurrency}")
    if concurrency > 1:
        c1 = max_concurrency(dep)
        if c1 >= 1:
            tips.append(f"lower the concurrency to {c1}")
    if dep.kv_dtype in ("bf16", "fp16") and dep.engine.name in ("vllm", "sglang", "tensorrt-llm"):
        alt = replace(dep, kv_dtype="fp8")
        if fits_on(alt, dep.n_gpus, concurrency):
            tips.append("store the KV cache in fp8 (--kv-dtype fp8)")
    return tips


def _request_warnings(dep: Deployment, refused: str | None) -> list[str]:
    """What the deployment asks that the engine, the model or one box will not do as planned."""
    warnings = list(dep.model.approximations) + list(dep.notes)
    warnings += check_runnable(dep.gpu_id, dep.gpu, dep.fmt, dep.engine.name)
    n = dep.n_gpus
    if refused:
        warnings.append(refused)
    if dep.input_tokens + dep.output_tokens > dep.context:
        warnings.append(
            f"input + output tokens ({dep.input_tokens + dep.output_tokens}) exceed the "
            f"context ({dep.context}); requests that long will be refused"
        )
    if dep.context > dep.model.max_context:
        warnings.append(f"context {dep.context} is beyond the model's {dep.model.max_context} tokens")
    if n > MAX_PER_BOX:
        boxes = -(-n // MAX_PER_BOX)
        warnings.append(
            f"{n}x {dep.gpu_id} is {boxes} boxes of {MAX_PER_BOX}, not one: estimated as tensor "
            f"parallel {n}, but its all-reduces would cross the network between boxes; engines run "
            f"tensor parallel {MAX_PER_BOX} inside a box and pipeline parallel {boxes} across boxes, "
            "so expect lower speed than shown"
        )
    if mem.kv_replicated(dep.model, n if dep.engine.tensor_parallel else 1):
        warnings.append(
            "part of the cache is replicated on every GPU under tensor parallel "
            "(MLA latent or fewer KV heads than GPUs)"
        )
    return warnings


@dataclass(frozen=True)
class _Verdict:
    """The memory verdict of a deployment at the concurrency the report states."""

    mode: str  # "max" (full load) or "fixed"
    concurrency: int
    plan: MemoryPlan
    kv_cache: float
    total: float
    fits: bool
    headroom: float
    offload: OffloadInfo | None
    fits_with_offload: bool | None
    limits_concurrency: int  # the concurrency sizing limits are stated for


def _memory_verdict(dep: Deployment, refused: str | None) -> _Verdict:
    mode = "max" if dep.concurrency is None else "fixed"
    concurrency = full_load_concurrency(dep) if dep.concurrency is None else dep.concurrency
    kv_ctx = dep.input_tokens + dep.output_tokens / 2.0 if dep.concurrency is None else dep.context
    plan = memory_plan(dep)
    kv_seq = float(kv_per_seq_per_gpu(dep, dep.n_gpus, kv_ctx))
    # engines with fixed slots (llama.cpp, Ollama) hold cache for their slots only; the rest queue
    held = min(concurrency, dep.engine.max_batch) if not dep.engine.continuous_batching else concurrency
    kv_cache = kv_seq * max(held, 0)
    total = plan.weights_per_gpu + plan.overhead + kv_cache
    fits = plan.kv_free > 0 and kv_cache <= plan.kv_free and concurrency >= 1 and not refused
    if mode == "max":
        # engines refuse to start unless one sequence of the full --context (max-model-len) fits
        fits = fits and plan.kv_free >= plan.kv_per_seq
    headroom = 100.0 * (plan.usable - total) / plan.usable if plan.usable > 0 else 0.0
    # at full load the engine picks the concurrency; sizing limits are for one full-context sequence
    limits = 1 if mode == "max" else max(concurrency, 1)
    offload, with_offload = None, None
    if not dep.engine.tensor_parallel:
        with_offload = fits
        if not fits:
            offload = offload_plan(dep, limits)
            with_offload = offload is not None and offload.gpu_layers > 0
    return _Verdict(mode, concurrency, plan, kv_cache, total, bool(fits), headroom, offload, with_offload, limits)


def _memory_info(dep: Deployment, v: _Verdict) -> MemoryInfo:
    pool = kv_pool(dep, v.plan)
    return MemoryInfo(
        weights_bytes=int(v.plan.weights_per_gpu),
        kv_bytes_per_token=int(round(mem.kv_bytes_per_token(dep.model, dep.kv_elem_bytes))),
        state_bytes_per_sequence=mem.state_bytes_per_sequence(dep.model),
        kv_cache_bytes=int(v.kv_cache),
        overhead_bytes=int(v.plan.overhead),
        total_bytes=int(v.total),
        usable_bytes=int(v.plan.usable),
        free_bytes=int(v.plan.usable - v.total),
        headroom_pct=round(v.headroom, 2),
        weights_bytes_all_gpus=int(mem.weights_bytes(dep.model, dep.fmt)),
        kv_pool_bytes=pool.bytes,
        kv_cache_tokens=pool.tokens,
        max_concurrency_at_context=pool.max_concurrency_at_context,
        kv_cache_tokens_printed=pool.tokens_printed,
    )


def fit(dep: Deployment) -> FitReport:
    """Does the deployment fit, where does the memory go, what limits it, and how fast it runs."""
    refused = tp_problem(dep)
    warnings = _request_warnings(dep, refused)
    v = _memory_verdict(dep, refused)
    max_ctx = max_context(dep, max(v.concurrency, 1))
    best_n = min_gpus(dep, v.limits_concurrency)
    perf = _performance(dep, v.concurrency, v.fits, v.offload, warnings)
    model = dep.model
    return FitReport(
        model=ModelInfo(
            id=model.id,
            params=model.params_total,
            active_params=model.params_active,
            source=dep.model_source,
            native_quant=model.native_quant,
            layer_kinds=model.layer_kinds,
            max_context=model.max_context,
        ),
        gpu=GpuInfo(
            id=dep.gpu_id,
            name=dep.gpu.name,
            count=dep.n_gpus,
            memory_bytes=gpu_memory_bytes(dep.gpu),
            replicas=dep.replicas,
        ),
        quant=dep.fmt.name,
        kv_dtype=dep.kv_dtype,
        engine=dep.engine.name,
        engine_version=(f"{dep.engine.rules.name} ({dep.engine.rules.releases})" if dep.engine.rules else None),
        context=dep.context,
        concurrency=int(v.concurrency),
        concurrency_mode=v.mode,
        input_tokens=dep.input_tokens,
        output_tokens=dep.output_tokens,
        memory=_memory_info(dep, v),
        fits=v.fits,
        fits_with_offload=v.fits_with_offload,
        offload=v.offload,
        min_gpus=best_n,
        max_context=int(max_ctx),
        max_concurrency=int(max_concurrency(dep)),
        performance=perf,
        verdict=_verdict(dep, v.fits, v.offload, best_n, v.concurrency, v.mode, v.headroom, refused),
        suggestions=_suggestions(dep, v.limits_concurrency, v.fits, best_n, max_ctx, refused),
        warnings=warnings,
    )


def _performance(
    dep: Deployment, concurrency: int, fits: bool, offload: OffloadInfo | None, warnings: list[str]
) -> PerformanceInfo:
    if not fits and (offload is None or offload.gpu_layers <= 0):
        return PerformanceInfo()
    cost = model_cost(dep.model, dep.fmt)
    hw = deployment_hardware(dep)
    c = max(concurrency, 1)
    if not fits and offload is not None:
        kv_seq = float(
            mem.kv_bytes_per_sequence(dep.model, dep.kv_elem_bytes, dep.input_tokens + dep.output_tokens / 2, 1)
        )
        step = float(offload_decode_seconds(cost, offload.gpu_layers, offload.total_layers, hw, dep.engine, kv_seq))
        prefill = float(prefill_seconds(cost, dep.engine, hw, dep.input_tokens, dep.model)) * (
            1 + 2 * (1 - offload.gpu_layers / offload.total_layers)
        )
        decode = 1.0 / step
        latency = prefill + dep.output_tokens / decode
        warnings.append(
            f"partial offload: {offload.total_layers - offload.gpu_layers} of "
            f"{offload.total_layers} layers run from system RAM; decode speed follows host "
            "memory bandwidth"
        )
        return PerformanceInfo(
            decode_tokens_per_s=_sig(decode),
            throughput_tokens_per_s=_sig(dep.output_tokens / latency * dep.replicas),
            prefill_tokens_per_s=_sig(dep.input_tokens / prefill),
            ttft_s=_sig(prefill),
            request_latency_s=_sig(latency),
        )
    out = serve(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, c, dep.input_tokens, dep.output_tokens)
    if not dep.engine.continuous_batching and c > dep.engine.max_batch:
        warnings.append(
            f"{dep.engine.name} serves {dep.engine.max_batch} requests at once; the other "
            f"{c - dep.engine.max_batch} wait in its queue"
        )
    if dep.n_gpus > 1 and dep.engine.tensor_parallel and dep.gpu.interconnect.kind == "pcie":
        warnings.append("tensor parallel over PCIe: all-reduces cost markedly more than over NVLink")
    return PerformanceInfo(
        decode_tokens_per_s=_sig(out.decode_tokens_per_s),
        throughput_tokens_per_s=_sig(float(out.throughput_tokens_per_s) * dep.replicas),
        prefill_tokens_per_s=_sig(out.prefill_tokens_per_s),
        ttft_s=_sig(out.ttft_s),
        request_latency_s=_sig(out.request_latency_s),
        model_note=kernel_note(dep.engine, hw, cost),
    )


def _sig(x, digits: int = 5) -> float:
    """Round to significant digits, so small and large figures both keep their precision."""
    return float(f"{float(x):.{digits}g}")


def _gb(x: float) -> str:
    return f"{x / 1e9:.1f} GB"


def _verdict(
    dep: Deployment,
    fits: bool,
    offload: OffloadInfo | None,
    best_n: int | None,
    concurrency: int,
    mode: str,
    headroom: float,
    refused: str | None = None,
) -> str:
    where = f"{dep.n_gpus}x{dep.gpu_id}" if dep.n_gpus > 1 else dep.gpu_id
    what = f"{dep.model.id} in {dep.fmt.name}"
    if refused:
        return f"{what} cannot run on {where}: {refused}"
    if fits:
        if mode == "max":
            return (
                f"{what} fits on {where}; at full load it holds {concurrency} sequences of "
                f"{dep.input_tokens}+{dep.output_tokens} tokens ({headroom:.0f}% headroom)"
            )
        return (
            f"{what} fits on {where} with {dep.context} tokens x {concurrency} sequences "
            f"({headroom:.0f}% of usable memory left)"
        )
    if mode == "max" and concurrency < 1:
        text = f"{what} does not fit on {where}: no room for even one sequence"
    else:
        text = f"{what} does not fit on {where} at {dep.context} tokens x {max(concurrency, 1)} sequences"
    if offload and offload.gpu_layers > 0:
        text += (
            f"; with partial offload {offload.gpu_layers}/{offload.total_layers} layers stay on the GPU "
            f"({_gb(offload.host_bytes)} in system RAM, much slower)"
        )
    if best_n:
        text += f"; it needs {best_n}x{dep.gpu_id}"
    else:
        text += f"; even {GPU_COUNTS[-1]}x{dep.gpu_id} is not enough"
    return text


def tokens_for_pool(dep: Deployment, pool_bytes: float) -> int:
    """Token capacity, in whole blocks, of a KV pool of `pool_bytes` per GPU (what the engine prints for it)."""
    per_token = float(kv_per_seq_per_gpu(dep, dep.n_gpus, dep.context)) / max(dep.context, 1)
    block = block_tokens(dep.engine.name, dep.settings)
    if per_token <= 0 or pool_bytes <= 0:
        return 0
    return kv_tokens_printed(dep, pool_bytes, int(pool_bytes // (per_token * block)) * block)
