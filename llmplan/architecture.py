"""One reading of a model's architecture from its config.json, whatever the source.

The catalog (its `config:` block), the Hugging Face reader and the local-folder reader all call
`model_spec_from_config`, so the same config gives the same numbers wherever it comes from.

Per-layer kinds: full attention, sliding-window (or chunked) attention capped at its window, MLA latent
caches (with DeepSeek sparse attention's indexer keys), compressed attention (one entry per `ratio`
tokens), linear attention (Gated DeltaNet, Kimi Delta Attention) and Mamba-2 layers, which hold a fixed
state per sequence instead of a per-token cache.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from llmplan.errors import ConfigError

LayerKind = Literal["full", "sliding", "mla", "compressed", "linear", "mamba"]

DTYPE_BYTES = {
    "float32": 4,
    "fp32": 4,
    "float16": 2,
    "fp16": 2,
    "bfloat16": 2,
    "bf16": 2,
    "float8_e4m3fn": 1,
    "fp8": 1,
}


class CacheGroup(BaseModel):
    """Layers that share one cache layout."""

    model_config = ConfigDict(frozen=True)

    kind: LayerKind
    layers: int
    kv_heads: int = 0  # heads stored per token (1 for an MLA latent)
    k_dim: int = 0  # elements per head for keys (MLA: kv_lora_rank + rope dim)
    v_dim: int = 0  # elements per head for values (0 where keys and values share one tensor)
    window: int | None = None  # tokens kept by sliding / chunked attention
    tokens_per_entry: int = 1  # compressed attention keeps one entry per this many tokens
    index_bytes_per_entry: float = 0.0  # sparse-attention indexer keys, stored at a fixed dtype
    state_elems: int = 0  # linear/Mamba recurrent state per layer per sequence
    state_dtype_bytes: int = 4
    conv_elems: int = 0  # short-convolution state per layer per sequence, at the model dtype
    tp_split: bool = True  # whether tensor parallel splits these heads
    q_heads: int = 0  # query heads (attention FLOPs)
    qk_dim: int = 0  # query-key dot product size per head (attention FLOPs)

    @property
    def per_token_elems(self) -> int:
        return self.layers * self.kv_heads * (self.k_dim + self.v_dim)


class ModelSpec(BaseModel):
    """Architecture numbers only; the core never knows where a model came from."""

    model_config = ConfigDict(frozen=True)

    id: str
    model_type: str
    num_layers: int
    hidden_size: int
    vocab_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    tie_word_embeddings: bool
    max_context: int
    dtype_bytes: int  # activation dtype (bf16: 2)
    dtype: str
    cache_groups: tuple[CacheGroup, ...]
    params_total: int
    params_active: int
    embed_params: int
    lm_head_params: int
    expert_params: int  # routed experts, all layers (all resident)
    vision_params: int
    tensor_shares: dict[str, float]  # share of body linear weights in attn_v, attn_output, ffn_down (GGUF mixes)
    num_experts: int = 0
    experts_per_token: int = 0
    moe_layers: int = 0
    native_quant: str = "bf16"
    native_expert_quant: str | None = None  # experts stored differently from the rest
    native_experts_only: bool = False  # the native format covers only the experts; the rest is 16-bit
    native_kv_dtype: str | None = None  # kv_cache_quant_algo of a pre-quantized checkpoint
    params_computed: bool = False  # counts came from the config, not a published figure
    exact_weights: tuple[str, int] | None = None  # (format, bytes) read from a file's tensors (GGUF)
    approximations: tuple[str, ...] = ()

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def layer_kinds(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for group in self.cache_groups:
            counts[group.kind] += group.layers
        return dict(counts)

    @property
    def body_params(self) -> int:
        """Parameters in the decoder layers (what layer offload moves)."""
        return max(self.params_total - self.embed_params - self.lm_head_params - self.vision_params, 0)


# ------------------------------------------------------------------------------------------ helpers


def _first(cfg: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return default


# Fields a config.json may omit because transformers' config class supplies them (its defaults).
TRANSFORMERS_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262_208, "sliding_window_pattern": 6, "sliding_window": 4096,
                    "head_dim": 256, "max_position_embeddings": 131_072, "tie_word_embeddings": True},
    "gemma2": {"vocab_size": 256_000, "sliding_window": 4096, "head_dim": 256, "tie_word_embeddings": True},
    "gemma": {"tie_word_embeddings": True},
}


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    """The language model's config: multimodal repos nest it under text_config / llm_config."""
    merged = config
    for key in ("text_config", "llm_config", "language_config", "thinker_config"):
        nested = config.get(key)
        if isinstance(nested, dict) and nested:
            merged = {k: v for k, v in config.items() if k not in ("text_config", "vision_config")}
            merged.update(nested)
            break
    defaults = TRANSFORMERS_DEFAULTS.get(str(merged.get("model_type", "")))
    if defaults:
        merged = {**defaults, **{k: v for k, v in merged.items() if v is not None or k not in defaults}}
    return merged


def _dtype_name(cfg: dict[str, Any]) -> str:
    raw = str(_first(cfg, "torch_dtype", "dtype", default="bfloat16")).replace("torch.", "")
    return raw if raw in DTYPE_BYTES else "bfloat16"


def _require(cfg: dict[str, Any], model_id: str, **fields: Any) -> None:
    missing = [name for name, value in fields.items() if value is None]
    if missing:
        raise ConfigError(
            f"config of {model_id!r} lacks {', '.join(missing)}: cannot read its architecture"
        )


# --------------------------------------------------------------------------------- per-layer kinds

_FULL = {"full_attention", "attention", "global", "full", "global_attention", "*"}
_SLIDING = {"sliding_attention", "sliding_window", "local", "local_attention", "chunked_attention", "swa"}
_LINEAR = {"linear_attention", "gated_deltanet", "deltanet", "kda", "linear", "lightning_attention"}
_MAMBA = {"mamba", "mamba2", "ssm", "m"}
_NONE = {"moe", "mlp", "e", "-", "ffn", "dense"}


def _layer_kinds(cfg: dict[str, Any], n_layers: int) -> list[str]:
    """Per decoder layer: full | sliding | linear | mamba | none (a layer with no token mixing)."""
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        kinds = []
        for t in layer_types[:n_layers]:
            key = str(t).lower()
            if key in _FULL:
                kinds.append("full")
            elif key in _SLIDING:
                kinds.append("sliding")
            elif key in _LINEAR:
                kinds.append("linear")
            elif key in _MAMBA:
                kinds.append("mamba")
            else:
                raise ConfigError(f"unknown layer type {t!r} in layer_types")
        if len(kinds) < n_layers:
            raise ConfigError(f"layer_types lists {len(kinds)} layers, num_hidden_layers is {n_layers}")
        return kinds

    block_types = _first(cfg, "layers_block_type", "hybrid_override_pattern")
    if block_types is not None:
        # Nemotron-H: the pattern lists every block; attention and Mamba blocks mix tokens, MoE/MLP do not.
        items = list(block_types) if isinstance(block_types, str) else [str(b) for b in block_types]
        kinds = []
        for item in items:
            key = item.lower()
            if key in _FULL:
                kinds.append("full")
            elif key in _MAMBA:
                kinds.append("mamba")
            elif key in _NONE:
                kinds.append("none")
            else:
                raise ConfigError(f"unknown block {item!r} in hybrid pattern")
        return kinds

    linear_cfg = cfg.get("linear_attn_config")
    if isinstance(linear_cfg, dict) and linear_cfg.get("kda_layers") is not None:
        kda = {int(i) for i in linear_cfg.get("kda_layers", [])}  # 1-based in Kimi Linear configs
        return ["linear" if (i + 1) in kda else "full" for i in range(n_layers)]

    pattern = cfg.get("hybrid_layer_pattern")
    if isinstance(pattern, list) and pattern:
        return ["sliding" if int(p) == 1 else "full" for p in pattern[:n_layers]]

    block_configs = cfg.get("block_configs")
    if isinstance(block_configs, list) and block_configs:
        return ["none" if (b.get("attention") or {}).get("no_op") else "full" for b in block_configs]

    swp = cfg.get("sliding_window_pattern")
    window = _first(cfg, "sliding_window")
    if swp and window:
        # Gemma 3: every `pattern`-th layer is global, the rest slide.
        p = int(swp)
        return ["full" if (i + 1) % p == 0 else "sliding" for i in range(n_layers)]
    if cfg.get("model_type") in ("gemma2",) and window:
        return ["sliding" if i % 2 == 0 else "full" for i in range(n_layers)]

    no_rope = cfg.get("no_rope_layers")
    chunk = cfg.get("attention_chunk_size")
    if isinstance(no_rope, list) and chunk:
        # Llama 4: RoPE layers use chunked local attention, NoPE layers attend globally.
        return ["sliding" if int(flag) else "full" for flag in no_rope[:n_layers]]

    if window and cfg.get("use_sliding_window", True) is not False:
        max_window_layers = cfg.get("max_window_layers")
        if cfg.get("use_sliding_window") and max_window_layers is not None:
            return ["sliding" if i >= int(max_window_layers) else "full" for i in range(n_layers)]
        return ["sliding"] * n_layers
    return ["full"] * n_layers


# ----------------------------------------------------------------------------------- cache groups


def _cache_groups(cfg: dict[str, Any], model_id: str, dtype_bytes: int, warnings: list[str]) -> list[CacheGroup]:
    n_layers = int(_first(cfg, "num_hidden_layers", "n_layer", "num_layers"))
    hidden = int(_first(cfg, "hidden_size", "d_model", "n_embd"))
    n_heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads"))
    kv_heads_default = _kv_heads(cfg, n_heads)
    head_dim = int(_first(cfg, "head_dim", default=hidden // n_heads))
    v_head_dim_gqa = int(_first(cfg, "v_head_dim", default=head_dim)) if not cfg.get("kv_lora_rank") else head_dim
    window = _first(cfg, "sliding_window", "sliding_window_size", "attention_chunk_size")
    if cfg.get("no_rope_layers") and cfg.get("attention_chunk_size"):
        window = cfg.get("attention_chunk_size")
    kinds = _layer_kinds(cfg, n_layers)
    counts = Counter(kinds)

    groups: list[CacheGroup] = []
    kv_lora_rank = cfg.get("kv_lora_rank")
    compress = cfg.get("compress_ratios")

    if compress is not None and isinstance(compress, list):
        # DeepSeek V4: shared-KV MQA of head_dim, a sliding window of recent tokens on every layer, and
        # layers that keep one compressed entry per `ratio` older tokens (ratio 0: window only).
        ratios = [int(r) for r in compress[:n_layers]]
        entry = int(_first(cfg, "head_dim", default=512))
        swa = int(window or 128)
        idx_dim = int(cfg.get("index_head_dim") or 0)
        groups.append(CacheGroup(kind="sliding", layers=n_layers, kv_heads=1, k_dim=entry, v_dim=0,
                                 window=swa, tp_split=False, q_heads=n_heads, qk_dim=entry))
        for ratio, count in sorted(Counter(r for r in ratios if r > 0).items()):
            index_bytes = (idx_dim + 4.0) if (idx_dim and ratio <= 4) else 0.0
            groups.append(CacheGroup(kind="compressed", layers=count, kv_heads=1, k_dim=entry, v_dim=0,
                                     tokens_per_entry=ratio, index_bytes_per_entry=index_bytes,
                                     tp_split=False, q_heads=n_heads, qk_dim=entry))
        warnings.append(
            "compressed attention (compress_ratios) approximated: one shared-KV entry per ratio tokens "
            f"plus a {swa}-token window per layer, indexer keys as fp8; within ~10% of the engine's pool"
        )
        return groups

    n_full = counts.get("full", 0)
    n_sliding = counts.get("sliding", 0)

    if kv_lora_rank:
        rope = int(_first(cfg, "qk_rope_head_dim", default=64))
        qk_dim = int(_first(cfg, "qk_nope_head_dim", default=128)) + rope
        idx_dim = cfg.get("index_head_dim")
        index_bytes = (float(idx_dim) + 4.0) if idx_dim else 0.0  # fp8 keys + one fp32 scale per token
        if n_full:
            groups.append(CacheGroup(kind="mla", layers=n_full, kv_heads=1, k_dim=int(kv_lora_rank) + rope,
                                     v_dim=0, index_bytes_per_entry=index_bytes, tp_split=False,
                                     q_heads=n_heads, qk_dim=qk_dim))
        if idx_dim:
            warnings.append("sparse-attention indexer keys counted as fp8 plus one fp32 scale per token")
    else:
        k_eq_v = bool(cfg.get("attention_k_eq_v"))
        if n_full:
            g_kv = int(_first(cfg, "num_global_key_value_heads", default=kv_heads_default))
            g_dim = int(_first(cfg, "global_head_dim", default=head_dim))
            if cfg.get("global_head_dim") is None:
                g_v = v_head_dim_gqa
            else:
                g_v = 0 if k_eq_v else g_dim
            groups.append(CacheGroup(kind="full", layers=n_full, kv_heads=g_kv, k_dim=g_dim, v_dim=g_v,
                                     q_heads=n_heads, qk_dim=g_dim))
        if n_sliding:
            s_kv = int(_first(cfg, "swa_num_key_value_heads", default=kv_heads_default))
            s_dim = int(_first(cfg, "swa_head_dim", default=head_dim))
            s_v = int(_first(cfg, "swa_v_head_dim", default=v_head_dim_gqa))
            s_q = int(_first(cfg, "swa_num_attention_heads", default=n_heads))
            groups.append(CacheGroup(kind="sliding", layers=n_sliding, kv_heads=s_kv, k_dim=s_dim, v_dim=s_v,
                                     window=int(window) if window else None, q_heads=s_q, qk_dim=s_dim))
        sparse = cfg.get("sparse_attention_config")
        if isinstance(sparse, dict) and sparse.get("use_sparse_attention"):
            freq = sparse.get("sparse_attention_freq") or []
            n_sparse = sum(1 for f in freq if int(f)) if isinstance(freq, list) else n_full
            idx = int(sparse.get("sparse_index_dim", 0)) * int(sparse.get("sparse_num_index_heads", 1))
            if n_sparse and idx:
                # indexer keys beside the layer's normal KV, at the model dtype
                groups.append(CacheGroup(kind="full", layers=n_sparse, kv_heads=1, k_dim=idx, v_dim=0,
                                         q_heads=0, qk_dim=0))
                warnings.append("block-sparse attention: indexer keys counted at the model dtype")
        shared = int(cfg.get("num_kv_shared_layers") or 0)
        if shared:
            warnings.append(f"{shared} layers reuse earlier layers' KV (num_kv_shared_layers); counted once")
            groups = _drop_shared_layers(groups, shared)

    n_linear = counts.get("linear", 0)
    if n_linear:
        groups.append(_linear_group(cfg, n_linear, dtype_bytes, model_id))
    n_mamba = counts.get("mamba", 0)
    if n_mamba:
        groups.append(_mamba_group(cfg, n_mamba, hidden, model_id))
    if not groups:
        raise ConfigError(f"config of {model_id!r} has no attention or state layers that llmplan can read")
    return groups


def _drop_shared_layers(groups: list[CacheGroup], shared: int) -> list[CacheGroup]:
    out = []
    for g in reversed(groups):
        take = min(shared, g.layers)
        shared -= take
        if g.layers - take > 0:
            out.append(g.model_copy(update={"layers": g.layers - take}))
    return list(reversed(out))


def _kv_heads(cfg: dict[str, Any], n_heads: int) -> int:
    kv = _first(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
    if kv is None and cfg.get("multi_query"):
        return 1
    block_configs = cfg.get("block_configs")
    if kv is None and isinstance(block_configs, list):
        groups = [(b.get("attention") or {}).get("n_heads_in_group") for b in block_configs]
        groups = [g for g in groups if g]
        if groups:
            return max(1, n_heads // int(groups[0]))
    return int(kv) if kv is not None else n_heads


def _linear_group(cfg: dict[str, Any], layers: int, dtype_bytes: int, model_id: str) -> CacheGroup:
    linear_cfg = cfg.get("linear_attn_config") if isinstance(cfg.get("linear_attn_config"), dict) else {}
    if linear_cfg:
        # Kimi Delta Attention: per head a head_dim x head_dim state, short convs on q, k and v.
        heads = int(linear_cfg.get("num_heads", cfg.get("num_attention_heads")))
        dim = int(linear_cfg.get("head_dim", 128))
        kernel = int(linear_cfg.get("short_conv_kernel_size", 4))
        state = heads * dim * dim
        conv = 3 * heads * dim * (kernel - 1)
        state_bytes = 4
    else:
        k_heads = _first(cfg, "linear_num_key_heads")
        v_heads = _first(cfg, "linear_num_value_heads")
        k_dim = _first(cfg, "linear_key_head_dim")
        v_dim = _first(cfg, "linear_value_head_dim")
        kernel = int(_first(cfg, "linear_conv_kernel_dim", default=4))
        _require(cfg, model_id, linear_num_key_heads=k_heads, linear_num_value_heads=v_heads,
                 linear_key_head_dim=k_dim, linear_value_head_dim=v_dim)
        # Gated DeltaNet: recurrent state v_heads x k_dim x v_dim; conv over q, k (k_heads) and v (v_heads).
        state = int(v_heads) * int(k_dim) * int(v_dim)
        conv = (2 * int(k_heads) * int(k_dim) + int(v_heads) * int(v_dim)) * (kernel - 1)
        state_bytes = DTYPE_BYTES.get(str(_first(cfg, "mamba_ssm_dtype", "mamba_ssm_cache_dtype",
                                                  default="float32")), 4)
    return CacheGroup(kind="linear", layers=layers, state_elems=state, state_dtype_bytes=state_bytes,
                      conv_elems=conv)


def _mamba_group(cfg: dict[str, Any], layers: int, hidden: int, model_id: str) -> CacheGroup:
    heads = _first(cfg, "mamba_num_heads")
    head_dim = _first(cfg, "mamba_head_dim")
    state_size = _first(cfg, "ssm_state_size", "state_size", "mamba_d_state")
    _require(cfg, model_id, mamba_num_heads=heads, mamba_head_dim=head_dim, ssm_state_size=state_size)
    groups = int(_first(cfg, "n_groups", "mamba_n_groups", default=1))
    kernel = int(_first(cfg, "conv_kernel", "mamba_d_conv", default=4))
    inner = int(heads) * int(head_dim)
    # Mamba-2: SSM state heads x head_dim x state; conv over x, B and C.
    state = inner * int(state_size)
    conv = (inner + 2 * groups * int(state_size)) * (kernel - 1)
    state_bytes = DTYPE_BYTES.get(str(_first(cfg, "mamba_ssm_cache_dtype", default="float32")), 4)
    return CacheGroup(kind="mamba", layers=layers, state_elems=state, state_dtype_bytes=state_bytes,
                      conv_elems=conv)


# ------------------------------------------------------------------------------- parameter counts


def _mlp_params(hidden: int, inter: int, gated: bool = True) -> int:
    return (3 if gated else 2) * hidden * inter


def _count_params(cfg: dict[str, Any], kinds: list[str]) -> dict[str, int]:
    """Parameter counts by class, from the config alone (used when no published count is given,
    for the MoE expert share, and for the GGUF attn_v/ffn_down share)."""
    n_layers = len(kinds)
    hidden = int(_first(cfg, "hidden_size", "d_model", "n_embd"))
    n_heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads"))
    kv_heads = _kv_heads(cfg, n_heads)
    head_dim = int(_first(cfg, "head_dim", default=hidden // n_heads))
    vocab = int(_first(cfg, "vocab_size", "padded_vocab_size", default=32000))
    inter = int(_first(cfg, "intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden))
    model_type = str(cfg.get("model_type", ""))
    gated = model_type not in ("falcon", "gpt2", "gpt_neox", "phi", "starcoder2") and not str(
        cfg.get("mlp_hidden_act", cfg.get("hidden_act", "silu"))).startswith("relu2")

    kv_lora = cfg.get("kv_lora_rank")
    if kv_lora:
        q_lora = cfg.get("q_lora_rank")
        rope = int(_first(cfg, "qk_rope_head_dim", default=64))
        nope = int(_first(cfg, "qk_nope_head_dim", default=128))
        v_dim = int(_first(cfg, "v_head_dim", default=128))
        qk = nope + rope
        q = hidden * int(q_lora) + int(q_lora) * n_heads * qk if q_lora else hidden * n_heads * qk
        attn = q + hidden * (int(kv_lora) + rope) + int(kv_lora) * n_heads * (nope + v_dim) + n_heads * v_dim * hidden
        if cfg.get("index_head_dim"):
            idx_heads = int(cfg.get("index_n_heads", 64))
            idx_dim = int(cfg["index_head_dim"])
            attn += (int(q_lora or hidden)) * idx_heads * idx_dim + hidden * idx_dim + hidden * idx_heads
        attn_v = int(kv_lora) * n_heads * v_dim
    else:
        v_dim = int(_first(cfg, "v_head_dim", default=head_dim))
        attn = hidden * n_heads * head_dim + hidden * kv_heads * (head_dim + v_dim) + n_heads * v_dim * hidden
        attn_v = hidden * kv_heads * v_dim

    n_experts = int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts",
                           default=0) or 0)
    moe_inter = int(_first(cfg, "moe_intermediate_size", "routed_expert_hidden_size", default=inter) or inter)
    shared_n = int(_first(cfg, "n_shared_experts", "num_shared_experts", default=0) or 0)
    shared_inter = int(_first(cfg, "shared_expert_intermediate_size", "moe_shared_expert_intermediate_size",
                              "shared_intermediate_size", "share_expert_dim", default=0) or 0)
    if shared_n and not shared_inter:
        shared_inter = moe_inter * shared_n
    latent = cfg.get("moe_latent_size")
    dense_inter = int(_first(cfg, "dense_intermediate_size", default=inter))

    moe_flags = _moe_layer_flags(cfg, kinds, n_experts)
    n_moe = sum(moe_flags)
    expert_width = int(latent) if latent else hidden
    per_expert = _mlp_params(expert_width, moe_inter, gated)
    expert_total = n_moe * n_experts * per_expert
    shared_total = n_moe * _mlp_params(hidden, shared_inter, gated) if shared_inter else 0
    router = n_moe * hidden * n_experts + (n_moe * 2 * hidden * int(latent) if latent else 0)

    attn_layers = sum(1 for k in kinds if k in ("full", "sliding"))
    linear_layers = sum(1 for k in kinds if k in ("linear", "mamba"))
    # linear-attention / Mamba blocks: in/out projections of about the same size as attention
    linear_params = linear_layers * (4 * hidden * hidden)
    hybrid = cfg.get("layers_block_type") is not None or cfg.get("hybrid_override_pattern") is not None
    if hybrid:
        # Nemotron-H blocks: MLP only in "moe"/"-" blocks, counted through moe_flags / dense blocks
        n_dense_mlp = sum(1 for k in kinds if k == "none") - n_moe
    else:
        n_dense_mlp = n_layers - n_moe
    dense_mlp = 0
    block_configs = cfg.get("block_configs")
    if isinstance(block_configs, list) and block_configs:
        dense_mlp = 0
        for b in block_configs:
            ffn = b.get("ffn") or {}
            if not ffn.get("no_op"):
                mult = float(ffn.get("ffn_mult", 1.0))
                # DeciLM: intermediate = 256-aligned(2/3 * mult * hidden)
                d = int(2 * mult * hidden / 3)
                d = d + (256 - d % 256) % 256
                dense_mlp += _mlp_params(hidden, d, True)
        attn_layers = sum(1 for k in kinds if k == "full")
    else:
        first_dense = cfg.get("first_k_dense_replace")
        width = dense_inter if (n_moe and (first_dense or cfg.get("dense_intermediate_size"))) else inter
        dense_mlp = max(n_dense_mlp, 0) * _mlp_params(hidden, width, gated)

    embed = vocab * hidden
    tied = bool(cfg.get("tie_word_embeddings", False))
    lm_head = 0 if tied else vocab * hidden
    norms = n_layers * 2 * hidden + hidden
    body = attn_layers * attn + linear_params + dense_mlp + expert_total + shared_total + router + norms

    mtp_layers = int(_first(cfg, "num_nextn_predict_layers", "mtp_num_hidden_layers", default=0) or 0)
    per_layer_avg = body / max(n_layers, 1)
    mtp = int(mtp_layers * per_layer_avg)

    vision = _vision_params(cfg.get("vision_config"))
    total = embed + lm_head + body + mtp + vision
    active_experts = int(_first(cfg, "num_experts_per_tok", "experts_per_token", "num_experts_per_token",
                                "top_k_experts", "moe_top_k", default=0) or 0)
    active = total - vision - mtp - (expert_total * (1 - active_experts / n_experts) if n_experts else 0)

    ffn_down = (dense_mlp + expert_total + shared_total) / (3 if gated else 2)
    linear_body = attn_layers * attn + dense_mlp + expert_total + shared_total + linear_params
    attn_o = n_heads * v_dim * hidden
    shares = {
        "attn_v": attn_layers * attn_v / linear_body if linear_body else 0.0,
        "attn_output": attn_layers * attn_o / linear_body if linear_body else 0.0,
        "ffn_down": ffn_down / linear_body if linear_body else 0.0,
    }
    return {
        "total": int(total),
        "active": int(active),
        "embed": embed,
        "lm_head": lm_head,
        "experts": int(expert_total),
        "vision": vision,
        "n_experts": n_experts,
        "experts_per_token": active_experts,
        "moe_layers": n_moe,
        "tensor_shares": shares,
    }


def _moe_layer_flags(cfg: dict[str, Any], kinds: list[str], n_experts: int) -> list[bool]:
    n_layers = len(kinds)
    if not n_experts:
        return [False] * n_layers
    if cfg.get("layers_block_type") is not None or cfg.get("hybrid_override_pattern") is not None:
        block = cfg.get("layers_block_type") or list(cfg.get("hybrid_override_pattern"))
        return [str(b).lower() in ("moe", "e") for b in block]
    freq = cfg.get("moe_layer_freq")
    if isinstance(freq, list):
        return [bool(int(f)) for f in freq[:n_layers]]
    flags = [True] * n_layers
    first_dense = int(cfg.get("first_k_dense_replace") or 0)
    for i in range(min(first_dense, n_layers)):
        flags[i] = False
    step = cfg.get("interleave_moe_layer_step") or cfg.get("decoder_sparse_step")
    if step and int(step) > 1:
        s = int(step)
        flags = [((i + 1) % s == 0) for i in range(n_layers)]
    mlp_only = cfg.get("mlp_only_layers") or []
    for i in mlp_only:
        if 0 <= int(i) < n_layers:
            flags[int(i)] = False
    return flags


def _vision_params(vision: Any) -> int:
    if not isinstance(vision, dict) or not vision:
        return 0
    hidden = _first(vision, "hidden_size", "width", "embed_dim")
    depth = _first(vision, "num_hidden_layers", "depth", "layers")
    inter = _first(vision, "intermediate_size", "mlp_dim")
    if not hidden or not depth:
        return 0
    hidden, depth = int(hidden), int(depth)
    inter = int(inter) if inter else 4 * hidden
    out = int(_first(vision, "out_hidden_size", "projection_dim", default=hidden))
    return depth * (4 * hidden * hidden + 2 * hidden * inter) + hidden * out * 4


# ------------------------------------------------------------------------------- native format


def native_format(config: dict[str, Any]) -> tuple[str, str | None, bool, str | None]:
    """(native quant, expert-only quant or None, native covers only experts, kv cache dtype)."""
    text = _text_config(config)
    qc = _first(config, "quantization_config") or _first(text, "quantization_config") or {}
    hf_quant = config.get("hf_quant_config") or {}
    kv_dtype = None
    if isinstance(hf_quant, dict) and hf_quant.get("quantization"):
        q = hf_quant["quantization"]
        algo = str(q.get("quant_algo", "")).lower()
        kv = q.get("kv_cache_quant_algo")
        kv_dtype = "fp8" if kv and "fp8" in str(kv).lower() else None
        if "nvfp4" in algo or "fp4" in algo:
            return "nvfp4", None, False, kv_dtype
        if "fp8" in algo:
            return "fp8", None, False, kv_dtype
    expert_quant = None
    if str(text.get("expert_dtype", "")).lower() == "fp4":
        expert_quant = "mxfp4"
    if not isinstance(qc, dict) or not qc:
        return "bf16", expert_quant, False, kv_dtype
    method = str(qc.get("quant_method", "")).lower()
    if qc.get("kv_cache_quant_algo") or qc.get("kv_cache_scheme"):
        kv_dtype = "fp8"
    if method == "mxfp4":
        return "mxfp4", None, True, kv_dtype
    if method == "fp8":
        return "fp8", expert_quant, False, kv_dtype
    if method in ("awq",):
        return "awq", None, False, kv_dtype
    if method == "gptq":
        return ("gptq-int8" if int(qc.get("bits", 4)) == 8 else "gptq-int4"), None, False, kv_dtype
    if method == "bitsandbytes":
        return ("bnb-int8" if qc.get("load_in_8bit") else "bnb-nf4"), None, False, kv_dtype
    if method in ("modelopt",):
        algo = str(qc.get("quant_algo", "")).lower()
        return ("nvfp4" if "fp4" in algo else "fp8"), None, False, kv_dtype
    if method == "compressed-tensors":
        fmt = str(qc.get("format", "")).lower()
        ignore = " ".join(str(i) for i in qc.get("ignore", []))
        experts_only = "self_attn" in ignore and "shared_experts" in ignore
        if "mxfp4" in fmt:
            return "mxfp4", None, experts_only, kv_dtype
        if "nvfp4" in fmt:
            return "nvfp4", None, experts_only, kv_dtype
        if "float-quantized" in fmt or "fp8" in fmt:
            return "fp8", None, experts_only, kv_dtype
        groups = qc.get("config_groups") or {}
        bits = 16
        for g in groups.values():
            bits = int(((g or {}).get("weights") or {}).get("num_bits", 16))
        if bits == 4:
            return "gptq-int4", None, experts_only, kv_dtype
        if bits == 8:
            return "int8", None, experts_only, kv_dtype
    return "bf16", expert_quant, False, kv_dtype


# ------------------------------------------------------------------------------------ entry point


def model_spec_from_config(
    model_id: str,
    config: dict[str, Any],
    *,
    params_total: int | None = None,
    params_active: int | None = None,
    context_tokens: int | None = None,
    native_quant: str | None = None,
) -> ModelSpec:
    """Read a config.json (dict) into a ModelSpec. Published counts, where given, win over the
    config's computed ones; the config still decides how they split into classes."""
    if not isinstance(config, dict):
        raise ConfigError(f"config of {model_id!r} is not a JSON object")
    cfg = _text_config(config)
    n_layers = _first(cfg, "num_hidden_layers", "n_layer", "num_layers")
    hidden = _first(cfg, "hidden_size", "d_model", "n_embd")
    n_heads = _first(cfg, "num_attention_heads", "n_head", "num_heads")
    vocab = _first(cfg, "vocab_size", "padded_vocab_size")
    _require(cfg, model_id, num_hidden_layers=n_layers, hidden_size=hidden, num_attention_heads=n_heads,
             vocab_size=vocab)
    try:
        n_layers, hidden, n_heads = int(n_layers), int(hidden), int(n_heads)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config of {model_id!r} has a non-integer size field: {exc}") from None
    if n_layers <= 0 or hidden <= 0 or n_heads <= 0:
        raise ConfigError(f"config of {model_id!r} has non-positive layer/hidden/head counts")

    dtype = _dtype_name(cfg)
    dtype_bytes = DTYPE_BYTES[dtype]
    warnings: list[str] = []
    groups = _cache_groups(cfg, model_id, dtype_bytes, warnings)
    kinds = _layer_kinds(cfg, n_layers)
    counts = _count_params(cfg, kinds)

    computed = params_total is None
    total = int(params_total) if params_total else counts["total"]
    if params_active:
        active = int(params_active)
    elif counts["n_experts"]:
        # keep the config's active share when only the total is published
        active = int(total * counts["active"] / max(counts["total"], 1))
    else:
        active = total - counts["vision"]
    if computed:
        warnings.append("parameter counts computed from config.json (no published or safetensors count)")
    scale = total / max(counts["total"], 1)
    native, expert_native, experts_only, kv_native = native_format(config)
    if native_quant:
        native = native_quant

    max_ctx = int(context_tokens or _first(cfg, "max_position_embeddings", "n_positions", "max_seq_len",
                                           "seq_length", default=4096))
    return ModelSpec(
        id=model_id,
        model_type=str(config.get("model_type") or cfg.get("model_type") or "unknown"),
        num_layers=n_layers,
        hidden_size=hidden,
        vocab_size=int(vocab),
        num_heads=n_heads,
        num_kv_heads=_kv_heads(cfg, n_heads),
        head_dim=int(_first(cfg, "head_dim", default=hidden // n_heads)),
        intermediate_size=int(_first(cfg, "intermediate_size", "ffn_hidden_size", default=4 * hidden) or 4 * hidden),
        tie_word_embeddings=bool(_first(config, "tie_word_embeddings", default=cfg.get("tie_word_embeddings", False))),
        max_context=max_ctx,
        dtype_bytes=dtype_bytes,
        dtype="bf16" if dtype_bytes == 2 and dtype != "float16" else ("fp16" if dtype == "float16" else "fp32"),
        cache_groups=tuple(groups),
        params_total=total,
        params_active=min(active, total),
        embed_params=counts["embed"],
        lm_head_params=counts["lm_head"],
        expert_params=min(int(counts["experts"] * scale), total),
        vision_params=min(int(counts["vision"] * scale), total),
        tensor_shares=counts["tensor_shares"],
        num_experts=counts["n_experts"],
        experts_per_token=counts["experts_per_token"],
        moe_layers=counts["moe_layers"],
        native_quant=native,
        native_expert_quant=expert_native,
        native_experts_only=experts_only,
        native_kv_dtype=kv_native,
        params_computed=computed,
        approximations=tuple(warnings),
    )


def attention_layer_count(spec: ModelSpec) -> int:
    return sum(g.layers for g in spec.cache_groups if g.kind in ("full", "sliding", "mla", "compressed") and g.q_heads)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b) if b else a


def log2_int(x: int) -> int:
    return int(math.log2(x))
