"""One reading of a model's architecture from its config.json, whatever the source.

The catalog (its `config:` block), the Hugging Face reader and the local-folder reader all call
`model_spec_from_config`, so the same config gives the same numbers wherever it comes from.

Per-layer kinds: full attention, sliding-window (or chunked) attention capped at its window, MLA latent
caches (with DeepSeek sparse attention's indexer keys), compressed attention (one entry per `ratio`
tokens), linear attention (Gated DeltaNet, Kimi Delta Attention, lightning attention) and Mamba-2 layers,
which hold a fixed state per sequence instead of a per-token cache. Where the reading approximates, the
spec's `approximations` say what and by how much at most; an architecture field it cannot read is a
one-line ConfigError naming the field, never a silent full-attention guess.

Parameter counts (when no published count is given, and for the split into classes): embeddings, lm_head
unless tied, every decoder layer by its kind (GQA / MLA / DeepSeek V4 attention, Gated DeltaNet, KDA,
Mamba-2; dense MLPs, routed / shared / latent experts, routers), multi-token-prediction layers (in
params_total and mtp_params, not in params_active) and the vision tower with its projector.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from llmplan.errors import ConfigError
from llmplan.models.config_fields import (
    FFN_NAMES,
    FULL_NAMES,
    LINEAR_NAMES,
    MAMBA_NAMES,
    SLIDING_NAMES,
    first_of,
    indexer_flags,
    kv_head_count,
    layer_flags,
)
from llmplan.models.params import count_params, linear_modules

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
    mtp_params: int = 0  # multi-token-prediction layers: in the checkpoint (and params_total), not per token
    params_computed: bool = False  # counts came from the config, not a published figure
    exact_weights: tuple[str, int] | None = None  # (format, bytes) read from a file's tensors (GGUF)
    approximations: tuple[str, ...] = ()
    layer_counts: dict[str, int] = {}  # decoder layers by kind; empty: summed from cache_groups
    # (target set, module, in features, out features, count): the projections LoRA can adapt
    linear_modules: tuple[tuple[str, str, int, int, int], ...] = ()

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def layer_kinds(self) -> dict[str, int]:
        """Decoder layers by token-mixing kind (each layer once, whatever caches it keeps)."""
        if self.layer_counts:
            return dict(self.layer_counts)
        counts: Counter[str] = Counter()
        for group in self.cache_groups:
            counts[group.kind] += group.layers
        return dict(counts)

    @property
    def body_params(self) -> int:
        """Parameters in the decoder layers (what layer offload moves)."""
        return max(self.params_total - self.embed_params - self.lm_head_params - self.vision_params, 0)


# ------------------------------------------------------------------------------------------ helpers


# Fields a config.json may omit because transformers' config class supplies them (its defaults).
TRANSFORMERS_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {
        "vocab_size": 262_208,
        "sliding_window_pattern": 6,
        "sliding_window": 4096,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131_072,
        "tie_word_embeddings": True,
    },
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
    raw = str(first_of(cfg, "torch_dtype", "dtype", default="bfloat16")).replace("torch.", "")
    return raw if raw in DTYPE_BYTES else "bfloat16"


def _require(cfg: dict[str, Any], model_id: str, **fields: Any) -> None:
    missing = [name for name, value in fields.items() if value is None]
    if missing:
        raise ConfigError(f"config of {model_id!r} lacks {', '.join(missing)}: cannot read its architecture")


# --------------------------------------------------------------------------------- per-layer kinds


# Fields of architectures whose layer layout llmplan does not read (Jamba, RecurrentGemma,
# Falcon-H1, ...): refusing is better than reading them as plain full attention.
_UNREAD_FIELDS = ("attn_layer_period", "attn_layer_offset", "block_types", "mamba_d_ssm")
# State-space fields: present only where some layers are Mamba layers.
_SSM_FIELDS = ("ssm_state_size", "mamba_num_heads", "mamba_d_state", "state_size", "mamba_expand", "d_state")


def _num_layers(cfg: dict[str, Any]) -> Any:
    n = first_of(cfg, "num_hidden_layers", "n_layer", "num_layers")
    if n is None:
        # Nemotron-H (transformers 5): num_hidden_layers is the length of the block list
        pattern = first_of(cfg, "layers_block_type", "hybrid_override_pattern")
        if isinstance(pattern, (list, str)) and pattern:
            n = len(pattern)
    return n


def _kind_of(value: Any, field: str, allowed: dict[str, set[str]]) -> str:
    key = str(value).lower()
    for kind, names in allowed.items():
        if key in names:
            return kind
    raise ConfigError(f"unknown layer type {value!r} in {field}")


def _kinds_from_layer_types(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    layer_types = cfg.get("layer_types")
    if not (isinstance(layer_types, list) and layer_types):
        return None
    allowed = {"full": FULL_NAMES, "sliding": SLIDING_NAMES, "linear": LINEAR_NAMES, "mamba": MAMBA_NAMES}
    if len(layer_types) < n_layers:
        raise ConfigError(f"layer_types lists {len(layer_types)} layers, num_hidden_layers is {n_layers}")
    # entries past num_hidden_layers describe multi-token-prediction layers
    return [_kind_of(t, "layer_types", allowed) for t in layer_types[:n_layers]]


def _kinds_from_attn_type_list(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    if cfg.get("attn_type_list") is None:
        return None
    # MiniMax: 1 = softmax attention, 0 = lightning (linear) attention
    flags = layer_flags(cfg, "attn_type_list", n_layers, {"1"}, {"0"})
    return ["full" if f else "linear" for f in flags or []]


def _kinds_from_block_pattern(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    for field in ("layers_block_type", "hybrid_override_pattern"):
        block_types = cfg.get(field)
        if block_types is None:
            continue
        # Nemotron-H: the pattern lists every block; attention and Mamba blocks mix tokens, MoE/MLP do not.
        items = list(block_types) if isinstance(block_types, str) else [str(b) for b in block_types]
        if len(items) != n_layers:
            raise ConfigError(f"{field} lists {len(items)} blocks, num_hidden_layers is {n_layers}")
        allowed = {"full": FULL_NAMES, "mamba": MAMBA_NAMES, "none": FFN_NAMES}
        return [_kind_of(item, field, allowed) for item in items]
    return None


def _kinds_from_kda_layers(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    linear_cfg = cfg.get("linear_attn_config")
    if linear_cfg is None:
        return None
    if not isinstance(linear_cfg, dict) or not isinstance(linear_cfg.get("kda_layers"), list):
        raise ConfigError("linear_attn_config has no kda_layers list: cannot tell which layers are linear")
    kda = {int(i) for i in linear_cfg["kda_layers"]}  # 1-based in Kimi Linear configs
    full = linear_cfg.get("full_attn_layers")
    full_set = {int(i) for i in full} if isinstance(full, list) else None
    kinds = []
    for i in range(1, n_layers + 1):
        if i in kda:
            kinds.append("linear")
        elif full_set is None or i in full_set:
            kinds.append("full")
        else:
            raise ConfigError(f"layer {i} is in neither linear_attn_config.kda_layers nor full_attn_layers")
    return kinds


def _kinds_from_hybrid_layer_pattern(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    pattern = cfg.get("hybrid_layer_pattern")
    if pattern is None:
        return None
    # MiMo-V2: 1 = sliding-window layer (swa_* fields), 0 = full attention
    if not isinstance(pattern, list) or len(pattern) < n_layers:
        raise ConfigError(f"hybrid_layer_pattern must list all {n_layers} layers")
    for p in pattern[:n_layers]:
        if str(p) not in ("0", "1"):
            raise ConfigError(f"unknown layer type {p!r} in hybrid_layer_pattern")
    return ["sliding" if int(p) == 1 else "full" for p in pattern[:n_layers]]


def _kinds_from_block_configs(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    block_configs = cfg.get("block_configs")
    if not (isinstance(block_configs, list) and block_configs):
        return None
    # DeciLM (Llama-Nemotron): per-block attention, some blocks have none
    kinds = []
    for b in block_configs:
        attn = b.get("attention") or {}
        if attn.get("no_op") or attn.get("replace_with_linear"):
            kinds.append("none")
        elif attn.get("window_length"):
            kinds.append("sliding")
        else:
            kinds.append("full")
    return kinds


def _kinds_from_full_attention_interval(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    interval = cfg.get("full_attention_interval")
    if not (interval and cfg.get("linear_num_value_heads") is not None):
        return None
    # Qwen3-Next without layer_types: every `interval`-th layer is full attention, the rest Gated DeltaNet
    return ["full" if (i + 1) % int(interval) == 0 else "linear" for i in range(n_layers)]


def _kinds_from_sliding_pattern(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    swp = cfg.get("sliding_window_pattern")
    window = first_of(cfg, "sliding_window")
    if swp and window:
        # Gemma 3: every `pattern`-th layer is global, the rest slide.
        p = int(swp)
        return ["full" if (i + 1) % p == 0 else "sliding" for i in range(n_layers)]
    if cfg.get("model_type") in ("gemma2",) and window:
        return ["sliding" if i % 2 == 0 else "full" for i in range(n_layers)]
    return None


def _kinds_from_llama4_chunks(cfg: dict[str, Any], n_layers: int) -> list[str] | None:
    if not (cfg.get("attention_chunk_size") and str(cfg.get("model_type", "")).startswith("llama4")):
        return None
    # Llama 4: RoPE layers use chunked local attention, NoPE layers attend globally. transformers fills
    # an absent no_rope_layers with every 4th layer NoPE (no_rope_layer_interval).
    no_rope = cfg.get("no_rope_layers")
    if not no_rope:
        step = int(cfg.get("no_rope_layer_interval") or 4)
        no_rope = [int((i + 1) % step != 0) for i in range(n_layers)]
    if len(no_rope) < n_layers:
        raise ConfigError(f"no_rope_layers lists {len(no_rope)} layers, num_hidden_layers is {n_layers}")
    return ["sliding" if int(flag) else "full" for flag in no_rope[:n_layers]]


def _kinds_from_window(cfg: dict[str, Any], n_layers: int) -> list[str]:
    """Qwen2-style: a sliding window on every layer, or on those from max_window_layers up; else all full."""
    window = first_of(cfg, "sliding_window")
    if window and cfg.get("use_sliding_window", True) is not False:
        max_window_layers = cfg.get("max_window_layers")
        if cfg.get("use_sliding_window") and max_window_layers is not None:
            return ["sliding" if i >= int(max_window_layers) else "full" for i in range(n_layers)]
        return ["sliding"] * n_layers
    return ["full"] * n_layers


# the first reader that recognises its field decides; the order settles configs that carry several
_LAYOUT_READERS = (
    _kinds_from_layer_types,
    _kinds_from_attn_type_list,
    _kinds_from_block_pattern,
    _kinds_from_kda_layers,
    _kinds_from_hybrid_layer_pattern,
    _kinds_from_block_configs,
    _kinds_from_full_attention_interval,
    _kinds_from_sliding_pattern,
    _kinds_from_llama4_chunks,
)


def _layer_kinds(cfg: dict[str, Any], n_layers: int) -> list[str]:
    """Per decoder layer (per block for Nemotron-H): full | sliding | linear | mamba | none (no token mixing)."""
    for field in _UNREAD_FIELDS:
        if cfg.get(field) is not None:
            raise ConfigError(f"config field {field!r} describes a layer layout llmplan cannot read")
    for reader in _LAYOUT_READERS:
        kinds = reader(cfg, n_layers)
        if kinds is not None:
            return kinds
    return _kinds_from_window(cfg, n_layers)


def _check_kinds(cfg: dict[str, Any], kinds: list[str]) -> None:
    """Fields that only make sense for layer kinds the config does not have: refuse rather than guess."""
    if "mamba" not in kinds:
        for field in _SSM_FIELDS:
            if cfg.get(field) is not None:
                raise ConfigError(
                    f"config field {field!r} describes Mamba layers, but no layer pattern says which layers they are"
                )
    if cfg.get("index_head_dim") and not cfg.get("kv_lora_rank") and cfg.get("compress_ratios") is None:
        raise ConfigError(
            "config field 'index_head_dim' (sparse-attention indexer) without MLA "
            "(kv_lora_rank) or compress_ratios: llmplan cannot read this attention"
        )


# ----------------------------------------------------------------------------------- cache groups


def _v4_compressor_state_bytes(cfg: dict[str, Any], ratios: list[int]) -> int:
    """Per sequence, the fp32 buffers DeepSeek V4's compressors keep for tokens not yet compressed
    (kv and score of up to coff x ratio tokens; coff 2 where windows overlap, ratio 4)."""
    hd = int(first_of(cfg, "head_dim", default=512))
    idx = int(cfg.get("index_head_dim") or 0)
    total = 0
    for r in ratios:
        if r <= 0:
            continue
        coff = 2 if r == 4 else 1
        total += 2 * coff * r * coff * hd * 4
        if idx and r == 4:
            total += 2 * coff * r * coff * idx * 4  # the indexer's own compressor
    return total


@dataclass(frozen=True)
class _AttentionShape:
    """What every attention layer kind reads from the config: head counts, sizes and the window."""

    n_heads: int
    kv_heads: int
    head_dim: int
    v_head_dim: int
    window: Any


def _attention_shape(cfg: dict[str, Any], warnings: list[str]) -> _AttentionShape:
    hidden = int(first_of(cfg, "hidden_size", "d_model", "n_embd"))
    n_heads = int(first_of(cfg, "num_attention_heads", "n_head", "num_heads"))
    head_dim = int(first_of(cfg, "head_dim", default=hidden // n_heads))
    v_head_dim = int(first_of(cfg, "v_head_dim", default=head_dim)) if not cfg.get("kv_lora_rank") else head_dim
    window = first_of(cfg, "sliding_window", "sliding_window_size", "attention_chunk_size")
    if cfg.get("attention_chunk_size") and str(cfg.get("model_type", "")).startswith("llama4"):
        window = cfg.get("attention_chunk_size")
        warnings.append(
            f"chunked attention counted as a full {int(window)}-token window per chunked layer "
            "(an upper bound: a chunk holds 1 to that many tokens)"
        )
    return _AttentionShape(n_heads, kv_head_count(cfg, n_heads), head_dim, v_head_dim, window)


def _compressed_groups(cfg: dict[str, Any], n_layers: int, shape: _AttentionShape, warnings: list[str]):
    """DeepSeek V4: shared-KV MQA of head_dim, a sliding window of recent tokens on every layer, and layers that
    keep one compressed entry per `ratio` older tokens (ratio 0: window only); the lightning indexer's keys sit
    beside the ratio-4 entries."""
    compress = cfg["compress_ratios"]
    if not isinstance(compress, list) or len(compress) < n_layers:
        raise ConfigError(f"compress_ratios must list all {n_layers} layers")
    ratios = [int(r) for r in compress[:n_layers]]
    entry = int(first_of(cfg, "head_dim", default=512))
    swa = int(shape.window or 128)
    idx_dim = int(cfg.get("index_head_dim") or 0)
    mqa = dict(kv_heads=1, k_dim=entry, v_dim=0, tp_split=False, q_heads=shape.n_heads, qk_dim=entry)
    groups = [CacheGroup(kind="sliding", layers=n_layers, window=swa, **mqa)]
    for ratio, count in sorted(Counter(r for r in ratios if r > 0).items()):
        index_bytes = (idx_dim + 4.0) if (idx_dim and ratio == 4) else 0.0
        groups.append(
            CacheGroup(
                kind="compressed", layers=count, tokens_per_entry=ratio, index_bytes_per_entry=index_bytes, **mqa
            )
        )
    buffers = _v4_compressor_state_bytes(cfg, ratios)
    warnings.append(
        f"compressed attention (compress_ratios): a {swa}-token window of {entry}-wide shared K=V entries "
        "on every layer plus one entry per ratio older tokens, indexer keys as fp8 + fp32 scale; the "
        f"compressors' buffers of not-yet-compressed tokens ({buffers / 1e6:.1f} MB per sequence, fp32) "
        "are not counted"
    )
    return groups


def _mla_groups(cfg: dict[str, Any], kinds: list[str], shape: _AttentionShape, warnings: list[str]):
    """Multi-head latent attention: one latent + RoPE key entry per token and layer, shared by all heads."""
    n_layers = len(kinds)
    n_full, n_sliding = kinds.count("full"), kinds.count("sliding")
    rope = int(first_of(cfg, "qk_rope_head_dim", default=64))
    qk_dim = int(first_of(cfg, "qk_nope_head_dim", default=128)) + rope
    idx_dim = cfg.get("index_head_dim")
    index_bytes = (float(idx_dim) + 4.0) if idx_dim else 0.0  # fp8 keys + one fp32 scale per token
    own_index = indexer_flags(cfg, n_layers) if idx_dim else [False] * n_layers
    latent = int(cfg["kv_lora_rank"]) + rope
    mqa = dict(kv_heads=1, k_dim=latent, v_dim=0, tp_split=False, q_heads=shape.n_heads, qk_dim=qk_dim)
    with_idx = sum(1 for k, f in zip(kinds, own_index) if k == "full" and f)
    groups = [
        CacheGroup(kind="mla", layers=layers, index_bytes_per_entry=ib, **mqa)
        for layers, ib in ((with_idx, index_bytes), (n_full - with_idx, 0.0))
        if layers
    ]
    if n_sliding:
        window = int(shape.window) if shape.window else None
        groups.append(CacheGroup(kind="sliding", layers=n_sliding, window=window, **mqa))
    if idx_dim and with_idx:
        latent_bf16 = n_full * latent * 2 + with_idx * index_bytes
        extra = with_idx * (2 * float(idx_dim) - index_bytes) / latent_bf16
        warnings.append(
            f"sparse-attention indexer keys of {with_idx} layers counted as fp8 plus one fp32 scale per "
            f"token ({index_bytes:.0f} bytes); an engine keeping them in bf16 needs up to "
            f"{100 * extra:.0f}% more per-token cache"
        )
    return groups


def _sparse_index(cfg: dict[str, Any], n_layers: int, dtype_bytes: int) -> tuple[list[bool], float]:
    """Block-sparse attention (sparse_attention_config): which layers keep indexer keys, and their bytes per token."""
    sparse = cfg.get("sparse_attention_config")
    if not (isinstance(sparse, dict) and sparse.get("use_sparse_attention")):
        return [False] * n_layers, 0.0
    dim, heads = sparse.get("sparse_index_dim"), sparse.get("sparse_num_index_heads", 1)
    if not dim:
        raise ConfigError("sparse_attention_config lacks sparse_index_dim: cannot size the indexer keys")
    freq = (
        layer_flags(sparse, "sparse_attention_freq", n_layers, {"1", "true"}, {"0", "false"})
        if isinstance(sparse.get("sparse_attention_freq"), list)
        else None
    )
    return (freq if freq is not None else [True] * n_layers), float(int(dim) * int(heads) * dtype_bytes)


def _global_groups(
    cfg: dict[str, Any],
    own: list[str],
    shape: _AttentionShape,
    sparse: tuple[list[bool], float],
    dtype_bytes: int,
    warnings: list[str],
) -> list[CacheGroup]:
    """Full-attention layers with their own cache. Global layers may have their own head size; with
    attention_k_eq_v (Gemma 4) they also have their own KV head count, and the values come from the key
    projection, but K (RoPE, k_norm) and V (v_norm) still differ, so both are cached."""
    n_full_own = own.count("full")
    if not n_full_own:
        return []
    sparse_flags, idx_bytes = sparse
    g_kv = shape.kv_heads
    if cfg.get("attention_k_eq_v") and cfg.get("num_global_key_value_heads") is not None:
        g_kv = int(cfg["num_global_key_value_heads"])
    g_dim = int(first_of(cfg, "global_head_dim", default=shape.head_dim))
    g_v = g_dim if cfg.get("global_head_dim") is not None else shape.v_head_dim
    n_sparse = sum(1 for i, k in enumerate(own) if k == "full" and sparse_flags[i])
    groups = [
        CacheGroup(
            kind="full",
            layers=layers,
            kv_heads=g_kv,
            k_dim=g_dim,
            v_dim=g_v,
            index_bytes_per_entry=ib,
            q_heads=shape.n_heads,
            qk_dim=g_dim,
        )
        for layers, ib in ((n_sparse, idx_bytes), (n_full_own - n_sparse, 0.0))
        if layers
    ]
    if n_sparse and idx_bytes:
        per_tok = g_kv * (g_dim + g_v) * dtype_bytes
        warnings.append(
            f"block-sparse attention: indexer keys of {n_sparse} layers counted at the model dtype "
            f"({idx_bytes:.0f} bytes per token); an engine keeping them in fp8 needs "
            f"{100 * idx_bytes / 2 / (per_tok + idx_bytes):.0f}% less for those layers"
        )
    return groups


def _gqa_groups(
    cfg: dict[str, Any], kinds: list[str], shape: _AttentionShape, dtype_bytes: int, warnings: list[str]
) -> list[CacheGroup]:
    """Grouped-query attention, full and sliding-window layers."""
    shared = int(cfg.get("num_kv_shared_layers") or 0)
    # Gemma 3n/4: the last `shared` layers reuse the KV of earlier layers of their type: no cache of their own
    own = kinds[: len(kinds) - shared] if shared else kinds
    sparse = _sparse_index(cfg, len(kinds), dtype_bytes)
    groups = _global_groups(cfg, own, shape, sparse, dtype_bytes, warnings)
    n_sliding_own = own.count("sliding")
    if n_sliding_own:
        s_dim = int(first_of(cfg, "swa_head_dim", default=shape.head_dim))
        groups.append(
            CacheGroup(
                kind="sliding",
                layers=n_sliding_own,
                kv_heads=int(first_of(cfg, "swa_num_key_value_heads", default=shape.kv_heads)),
                k_dim=s_dim,
                v_dim=int(first_of(cfg, "swa_v_head_dim", default=shape.v_head_dim)),
                window=int(shape.window) if shape.window else None,
                q_heads=int(first_of(cfg, "swa_num_attention_heads", default=shape.n_heads)),
                qk_dim=s_dim,
            )
        )
    return groups


def _cache_groups(
    cfg: dict[str, Any], model_id: str, kinds: list[str], dtype_bytes: int, warnings: list[str]
) -> list[CacheGroup]:
    shape = _attention_shape(cfg, warnings)
    if cfg.get("compress_ratios") is not None:
        return _compressed_groups(cfg, len(kinds), shape, warnings)
    if cfg.get("kv_lora_rank"):
        groups = _mla_groups(cfg, kinds, shape, warnings)
    else:
        groups = _gqa_groups(cfg, kinds, shape, dtype_bytes, warnings)
    n_linear = kinds.count("linear")
    if n_linear:
        groups.append(_linear_group(cfg, n_linear, model_id, warnings))
    n_mamba = kinds.count("mamba")
    if n_mamba:
        groups.append(_mamba_group(cfg, n_mamba, model_id, warnings))
    if not groups:
        raise ConfigError(f"config of {model_id!r} has no attention or state layers that llmplan can read")
    return groups


def _state_dtype(cfg: dict[str, Any], keys: tuple[str, ...], kind: str, warnings: list[str]) -> int:
    name = first_of(cfg, *keys)
    if name is None:
        warnings.append(
            f"{kind} state dtype not in config.json: counted as fp32 (an engine keeping it in "
            "bf16 needs half the state)"
        )
        return 4
    name = str(name).replace("torch.", "")
    if name not in DTYPE_BYTES:
        raise ConfigError(f"unknown dtype {name!r} in {'/'.join(keys)}")
    return DTYPE_BYTES[name]


def _linear_group(cfg: dict[str, Any], layers: int, model_id: str, warnings: list[str]) -> CacheGroup:
    linear_cfg = cfg.get("linear_attn_config") if isinstance(cfg.get("linear_attn_config"), dict) else {}
    if linear_cfg:
        # Kimi Delta Attention: per head a head_dim x head_dim state, short convs on q, k and v.
        heads = int(linear_cfg.get("num_heads") or cfg.get("num_attention_heads"))
        dim = int(linear_cfg.get("head_dim") or 128)
        kernel = int(linear_cfg.get("short_conv_kernel_size") or 4)
        state = heads * dim * dim
        conv = 3 * heads * dim * (kernel - 1)
        state_bytes = _state_dtype(
            cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype", "ssm_state_dtype"), "Kimi Delta Attention", warnings
        )
    elif cfg.get("attn_type_list") is not None and cfg.get("linear_num_value_heads") is None:
        # MiniMax lightning attention: per head a head_dim x head_dim state, no convolution
        heads = int(cfg.get("num_attention_heads"))
        dim = int(first_of(cfg, "head_dim", default=int(cfg["hidden_size"]) // heads))
        state, conv = heads * dim * dim, 0
        state_bytes = _state_dtype(cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype"), "lightning attention", warnings)
    else:
        k_heads = first_of(cfg, "linear_num_key_heads")
        v_heads = first_of(cfg, "linear_num_value_heads")
        k_dim = first_of(cfg, "linear_key_head_dim")
        v_dim = first_of(cfg, "linear_value_head_dim")
        kernel = int(first_of(cfg, "linear_conv_kernel_dim", default=4))
        _require(
            cfg,
            model_id,
            linear_num_key_heads=k_heads,
            linear_num_value_heads=v_heads,
            linear_key_head_dim=k_dim,
            linear_value_head_dim=v_dim,
        )
        # Gated DeltaNet: recurrent state v_heads x k_dim x v_dim; conv over q, k (k_heads) and v (v_heads).
        state = int(v_heads) * int(k_dim) * int(v_dim)
        conv = (2 * int(k_heads) * int(k_dim) + int(v_heads) * int(v_dim)) * (kernel - 1)
        state_bytes = _state_dtype(cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype"), "Gated DeltaNet", warnings)
    return CacheGroup(kind="linear", layers=layers, state_elems=state, state_dtype_bytes=state_bytes, conv_elems=conv)


def _mamba_group(cfg: dict[str, Any], layers: int, model_id: str, warnings: list[str]) -> CacheGroup:
    heads = first_of(cfg, "mamba_num_heads")
    head_dim = first_of(cfg, "mamba_head_dim")
    state_size = first_of(cfg, "ssm_state_size", "state_size", "mamba_d_state")
    _require(cfg, model_id, mamba_num_heads=heads, mamba_head_dim=head_dim, ssm_state_size=state_size)
    groups = int(first_of(cfg, "n_groups", "mamba_n_groups", default=1))
    kernel = int(first_of(cfg, "conv_kernel", "mamba_d_conv", default=4))
    inner = int(heads) * int(head_dim)
    # Mamba-2: SSM state heads x head_dim x state; conv over x, B and C.
    state = inner * int(state_size)
    conv = (inner + 2 * groups * int(state_size)) * (kernel - 1)
    state_bytes = _state_dtype(cfg, ("mamba_ssm_cache_dtype", "mamba_ssm_dtype"), "Mamba", warnings)
    return CacheGroup(kind="mamba", layers=layers, state_elems=state, state_dtype_bytes=state_bytes, conv_elems=conv)


# ------------------------------------------------------------------------------- parameter counts


# ------------------------------------------------------------------------------- native format


def native_format(config: dict[str, Any]) -> tuple[str, str | None, bool, str | None]:
    """(native quant, expert-only quant or None, native covers only experts, kv cache dtype)."""
    text = _text_config(config)
    qc = first_of(config, "quantization_config") or first_of(text, "quantization_config") or {}
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
        if algo == "mixed_precision":
            # per-layer algorithms: NVFP4 MLPs / experts beside FP8 attention; the 4-bit layers hold most bytes
            layers = json.dumps(qc.get("quantized_layers") or qc.get("config_groups") or {}).lower()
            algo = "nvfp4" if "fp4" in layers else "fp8"
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


def _core_sizes(cfg: dict[str, Any], model_id: str) -> tuple[int, int, int, Any]:
    """(layers, hidden size, attention heads, vocabulary): the fields no architecture can do without."""
    n_layers = _num_layers(cfg)
    hidden = first_of(cfg, "hidden_size", "d_model", "n_embd")
    n_heads = first_of(cfg, "num_attention_heads", "n_head", "num_heads")
    vocab = first_of(cfg, "vocab_size", "padded_vocab_size")
    _require(
        cfg, model_id, num_hidden_layers=n_layers, hidden_size=hidden, num_attention_heads=n_heads, vocab_size=vocab
    )
    try:
        n_layers, hidden, n_heads = int(n_layers), int(hidden), int(n_heads)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config of {model_id!r} has a non-integer size field: {exc}") from None
    if n_layers <= 0 or hidden <= 0 or n_heads <= 0:
        raise ConfigError(f"config of {model_id!r} has non-positive layer/hidden/head counts")
    return n_layers, hidden, n_heads, vocab


def _read_layers(
    config: dict[str, Any], cfg: dict[str, Any], model_id: str, n_layers: int, dtype_bytes: int, warnings: list[str]
):
    """Layer kinds, cache groups, parameter counts and linear modules; a malformed field names the model."""
    try:
        kinds = _layer_kinds(cfg, n_layers)
        _check_kinds(cfg, kinds)
        groups = _cache_groups(cfg, model_id, kinds, dtype_bytes, warnings)
        counts = count_params(cfg, kinds, config.get("vision_config"))
        linears = linear_modules(cfg, kinds)
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if model_id in msg else f"config of {model_id!r}: {msg}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"config of {model_id!r} has a malformed architecture field: {exc!r}") from None
    return kinds, groups, counts, linears


def _published_params(counts: dict, params_total: int | None, params_active: int | None) -> tuple[int, int]:
    """(total, active) parameters: published counts win; the config's split fills the rest."""
    total = int(params_total) if params_total else counts["total"]
    if params_active:
        active = int(params_active)
    elif counts["n_experts"]:
        # keep the config's active share when only the total is published
        active = int(total * counts["active"] / max(counts["total"], 1))
    else:
        active = total - counts["vision"] - counts["mtp"]
    return total, min(active, total)


def _native_formats(config: dict[str, Any], cfg: dict[str, Any], native_quant: str | None, warnings: list[str]):
    native, expert_native, experts_only, kv_native = native_format(config)
    qc = first_of(config, "quantization_config") or first_of(cfg, "quantization_config") or {}
    if isinstance(qc, dict) and str(qc.get("quant_algo", "")).lower() == "mixed_precision" and native == "nvfp4":
        warnings.append(
            "mixed-precision checkpoint: its FP8 layers (attention, linear attention) are counted at "
            "nvfp4 bits, up to 45% fewer bytes than they hold"
        )
    return native_quant or native, expert_native, experts_only, kv_native


def _max_context(cfg: dict[str, Any]) -> int:
    return int(first_of(cfg, "max_position_embeddings", "n_positions", "max_seq_len", "seq_length", default=4096))


def _dtype_label(dtype: str, dtype_bytes: int) -> str:
    if dtype == "float16":
        return "fp16"
    return "bf16" if dtype_bytes == 2 else "fp32"


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
    n_layers, hidden, n_heads, vocab = _core_sizes(cfg, model_id)
    dtype = _dtype_name(cfg)
    dtype_bytes = DTYPE_BYTES[dtype]
    warnings: list[str] = []
    kinds, groups, counts, linears = _read_layers(config, cfg, model_id, n_layers, dtype_bytes, warnings)
    computed = params_total is None
    total, active = _published_params(counts, params_total, params_active)
    if computed:
        warnings.append("parameter counts computed from config.json (no published or safetensors count)")
    scale = total / max(counts["total"], 1)
    native, expert_native, experts_only, kv_native = _native_formats(config, cfg, native_quant, warnings)
    return ModelSpec(
        id=model_id,
        model_type=str(config.get("model_type") or cfg.get("model_type") or "unknown"),
        num_layers=n_layers,
        hidden_size=hidden,
        vocab_size=int(vocab),
        num_heads=n_heads,
        num_kv_heads=kv_head_count(cfg, n_heads),
        head_dim=int(first_of(cfg, "head_dim", default=hidden // n_heads)),
        intermediate_size=int(first_of(cfg, "intermediate_size", "ffn_hidden_size", default=4 * hidden) or 4 * hidden),
        tie_word_embeddings=bool(
            first_of(config, "tie_word_embeddings", default=cfg.get("tie_word_embeddings", False))
        ),
        max_context=int(context_tokens or _max_context(cfg)),
        dtype_bytes=dtype_bytes,
        dtype=_dtype_label(dtype, dtype_bytes),
        cache_groups=tuple(groups),
        params_total=total,
        params_active=active,
        embed_params=counts["embed"],
        lm_head_params=counts["lm_head"],
        expert_params=min(int(counts["experts"] * scale), total),
        vision_params=min(int(counts["vision"] * scale), total),
        mtp_params=min(int(counts["mtp"] * scale), total),
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
        layer_counts=_layer_counts(cfg, kinds),
        linear_modules=linears,
    )


def _layer_counts(cfg: dict[str, Any], kinds: list[str]) -> dict[str, int]:
    """Decoder layers by kind as the report shows them: MLA for latent attention, compressed for DeepSeek V4
    layers with a compressor (they also keep the sliding window); blocks without token mixing left out."""
    compress = cfg.get("compress_ratios")
    counts: Counter[str] = Counter()
    for i, kind in enumerate(kinds):
        if compress is not None:
            kind = "compressed" if int(compress[i]) > 0 else "sliding"
        elif kind == "full" and cfg.get("kv_lora_rank"):
            kind = "mla"
        if kind != "none":
            counts[kind] += 1
    order = ("full", "mla", "sliding", "compressed", "linear", "mamba")
    return {k: counts[k] for k in order if counts[k]}
