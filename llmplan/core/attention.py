"""Attention: decode reads each sequence's cache; prefill does the causal FLOPs at flash-attention speed.

Full, MLA and compressed layers attend to the whole context; sliding layers to their window; linear and Mamba
layers keep a fixed state (read once per step, counted with the cache bytes).
"""

from __future__ import annotations

import numpy as np

from llmplan.core.memory import kv_bytes_per_sequence
from llmplan.models.architecture import ModelSpec


def flops_per_context_token(model: ModelSpec) -> tuple[float, tuple[tuple[float, float], ...]]:
    """(FLOPs per new token per token of context over full layers, [(same, window)] for sliding layers)."""
    full = 0.0
    windowed = []
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba") or not g.q_heads:
            continue
        v = g.v_dim if g.v_dim else g.k_dim
        per_ctx = 2.0 * g.layers * g.q_heads * (g.qk_dim + v) / g.tokens_per_entry
        if g.window and g.kind == "sliding":
            windowed.append((per_ctx, float(g.window)))
        else:
            full += per_ctx
    return full, tuple(windowed)


def flops_per_token(full_per_ctx: float, windowed, context):
    ctx = np.asarray(context, dtype=np.float64)
    flops = full_per_ctx * ctx
    for per_ctx, window in windowed:
        flops = flops + per_ctx * np.minimum(ctx, window)
    return flops


def replicated_share(model: ModelSpec) -> float:
    """Share of the per-token cache that tensor parallel keeps whole on every GPU (MLA's latent cache)."""
    split = rep = 0.0
    for g in model.cache_groups:
        if g.kind in ("linear", "mamba"):
            continue
        size = g.layers * g.kv_heads * (g.k_dim + g.v_dim)
        if g.tp_split:
            split += size
        else:
            rep += size
    return rep / (split + rep) if split + rep else 0.0


def attention_layers(model: ModelSpec) -> int:
    """Layers that attend over a cache (linear-attention and Mamba layers keep a fixed state instead)."""
    return sum(g.layers for g in model.cache_groups if g.kind not in ("linear", "mamba"))


def decode_bytes(model: ModelSpec, kv_elem_bytes: float, sequences, context, tp):
    """Cache bytes one GPU of a tensor-parallel group of `tp` reads for `sequences` caches of `context` tokens."""
    whole = kv_bytes_per_sequence(model, kv_elem_bytes, context, 1) if model.cache_groups else 0.0
    rep = replicated_share(model) if model.cache_groups else 0.0
    per_gpu = whole * (rep + (1.0 - rep) / np.asarray(tp, dtype=np.float64))
    return np.asarray(sequences, dtype=np.float64) * per_gpu


def decode_seconds(model: ModelSpec, kv_elem_bytes: float, sequences, context, kv_bandwidth, tp):
    """Reading `sequences` caches of `context` tokens on one GPU of a tensor-parallel group of `tp`."""
    return decode_bytes(model, kv_elem_bytes, sequences, context, tp) / kv_bandwidth


def prefill_seconds(full_per_ctx: float, windowed, tokens, prompt_tokens, attn_flops_per_s, tp):
    """Causal attention of `tokens` prompt tokens from prompts of `prompt_tokens` (mean context: half)."""
    ctx = np.asarray(prompt_tokens, dtype=np.float64) / 2.0
    flops = np.asarray(tokens, dtype=np.float64) * flops_per_token(full_per_ctx, windowed, ctx)
    return flops / (attn_flops_per_s * np.asarray(tp, dtype=np.float64))
