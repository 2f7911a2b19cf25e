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
    mtp_params: int = 0  # multi-token-prediction layers: in the checkpoint (and params_total), not per token
    params_computed: bool = False  # counts came from the config, not a published figure
    exact_weights: tuple[str, int] | None = None  # (format, bytes) read from a file's tensors (GGUF)
    approximations: tuple[str, ...] = ()
    layer_counts: dict[str, int] = {}  # decoder layers by kind; empty: summed from cache_groups

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


def _first(cfg: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return default


# Fields a config.json may omit because transformers' config class supplies them (its defaults).
TRANSFORMERS_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262_208, "sliding_window_pattern": 6, "sliding_window": 4096,
                    "num_attention_heads": 8, "num_key_value_heads": 4,
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

_FULL = {"full_attention", "attention", "global", "full", "global_attention", "*", "deepseek_sparse_attention"}
_SLIDING = {"sliding_attention", "sliding_window", "local", "local_attention", "chunked_attention", "swa"}
_LINEAR = {"linear_attention", "gated_deltanet", "deltanet", "kda", "linear", "lightning_attention"}
_MAMBA = {"mamba", "mamba2", "ssm", "m"}
_NONE = {"moe", "mlp", "e", "-", "ffn", "dense"}

# Fields of architectures whose layer layout llmplan does not read (Jamba, RecurrentGemma,
# Falcon-H1, ...): refusing is better than reading them as plain full attention.
_UNREAD_FIELDS = ("attn_layer_period", "attn_layer_offset", "block_types", "mamba_d_ssm")
# State-space fields: present only where some layers are Mamba layers.
_SSM_FIELDS = ("ssm_state_size", "mamba_num_heads", "mamba_d_state", "state_size", "mamba_expand", "d_state")


def _num_layers(cfg: dict[str, Any]) -> Any:
    n = _first(cfg, "num_hidden_layers", "n_layer", "num_layers")
    if n is None:
        # Nemotron-H (transformers 5): num_hidden_layers is the length of the block list
        pattern = _first(cfg, "layers_block_type", "hybrid_override_pattern")
        if isinstance(pattern, (list, str)) and pattern:
            n = len(pattern)
    return n


def _kind_of(value: Any, field: str, allowed: dict[str, set[str]]) -> str:
    key = str(value).lower()
    for kind, names in allowed.items():
        if key in names:
            return kind
    raise ConfigError(f"unknown layer type {value!r} in {field}")


def _layer_kinds(cfg: dict[str, Any], n_layers: int) -> list[str]:
    """Per decoder layer (per block for Nemotron-H): full | sliding | linear | mamba | none (no token mixing)."""
    for field in _UNREAD_FIELDS:
        if cfg.get(field) is not None:
            raise ConfigError(f"config field {field!r} describes a layer layout llmplan cannot read")

    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        allowed = {"full": _FULL, "sliding": _SLIDING, "linear": _LINEAR, "mamba": _MAMBA}
        if len(layer_types) < n_layers:
            raise ConfigError(f"layer_types lists {len(layer_types)} layers, num_hidden_layers is {n_layers}")
        # entries past num_hidden_layers describe multi-token-prediction layers
        return [_kind_of(t, "layer_types", allowed) for t in layer_types[:n_layers]]

    attn_types = cfg.get("attn_type_list")
    if attn_types is not None:
        # MiniMax: 1 = softmax attention, 0 = lightning (linear) attention
        flags = _flags(cfg, "attn_type_list", n_layers, {"1"}, {"0"})
        return ["full" if f else "linear" for f in flags or []]

    for field in ("layers_block_type", "hybrid_override_pattern"):
        block_types = cfg.get(field)
        if block_types is None:
            continue
        # Nemotron-H: the pattern lists every block; attention and Mamba blocks mix tokens, MoE/MLP do not.
        items = list(block_types) if isinstance(block_types, str) else [str(b) for b in block_types]
        if len(items) != n_layers:
            raise ConfigError(f"{field} lists {len(items)} blocks, num_hidden_layers is {n_layers}")
        allowed = {"full": _FULL, "mamba": _MAMBA, "none": _NONE}
        return [_kind_of(item, field, allowed) for item in items]

    linear_cfg = cfg.get("linear_attn_config")
    if linear_cfg is not None:
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

    pattern = cfg.get("hybrid_layer_pattern")
    if pattern is not None:
        # MiMo-V2: 1 = sliding-window layer (swa_* fields), 0 = full attention
        if not isinstance(pattern, list) or len(pattern) < n_layers:
            raise ConfigError(f"hybrid_layer_pattern must list all {n_layers} layers")
        kinds = []
        for p in pattern[:n_layers]:
            if str(p) not in ("0", "1"):
                raise ConfigError(f"unknown layer type {p!r} in hybrid_layer_pattern")
            kinds.append("sliding" if int(p) == 1 else "full")
        return kinds

    block_configs = cfg.get("block_configs")
    if isinstance(block_configs, list) and block_configs:
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

    interval = cfg.get("full_attention_interval")
    if interval and cfg.get("linear_num_value_heads") is not None:
        # Qwen3-Next without layer_types: every `interval`-th layer is full attention, the rest Gated DeltaNet
        return ["full" if (i + 1) % int(interval) == 0 else "linear" for i in range(n_layers)]

    swp = cfg.get("sliding_window_pattern")
    window = _first(cfg, "sliding_window")
    if swp and window:
        # Gemma 3: every `pattern`-th layer is global, the rest slide.
        p = int(swp)
        return ["full" if (i + 1) % p == 0 else "sliding" for i in range(n_layers)]
    if cfg.get("model_type") in ("gemma2",) and window:
        return ["sliding" if i % 2 == 0 else "full" for i in range(n_layers)]

    chunk = cfg.get("attention_chunk_size")
    if chunk and str(cfg.get("model_type", "")).startswith("llama4"):
        # Llama 4: RoPE layers use chunked local attention, NoPE layers attend globally. transformers fills
        # an absent no_rope_layers with every 4th layer NoPE (no_rope_layer_interval).
        no_rope = cfg.get("no_rope_layers")
        if not no_rope:
            step = int(cfg.get("no_rope_layer_interval") or 4)
            no_rope = [int((i + 1) % step != 0) for i in range(n_layers)]
        if len(no_rope) < n_layers:
            raise ConfigError(f"no_rope_layers lists {len(no_rope)} layers, num_hidden_layers is {n_layers}")
        return ["sliding" if int(flag) else "full" for flag in no_rope[:n_layers]]

    if window and cfg.get("use_sliding_window", True) is not False:
        max_window_layers = cfg.get("max_window_layers")
        if cfg.get("use_sliding_window") and max_window_layers is not None:
            return ["sliding" if i >= int(max_window_layers) else "full" for i in range(n_layers)]
        return ["sliding"] * n_layers
    return ["full"] * n_layers


def _check_kinds(cfg: dict[str, Any], kinds: list[str]) -> None:
    """Fields that only make sense for layer kinds the config does not have: refuse rather than guess."""
    if "mamba" not in kinds:
        for field in _SSM_FIELDS:
            if cfg.get(field) is not None:
                raise ConfigError(f"config field {field!r} describes Mamba layers, but no layer pattern says "
                                  "which layers they are")
    if cfg.get("index_head_dim") and not cfg.get("kv_lora_rank") and cfg.get("compress_ratios") is None:
        raise ConfigError("config field 'index_head_dim' (sparse-attention indexer) without MLA "
                          "(kv_lora_rank) or compress_ratios: llmplan cannot read this attention")


def _flags(cfg: dict[str, Any], field: str, n_layers: int, on: set[str], off: set[str]) -> list[bool] | None:
    """A per-layer list field read as booleans; unknown values are a ConfigError naming the field."""
    values = cfg.get(field)
    if values is None:
        return None
    if not isinstance(values, list) or len(values) < n_layers:
        raise ConfigError(f"{field} must list all {n_layers} layers")
    out = []
    for v in values[:n_layers]:
        key = str(v).lower()
        if key in on:
            out.append(True)
        elif key in off:
            out.append(False)
        else:
            raise ConfigError(f"unknown value {v!r} in {field}")
    return out


# ----------------------------------------------------------------------------------- cache groups


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


def _indexer_flags(cfg: dict[str, Any], n_layers: int) -> list[bool]:
    """Which layers keep their own DSA indexer keys (GLM-5.2+: 'shared' layers reuse an earlier layer's)."""
    flags = _flags(cfg, "indexer_types", n_layers, {"full", "dense", "own"}, {"shared", "reuse", "none"})
    return flags if flags is not None else [True] * n_layers


def _v4_compressor_state_bytes(cfg: dict[str, Any], ratios: list[int]) -> int:
    """Per sequence, the fp32 buffers DeepSeek V4's compressors keep for tokens not yet compressed
    (kv and score of up to coff x ratio tokens; coff 2 where windows overlap, ratio 4)."""
    hd = int(_first(cfg, "head_dim", default=512))
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


def _cache_groups(cfg: dict[str, Any], model_id: str, kinds: list[str], dtype_bytes: int,
                  warnings: list[str]) -> list[CacheGroup]:
    n_layers = len(kinds)
    hidden = int(_first(cfg, "hidden_size", "d_model", "n_embd"))
    n_heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads"))
    kv_heads_default = _kv_heads(cfg, n_heads)
    head_dim = int(_first(cfg, "head_dim", default=hidden // n_heads))
    kv_lora_rank = cfg.get("kv_lora_rank")
    v_head_dim_gqa = int(_first(cfg, "v_head_dim", default=head_dim)) if not kv_lora_rank else head_dim
    window = _first(cfg, "sliding_window", "sliding_window_size", "attention_chunk_size")
    if cfg.get("attention_chunk_size") and str(cfg.get("model_type", "")).startswith("llama4"):
        window = cfg.get("attention_chunk_size")
        warnings.append(f"chunked attention counted as a full {int(window)}-token window per chunked layer "
                        "(an upper bound: a chunk holds 1 to that many tokens)")
    counts = Counter(kinds)
    groups: list[CacheGroup] = []
    compress = cfg.get("compress_ratios")

    if compress is not None:
        # DeepSeek V4: shared-KV MQA of head_dim, a sliding window of recent tokens on every layer, and
        # layers that keep one compressed entry per `ratio` older tokens (ratio 0: window only); the
        # lightning indexer's keys sit beside the ratio-4 entries.
        if not isinstance(compress, list) or len(compress) < n_layers:
            raise ConfigError(f"compress_ratios must list all {n_layers} layers")
        ratios = [int(r) for r in compress[:n_layers]]
        entry = int(_first(cfg, "head_dim", default=512))
        swa = int(window or 128)
        idx_dim = int(cfg.get("index_head_dim") or 0)
        groups.append(CacheGroup(kind="sliding", layers=n_layers, kv_heads=1, k_dim=entry, v_dim=0,
                                 window=swa, tp_split=False, q_heads=n_heads, qk_dim=entry))
        for ratio, count in sorted(Counter(r for r in ratios if r > 0).items()):
            index_bytes = (idx_dim + 4.0) if (idx_dim and ratio == 4) else 0.0
            groups.append(CacheGroup(kind="compressed", layers=count, kv_heads=1, k_dim=entry, v_dim=0,
                                     tokens_per_entry=ratio, index_bytes_per_entry=index_bytes,
                                     tp_split=False, q_heads=n_heads, qk_dim=entry))
        buffers = _v4_compressor_state_bytes(cfg, ratios)
        warnings.append(
            f"compressed attention (compress_ratios): a {swa}-token window of {entry}-wide shared K=V entries "
            "on every layer plus one entry per ratio older tokens, indexer keys as fp8 + fp32 scale; the "
            f"compressors' buffers of not-yet-compressed tokens ({buffers / 1e6:.1f} MB per sequence, fp32) "
            "are not counted"
        )
        return groups

    n_full = counts.get("full", 0)
    n_sliding = counts.get("sliding", 0)

    if kv_lora_rank:
        rope = int(_first(cfg, "qk_rope_head_dim", default=64))
        qk_dim = int(_first(cfg, "qk_nope_head_dim", default=128)) + rope
        idx_dim = cfg.get("index_head_dim")
        index_bytes = (float(idx_dim) + 4.0) if idx_dim else 0.0  # fp8 keys + one fp32 scale per token
        own_index = _indexer_flags(cfg, n_layers) if idx_dim else [False] * n_layers
        latent = int(kv_lora_rank) + rope
        with_idx = sum(1 for k, f in zip(kinds, own_index) if k == "full" and f)
        for layers, ib in ((with_idx, index_bytes), (n_full - with_idx, 0.0)):
            if layers:
                groups.append(CacheGroup(kind="mla", layers=layers, kv_heads=1, k_dim=latent, v_dim=0,
                                         index_bytes_per_entry=ib, tp_split=False, q_heads=n_heads,
                                         qk_dim=qk_dim))
        if n_sliding:
            groups.append(CacheGroup(kind="sliding", layers=n_sliding, kv_heads=1, k_dim=latent, v_dim=0,
                                     window=int(window) if window else None, tp_split=False,
                                     q_heads=n_heads, qk_dim=qk_dim))
        if idx_dim and with_idx:
            latent_bf16 = n_full * latent * 2 + with_idx * index_bytes
            extra = with_idx * (2 * float(idx_dim) - index_bytes) / latent_bf16
            warnings.append(
                f"sparse-attention indexer keys of {with_idx} layers counted as fp8 plus one fp32 scale per "
                f"token ({index_bytes:.0f} bytes); an engine keeping them in bf16 needs up to "
                f"{100 * extra:.0f}% more per-token cache"
            )
    else:
        k_eq_v = bool(cfg.get("attention_k_eq_v"))
        shared = int(cfg.get("num_kv_shared_layers") or 0)
        # Gemma 3n/4: the last `shared` layers reuse the KV of earlier layers of their type: no cache of their own
        own = kinds[: n_layers - shared] if shared else kinds
        n_full_own = sum(1 for k in own if k == "full")
        n_sliding_own = sum(1 for k in own if k == "sliding")
        sparse = cfg.get("sparse_attention_config")
        sparse_flags = [False] * n_layers
        idx_bytes = 0.0
        if isinstance(sparse, dict) and sparse.get("use_sparse_attention"):
            dim, heads = sparse.get("sparse_index_dim"), sparse.get("sparse_num_index_heads", 1)
            if not dim:
                raise ConfigError("sparse_attention_config lacks sparse_index_dim: cannot size the indexer keys")
            freq = _flags(sparse, "sparse_attention_freq", n_layers, {"1", "true"}, {"0", "false"}) \
                if isinstance(sparse.get("sparse_attention_freq"), list) else None
            sparse_flags = freq if freq is not None else [True] * n_layers
            idx_bytes = float(int(dim) * int(heads) * dtype_bytes)
        if n_full_own:
            # global layers may have their own head size; with attention_k_eq_v (Gemma 4) they also have their
            # own KV head count, and the values come from the key projection, but K (RoPE, k_norm) and
            # V (v_norm) still differ, so both are cached.
            g_kv = kv_heads_default
            if k_eq_v and cfg.get("num_global_key_value_heads") is not None:
                g_kv = int(cfg["num_global_key_value_heads"])
            g_dim = int(_first(cfg, "global_head_dim", default=head_dim))
            g_v = g_dim if cfg.get("global_head_dim") is not None else v_head_dim_gqa
            n_sparse = sum(1 for i, k in enumerate(own) if k == "full" and sparse_flags[i])
            for layers, ib in ((n_sparse, idx_bytes), (n_full_own - n_sparse, 0.0)):
                if layers:
                    groups.append(CacheGroup(kind="full", layers=layers, kv_heads=g_kv, k_dim=g_dim, v_dim=g_v,
                                             index_bytes_per_entry=ib, q_heads=n_heads, qk_dim=g_dim))
            if n_sparse and idx_bytes:
                per_tok = g_kv * (g_dim + g_v) * dtype_bytes
                warnings.append(
                    f"block-sparse attention: indexer keys of {n_sparse} layers counted at the model dtype "
                    f"({idx_bytes:.0f} bytes per token); an engine keeping them in fp8 needs "
                    f"{100 * idx_bytes / 2 / (per_tok + idx_bytes):.0f}% less for those layers"
                )
        if n_sliding_own:
            s_kv = int(_first(cfg, "swa_num_key_value_heads", default=kv_heads_default))
            s_dim = int(_first(cfg, "swa_head_dim", default=head_dim))
            s_v = int(_first(cfg, "swa_v_head_dim", default=v_head_dim_gqa))
            s_q = int(_first(cfg, "swa_num_attention_heads", default=n_heads))
            groups.append(CacheGroup(kind="sliding", layers=n_sliding_own, kv_heads=s_kv, k_dim=s_dim,
                                     v_dim=s_v, window=int(window) if window else None, q_heads=s_q,
                                     qk_dim=s_dim))

    n_linear = counts.get("linear", 0)
    if n_linear:
        groups.append(_linear_group(cfg, n_linear, model_id, warnings))
    n_mamba = counts.get("mamba", 0)
    if n_mamba:
        groups.append(_mamba_group(cfg, n_mamba, model_id, warnings))
    if not groups:
        raise ConfigError(f"config of {model_id!r} has no attention or state layers that llmplan can read")
    return groups


def _state_dtype(cfg: dict[str, Any], keys: tuple[str, ...], kind: str, warnings: list[str]) -> int:
    name = _first(cfg, *keys)
    if name is None:
        warnings.append(f"{kind} state dtype not in config.json: counted as fp32 (an engine keeping it in "
                        "bf16 needs half the state)")
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
        state_bytes = _state_dtype(cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype", "ssm_state_dtype"),
                                   "Kimi Delta Attention", warnings)
    elif cfg.get("attn_type_list") is not None and cfg.get("linear_num_value_heads") is None:
        # MiniMax lightning attention: per head a head_dim x head_dim state, no convolution
        heads = int(cfg.get("num_attention_heads"))
        dim = int(_first(cfg, "head_dim", default=int(cfg["hidden_size"]) // heads))
        state, conv = heads * dim * dim, 0
        state_bytes = _state_dtype(cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype"), "lightning attention",
                                   warnings)
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
        state_bytes = _state_dtype(cfg, ("mamba_ssm_dtype", "mamba_ssm_cache_dtype"), "Gated DeltaNet", warnings)
    return CacheGroup(kind="linear", layers=layers, state_elems=state, state_dtype_bytes=state_bytes,
                      conv_elems=conv)


def _mamba_group(cfg: dict[str, Any], layers: int, model_id: str, warnings: list[str]) -> CacheGroup:
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
    state_bytes = _state_dtype(cfg, ("mamba_ssm_cache_dtype", "mamba_ssm_dtype"), "Mamba", warnings)
    return CacheGroup(kind="mamba", layers=layers, state_elems=state, state_dtype_bytes=state_bytes,
                      conv_elems=conv)


# ------------------------------------------------------------------------------- parameter counts


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


def _gqa_params(cfg: dict[str, Any], hidden: int, n_q: int, n_kv: int, qk: int, v: int, *,
                shares_kv: bool = False, k_eq_v: bool = False, sinks: bool = False) -> tuple[int, int, int]:
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
    rope = int(_first(cfg, "qk_rope_head_dim", default=64))
    nope = int(_first(cfg, "qk_nope_head_dim", default=128))
    v_dim = int(_first(cfg, "v_head_dim", default=128))
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
    hd = int(_first(cfg, "head_dim", default=512))
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
    kernel = int(_first(cfg, "linear_conv_kernel_dim", default=4))
    key, value = kh * kd, vh * vd
    return (hidden * (2 * key + 2 * value) + hidden * 2 * vh + (2 * key + value) * kernel + 2 * vh + vd
            + value * hidden)


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
    state = int(_first(cfg, "ssm_state_size", "state_size", "mamba_d_state"))
    groups = int(_first(cfg, "n_groups", "mamba_n_groups", default=1))
    kernel = int(_first(cfg, "conv_kernel", "mamba_d_conv", default=4))
    inner = heads * hd
    conv_dim = inner + 2 * groups * state
    bias = conv_dim if cfg.get("use_conv_bias", True) else 0
    return hidden * (2 * inner + 2 * groups * state + heads) + conv_dim * kernel + bias + 3 * heads + inner + \
        inner * hidden


def _moe_layer_flags(cfg: dict[str, Any], n_layers: int, n_experts: int) -> list[bool]:
    if not n_experts:
        return [False] * n_layers
    if cfg.get("enable_moe_block") is False:
        return [False] * n_layers
    types = _flags(cfg, "mlp_layer_types", n_layers, {"sparse", "moe"}, {"dense", "mlp"})
    if types is not None:
        return types
    freq = cfg.get("moe_layer_freq")
    if isinstance(freq, list):
        return _flags(cfg, "moe_layer_freq", n_layers, {"1", "true"}, {"0", "false"}) or []
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


def _moe_block(cfg: dict[str, Any], hidden: int, gated: bool) -> dict[str, int]:
    """One MoE layer: routed experts (all of them), shared experts, router, latent projections."""
    model_type = str(cfg.get("model_type", ""))
    n_experts = int(_first(cfg, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts",
                           default=0) or 0)
    inter = int(_first(cfg, "intermediate_size", "ffn_hidden_size", default=4 * hidden) or 4 * hidden)
    moe_inter = int(_first(cfg, "moe_intermediate_size", default=inter) or inter)
    latent = _first(cfg, "moe_latent_size", "routed_expert_hidden_size")
    width = int(latent) if latent else hidden
    expert_bias = model_type == "gpt_oss"
    per_expert = _mlp_params(width, moe_inter, gated, bias=expert_bias)
    experts = n_experts * per_expert

    shared_n = int(_first(cfg, "n_shared_experts", "num_shared_experts", default=0) or 0)
    shared_inter = int(_first(cfg, "shared_expert_intermediate_size", "moe_shared_expert_intermediate_size",
                              "shared_intermediate_size", "share_expert_dim", default=0) or 0)
    if shared_inter:
        shared_inter *= max(shared_n, 1)
    elif shared_n:
        shared_inter = shared_n * moe_inter
    elif model_type.startswith("llama4"):
        shared_inter = inter  # Llama 4: one shared expert of intermediate_size in every MoE layer
    shared = _mlp_params(hidden, shared_inter, gated) if shared_inter else 0
    if shared and cfg.get("shared_expert_intermediate_size") and model_type.startswith("qwen"):
        shared += hidden  # shared_expert_gate

    router = hidden * n_experts
    if (cfg.get("topk_method") == "noaux_tc" or cfg.get("use_routing_bias") or cfg.get("use_moe_router_bias")
            or expert_bias):
        router += n_experts  # e_score_correction_bias / router bias
    if model_type.startswith("gemma4"):
        router += hidden + n_experts  # router scale and per-expert scale
    if latent:
        router += 2 * hidden * width  # down to the latent and back up
        if cfg.get("latent_moe_use_norm"):
            router += width
    k = int(_first(cfg, "num_experts_per_tok", "experts_per_token", "num_experts_per_token", "top_k_experts",
                   "moe_top_k", default=0) or 0)
    return {"experts": experts, "per_expert": per_expert, "shared": shared, "router": router,
            "n_experts": n_experts, "k": k, "inter": moe_inter}


def _dense_width(cfg: dict[str, Any], is_moe_model: bool) -> int:
    hidden = int(_first(cfg, "hidden_size", "d_model", "n_embd"))
    inter = int(_first(cfg, "intermediate_size", "ffn_hidden_size", "n_inner", default=4 * hidden) or 4 * hidden)
    if is_moe_model:
        return int(_first(cfg, "dense_intermediate_size", "intermediate_size_mlp", default=inter))
    return inter


def _count_params(cfg: dict[str, Any], kinds: list[str], vision_config: Any = None) -> dict[str, Any]:
    """Parameter counts by class, from the config alone (used when no published count is given,
    for the MoE expert share, and for the GGUF attn_v/ffn_down share).

    total = embeddings + lm_head (unless tied) + decoder layers + multi-token-prediction layers + vision;
    active = total - vision - MTP - the routed experts a token does not use (embeddings included).
    """
    n_layers = len(kinds)
    hidden = int(_first(cfg, "hidden_size", "d_model", "n_embd"))
    n_heads = int(_first(cfg, "num_attention_heads", "n_head", "num_heads"))
    kv_heads = _kv_heads(cfg, n_heads)
    head_dim = int(_first(cfg, "head_dim", default=hidden // n_heads))
    vocab = int(_first(cfg, "vocab_size", "padded_vocab_size", default=32000))
    model_type = str(cfg.get("model_type", ""))
    gated = _gated(cfg)
    mlp_bias = bool(cfg.get("mlp_bias"))
    kv_lora = cfg.get("kv_lora_rank")
    compress = cfg.get("compress_ratios")
    block_configs = cfg.get("block_configs") if isinstance(cfg.get("block_configs"), list) else None
    hybrid_blocks = cfg.get("layers_block_type") is not None or cfg.get("hybrid_override_pattern") is not None

    # ---- token mixers, per layer
    v_dim = int(_first(cfg, "v_head_dim", default=head_dim)) if not kv_lora else 0
    k_eq_v = bool(cfg.get("attention_k_eq_v"))
    shared_kv = int(cfg.get("num_kv_shared_layers") or 0)
    sinks = model_type == "gpt_oss"

    def full_attn(i: int) -> tuple[int, int, int]:
        if compress is not None:
            ratio = int(compress[i]) if i < len(compress) else 0
            return _v4_attention_params(cfg, hidden, n_heads, ratio)
        if kv_lora:
            own = _indexer_flags(cfg, n_layers)[i] if i < n_layers else True
            return _mla_params(cfg, hidden, n_heads, indexer=own)
        g_kv = int(cfg["num_global_key_value_heads"]) if (k_eq_v and cfg.get("num_global_key_value_heads")) \
            else kv_heads
        g_dim = int(_first(cfg, "global_head_dim", default=head_dim))
        g_v = g_dim if cfg.get("global_head_dim") is not None else v_dim
        return _gqa_params(cfg, hidden, n_heads, g_kv, g_dim, g_v, k_eq_v=k_eq_v,
                           shares_kv=shared_kv > 0 and i >= n_layers - shared_kv, sinks=sinks)

    def sliding_attn(i: int) -> tuple[int, int, int]:
        if compress is not None or kv_lora:
            return full_attn(i)
        s_q = int(_first(cfg, "swa_num_attention_heads", default=n_heads))
        s_kv = int(_first(cfg, "swa_num_key_value_heads", default=kv_heads))
        s_dim = int(_first(cfg, "swa_head_dim", default=head_dim))
        s_v = int(_first(cfg, "swa_v_head_dim", default=v_dim))
        return _gqa_params(cfg, hidden, s_q, s_kv, s_dim, s_v,
                           shares_kv=shared_kv > 0 and i >= n_layers - shared_kv,
                           sinks=sinks or bool(cfg.get("add_swa_attention_sink_bias")))

    def linear_mixer() -> int:
        if isinstance(cfg.get("linear_attn_config"), dict):
            return _kda_params(cfg, hidden)
        if cfg.get("attn_type_list") is not None and cfg.get("linear_num_value_heads") is None:
            return 5 * hidden * n_heads * head_dim + n_heads * head_dim  # lightning: qkv, gate, out, norm
        return _gdn_params(cfg, hidden)

    mixers = 0
    attn_v = 0
    attn_o = 0
    for i, kind in enumerate(kinds):
        if compress is not None:
            p, v, o = full_attn(i)  # DeepSeek V4: every layer has the same attention, compressor by ratio
        elif kind == "full":
            if block_configs is not None:
                group = (block_configs[i].get("attention") or {}).get("n_heads_in_group") or 1
                p, v, o = _gqa_params(cfg, hidden, n_heads, max(1, n_heads // int(group)), head_dim, head_dim)
            else:
                p, v, o = full_attn(i)
        elif kind == "sliding":
            p, v, o = sliding_attn(i)
        elif kind == "linear":
            p, v, o = linear_mixer(), 0, 0
        elif kind == "mamba":
            p, v, o = _mamba_params(cfg, hidden), 0, 0
        else:
            p, v, o = 0, 0, 0
            if block_configs is not None and (block_configs[i].get("attention") or {}).get("replace_with_linear"):
                p = hidden * hidden
        mixers += p
        attn_v += v
        attn_o += o

    # ---- feed-forward blocks
    moe = _moe_block(cfg, hidden, gated)
    n_experts = moe["n_experts"]
    if hybrid_blocks:
        block = cfg.get("layers_block_type") or list(cfg.get("hybrid_override_pattern"))
        moe_flags = [str(b).lower() in ("moe", "e") for b in block]
        dense_flags = [str(b).lower() in ("mlp", "-", "ffn", "dense") for b in block]
    else:
        moe_flags = _moe_layer_flags(cfg, n_layers, n_experts)
        both = bool(cfg.get("enable_moe_block"))  # Gemma 4: a dense MLP beside the experts in every layer
        dense_flags = [both or not m for m in moe_flags]
    n_moe = sum(moe_flags)
    width = _dense_width(cfg, n_experts > 0)
    dense_mlp = 0
    if block_configs is not None:
        for b in block_configs:
            ffn = b.get("ffn") or {}
            if ffn.get("no_op"):
                continue
            if ffn.get("replace_with_linear"):
                dense_mlp += hidden * hidden
                continue
            mult = float(ffn.get("ffn_mult", 1.0))
            # DeciLM: intermediate = 256-aligned(2/3 * mult * hidden)
            d = int(2 * mult * hidden / 3)
            d = d + (256 - d % 256) % 256
            dense_mlp += _mlp_params(hidden, d, True)
    else:
        for i, dense in enumerate(dense_flags):
            if dense:
                w = width
                if cfg.get("use_double_wide_mlp") and shared_kv and i >= n_layers - shared_kv:
                    w *= 2
                dense_mlp += _mlp_params(hidden, w, gated, mlp_bias)
    expert_total = n_moe * moe["experts"]
    shared_total = n_moe * moe["shared"]
    router = n_moe * moe["router"]

    # ---- embeddings, norms
    embed = vocab * hidden
    ple = int(cfg.get("hidden_size_per_layer_input") or 0)
    if ple:
        # Gemma 3n / 4 per-layer embeddings: a second lookup table, its projection and per-layer gates
        embed += int(cfg.get("vocab_size_per_layer_input") or vocab) * n_layers * ple
        mixers += hidden * n_layers * ple + n_layers * 2 * hidden * ple
    tied = bool(cfg.get("tie_word_embeddings", False))
    lm_head = 0 if tied else vocab * hidden
    norms_per_layer = 4 if model_type.startswith(("gemma2", "gemma3", "gemma4")) else (1 if hybrid_blocks else 2)
    norms = n_layers * norms_per_layer * hidden + hidden
    if cfg.get("hc_mult"):
        # DeepSeek V4 hyper-connections: mixing weights for attention and FFN per layer, and the head's
        hc = int(cfg["hc_mult"])
        mix = (2 + hc) * hc
        norms += n_layers * 2 * (hc * hidden * mix + mix + 3) + hc * hidden * hc + hc + 1
    body = mixers + dense_mlp + expert_total + shared_total + router + norms

    # ---- multi-token prediction layers (in the checkpoint; not used per token)
    n_mtp = int(_first(cfg, "num_nextn_predict_layers", "mtp_num_hidden_layers", default=0) or 0)
    mtp = 0
    if n_mtp:
        if hybrid_blocks and isinstance(cfg.get("mtp_layers_block_type"), list):
            layer = 0
            for b in cfg["mtp_layers_block_type"]:
                key = str(b).lower()
                if key in _FULL:
                    layer += _gqa_params(cfg, hidden, n_heads, kv_heads, head_dim, v_dim)[0]
                elif key in _MAMBA:
                    layer += _mamba_params(cfg, hidden)
                elif key in ("moe", "e"):
                    layer += moe["experts"] + moe["shared"] + moe["router"]
                elif key in _NONE:
                    layer += _mlp_params(hidden, width, gated, mlp_bias)
                else:
                    raise ConfigError(f"unknown layer type {b!r} in mtp_layers_block_type")
                layer += hidden
        else:
            layer = full_attn(n_layers)[0] if compress is not None else full_attn(n_layers - 1)[0]
            layer += (moe["experts"] + moe["shared"] + moe["router"]) if n_moe else _mlp_params(hidden, width, gated)
            layer += norms_per_layer * hidden
        # eh_proj (embedding and hidden state concatenated, down to hidden) and enorm, hnorm, final norm
        layer += 2 * hidden * hidden + 3 * hidden
        if model_type in ("deepseek_v3", "deepseek_v32", "kimi_k2"):
            layer += embed + lm_head  # DeepSeek checkpoints store the MTP layer's own embedding and head copy
        mtp = n_mtp * layer

    vision = _vision_params(vision_config if vision_config is not None else cfg.get("vision_config"), hidden)
    total = embed + lm_head + body + mtp + vision
    k = moe["k"]
    inactive = expert_total * (1 - k / n_experts) if n_experts else 0
    active = total - vision - mtp - inactive

    ffn_down = (dense_mlp + expert_total + shared_total) / (3 if gated else 2)
    linear_body = mixers + dense_mlp + expert_total + shared_total
    shares = {
        "attn_v": attn_v / linear_body if linear_body else 0.0,
        "attn_output": attn_o / linear_body if linear_body else 0.0,
        "ffn_down": ffn_down / linear_body if linear_body else 0.0,
    }
    return {
        "total": int(total),
        "active": int(active),
        "embed": embed,
        "lm_head": lm_head,
        "experts": int(expert_total),
        "vision": vision,
        "mtp": int(mtp),
        "n_experts": n_experts,
        "experts_per_token": k,
        "moe_layers": n_moe,
        "tensor_shares": shares,
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
    hidden = _first(vision, "hidden_size", "width", "embed_dim")
    depth = _first(vision, "num_hidden_layers", "depth", "layers")
    if not hidden or not depth:
        return 0
    h, depth = int(hidden), int(depth)
    inter = int(_first(vision, "intermediate_size", "mlp_dim", default=4 * h))
    model_type = str(vision.get("model_type", ""))
    act = str(_first(vision, "hidden_act", "hidden_activation", default="gelu"))
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
    out = int(_first(vision, "projector_output_dim", "projection_dim", "out_hidden_size", default=text_hidden))
    projector = int(vision.get("projector_input_dim") or h) * out
    return depth * layer + embed + 2 * h + projector


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
    n_layers = _num_layers(cfg)
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
    try:
        kinds = _layer_kinds(cfg, n_layers)
        _check_kinds(cfg, kinds)
        groups = _cache_groups(cfg, model_id, kinds, dtype_bytes, warnings)
        counts = _count_params(cfg, kinds, config.get("vision_config"))
    except ConfigError as exc:
        msg = str(exc)
        raise ConfigError(msg if model_id in msg else f"config of {model_id!r}: {msg}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"config of {model_id!r} has a malformed architecture field: {exc!r}") from None

    computed = params_total is None
    total = int(params_total) if params_total else counts["total"]
    if params_active:
        active = int(params_active)
    elif counts["n_experts"]:
        # keep the config's active share when only the total is published
        active = int(total * counts["active"] / max(counts["total"], 1))
    else:
        active = total - counts["vision"] - counts["mtp"]
    if computed:
        warnings.append("parameter counts computed from config.json (no published or safetensors count)")
    scale = total / max(counts["total"], 1)
    native, expert_native, experts_only, kv_native = native_format(config)
    qc = _first(config, "quantization_config") or _first(cfg, "quantization_config") or {}
    if isinstance(qc, dict) and str(qc.get("quant_algo", "")).lower() == "mixed_precision" and native == "nvfp4":
        warnings.append("mixed-precision checkpoint: its FP8 layers (attention, linear attention) are counted at "
                        "nvfp4 bits, up to 45% fewer bytes than they hold")
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
