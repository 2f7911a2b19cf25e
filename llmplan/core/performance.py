"""How fast: one engine step composed from measured kernels, and serving composed from steps.

A decode step of B sequences, and a prefill chunk of T tokens, each cost on one GPU:
- the model's GEMMs (core/gemm.py) with M = the tokens of the step on that GPU, timed by the roofline fitted
  to that GPU generation's measured GEMM curve at the format's math;
- attention (core/attention.py): decode reads every sequence's cache, prefill does the causal FLOPs;
- routed experts (core/moe.py) as grouped GEMMs that stream the experts the step touches;
- collectives (core/collectives.py): two all-reduces per layer under tensor parallel, all-to-all dispatch and
  combine under expert parallel, from measured curves by message size;
- the engine's framework cost per step and per request (fitted constants, data/kernels/speed_constants.json).

Serving (`serve`) runs prefill as its own chunks between decode steps. Every function takes numpy arrays, so
a sweep over many configurations is one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from llmplan.catalog.kernels import Collective, Roofline
from llmplan.core import attention, collectives, gemm, moe
from llmplan.core.memory import expert_weights_bytes, format_bits, layer_weights_bytes, weights_bytes
from llmplan.core.speed_constants import SpeedConstants, speed_constants
from llmplan.engines.formats import QuantFormat
from llmplan.engines.profiles import EngineProfile
from llmplan.models.architecture import ModelSpec

LAYER_HOP_S = 2e-4  # llama.cpp layer split: handing activations to the next GPU each step
DEFAULT_HOST_BANDWIDTH = 89.6e9  # dual-channel DDR5-5600
HOST_EFFICIENCY = 0.6


@dataclass(frozen=True)
class Kernels:
    """How one GPU's kernels behave for one format: fits of measured curves (catalog/kernels.py)."""

    gemm: Roofline
    moe: Roofline
    allreduce: Collective | None = None
    alltoall: Collective | None = None
    decode_attention: Roofline | None = None  # one layer's cache reads (generation attention)
    prefill_attention: Roofline | None = None  # one layer's causal attention over a prompt (context attention)


@dataclass(frozen=True)
class Hardware:
    """One replica's hardware: `n_gpus` of one kind (numbers may be numpy arrays)."""

    memory_bandwidth_bytes_per_s: float | np.ndarray  # per GPU (datasheet)
    peak_flops_per_s: float | np.ndarray  # dense, per GPU, for the format's math
    memory_bytes: float | np.ndarray  # bytes per GPU the GPU may use
    n_gpus: int | np.ndarray = 1
    link_bandwidth_bytes_per_s: float | np.ndarray = 64e9
    link_kind: str = "pcie"
    kind: str = "datacenter"
    wgmma: bool = False  # peak needs Hopper/datacenter-Blackwell instructions (sm 9.0-10.x: wgmma, tcgen05)
    host_bandwidth_bytes_per_s: float = DEFAULT_HOST_BANDWIDTH
    attention_flops_per_s: float | np.ndarray | None = None  # 16-bit peak: attention runs at it whatever the weights
    expert_parallel: bool = False  # MoE experts spread whole over the GPUs instead of sliced
    dp_attention: bool = False  # each GPU runs attention for its own sequences (with expert parallel)
    kernels: Kernels | None = None  # None: no measured curve applies (Apple, CPU): the engine profile's factors


@dataclass(frozen=True)
class ModelCost:
    """What one forward pass of a model at one format does, per token and per layer."""

    gemms: tuple[gemm.Gemm, ...]  # dense GEMMs per forward (shared experts included), lm_head last
    experts: moe.Experts | None
    dense_read_bytes: float  # weights every step reads regardless of batch (incl. lm_head)
    expert_bytes: float  # all routed expert weights
    expert_active_share: float  # k / E
    attn_flops_per_ctx: float  # attention FLOPs per token per token of context (full layers)
    windowed: tuple[tuple[float, float], ...]  # (attention FLOPs per ctx token, window) for sliding
    layers: int
    hidden: int
    dtype_bytes: int
    layer_bytes: float
    gguf: bool
    math: str  # the GEMMs' arithmetic: bf16 | fp8 | fp4 | int8
    kernel_efficiency: float  # bandwidth the format's decode kernels reach relative to 16-bit ones
    math_efficiency: float  # share of the format's math peak its GEMM kernels reach relative to 16-bit ones
    flops_per_token: float = field(default=0.0)  # 2 x active parameters outside the routed experts
    expert_flops_per_token: float = field(default=0.0)


def model_cost(model: ModelSpec, fmt: QuantFormat) -> ModelCost:
    total = weights_bytes(model, fmt)
    experts_total = expert_weights_bytes(model, fmt)
    linear_bits, expert_bits, embed_bits, head_bits = format_bits(model, fmt)
    embed_bytes = model.embed_params * fmt.embed_bits / 8 if model.lm_head_params else 0.0
    dense_read = total - experts_total - embed_bytes  # the embedding table is looked up, not streamed
    gemms = gemm.model_gemms(model, linear_bits, head_bits if model.lm_head_params else embed_bits, dense_read)
    experts = moe.model_experts(model, expert_bits)
    attn, windowed = attention.flops_per_context_token(model)
    active_experts = model.expert_params * (model.experts_per_token / model.num_experts) if model.num_experts else 0.0
    active_nonembed = max(
        model.params_active - model.embed_params + (model.embed_params if not model.lm_head_params else 0), 1
    )
    return ModelCost(
        gemms=gemms,
        experts=experts,
        dense_read_bytes=float(dense_read),
        expert_bytes=float(experts_total),
        expert_active_share=(model.experts_per_token / model.num_experts) if model.num_experts else 1.0,
        attn_flops_per_ctx=attn,
        windowed=windowed,
        layers=model.num_layers,
        hidden=model.hidden_size,
        dtype_bytes=model.dtype_bytes,
        layer_bytes=layer_weights_bytes(model, fmt),
        gguf=fmt.is_gguf,
        math=fmt.math,
        kernel_efficiency=1.0 if fmt.is_gguf else fmt.kernel_efficiency,
        math_efficiency=fmt.math_efficiency,
        flops_per_token=2.0 * max(active_nonembed - active_experts, 1.0),
        expert_flops_per_token=2.0 * active_experts,
    )


def attention_flops_per_token(cost: ModelCost, context):
    return attention.flops_per_token(cost.attn_flops_per_ctx, cost.windowed, context)


# ------------------------------------------------------------------------------------------- kernels


@dataclass(frozen=True)
class _Rates:
    """What this engine's kernels reach on this hardware for this model (all per GPU)."""

    gemm: Roofline
    moe: Roofline
    memory_bandwidth_bytes_per_s: float | np.ndarray
    gemm_peak_flops_per_s: float | np.ndarray
    attn_peak_flops_per_s: float | np.ndarray  # what attention kernels reach (llama.cpp's own kernels)
    kv_bandwidth_bytes_per_s: float | np.ndarray  # what cache reads reach (llama.cpp's own kernels)
    layer_launch_s: float  # per layer per step, for kernels without CUDA graphs or fusion
    decode_attention: Roofline | None = None  # measured attention kernels, per layer
    prefill_attention: Roofline | None = None
    attn_peak16_flops_per_s: float | np.ndarray = 0.0


def _rates(engine: EngineProfile, hw: Hardware, cost: ModelCost, k: SpeedConstants) -> _Rates:
    attn_peak16 = hw.attention_flops_per_s if hw.attention_flops_per_s is not None else hw.peak_flops_per_s
    if hw.kernels is None or cost.gguf or not engine.measured_kernels:
        # llama.cpp's own kernels: memory and math times add (p = 1; its mat-vec and mat-mat kernels do not
        # overlap the two), at the fitted shares for the device class and the engine profile's fixed factors
        e = engine.eff(hw.kind)
        wg = engine.wgmma_factor if hw.wgmma else 1.0
        quant_bw = e.quant_decode if cost.gguf else 1.0
        quant_math = e.quant_prefill if cost.gguf else 1.0
        roof = Roofline(
            0.0,
            k.llamacpp_bandwidth_eff(hw.kind) * e.bandwidth * quant_bw * cost.kernel_efficiency,
            k.llamacpp_math_eff(hw.kind) * quant_math * cost.math_efficiency * wg,
            1.0,
            0.0,
            f"{engine.name} {hw.kind}",
        )
        return _Rates(
            roof,
            roof,
            hw.memory_bandwidth_bytes_per_s,
            hw.peak_flops_per_s,
            attn_peak16 * e.attention * wg,
            hw.memory_bandwidth_bytes_per_s * e.kv_read,
            k.llamacpp_layer_s,
        )
    g, m = hw.kernels.gemm, hw.kernels.moe
    g = Roofline(
        g.floor_s, g.bandwidth_eff * cost.kernel_efficiency, g.math_eff * cost.math_efficiency, g.smooth_p, 0.0, g.curve
    )
    m = Roofline(
        m.floor_s,
        m.bandwidth_eff * cost.kernel_efficiency,
        m.math_eff * cost.math_efficiency,
        m.smooth_p,
        m.per_expert_s,
        m.curve,
    )
    decode_attn, prefill_attn = hw.kernels.decode_attention, hw.kernels.prefill_attention
    return _Rates(
        g,
        m,
        hw.memory_bandwidth_bytes_per_s,
        hw.peak_flops_per_s,
        attn_peak16 * (prefill_attn.math_eff if prefill_attn else 0.5),
        hw.memory_bandwidth_bytes_per_s * (decode_attn.bandwidth_eff if decode_attn else 0.7),
        0.0,
        decode_attn,
        prefill_attn,
        attn_peak16,
    )


def kernel_note(engine: EngineProfile, hw: Hardware, cost: ModelCost) -> str:
    """Which measured curves the figures come from (performance.model_note)."""
    if hw.kernels is None or cost.gguf or not engine.measured_kernels:
        return f"{engine.name} kernels: fitted efficiencies for {hw.kind} devices"
    parts = [hw.kernels.gemm.curve]
    if cost.experts is not None:
        parts.append(hw.kernels.moe.curve)
    return "step model on measured kernels: " + ", ".join(parts)


# ------------------------------------------------------------------------------------------- steps


def _layout(engine: EngineProfile, hw: Hardware, cost: ModelCost, tokens):
    """(tensor-parallel slice, attention ranks, EP size, tokens per attention rank, tokens into the MoE)."""
    n = np.asarray(hw.n_gpus, dtype=np.float64)
    t = np.asarray(tokens, dtype=np.float64)
    tp = n if engine.tensor_parallel else 1.0
    ep = n if (hw.expert_parallel and cost.experts is not None) else 1.0
    if hw.dp_attention and engine.tensor_parallel and cost.experts is not None:
        ranks = n
        return 1.0, ranks, ep, np.ceil(t / ranks), t  # the busiest rank sets the step
    return tp, 1.0, ep, t, t


def step_seconds(
    cost: ModelCost,
    model: ModelSpec,
    kv_elem_bytes: float,
    engine: EngineProfile,
    hw: Hardware,
    batch,
    context,
    prefill_tokens=0.0,
    prompt_tokens=0.0,
    constants: SpeedConstants | None = None,
):
    """Seconds for one engine step: one decode token for each of `batch` sequences (caches of `context`
    tokens) plus `prefill_tokens` of new prompts (of `prompt_tokens` each) in the same step.

    `batch` and `prefill_tokens` are the whole replica's; under attention data parallel they spread evenly
    over the GPUs, and the step lasts as long as the busiest rank.
    """
    k = constants or speed_constants()
    r = _rates(engine, hw, cost, k)
    b = np.maximum(np.asarray(batch, dtype=np.float64), 0.0)
    pf = np.asarray(prefill_tokens, dtype=np.float64)
    tokens = np.maximum(b + pf, 1.0)
    tp, ranks, ep, rank_tokens, moe_tokens = _layout(engine, hw, cost, tokens)
    rank_share = np.maximum(rank_tokens / tokens, 0.0)  # this rank's share of the step's sequences
    sequences = np.maximum(
        b + np.where(pf > 0, pf / np.maximum(np.asarray(prompt_tokens, dtype=np.float64), 1.0), 0.0), 1.0
    )
    gemm_s = gemm.seconds(
        cost.gemms,
        rank_tokens,
        r.gemm,
        r.memory_bandwidth_bytes_per_s,
        r.gemm_peak_flops_per_s,
        tp,
        head_tokens=sequences * rank_share,
    )
    moe_s = 0.0
    if cost.experts is not None:
        moe_s = moe.seconds(
            cost.experts,
            moe_tokens,
            r.moe,
            r.memory_bandwidth_bytes_per_s,
            r.gemm_peak_flops_per_s,
            ep,
            1.0 if hw.expert_parallel else tp,
        )
    attn_tp = np.asarray(tp, dtype=np.float64)  # 1 under attention data parallel
    attn_s = _attention_seconds(
        cost, model, kv_elem_bytes, r, b * rank_share, context, pf * rank_share, prompt_tokens, attn_tp
    )
    comm_s = _communication_seconds(cost, engine, hw, rank_tokens, moe_tokens)
    framework = _framework_seconds(cost, engine, b, pf, k, r)
    return gemm_s + moe_s + attn_s + comm_s + framework


def _attention_seconds(
    cost: ModelCost, model, kv_elem_bytes: float, r: _Rates, sequences, context, prefill_tokens, prompt_tokens, tp
):
    """Decode attention (cache reads) and prefill attention (causal math) of one step on one GPU.

    With measured kernels each runs once per attention layer, timed by that layer's fitted roofline (its
    launch floor only where the step has such work); llama.cpp's kernels at their profile's rates."""
    seqs = np.asarray(sequences, dtype=np.float64)
    pf = np.asarray(prefill_tokens, dtype=np.float64)
    read = attention.decode_bytes(model, kv_elem_bytes, seqs, context, tp)
    decode_flops = seqs * attention_flops_per_token(cost, context) / tp
    prompt_flops = pf * attention_flops_per_token(cost, np.asarray(prompt_tokens, dtype=np.float64) / 2.0) / tp
    if r.decode_attention is None or r.prefill_attention is None:
        return read / r.kv_bandwidth_bytes_per_s + (decode_flops + prompt_flops) / (r.attn_peak_flops_per_s)
    layers = max(attention.attention_layers(model), 1) if model.cache_groups else max(cost.layers, 1)
    dec = gemm.roofline_seconds(
        r.decode_attention,
        read / layers,
        decode_flops / layers,
        r.memory_bandwidth_bytes_per_s,
        r.attn_peak16_flops_per_s,
    )
    dec = np.where(seqs > 0, dec, 0.0)
    written = pf * attention.decode_bytes(model, kv_elem_bytes, 1.0, 1.0, tp)  # the prompt's own cache entries
    pre = gemm.roofline_seconds(
        r.prefill_attention,
        written / layers,
        prompt_flops / layers,
        r.memory_bandwidth_bytes_per_s,
        r.attn_peak16_flops_per_s,
    )
    pre = np.where(pf > 0, pre, 0.0)
    return layers * (dec + pre)


def _communication_seconds(cost: ModelCost, engine: EngineProfile, hw: Hardware, rank_tokens, moe_tokens):
    n = np.asarray(hw.n_gpus, dtype=np.float64)
    if not engine.tensor_parallel:
        return np.where(n > 1, (n - 1) * LAYER_HOP_S / 4, 0.0)
    if hw.kernels is None:
        return (
            collectives.ring_allreduce_seconds(
                rank_tokens * cost.hidden * 2.0, n, hw.link_bandwidth_bytes_per_s, hw.link_kind
            )
            * 2
            * cost.layers
        )
    dp = hw.dp_attention and cost.experts is not None
    total = 0.0
    if not dp:
        total = 2 * cost.layers * collectives.seconds(hw.kernels.allreduce, rank_tokens * cost.hidden * 2.0, n)
    if cost.experts is not None and hw.expert_parallel:
        per_gpu = rank_tokens * cost.experts.top_k * cost.hidden * 2.0 / np.maximum(n, 1.0)
        total = total + 2 * cost.experts.layers * collectives.seconds(hw.kernels.alltoall, per_gpu, n)
    elif dp:
        # attention ranks gather their tokens for the sliced MoE and scatter them back: one all-reduce's worth
        total = total + 2 * cost.layers * collectives.seconds(hw.kernels.allreduce, moe_tokens * cost.hidden * 2.0, n)
    return np.where(n > 1, total, 0.0)


def _framework_seconds(cost: ModelCost, engine: EngineProfile, batch, prefill_tokens, k: SpeedConstants, r: _Rates):
    """Scheduler, sampling and launches: decode steps replay CUDA graphs, prefill chunks launch every kernel."""
    step = k.decode_step_s(engine.speed_group) + batch * k.per_sequence_s
    launches = np.where(np.asarray(prefill_tokens) > 0, cost.layers * k.prefill_layer_s, 0.0)
    if r.layer_launch_s:  # llama.cpp: its own per-layer cost at every step, no separate prefill launches
        return step + cost.layers * r.layer_launch_s
    return step + launches


def decode_step_seconds(
    cost: ModelCost,
    model: ModelSpec,
    kv_elem_bytes: float,
    engine: EngineProfile,
    hw: Hardware,
    batch,
    context,
    constants: SpeedConstants | None = None,
):
    """Seconds for one pure decode step of `batch` sequences whose caches hold `context` tokens each."""
    return step_seconds(cost, model, kv_elem_bytes, engine, hw, batch, context, constants=constants)


def _chunks(engine: EngineProfile, prompt_tokens):
    return np.maximum(np.ceil(np.asarray(prompt_tokens, dtype=np.float64) / engine.batch_tokens), 1.0)


def prefill_seconds(
    cost: ModelCost,
    engine: EngineProfile,
    hw: Hardware,
    prompt_tokens,
    model: ModelSpec | None = None,
    constants: SpeedConstants | None = None,
):
    """Seconds to prefill one prompt alone: its chunks of at most the engine's batched-token budget."""
    p = np.maximum(np.asarray(prompt_tokens, dtype=np.float64), 1.0)
    chunks = _chunks(engine, p)
    per_chunk = p / chunks
    step = (
        step_seconds(cost, model, 2.0, engine, hw, 0.0, 0.0, per_chunk, p, constants)
        if model is not None
        else (_prefill_step_no_model(cost, engine, hw, per_chunk, p, constants))
    )
    if not engine.tensor_parallel:
        # layer split pipelines the prompt's micro-batches through the GPUs: m chunks over n stages
        n = np.asarray(hw.n_gpus, dtype=np.float64)
        return chunks * step / (chunks * n / (chunks + n - 1.0))
    return chunks * step


def _prefill_step_no_model(cost, engine, hw, tokens, prompt, constants):
    """A prefill chunk reads no cache, so callers without the model's cache layout get the same step."""
    return step_seconds(cost, _NO_CACHE, 2.0, engine, hw, 0.0, 0.0, tokens, prompt, constants)


class _NoCacheModel:
    cache_groups = ()


_NO_CACHE = _NoCacheModel()


# ------------------------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class Throughput:
    decode_tokens_per_s: np.ndarray  # per sequence, while generating
    throughput_tokens_per_s: np.ndarray  # aggregate output tokens/s of the replica
    prefill_tokens_per_s: np.ndarray
    ttft_s: np.ndarray
    request_latency_s: np.ndarray


@dataclass(frozen=True)
class StepTimes:
    """The step times serving is composed of (seconds; arrays over configurations)."""

    decode_s: np.ndarray  # one decode step of the whole batch
    prefill_all_s: np.ndarray  # the prefill chunks of one prompt from every user in the batch
    alone_prefill_s: np.ndarray  # one prompt's chunks with nothing else in the engine


def serving_steps(
    cost: ModelCost,
    model: ModelSpec,
    kv_elem_bytes: float,
    engine: EngineProfile,
    hw: Hardware,
    batch,
    input_tokens,
    output_tokens,
    constants: SpeedConstants | None = None,
) -> StepTimes:
    k = constants or speed_constants()
    b = np.maximum(np.asarray(batch, dtype=np.float64), 1.0)
    i = np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0)
    o = np.maximum(np.asarray(output_tokens, dtype=np.float64), 1.0)
    decode = step_seconds(cost, model, kv_elem_bytes, engine, hw, b, i + o / 2.0, constants=k)
    alone = prefill_seconds(cost, engine, hw, i, model, k)
    prompt_tokens = b * i
    # chunked prefill shares its token budget with decode steps, so the batch's prompts cost fractional chunks
    steps = np.maximum(prompt_tokens / engine.batch_tokens, 1.0)
    together = steps * step_seconds(
        cost, model, kv_elem_bytes, engine, hw, 0.0, 0.0, prompt_tokens / steps, i, constants=k
    )
    return StepTimes(decode, np.maximum(together, alone), alone)


def serving_from_steps(
    steps: StepTimes,
    concurrency,
    batch,
    input_tokens,
    output_tokens,
    request_s,
    continuous,
    batch_tokens,
    concurrency_penalty,
) -> Throughput:
    """Serving figures from step times: plain arithmetic over arrays (engine properties may be arrays too).

    Continuous batching: one request cycle of every user costs the engine O decode steps of the whole batch
    plus the prefill chunks of the batch's prompts, batched up to the engine's token budget per step, plus
    the engine's per-request work (HTTP, tokenizing, scheduling, detokenizing). A stream sees the decode
    steps and the other users' prefills between them. Its first token waits for its own prompt's chunks, the
    step in flight, and the queue of other prompts (M/D/1 on the share of time the engine spends in
    prefill). Engines without continuous batching (llama.cpp, Ollama) serve a few slots that share one
    context, one prompt at a time. Users beyond the batch wait for a free sequence slot.
    """
    c = np.maximum(np.asarray(concurrency, dtype=np.float64), 1.0)
    b = np.maximum(np.asarray(batch, dtype=np.float64), 1.0)
    i = np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0)
    o = np.maximum(np.asarray(output_tokens, dtype=np.float64), 1.0)
    decode, prefill_all, alone = steps.decode_s, steps.prefill_all_s, steps.alone_prefill_s
    busy = o * decode + prefill_all  # engine time for one request of every user
    # its own prompt's chunk: the whole batch's prefill while the prompts fit one chunk, else one chunk's time
    # (or the prompt's own chunks, for a prompt longer than a chunk)
    own = np.minimum(prefill_all, np.maximum(alone, prefill_all * batch_tokens / (b * i)))
    prefill_share = np.clip(prefill_all / (busy + request_s), 0.0, 0.95)
    queue = np.where(b > 1, prefill_share / (2 * (1 - prefill_share)) * prefill_all / b + decode / 2, 0.0)
    cb_ttft = request_s + own + queue
    cb_per_user = o / np.maximum(busy - own, o * decode)
    # slots: prompts one at a time between the shared decode steps, some efficiency lost per extra slot
    cycle = (o * decode + b * alone) / o * (1.0 + concurrency_penalty * (b - 1.0))
    slot_per_user = np.where(b > 1, 1.0 / cycle, 1.0 / decode)
    slot_ttft = request_s + alone + np.where(b > 1, decode, 0.0)
    ttft = np.where(continuous, cb_ttft, slot_ttft)
    per_user = np.where(continuous, cb_per_user, slot_per_user)
    # users beyond the batch wait for a free slot: (C - B) / B of the batch's request time, before their first token
    ttft = ttft + np.where(c > b, (c - b) / b * (o / np.maximum(per_user, 1e-12) + ttft), 0.0)
    latency = ttft + o / per_user
    return Throughput(
        decode_tokens_per_s=per_user,
        # each of the C users completes one request per request latency (Little's law, closed loop)
        throughput_tokens_per_s=c * o / latency,
        prefill_tokens_per_s=i / alone,
        ttft_s=ttft,
        request_latency_s=latency,
    )


def serve(
    cost: ModelCost,
    model: ModelSpec,
    kv_elem_bytes: float,
    engine: EngineProfile,
    hw: Hardware,
    concurrency,
    input_tokens,
    output_tokens,
    constants: SpeedConstants | None = None,
) -> Throughput:
    """Steady serving of `concurrency` users, each sending a new request as soon as the last one ends."""
    k = constants or speed_constants()
    c = np.maximum(np.asarray(concurrency, dtype=np.float64), 1.0)
    batch = np.minimum(c, engine.max_batch)
    steps = serving_steps(cost, model, kv_elem_bytes, engine, hw, batch, input_tokens, output_tokens, k)
    return serving_from_steps(
        steps,
        c,
        batch,
        input_tokens,
        output_tokens,
        k.request_s(engine.speed_group),
        engine.continuous_batching,
        engine.batch_tokens,
        engine.concurrency_penalty,
    )


def offload_decode_seconds(
    cost: ModelCost, gpu_layers, total_layers: int, hw: Hardware, engine: EngineProfile, kv_seq_bytes
):
    """Batch-1 decode with `gpu_layers` on the GPU and the rest read from host RAM by the CPU."""
    g = np.asarray(gpu_layers, dtype=np.float64)
    k = speed_constants()
    r = _rates(engine, hw, cost, k)
    weights_bw = r.memory_bandwidth_bytes_per_s * r.gemm.bandwidth_eff
    host_bw = hw.host_bandwidth_bytes_per_s * HOST_EFFICIENCY
    per_layer = cost.layer_bytes * _moe_share(cost) + kv_seq_bytes / total_layers
    head = max(cost.dense_read_bytes + cost.expert_bytes - cost.layer_bytes * total_layers, 0.0)
    t = (g * per_layer + head) / weights_bw + (total_layers - g) * per_layer / host_bw
    return t + total_layers * r.layer_launch_s + k.decode_step_s(engine.speed_group)


def _moe_share(cost: ModelCost) -> float:
    """Share of a layer's bytes one token reads (MoE: the active experts only)."""
    total = cost.dense_read_bytes + cost.expert_bytes
    if not cost.expert_bytes or total <= 0:
        return 1.0
    active = cost.dense_read_bytes + cost.expert_bytes * cost.expert_active_share
    return active / total
