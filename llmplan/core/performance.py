"""How fast: decode, prefill, batched throughput, time to first token.

A roofline per step. Decode reads the active weights once per step (MoE: the experts the batch
touches) plus every sequence's cache, and does ~2 x active parameters FLOPs per token plus attention;
its time is the larger of the memory and the compute time, plus per-layer launch latency and, under
tensor parallel, two all-reduces per layer. Prefill is compute-bound. Under continuous batching the
prefill of new requests shares the steps with decode. Every function takes numpy arrays, so a sweep
over many configurations is one call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmplan.models.architecture import ModelSpec
from llmplan.core.memory import (
    expert_weights_bytes,
    kv_bytes_per_sequence,
    layer_weights_bytes,
    weights_bytes,
)
from llmplan.engines.profiles import EngineProfile
from llmplan.engines.formats import QuantFormat

ALLREDUCE_LATENCY_S = {"nvlink": 8e-6, "infinity-fabric": 10e-6, "pcie": 25e-6, "ethernet": 60e-6,
                       "none": 25e-6, "unified": 0.0}
LAYER_HOP_S = 2e-4  # llama.cpp layer split: handing activations to the next GPU each step
DEFAULT_HOST_BANDWIDTH = 89.6e9  # dual-channel DDR5-5600
HOST_EFFICIENCY = 0.6


@dataclass(frozen=True)
class Hardware:
    """One replica's hardware: `n_gpus` of one kind (numbers may be numpy arrays)."""

    bandwidth: float | np.ndarray  # bytes/s per GPU (datasheet)
    peak_flops: float | np.ndarray  # dense FLOP/s per GPU for the format's math
    memory_bytes: float | np.ndarray  # bytes per GPU the GPU may use
    n_gpus: int | np.ndarray = 1
    link_bandwidth: float | np.ndarray = 64e9
    link_kind: str = "pcie"
    kind: str = "datacenter"
    wgmma: bool = False  # peak needs Hopper/datacenter-Blackwell instructions (sm 9.0-10.x: wgmma, tcgen05)
    host_bandwidth: float = DEFAULT_HOST_BANDWIDTH
    attention_flops: float | np.ndarray | None = None  # 16-bit peak: attention runs at it whatever the weights
    expert_parallel: bool = False  # MoE experts spread whole over the GPUs instead of sliced


@dataclass(frozen=True)
class ModelCost:
    """Per-token quantities of one model at one format (scalars, bytes and FLOPs)."""

    dense_read_bytes: float  # weights every step reads regardless of batch (incl. lm_head)
    expert_bytes: float  # all routed expert weights
    expert_active_share: float  # k / E
    moe_layers: int
    flops_per_token: float  # 2 x active parameters outside the routed experts
    expert_flops_per_token: float  # 2 x active routed-expert parameters
    attn_flops_per_ctx: float  # attention FLOPs per token per token of context (full layers)
    windowed: tuple[tuple[float, float], ...]  # (attention FLOPs per ctx token, window) for sliding
    layers: int
    hidden: int
    dtype_bytes: int
    kernel_efficiency: float
    layer_bytes: float
    gguf: bool
    math_efficiency: float  # share of the format's math peak its GEMM kernels reach relative to 16-bit ones


def model_cost(model: ModelSpec, fmt: QuantFormat) -> ModelCost:
    total = weights_bytes(model, fmt)
    experts = expert_weights_bytes(model, fmt)
    embed_bytes = model.embed_params * fmt.embed_bits / 8 if model.lm_head_params else 0.0
    dense_read = total - experts - embed_bytes  # the embedding table is looked up, not streamed
    attn = 0.0
    windowed = []
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba") or not g.q_heads:
            continue
        v = g.v_dim if g.v_dim else g.k_dim
        per_ctx = 2.0 * g.layers * g.q_heads * (g.qk_dim + v) / g.tokens_per_entry
        if g.window and g.kind == "sliding":
            windowed.append((per_ctx, float(g.window)))
        else:
            attn += per_ctx
    active_experts = model.expert_params * (model.experts_per_token / model.num_experts) if model.num_experts else 0.0
    active_nonembed = max(model.params_active - model.embed_params + (model.embed_params if not model.lm_head_params else 0), 1)
    return ModelCost(
        dense_read_bytes=float(dense_read),
        expert_bytes=float(experts),
        expert_active_share=(model.experts_per_token / model.num_experts) if model.num_experts else 1.0,
        moe_layers=model.moe_layers,
        flops_per_token=2.0 * max(active_nonembed - active_experts, 1.0),
        expert_flops_per_token=2.0 * active_experts,
        attn_flops_per_ctx=attn,
        windowed=tuple(windowed),
        layers=model.num_layers,
        hidden=model.hidden_size,
        dtype_bytes=model.dtype_bytes,
        kernel_efficiency=1.0 if fmt.is_gguf else fmt.kernel_efficiency,
        layer_bytes=layer_weights_bytes(model, fmt),
        gguf=fmt.is_gguf,
        math_efficiency=fmt.math_efficiency,
    )


def attention_flops_per_token(cost: ModelCost, context):
    ctx = np.asarray(context, dtype=np.float64)
    flops = cost.attn_flops_per_ctx * ctx
    for per_ctx, window in cost.windowed:
        flops = flops + per_ctx * np.minimum(ctx, window)
    return flops


def weights_read_per_step(cost: ModelCost, batch):
    """Bytes of weights one decode step streams: MoE layers touch 1-(1-k/E)^B of their experts."""
    b = np.maximum(np.asarray(batch, dtype=np.float64), 1.0)
    touched = 1.0 - (1.0 - cost.expert_active_share) ** b if cost.expert_bytes else 0.0
    return cost.dense_read_bytes + cost.expert_bytes * touched


def allreduce_seconds(cost: ModelCost, hw: Hardware, tokens, tensor_parallel: bool):
    """Two all-reduces per layer of tokens x hidden activations (ring: 2(N-1)/N of the data)."""
    n = np.asarray(hw.n_gpus, dtype=np.float64)
    if not tensor_parallel:
        return np.where(n > 1, (n - 1) * LAYER_HOP_S / 4, 0.0)
    size = np.asarray(tokens, dtype=np.float64) * cost.hidden * cost.dtype_bytes
    per = 2.0 * (n - 1) / np.maximum(n, 1) * size / hw.link_bandwidth + ALLREDUCE_LATENCY_S.get(hw.link_kind, 25e-6)
    return np.where(n > 1, 2 * cost.layers * per, 0.0)


def _effective(engine: EngineProfile, hw: Hardware, cost: ModelCost):
    """(weight-stream bandwidth, cache-read bandwidth, GEMM FLOP/s, attention FLOP/s) the engine reaches."""
    e = engine.eff(hw.kind)
    bw = hw.bandwidth * e.bandwidth
    compute = hw.peak_flops * e.compute
    if hw.wgmma:
        compute = compute * engine.wgmma_factor
    weights_bw = bw * cost.kernel_efficiency * (e.quant_decode if cost.gguf else 1.0)
    gemm = compute * (e.quant_prefill if cost.gguf else 1.0) * cost.math_efficiency
    attn_peak = hw.attention_flops if hw.attention_flops is not None else hw.peak_flops
    attn = np.minimum(attn_peak * e.compute, compute) * e.attention
    if hw.wgmma:
        attn = attn * engine.wgmma_factor
    return weights_bw, bw * e.kv_read, gemm, attn


def step_seconds(cost: ModelCost, model: ModelSpec, kv_elem_bytes: float, engine: EngineProfile,
                 hw: Hardware, batch, context, prefill_tokens=0.0, prompt_tokens=0.0):
    """Seconds for one engine step: one decode token for each of `batch` sequences (caches of `context`
    tokens) plus `prefill_tokens` of new prompts (of `prompt_tokens` each) batched into the same step.

    The step streams the weights once and every sequence's cache (memory), and does the FLOPs of all
    its tokens (compute): its time is the larger of the two, divided over tensor-parallel GPUs.
    """
    b = np.maximum(np.asarray(batch, dtype=np.float64), 1.0)
    pf = np.asarray(prefill_tokens, dtype=np.float64)
    n = np.asarray(hw.n_gpus, dtype=np.float64)
    tp = n if engine.tensor_parallel else 1.0
    weights_bw, kv_bw, gemm, attn = _effective(engine, hw, cost)
    kv_seq = kv_bytes_per_sequence(model, kv_elem_bytes, context, 1)
    tokens = b + pf
    ep = bool(hw.expert_parallel and cost.expert_bytes)
    # Grouped expert GEMMs are less efficient than dense ones; under expert parallel each GPU's experts
    # receive n times more tokens each, which fills their GEMMs better.
    moe_eff = engine.moe_compute_factor * (np.maximum(tp, 1.0) ** engine.ep_efficiency_gain if ep else 1.0)
    moe_eff = np.minimum(moe_eff, 1.0)
    # GEMMs stream the weights once for all tokens of the step: the larger of read and math time
    dense_s = np.maximum(cost.dense_read_bytes / weights_bw, tokens * cost.flops_per_token / gemm)
    expert_s = np.maximum(weights_read_per_step(cost, tokens) - cost.dense_read_bytes, 0.0) / (
        weights_bw * engine.moe_bandwidth_factor)
    expert_s = np.maximum(expert_s, tokens * cost.expert_flops_per_token / (gemm * moe_eff))
    # attention kernels run after them: decode reads every cache, prefill does its quadratic math
    attn_flops = b * attention_flops_per_token(cost, context) + pf * attention_flops_per_token(
        cost, np.asarray(prompt_tokens, dtype=np.float64) / 2.0)
    attn_s = np.maximum(b * kv_seq / kv_bw, attn_flops / attn)
    # Tensor parallel divides the work, less the efficiency thinner slices lose; expert parallel hands
    # each GPU whole experts (no slicing loss); layer split (llama.cpp) runs the GPUs one after another.
    loss = 1.0 + engine.tp_scaling_loss * np.log2(np.maximum(tp, 1.0))
    if ep:
        step = (dense_s + attn_s) / tp * loss + expert_s / tp
    else:
        step = (dense_s + expert_s + attn_s) / tp * loss
    launch = cost.layers * engine.eff(hw.kind).layer_overhead_s + engine.step_overhead_s
    host = b * engine.sequence_overhead_s  # scheduling, sampling, detokenizing: host time per sequence
    return step + launch + host + allreduce_seconds(cost, hw, tokens, engine.tensor_parallel)


def decode_step_seconds(cost: ModelCost, model: ModelSpec, kv_elem_bytes: float, engine: EngineProfile,
                        hw: Hardware, batch, context):
    """Seconds for one pure decode step of `batch` sequences whose caches hold `context` tokens each."""
    return step_seconds(cost, model, kv_elem_bytes, engine, hw, batch, context)


def prefill_seconds(cost: ModelCost, engine: EngineProfile, hw: Hardware, prompt_tokens):
    """Seconds to prefill one prompt of `prompt_tokens` (causal attention: mean context is half)."""
    p = np.maximum(np.asarray(prompt_tokens, dtype=np.float64), 1.0)
    n = np.asarray(hw.n_gpus, dtype=np.float64)
    tp = n if engine.tensor_parallel else 1.0
    weights_bw, _, gemm, attn = _effective(engine, hw, cost)
    compute_s = p * (cost.flops_per_token + cost.expert_flops_per_token / engine.moe_compute_factor) / gemm + (
        p * attention_flops_per_token(cost, p / 2.0) / attn)
    read_s = (cost.dense_read_bytes + cost.expert_bytes) / weights_bw
    chunks = np.ceil(p / engine.batch_tokens)
    launch = chunks * (cost.layers * engine.eff(hw.kind).layer_overhead_s + engine.step_overhead_s)
    comm = allreduce_seconds(cost, hw, p, engine.tensor_parallel)
    if not engine.tensor_parallel:
        # layer split pipelines the prompt's micro-batches through the GPUs: m chunks over n stages
        speedup = chunks * n / (chunks + n - 1.0)
        return np.maximum(compute_s, read_s) / speedup + launch + comm
    return np.maximum(compute_s, read_s) / tp + launch + comm


@dataclass(frozen=True)
class Throughput:
    decode_tokens_per_s: np.ndarray  # per sequence, while generating
    throughput_tokens_per_s: np.ndarray  # aggregate output tokens/s of the replica
    prefill_tokens_per_s: np.ndarray
    ttft_s: np.ndarray
    request_latency_s: np.ndarray


def serve(cost: ModelCost, model: ModelSpec, kv_elem_bytes: float, engine: EngineProfile, hw: Hardware,
          concurrency, input_tokens, output_tokens) -> Throughput:
    """Steady serving of `concurrency` users, each sending requests of input/output tokens.

    A sequence in flight holds on average input + output/2 tokens of cache. Each step decodes one token
    for every sequence and absorbs the prefill of the requests that replace finished ones: per output
    token, input/output prompt tokens. Engines without continuous batching serve at most their slot
    count at once and lose efficiency per extra slot.
    """
    c = np.maximum(np.asarray(concurrency, dtype=np.float64), 1.0)
    i = np.maximum(np.asarray(input_tokens, dtype=np.float64), 1.0)
    o = np.maximum(np.asarray(output_tokens, dtype=np.float64), 1.0)
    batch = np.minimum(c, engine.max_batch)
    ctx = i + o / 2.0
    prefill_s = prefill_seconds(cost, engine, hw, i)
    if engine.continuous_batching:
        # every step also prefills the prompts of the requests that replace finished ones
        full = step_seconds(cost, model, kv_elem_bytes, engine, hw, batch, ctx, batch * i / o, i)
        # a user's stream is slowed by the other users' prompts, not by its own
        step = step_seconds(cost, model, kv_elem_bytes, engine, hw, batch, ctx, (batch - 1) * i / o, i)
        decode = 1.0 / step
        # alone, a user's request cycle is its own prefill then its decode
        throughput = np.where(batch <= 1, o / (o * step + prefill_s), batch / full)
    else:
        # a few slots share one context; prompts are processed between decode steps
        step = decode_step_seconds(cost, model, kv_elem_bytes, engine, hw, batch, ctx)
        cycle = (o * step + batch * prefill_s) / o
        cycle = cycle * (1.0 + engine.concurrency_penalty * (batch - 1.0))
        throughput = batch / cycle
        decode = np.where(batch > 1, 1.0 / cycle, 1.0 / step)
    # users beyond the engine's batch wait in its queue
    decode = decode * np.minimum(1.0, batch / c)
    ttft = prefill_s + np.where(batch > 1, step, 0.0)
    latency = ttft + o / decode
    return Throughput(
        decode_tokens_per_s=decode,
        throughput_tokens_per_s=throughput,
        prefill_tokens_per_s=i / prefill_s,
        ttft_s=ttft,
        request_latency_s=latency,
    )


def offload_decode_seconds(cost: ModelCost, gpu_layers, total_layers: int, hw: Hardware,
                           engine: EngineProfile, kv_seq_bytes):
    """Batch-1 decode with `gpu_layers` on the GPU and the rest read from host RAM by the CPU."""
    g = np.asarray(gpu_layers, dtype=np.float64)
    weights_bw, kv_bw, _, _ = _effective(engine, hw, cost)
    host_bw = hw.host_bandwidth * HOST_EFFICIENCY
    per_layer = cost.layer_bytes * _moe_share(cost) + kv_seq_bytes / total_layers
    head = max(cost.dense_read_bytes + cost.expert_bytes - cost.layer_bytes * total_layers, 0.0)
    t = (g * per_layer + head) / weights_bw + (total_layers - g) * per_layer / host_bw
    return t + total_layers * engine.eff(hw.kind).layer_overhead_s + engine.step_overhead_s


def _moe_share(cost: ModelCost) -> float:
    """Share of a layer's bytes one token reads (MoE: the active experts only)."""
    total = cost.dense_read_bytes + cost.expert_bytes
    if not cost.expert_bytes or total <= 0:
        return 1.0
    active = cost.dense_read_bytes + cost.expert_bytes * cost.expert_active_share
    return active / total
