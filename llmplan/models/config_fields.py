"""Reading config.json fields that several architecture readers share (layer kinds, heads, flags)."""

from __future__ import annotations

from typing import Any

from llmplan.errors import ConfigError

FULL_NAMES = {"full_attention", "attention", "global", "full", "global_attention", "*", "deepseek_sparse_attention"}
SLIDING_NAMES = {"sliding_attention", "sliding_window", "local", "local_attention", "chunked_attention", "swa"}
LINEAR_NAMES = {"linear_attention", "gated_deltanet", "deltanet", "kda", "linear", "lightning_attention"}
MAMBA_NAMES = {"mamba", "mamba2", "ssm", "m"}
FFN_NAMES = {"moe", "mlp", "e", "-", "ffn", "dense"}


def first_of(cfg: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        value = cfg.get(key)
        if value is not None:
            return value
    return default


def layer_flags(cfg: dict[str, Any], field: str, n_layers: int, on: set[str], off: set[str]) -> list[bool] | None:
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


def kv_head_count(cfg: dict[str, Any], n_heads: int) -> int:
    kv = first_of(cfg, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
    if kv is None and cfg.get("multi_query"):
        return 1
    block_configs = cfg.get("block_configs")
    if kv is None and isinstance(block_configs, list):
        groups = [(b.get("attention") or {}).get("n_heads_in_group") for b in block_configs]
        groups = [g for g in groups if g]
        if groups:
            return max(1, n_heads // int(groups[0]))
    return int(kv) if kv is not None else n_heads


def indexer_flags(cfg: dict[str, Any], n_layers: int) -> list[bool]:
    """Which layers keep their own DSA indexer keys (GLM-5.2+: 'shared' layers reuse an earlier layer's)."""
    flags = layer_flags(cfg, "indexer_types", n_layers, {"full", "dense", "own"}, {"shared", "reuse", "none"})
    return flags if flags is not None else [True] * n_layers
