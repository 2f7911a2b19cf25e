"""Where the bytes go: weights, KV cache and recurrent state, engine overhead.

Pure functions over a ModelSpec, a QuantFormat and plain numbers (or numpy arrays for sweeps).
Every figure is bytes (integers where they are reported).
"""

from __future__ import annotations

import numpy as np

from llmplan.engines.formats import FORMATS, QuantFormat, gguf_effective_bits
from llmplan.engines.profiles import EngineProfile
from llmplan.models.architecture import ModelSpec

GIB = 1 << 30


# ------------------------------------------------------------------------------------------ weights


def format_bits(model: ModelSpec, fmt: QuantFormat) -> tuple[float, float, float, float]:
    """Bits per weight for (body linear, experts, embeddings, lm_head) at `fmt`."""
    dense_bits = float(model.dtype_bytes * 8)
    gqa = model.num_heads // max(model.num_kv_heads, 1)
    linear = gguf_effective_bits(fmt, model.tensor_shares, gqa) if fmt.is_gguf else fmt.linear_bits
    experts = linear
    embed, head = fmt.embed_bits, fmt.head_bits
    if fmt.kind != "gguf" and fmt.kind != "float":
        embed = head = min(dense_bits, 16.0)
    if fmt.name == model.native_quant:
        if model.native_experts_only:
            linear = dense_bits  # attention, shared experts and dense MLPs stay 16-bit in the checkpoint
        if model.native_expert_quant:
            experts = FORMATS[model.native_expert_quant].linear_bits
    if fmt.kind == "float" and fmt.linear_bits >= 16:
        embed = head = fmt.linear_bits
    return linear, experts, embed, head


def _vision_bits(fmt: QuantFormat) -> float:
    """Vision/audio towers stay 16-bit in quantized checkpoints; GGUF ships them apart (an mmproj file
    loaded only for image input), so a GGUF model's weights leave them out."""
    if fmt.is_gguf:
        return 0.0
    return 32.0 if fmt.linear_bits > 16 else 16.0


def weights_bytes(model: ModelSpec, fmt: QuantFormat) -> int:
    """All weights of the model at `fmt`: MoE keeps every expert resident; vision towers stay 16-bit.

    A GGUF file's own tensor sizes win where the format is the file's.
    """
    if model.exact_weights and model.exact_weights[0] == fmt.name:
        return int(model.exact_weights[1])
    linear_bits, expert_bits, embed_bits, head_bits = format_bits(model, fmt)
    body = model.body_params - model.expert_params
    bits = (
        body * linear_bits
        + model.expert_params * expert_bits
        + model.embed_params * embed_bits
        + model.lm_head_params * head_bits
        + model.vision_params * _vision_bits(fmt)
    )
    return int(bits / 8)


def expert_weights_bytes(model: ModelSpec, fmt: QuantFormat) -> int:
    _, expert_bits, _, _ = format_bits(model, fmt)
    return int(model.expert_params * expert_bits / 8)


def layer_weights_bytes(model: ModelSpec, fmt: QuantFormat) -> float:
    """Weights of one decoder layer on average (what layer offload moves between GPU and host)."""
    linear_bits, expert_bits, _, _ = format_bits(model, fmt)
    body = (model.body_params - model.expert_params) * linear_bits + model.expert_params * expert_bits
    return body / 8 / model.num_layers


# -------------------------------------------------------------------------------- KV cache, state


def kv_bytes_per_token(model: ModelSpec, kv_elem_bytes: float) -> float:
    """Bytes each token of context adds, over every layer that keeps a per-token cache (before
    sliding windows cap it; compressed layers add one entry per `ratio` tokens)."""
    total = 0.0
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba"):
            continue
        per_entry = g.kv_heads * (g.k_dim + g.v_dim) * kv_elem_bytes + g.index_bytes_per_entry
        total += g.layers * per_entry / g.tokens_per_entry
    return total


def state_bytes_per_sequence(model: ModelSpec, tp: int = 1) -> int:
    """Fixed per-sequence state of linear-attention and Mamba layers (0 for pure transformers)."""
    total = 0
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba"):
            total += g.layers * (g.state_elems * g.state_dtype_bytes + g.conv_elems * model.dtype_bytes)
    return int(np.ceil(total / tp))


def _heads_per_gpu(kv_heads: int, tp: int, split: bool) -> float:
    if not split or tp <= 1:
        return float(kv_heads)
    # KV heads split across GPUs; with fewer heads than GPUs each GPU keeps a replica.
    return float(-(-kv_heads // tp))


def kv_bytes_per_sequence(model: ModelSpec, kv_elem_bytes: float, context, tp: int = 1):
    """Cache one sequence of `context` tokens holds on one GPU (tensor parallel `tp`), state included.

    `context` may be a numpy array; sliding layers stop growing at their window.
    """
    ctx = np.asarray(context, dtype=np.float64)
    total = np.zeros_like(ctx)
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba"):
            continue
        heads = _heads_per_gpu(g.kv_heads, tp, g.tp_split)
        per_entry = heads * (g.k_dim + g.v_dim) * kv_elem_bytes + g.index_bytes_per_entry
        tokens = np.minimum(ctx, g.window) if g.window else ctx
        entries = np.ceil(tokens / g.tokens_per_entry)
        total = total + g.layers * per_entry * entries
    return total + state_bytes_per_sequence(model, tp)


def kv_replicated(model: ModelSpec, tp: int) -> bool:
    """Whether tensor parallel keeps a full copy of some cache on every GPU (MLA, few KV heads)."""
    return tp > 1 and any(
        (not g.tp_split or g.kv_heads < tp) for g in model.cache_groups if g.kind not in ("linear", "mamba")
    )


# ----------------------------------------------------------------------------------- engine side


def activation_bytes(model: ModelSpec, engine: EngineProfile, tp: int = 1) -> int:
    """Torch activation peak of the engine's start-up profile run, in bytes.

    vLLM (its release's rule set): `profile_tokens` tokens through the MLP (gate/up and activated outputs, split
    by tensor parallel) and a few residual-width buffers, times a fitted factor, plus fp32 logits and the
    sampler's copies for the rows the release computes them for (V0: max_num_seqs rows; V1: every profiled
    token), bytes per vocab entry fitted (llmplan.engines.memory_rules, benchmarks/fit_engine_memory.py).
    Other engines: `batch_tokens` tokens through the same buffers plus the sampler for `max_batch` rows."""
    from llmplan.engines import memory_rules as R

    width = max(model.intermediate_size, 4 * model.hidden_size // 3)
    if engine.budget == "profiled" and engine.rules is not None:
        tokens = engine.profile_tokens or engine.batch_tokens
        forward = tokens * (3 * width / tp + 4 * model.hidden_size) * model.dtype_bytes
        rows = tokens if engine.rules.profile == "batched_tokens" else engine.max_batch
        logits = rows * model.vocab_size * R.ACTIVATION_LOGIT_BYTES[engine.rules.name]
        return int(R.ACTIVATION_WIDTH_FACTOR[engine.rules.name] * forward + logits)
    tokens = engine.batch_tokens
    mlp = tokens * (3 * width / tp) * model.dtype_bytes
    hidden = tokens * model.hidden_size * model.dtype_bytes * 4
    sampler = engine.max_batch * model.vocab_size * 8
    return int(mlp + hidden + sampler)


def cuda_graph_bytes(model: ModelSpec, engine: EngineProfile, tp: int = 1) -> int:
    """Memory of the CUDA graphs vLLM captures (batch sizes up to min(max_num_seqs, 512)): a fitted number of
    bytes per captured row per layer per hidden element held on this GPU (hidden / TP)."""
    from llmplan.engines import memory_rules as R

    rows = min(engine.max_batch, 512)
    return int(R.VLLM_GRAPH_BYTES_PER_ELEMENT * rows * model.num_layers * model.hidden_size / max(tp, 1))


def llama_cpp_compute_bytes(model: ModelSpec, ubatch: int, n_ctx: int, flash_attn: bool = True) -> int:
    """llama.cpp's compute buffer: the f32 logits of one micro-batch and a few residual-width tensors;
    without flash attention also one layer's f32 attention scores (ubatch x n_ctx per head)."""
    buffer = ubatch * model.vocab_size * 4 + ubatch * model.hidden_size * 4 * 4
    if not flash_attn:
        buffer += ubatch * n_ctx * model.num_heads * 4
    return int(buffer)


def engine_overhead_bytes(
    model: ModelSpec, engine: EngineProfile, tp: int = 1, *, n_ctx: int = 0, flash_attn: bool = True
) -> int:
    """What the engine holds beside weights and KV cache inside the memory it budgets (see
    llmplan.engines.memory_rules for each engine's rule, by release, and its source)."""
    from llmplan.engines import memory_rules as R

    if engine.budget == "profiled":
        graphs = (
            cuda_graph_bytes(model, engine, tp) if engine.rules is not None and engine.rules.graphs_in_budget else 0
        )
        return int(activation_bytes(model, engine, tp) + engine.non_torch_bytes + graphs)
    if engine.budget == "static":
        return 0  # its static fraction holds weights and the KV pool; activations and graphs live outside
    if engine.budget == "buffers":
        return int(R.LLAMA_CPP_CONTEXT_BYTES + llama_cpp_compute_bytes(model, engine.batch_tokens, n_ctx, flash_attn))
    return int(engine.context_bytes + engine.cuda_graph_bytes + activation_bytes(model, engine, tp))


def usable_bytes(gpu_memory_bytes: float, engine: EngineProfile, weights_per_gpu: float, overhead: float):
    """Memory per GPU the engine lets weights + cache + overhead use.

    vLLM/SGLang/TGI: a fraction of the whole GPU. TensorRT-LLM: weights and overhead, plus its fraction
    of what is left free after they load.
    """
    mem = np.asarray(gpu_memory_bytes, dtype=np.float64)
    if engine.budget == "static":
        # SGLang's fraction applies to the memory free when weights start loading (after its CUDA context and NCCL)
        return (mem - engine.non_torch_bytes) * engine.memory_fraction
    if engine.fraction_of_free:
        free = np.maximum(mem - weights_per_gpu - overhead, 0.0)
        return np.minimum(weights_per_gpu + overhead + engine.memory_fraction * free, mem)
    return mem * engine.memory_fraction
