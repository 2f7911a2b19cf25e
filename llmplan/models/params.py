"""Parameter counts from config.json alone, by architecture family.

Used when no published count is given, for the MoE expert share, for the GGUF attn_v/ffn_down share, and
for the trainable parameters of LoRA (the real layer shapes). Each family has its own function:
attention mixers (GQA, MLA, DeepSeek V4 compressed attention, DeciLM block configs), linear mixers (Gated
DeltaNet, Kimi Delta Attention, lightning attention), Mamba-2, feed-forward blocks (dense MLPs, routed /
shared / latent experts, routers), embeddings and norms, multi-token-prediction layers and vision towers.
`count_params` adds them up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from llmplan.errors import ConfigError
from llmplan.models.config_fields import (
    FFN_NAMES,
    FULL_NAMES,
    MAMBA_NAMES,
    first_of,
    indexer_flags,
    kv_head_count,
    layer_flags,
)


def _mlp_params(hidden: int, inter: int, gated: bool = True, bias: bool = False) -> int:
    n = (3 if gated else 2) * hidden * inter
    if bias:
        n += (2 if gated else 1) * inter + hidden
    return n


def _gated(cfg: dict[str, Any]) -> bool:
    model_type = str(cfg.get("model_type", ""))
    act = str(cfg.get("mlp_hidden_act", cfg.get("hidden_act", "silu")))
    return model_type not in ("falcon", "gpt2", "gpt_neox", "phi", "starcoder2") and not act.startswith("relu2")


def _qk_norm_elems(cfg: dict[str, Any], n_q: int, n_kv: int, dim: int) -> int:
    model_type = str(cfg.get("model_type", ""))
    if cfg.get("qk_norm_type") == "per_layer":
        return (n_q + n_kv) * dim  # MiniMax M2: one norm over all heads
    if cfg.get("use_qk_norm") and model_type.startswith("llama4"):
        return 0  # Llama 4: L2 norm without weights
    if cfg.get("use_qk_norm") or model_type.startswith(("qwen3", "gemma3", "gemma4", "olmo2", "step3")):
        return 2 * dim
    return 0


def _gqa_params(
    cfg: dict[str, Any],
    hidden: int,
    n_q: int,
    n_kv: int,
    qk: int,
    v: int,
    *,
    shares_kv: bool = False,
    k_eq_v: bool = False,
    sinks: bool = False,
) -> tuple[int, int, int]:
    """(all, v projection, output projection) parameters of one grouped-query attention layer."""
    model_type = str(cfg.get("model_type", ""))
    gate = 2 if cfg.get("attn_output_gate") else 1  # Qwen3-Next / 3.5: q_proj also emits an output gate
    q = hidden * n_q * qk * gate
    k = 0 if shares_kv else hidden * n_kv * qk
    v_proj = 0 if (shares_kv or k_eq_v) else hidden * n_kv * v
    o = n_q * v * hidden
    bias = 0
    if cfg.get("attention_bias"):
        bias = n_q * qk * gate + (0 if shares_kv else n_kv * qk) + (0 if shares_kv or k_eq_v else n_kv * v) + hidden
    elif model_type.startswith("qwen2"):
        bias = n_q * qk + n_kv * qk + n_kv * v  # Qwen2 / 2.5: q, k, v biases
    extra = _qk_norm_elems(cfg, n_q, n_kv, qk) + (n_q if sinks else 0)
    return q + k + v_proj + o + bias + extra, v_proj, o


def _mla_params(cfg: dict[str, Any], hidden: int, n_heads: int, *, indexer: bool) -> tuple[int, int, int]:
    """DeepSeek V3 multi-head latent attention (+ the V3.2 / GLM-5 lightning indexer)."""
    kv_lora = int(cfg["kv_lora_rank"])
    q_lora = cfg.get("q_lora_rank")
    rope = int(first_of(cfg, "qk_rope_head_dim", default=64))
    nope = int(first_of(cfg, "qk_nope_head_dim", default=128))
    v_dim = int(first_of(cfg, "v_head_dim", default=128))
    qk = nope + rope
    if q_lora:
        q = hidden * int(q_lora) + int(q_lora) + int(q_lora) * n_heads * qk
    else:
        q = hidden * n_heads * qk
    kv_a = hidden * (kv_lora + rope) + kv_lora
    kv_b = kv_lora * n_heads * (nope + v_dim)
    o = n_heads * v_dim * hidden
    gate = hidden * n_heads * v_dim if cfg.get("mla_use_output_gate") else 0  # Kimi Linear's gated MLA
    total = q + kv_a + kv_b + o + gate
    if indexer and cfg.get("index_head_dim"):
        ih, idim = int(cfg.get("index_n_heads") or 64), int(cfg["index_head_dim"])
        total += int(q_lora or hidden) * ih * idim + hidden * idim + 2 * idim + hidden * ih
    return total, kv_lora * n_heads * v_dim, o


def _v4_attention_params(cfg: dict[str, Any], hidden: int, n_heads: int, ratio: int) -> tuple[int, int, int]:
    """DeepSeek V4: low-rank queries, one shared K=V entry of head_dim, grouped low-rank output, and per
    compressed layer a compressor (ratio 4: overlapping windows, plus the indexer with its own compressor)."""
    hd = int(first_of(cfg, "head_dim", default=512))
    q_lora = int(cfg.get("q_lora_rank") or hidden)
    o_lora = int(cfg.get("o_lora_rank") or hidden)
    o_groups = int(cfg.get("o_groups") or 1)
    q = hidden * q_lora + q_lora + q_lora * n_heads * hd
    kv = hidden * hd + hd
    o = n_heads * hd * o_lora + o_groups * o_lora * hidden
    total = q + kv + o + n_heads  # + attention sinks
    if ratio > 0:
        coff = 2 if ratio == 4 else 1
        total += 2 * hidden * coff * hd + ratio * coff * hd + hd  # wkv, wgate, ape, norm
        idim = int(cfg.get("index_head_dim") or 0)
        if ratio == 4 and idim:
            ih = int(cfg.get("index_n_heads") or 64)
            total += q_lora * ih * idim + hidden * ih + 2 * hidden * coff * idim + ratio * coff * idim + idim
    return total, 0, o


def _gdn_params(cfg: dict[str, Any], hidden: int) -> int:
    """Qwen3-Next / 3.5 Gated DeltaNet: in_proj_qkvz, in_proj_ba, depthwise conv, A_log, dt_bias, norm, out_proj."""
    kh, vh = int(cfg["linear_num_key_heads"]), int(cfg["linear_num_value_heads"])
    kd, vd = int(cfg["linear_key_head_dim"]), int(cfg["linear_value_head_dim"])
    kernel = int(first_of(cfg, "linear_conv_kernel_dim", default=4))
    key, value = kh * kd, vh * vd
    return hidden * (2 * key + 2 * value) + hidden * 2 * vh + (2 * key + value) * kernel + 2 * vh + vd + value * hidden


def _kda_params(cfg: dict[str, Any], hidden: int) -> int:
    """Kimi Delta Attention: q/k/v projections with short convs, forget gate (low-rank f_a/f_b, or one
    full-rank projection with use_full_rank_gate), beta, low-rank output gate, out_proj."""
    lc = cfg["linear_attn_config"]
    heads = int(lc.get("num_heads") or cfg.get("num_attention_heads"))
    dim = int(lc.get("head_dim") or 128)
    kernel = int(lc.get("short_conv_kernel_size") or 4)
    proj = heads * dim
    low_rank = hidden * dim + dim * proj
    forget = hidden * proj if lc.get("use_full_rank_gate") else low_rank
    return 4 * hidden * proj + 3 * proj * kernel + forget + low_rank + hidden * heads + heads + proj + dim


def _mamba_params(cfg: dict[str, Any], hidden: int) -> int:
    """Mamba-2 mixer (Nemotron-H): in_proj (z, x, B, C, dt), conv1d, dt_bias, A_log, D, gated norm, out_proj."""
    heads, hd = int(cfg["mamba_num_heads"]), int(cfg["mamba_head_dim"])
    state = int(first_of(cfg, "ssm_state_size", "state_size", "mamba_d_state"))
    groups = int(first_of(cfg, "n_groups", "mamba_n_groups", default=1))
    kernel = int(first_of(cfg, "conv_kernel", "mamba_d_conv", default=4))
    inner = heads * hd
    conv_dim = inner + 2 * groups * state
    bias = conv_dim if cfg.get("use_conv_bias", True) else 0
    return (
        hidden * (2 * inner + 2 * groups * state + heads)
        + conv_dim * kernel
        + bias
        + 3 * heads
        + inner
        + inner * hidden
    )


def _moe_layer_flags(cfg: dict[str, Any], n_layers: int, n_experts: int) -> list[bool]:
    if not n_experts:
        return [False] * n_layers
    if cfg.get("enable_moe_block") is False:
        return [False] * n_layers
    types = layer_flags(cfg, "mlp_layer_types", n_layers, {"sparse", "moe"}, {"dense", "mlp"})
    if types is not None:
        return types
    freq = cfg.get("moe_layer_freq")
    if isinstance(freq, list):
        return layer_flags(cfg, "moe_layer_freq", n_layers, {"1", "true"}, {"0", "false"}) or []
    first_dense = int(cfg.get("first_k_dense_replace") or 0)
    every = int(freq) if isinstance(freq, int) and freq > 0 else 1
    flags = [i >= first_dense and i % every == 0 for i in range(n_layers)]
    step = cfg.get("interleave_moe_layer_step") or cfg.get("decoder_sparse_step")
    if step and int(step) > 1:
        s = int(step)
        flags = [((i + 1) % s == 0) for i in range(n_layers)]
    for i in cfg.get("mlp_only_layers") or []:
        if 0 <= int(i) < n_layers:
            flags[int(i)] = False
    return flags


def _shared_expert_width(cfg: dict[str, Any], model_type: str, inter: int, moe_inter: int) -> int:
    """Intermediate width of all shared experts of a layer together (0: none)."""
    shared_n = int(first_of(cfg, "n_shared_experts", "num_shared_experts", default=0) or 0)
    shared_inter = int(
        first_of(
            cfg,
            "shared_expert_intermediate_size",
            "moe_shared_expert_intermediate_size",
            "shared_intermediate_size",
            "share_expert_dim",
            default=0,
        )
        or 0
    )
    if shared_inter:
        return shared_inter * max(shared_n, 1)
    if shared_n:
        return shared_n * moe_inter
    if model_type.startswith("llama4"):
        return inter  # Llama 4: one shared expert of intermediate_size in every MoE layer
    return 0


def _router_params(cfg: dict[str, Any], model_type: str, hidden: int, n_experts: int, width: int, latent) -> int:
    """Router weights and biases, plus the latent down/up projections where experts run in a latent space."""
    router = hidden * n_experts
    if (
        cfg.get("topk_method") == "noaux_tc"
        or cfg.get("use_routing_bias")
        or cfg.get("use_moe_router_bias")
        or model_type == "gpt_oss"
    ):
        router += n_experts  # e_score_correction_bias / router bias
    if model_type.startswith("gemma4"):
        router += hidden + n_experts  # router scale and per-expert scale
    if latent:
        router += 2 * hidden * width  # down to the latent and back up
        if cfg.get("latent_moe_use_norm"):
            router += width
    return router


def _moe_block(cfg: dict[str, Any], hidden: int, gated: bool) -> dict[str, int]:
    """One MoE layer: routed experts (all of them), shared experts, router, latent projections."""
    model_type = str(cfg.get("model_type", ""))
    n_experts = int(
        first_of(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", default=0) or 0
    )
    inter = int(first_of(cfg, "intermediate_size", "ffn_hidden_size", default=4 * hidden) or 4 * hidden)
    moe_inter = int(first_of(cfg, "moe_intermediate_size", default=inter) or inter)
    latent = first_of(cfg, "moe_latent_size", "routed_expert_hidden_size")
    width = int(latent) if latent else hidden
    per_expert = _mlp_params(width, moe_inter, gated, bias=model_type == "gpt_oss")
    shared_inter = _shared_expert_width(cfg, model_type, inter, moe_inter)
    shared = _mlp_params(hidden, shared_inter, gated) if shared_inter else 0
    if shared and cfg.get("shared_expert_intermediate_size") and model_type.startswith("qwen"):
        shared += hidden  # shared_expert_gate
    k = first_of(
        cfg,
        "num_experts_per_tok",
        "experts_per_token",
        "num_experts_per_token",
        "top_k_experts",
        "moe_top_k",
        default=0,
    )
    return {
        "experts": n_experts * per_expert,
        "per_expert": per_expert,
        "shared": shared,
        "router": _router_params(cfg, model_type, hidden, n_experts, width, latent),
        "n_experts": n_experts,
        "k": int(k or 0),
        "inter": moe_inter,
        "shared_inter": shared_inter,
    }


def _dense_width(cfg: dict[str, Any], is_moe_model: bool) -> int:
    hidden = int(first_of(cfg, "hidden_size", "d_model", "n_embd"))
    inter = int(first_of(cfg, "intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden) or 4 * hidden)
    if is_moe_model:
        return int(first_of(cfg, "dense_intermediate_size", "intermediate_size_mlp", default=inter))
    return inter


@dataclass(frozen=True)
class Dims:
    """The widths every family reads from the (text) config."""

    n_layers: int
    hidden: int
    n_heads: int
    kv_heads: int
    head_dim: int
    v_dim: int  # 0 for MLA (its value width lives in the latent)
    vocab: int
    model_type: str
    gated: bool

    @classmethod
    def of(cls, cfg: dict[str, Any], n_layers: int) -> Dims:
        hidden = int(first_of(cfg, "hidden_size", "d_model", "n_embd"))
        n_heads = int(first_of(cfg, "num_attention_heads", "n_head", "num_heads"))
        head_dim = int(first_of(cfg, "head_dim", default=hidden // n_heads))
        v_dim = int(first_of(cfg, "v_head_dim", default=head_dim)) if not cfg.get("kv_lora_rank") else 0
        return cls(
            n_layers,
            hidden,
            n_heads,
            kv_head_count(cfg, n_heads),
            head_dim,
            v_dim,
            int(first_of(cfg, "vocab_size", "padded_vocab_size", default=32000)),
            str(cfg.get("model_type", "")),
            _gated(cfg),
        )


def _shares_kv(cfg: dict[str, Any], d: Dims, i: int) -> bool:
    shared = int(cfg.get("num_kv_shared_layers") or 0)  # Gemma 3n / 4: the last layers reuse earlier K/V
    return shared > 0 and i >= d.n_layers - shared


def full_attention_params(cfg: dict[str, Any], d: Dims, i: int) -> tuple[int, int, int]:
    """(all, v projection, output projection) of full-attention layer i: DeepSeek V4, MLA or GQA."""
    compress = cfg.get("compress_ratios")
    if compress is not None:
        ratio = int(compress[i]) if i < len(compress) else 0
        return _v4_attention_params(cfg, d.hidden, d.n_heads, ratio)
    if cfg.get("kv_lora_rank"):
        own = indexer_flags(cfg, d.n_layers)[i] if i < d.n_layers else True
        return _mla_params(cfg, d.hidden, d.n_heads, indexer=own)
    k_eq_v = bool(cfg.get("attention_k_eq_v"))
    g_kv = int(cfg["num_global_key_value_heads"]) if (k_eq_v and cfg.get("num_global_key_value_heads")) else d.kv_heads
    g_dim = int(first_of(cfg, "global_head_dim", default=d.head_dim))
    g_v = g_dim if cfg.get("global_head_dim") is not None else d.v_dim
    return _gqa_params(
        cfg,
        d.hidden,
        d.n_heads,
        g_kv,
        g_dim,
        g_v,
        k_eq_v=k_eq_v,
        shares_kv=_shares_kv(cfg, d, i),
        sinks=d.model_type == "gpt_oss",
    )


def sliding_attention_params(cfg: dict[str, Any], d: Dims, i: int) -> tuple[int, int, int]:
    """Sliding-window layers may have their own head counts and widths (swa_* fields)."""
    if cfg.get("compress_ratios") is not None or cfg.get("kv_lora_rank"):
        return full_attention_params(cfg, d, i)
    s_q = int(first_of(cfg, "swa_num_attention_heads", default=d.n_heads))
    s_kv = int(first_of(cfg, "swa_num_key_value_heads", default=d.kv_heads))
    s_dim = int(first_of(cfg, "swa_head_dim", default=d.head_dim))
    s_v = int(first_of(cfg, "swa_v_head_dim", default=d.v_dim))
    return _gqa_params(
        cfg,
        d.hidden,
        s_q,
        s_kv,
        s_dim,
        s_v,
        shares_kv=_shares_kv(cfg, d, i),
        sinks=d.model_type == "gpt_oss" or bool(cfg.get("add_swa_attention_sink_bias")),
    )


def linear_mixer_params(cfg: dict[str, Any], d: Dims) -> int:
    """Linear attention: Kimi Delta Attention, MiniMax lightning attention or Gated DeltaNet."""
    if isinstance(cfg.get("linear_attn_config"), dict):
        return _kda_params(cfg, d.hidden)
    if cfg.get("attn_type_list") is not None and cfg.get("linear_num_value_heads") is None:
        return 5 * d.hidden * d.n_heads * d.head_dim + d.n_heads * d.head_dim  # lightning: qkv, gate, out, norm
    return _gdn_params(cfg, d.hidden)


def _block_config_mixer(cfg: dict[str, Any], d: Dims, i: int, kind: str) -> tuple[int, int, int]:
    """DeciLM / Nemotron-NAS: per-layer attention groups, or a linear replacement of attention."""
    attention = cfg["block_configs"][i].get("attention") or {}
    if kind == "full":
        group = attention.get("n_heads_in_group") or 1
        return _gqa_params(cfg, d.hidden, d.n_heads, max(1, d.n_heads // int(group)), d.head_dim, d.head_dim)
    return (d.hidden * d.hidden if attention.get("replace_with_linear") else 0), 0, 0


def mixer_params(cfg: dict[str, Any], d: Dims, kinds: list[str]) -> tuple[int, int, int]:
    """(all token-mixer parameters, attention v projections, attention output projections) over the layers."""
    block_configs = isinstance(cfg.get("block_configs"), list)
    total = attn_v = attn_o = 0
    for i, kind in enumerate(kinds):
        if cfg.get("compress_ratios") is not None:
            p, v, o = full_attention_params(cfg, d, i)  # DeepSeek V4: every layer the same, compressor by ratio
        elif block_configs and kind in ("full", "none"):
            p, v, o = _block_config_mixer(cfg, d, i, kind)
        elif kind == "full":
            p, v, o = full_attention_params(cfg, d, i)
        elif kind == "sliding":
            p, v, o = sliding_attention_params(cfg, d, i)
        elif kind == "linear":
            p, v, o = linear_mixer_params(cfg, d), 0, 0
        elif kind == "mamba":
            p, v, o = _mamba_params(cfg, d.hidden), 0, 0
        else:
            p, v, o = 0, 0, 0
        total, attn_v, attn_o = total + p, attn_v + v, attn_o + o
    return total, attn_v, attn_o


def _hybrid_blocks(cfg: dict[str, Any]) -> bool:
    return cfg.get("layers_block_type") is not None or cfg.get("hybrid_override_pattern") is not None


def _ffn_layer_flags(cfg: dict[str, Any], d: Dims, n_experts: int) -> tuple[list[bool], list[bool]]:
    """(MoE layers, dense-MLP layers); a layer can be both (Gemma 4) or neither (Nemotron-H mixers)."""
    if _hybrid_blocks(cfg):
        block = cfg.get("layers_block_type") or list(cfg.get("hybrid_override_pattern"))
        return (
            [str(b).lower() in ("moe", "e") for b in block],
            [str(b).lower() in ("mlp", "-", "ffn", "dense") for b in block],
        )
    moe_flags = _moe_layer_flags(cfg, d.n_layers, n_experts)
    both = bool(cfg.get("enable_moe_block"))  # Gemma 4: a dense MLP beside the experts in every layer
    return moe_flags, [both or not m for m in moe_flags]


def _decilm_mlp_params(cfg: dict[str, Any], hidden: int) -> int:
    total = 0
    for b in cfg["block_configs"]:
        ffn = b.get("ffn") or {}
        if ffn.get("no_op"):
            continue
        if ffn.get("replace_with_linear"):
            total += hidden * hidden
            continue
        # DeciLM: intermediate = 256-aligned(2/3 * ffn_mult * hidden)
        width = int(2 * float(ffn.get("ffn_mult", 1.0)) * hidden / 3)
        total += _mlp_params(hidden, width + (256 - width % 256) % 256, True)
    return total


def dense_mlp_params(cfg: dict[str, Any], d: Dims, dense_flags: list[bool], width: int) -> int:
    if isinstance(cfg.get("block_configs"), list):
        return _decilm_mlp_params(cfg, d.hidden)
    shared_kv = int(cfg.get("num_kv_shared_layers") or 0)
    total = 0
    for i, dense in enumerate(dense_flags):
        if dense:
            wide = cfg.get("use_double_wide_mlp") and shared_kv and i >= d.n_layers - shared_kv
            total += _mlp_params(d.hidden, width * (2 if wide else 1), d.gated, bool(cfg.get("mlp_bias")))
    return total


def embedding_params(cfg: dict[str, Any], d: Dims) -> tuple[int, int, int]:
    """(embedding tables, lm_head, per-layer-embedding projections counted with the mixers)."""
    embed = d.vocab * d.hidden
    ple = int(cfg.get("hidden_size_per_layer_input") or 0)
    ple_mixers = 0
    if ple:
        # Gemma 3n / 4 per-layer embeddings: a second lookup table, its projection and per-layer gates
        embed += int(cfg.get("vocab_size_per_layer_input") or d.vocab) * d.n_layers * ple
        ple_mixers = d.hidden * d.n_layers * ple + d.n_layers * 2 * d.hidden * ple
    lm_head = 0 if cfg.get("tie_word_embeddings", False) else d.vocab * d.hidden
    return embed, lm_head, ple_mixers


def norms_per_layer(cfg: dict[str, Any], d: Dims) -> int:
    if d.model_type.startswith(("gemma2", "gemma3", "gemma4")):
        return 4  # pre- and post-norms around attention and MLP
    return 1 if _hybrid_blocks(cfg) else 2


def norm_params(cfg: dict[str, Any], d: Dims) -> int:
    norms = d.n_layers * norms_per_layer(cfg, d) * d.hidden + d.hidden
    if cfg.get("hc_mult"):
        # DeepSeek V4 hyper-connections: mixing weights for attention and FFN per layer, and the head's
        hc = int(cfg["hc_mult"])
        mix = (2 + hc) * hc
        norms += d.n_layers * 2 * (hc * d.hidden * mix + mix + 3) + d.hidden * hc * hc + hc + 1
    return norms


def _hybrid_mtp_layer(cfg: dict[str, Any], d: Dims, moe: dict[str, int], width: int) -> int:
    layer = 0
    for b in cfg["mtp_layers_block_type"]:
        key = str(b).lower()
        if key in FULL_NAMES:
            layer += _gqa_params(cfg, d.hidden, d.n_heads, d.kv_heads, d.head_dim, d.v_dim)[0]
        elif key in MAMBA_NAMES:
            layer += _mamba_params(cfg, d.hidden)
        elif key in ("moe", "e"):
            layer += moe["experts"] + moe["shared"] + moe["router"]
        elif key in FFN_NAMES:
            layer += _mlp_params(d.hidden, width, d.gated, bool(cfg.get("mlp_bias")))
        else:
            raise ConfigError(f"unknown layer type {b!r} in mtp_layers_block_type")
        layer += d.hidden
    return layer


def mtp_params(
    cfg: dict[str, Any], d: Dims, moe: dict[str, int], width: int, has_moe: bool, embed: int, lm_head: int
) -> int:
    """Multi-token-prediction layers: in the checkpoint, not used per token."""
    n_mtp = int(first_of(cfg, "num_nextn_predict_layers", "mtp_num_hidden_layers", default=0) or 0)
    if not n_mtp:
        return 0
    if _hybrid_blocks(cfg) and isinstance(cfg.get("mtp_layers_block_type"), list):
        layer = _hybrid_mtp_layer(cfg, d, moe, width)
    else:
        last = d.n_layers if cfg.get("compress_ratios") is not None else d.n_layers - 1
        layer = full_attention_params(cfg, d, last)[0]
        layer += (moe["experts"] + moe["shared"] + moe["router"]) if has_moe else _mlp_params(d.hidden, width, d.gated)
        layer += norms_per_layer(cfg, d) * d.hidden
    # eh_proj (embedding and hidden state concatenated, down to hidden) and enorm, hnorm, final norm
    layer += 2 * d.hidden * d.hidden + 3 * d.hidden
    if d.model_type in ("deepseek_v3", "deepseek_v32", "kimi_k2"):
        layer += embed + lm_head  # DeepSeek checkpoints store the MTP layer's own embedding and head copy
    return n_mtp * layer


def count_params(cfg: dict[str, Any], kinds: list[str], vision_config: Any = None) -> dict[str, Any]:
    """Parameter counts by class.

    total = embeddings + lm_head (unless tied) + decoder layers + multi-token-prediction layers + vision;
    active = total - vision - MTP - the routed experts a token does not use (embeddings included).
    """
    d = Dims.of(cfg, len(kinds))
    mixers, attn_v, attn_o = mixer_params(cfg, d, kinds)
    moe = _moe_block(cfg, d.hidden, d.gated)
    n_experts = moe["n_experts"]
    moe_flags, dense_flags = _ffn_layer_flags(cfg, d, n_experts)
    n_moe = sum(moe_flags)
    width = _dense_width(cfg, n_experts > 0)
    dense_mlp = dense_mlp_params(cfg, d, dense_flags, width)
    expert_total, shared_total, router = n_moe * moe["experts"], n_moe * moe["shared"], n_moe * moe["router"]
    embed, lm_head, ple_mixers = embedding_params(cfg, d)
    mixers += ple_mixers
    body = mixers + dense_mlp + expert_total + shared_total + router + norm_params(cfg, d)
    mtp = mtp_params(cfg, d, moe, width, n_moe > 0, embed, lm_head)
    vision = _vision_params(vision_config if vision_config is not None else cfg.get("vision_config"), d.hidden)
    total = embed + lm_head + body + mtp + vision
    inactive = expert_total * (1 - moe["k"] / n_experts) if n_experts else 0
    linear_body = mixers + dense_mlp + expert_total + shared_total
    ffn_down = (dense_mlp + expert_total + shared_total) / (3 if d.gated else 2)

    def share(x: float) -> float:
        return x / linear_body if linear_body else 0.0

    return {
        "total": int(total),
        "active": int(total - vision - mtp - inactive),
        "embed": embed,
        "lm_head": lm_head,
        "experts": int(expert_total),
        "vision": vision,
        "mtp": int(mtp),
        "n_experts": n_experts,
        "experts_per_token": moe["k"],
        "moe_layers": n_moe,
        "tensor_shares": {"attn_v": share(attn_v), "attn_output": share(attn_o), "ffn_down": share(ffn_down)},
    }


def _vision_params(vision: Any, text_hidden: int) -> int:
    """Vision encoder + projector into the language model (stored 16-bit, not used per text token)."""
    if not isinstance(vision, dict) or not vision:
        return 0
    if vision.get("vt_hidden_size"):
        # Kimi MoonViT + patch-merger projector
        h = int(vision["vt_hidden_size"])
        depth = int(vision.get("vt_num_hidden_layers") or 0)
        inter = int(vision.get("vt_intermediate_size") or 4 * h)
        qkv = int(vision.get("qkv_hidden_size") or h)
        layer = h * 3 * qkv + qkv * h + 2 * h * inter + 4 * h
        patch = int(vision.get("patch_size") or 14)
        embed = 3 * patch * patch * h + h
        if "fixed" not in str(vision.get("pos_emb_type", "")):
            embed += int(vision.get("init_pos_emb_height") or 64) * int(vision.get("init_pos_emb_width") or 64) * h
        mm = int(vision.get("mm_hidden_size") or h)
        merge = math.prod(int(m) for m in (vision.get("merge_kernel_size") or [2, 2]))
        out = int(vision.get("text_hidden_size") or text_hidden)
        projector = (mm * merge) ** 2 + mm * merge * out + 2 * mm * merge
        return depth * layer + embed + projector
    hidden = first_of(vision, "hidden_size", "width", "embed_dim")
    depth = first_of(vision, "num_hidden_layers", "depth", "layers")
    if not hidden or not depth:
        return 0
    h, depth = int(hidden), int(depth)
    inter = int(first_of(vision, "intermediate_size", "mlp_dim", default=4 * h))
    model_type = str(vision.get("model_type", ""))
    act = str(first_of(vision, "hidden_act", "hidden_activation", default="gelu"))
    gated = act in ("silu", "swiglu") or model_type.startswith("gemma4")
    layer = 4 * (h * h + h) + (3 * h * inter if gated else 2 * h * inter + inter + h) + 4 * h
    patch = int(vision.get("patch_size") or 14)
    if vision.get("out_hidden_size") and vision.get("spatial_merge_size"):
        # Qwen-VL: 3D patch embedding, learned positions, merger MLPs (main + deepstack)
        out = int(vision["out_hidden_size"])
        m = h * int(vision["spatial_merge_size"]) ** 2
        embed = int(vision.get("in_channels") or 3) * int(vision.get("temporal_patch_size") or 2) * patch * patch * h
        embed += int(vision.get("num_position_embeddings") or 0) * h
        merger = 2 * h + m * m + m + m * out + out
        mergers = 1 + len(vision.get("deepstack_visual_indexes") or [])
        return depth * layer + embed + mergers * merger
    image = int(vision.get("image_size") or 0)
    embed = 3 * patch * patch * h + h + ((image // patch) ** 2 * h if image else 0)
    if vision.get("position_embedding_size"):
        embed += int(vision["position_embedding_size"]) * h * 2  # Gemma 4: a table per image axis
    out = int(first_of(vision, "projector_output_dim", "projection_dim", "out_hidden_size", default=text_hidden))
    projector = int(vision.get("projector_input_dim") or h) * out
    return depth * layer + embed + 2 * h + projector


# ------------------------------------------------------------------------ linear modules (LoRA targets)

LinearModule = tuple[str, str, int, int, int]  # (target set, module name, in features, out features, count)


def _gqa_linears(
    cfg: dict[str, Any], d: Dims, n_q: int, n_kv: int, qk: int, v: int, shares_kv: bool, k_eq_v: bool = False
) -> list[tuple[str, int, int]]:
    gate = 2 if cfg.get("attn_output_gate") else 1
    mods = [("q_proj", d.hidden, n_q * qk * gate)]
    if not shares_kv:
        mods.append(("k_proj", d.hidden, n_kv * qk))
        if not k_eq_v:
            mods.append(("v_proj", d.hidden, n_kv * v))
    mods.append(("o_proj", n_q * v, d.hidden))
    return mods


def _mla_linears(cfg: dict[str, Any], d: Dims) -> list[tuple[str, int, int]]:
    kv_lora, q_lora = int(cfg["kv_lora_rank"]), cfg.get("q_lora_rank")
    rope = int(first_of(cfg, "qk_rope_head_dim", default=64))
    nope = int(first_of(cfg, "qk_nope_head_dim", default=128))
    v_dim = int(first_of(cfg, "v_head_dim", default=128))
    q = (
        [("q_a_proj", d.hidden, int(q_lora)), ("q_b_proj", int(q_lora), d.n_heads * (nope + rope))]
        if q_lora
        else [("q_proj", d.hidden, d.n_heads * (nope + rope))]
    )
    return q + [
        ("kv_a_proj_with_mqa", d.hidden, kv_lora + rope),
        ("kv_b_proj", kv_lora, d.n_heads * (nope + v_dim)),
        ("o_proj", d.n_heads * v_dim, d.hidden),
    ]


def _attention_linears(cfg: dict[str, Any], d: Dims, i: int, kind: str) -> list[tuple[str, int, int]]:
    """The attention projections of layer i as PEFT sees them (Hugging Face module names)."""
    if cfg.get("kv_lora_rank"):
        return _mla_linears(cfg, d)
    shares = _shares_kv(cfg, d, i)
    if kind == "sliding":
        return _gqa_linears(
            cfg,
            d,
            int(first_of(cfg, "swa_num_attention_heads", default=d.n_heads)),
            int(first_of(cfg, "swa_num_key_value_heads", default=d.kv_heads)),
            int(first_of(cfg, "swa_head_dim", default=d.head_dim)),
            int(first_of(cfg, "swa_v_head_dim", default=d.v_dim)),
            shares,
        )
    k_eq_v = bool(cfg.get("attention_k_eq_v"))
    g_kv = int(cfg["num_global_key_value_heads"]) if (k_eq_v and cfg.get("num_global_key_value_heads")) else d.kv_heads
    g_dim = int(first_of(cfg, "global_head_dim", default=d.head_dim))
    g_v = g_dim if cfg.get("global_head_dim") is not None else d.v_dim
    return _gqa_linears(cfg, d, d.n_heads, g_kv, g_dim, g_v, shares, k_eq_v)


def _mlp_linears(hidden: int, width: int, gated: bool) -> list[tuple[str, int, int]]:
    up = [("gate_proj", hidden, width), ("up_proj", hidden, width)] if gated else [("up_proj", hidden, width)]
    return up + [("down_proj", width, hidden)]


def linear_modules(cfg: dict[str, Any], kinds: list[str]) -> tuple[LinearModule, ...]:
    """Every attention and MLP projection of the decoder, merged by shape, for LoRA's trainable count.

    Target sets: `attn` (q/k/v/o, MLA's low-rank projections), `mlp` (dense MLPs, shared experts) and
    `expert` (each routed expert's gate/up/down: PEFT matches them by name too). Linear-attention and
    Mamba mixers, routers, embeddings and lm_head are left out: the common target lists do not name them.
    DeepSeek V4 compressed attention and DeciLM block configs are left out too (no PEFT names to match).
    """
    if cfg.get("compress_ratios") is not None or isinstance(cfg.get("block_configs"), list):
        return ()
    d = Dims.of(cfg, len(kinds))
    merged: dict[tuple[str, str, int, int], int] = {}

    def add(target: str, mods: list[tuple[str, int, int]], count: int = 1) -> None:
        for name, n_in, n_out in mods:
            merged[(target, name, n_in, n_out)] = merged.get((target, name, n_in, n_out), 0) + count

    for i, kind in enumerate(kinds):
        if kind in ("full", "sliding"):
            add("attn", _attention_linears(cfg, d, i, kind))
    moe = _moe_block(cfg, d.hidden, d.gated)
    moe_flags, dense_flags = _ffn_layer_flags(cfg, d, moe["n_experts"])
    width = _dense_width(cfg, moe["n_experts"] > 0)
    add("mlp", _mlp_linears(d.hidden, width, d.gated), sum(dense_flags))
    n_moe = sum(moe_flags)
    if n_moe:
        latent = first_of(cfg, "moe_latent_size", "routed_expert_hidden_size")
        add(
            "expert", _mlp_linears(int(latent) if latent else d.hidden, moe["inter"], d.gated), n_moe * moe["n_experts"]
        )
        if moe["shared_inter"]:
            add("mlp", _mlp_linears(d.hidden, moe["shared_inter"], d.gated), n_moe)
    return tuple((t, name, n_in, n_out, c) for (t, name, n_in, n_out), c in merged.items() if c)
