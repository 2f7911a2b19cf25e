"""Models read from local files: a folder holding a config.json, or a GGUF file.

A folder gives its architecture through its config.json (the same reader as the catalog and the hub:
`model_spec_from_config`) and its exact parameter count through the headers of its `*.safetensors`
files (only the JSON header of each file is read, never the weights). A GGUF file gives everything
through its own metadata and tensor table, read with the `gguf` package's memory-mapped reader: the
exact weight bytes of the file's own quantization, and its parameter count.

The helpers that count parameters from safetensors headers are shared with `llmplan.models.hub`.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llmplan.errors import ConfigError
from llmplan.models.architecture import ModelSpec, model_spec_from_config, native_format
from llmplan.models.resolved import ResolvedModel

CONFIG_FILE = "config.json"
QUANT_CONFIG_FILE = "hf_quant_config.json"
SAFETENSORS_SINGLE = "model.safetensors"
SAFETENSORS_INDEX = "model.safetensors.index.json"
MAX_SAFETENSORS_HEADER = 100_000_000  # safetensors itself refuses headers above 100 MB

# --------------------------------------------------------------------------------- shared helpers


def load_json_file(path: Path, what: str | None = None) -> dict[str, Any]:
    """A JSON object from a file; any problem is a ConfigError naming the file."""
    label = what or str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{label} is not valid JSON: it is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read ({exc.strerror or exc})") from None
    return parse_json_config(text, label)


def parse_json_config(text: str, label: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{label} is not valid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{label} is not a JSON object (found {type(data).__name__})")
    return data


def build_spec(
    model_id: str,
    config: dict[str, Any],
    *,
    params_total: int | None = None,
    native_quant: str | None = None,
) -> ModelSpec:
    """`model_spec_from_config`, with any unexpected failure on an odd config turned into a ConfigError."""
    try:
        return model_spec_from_config(model_id, config, params_total=params_total or None, native_quant=native_quant)
    except ConfigError as exc:
        if model_id in str(exc):
            raise
        raise ConfigError(f"config of {model_id!r}: {exc}") from None
    except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError, IndexError, OverflowError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config of {model_id!r} cannot be read into an architecture: {detail}") from None


# Tensors that carry quantization bookkeeping (scales, zero points, group indices), not model weights.
_AUX_TENSORS = {
    "qzeros",
    "scales",
    "g_idx",
    "weight_scale",
    "weight_scale_inv",
    "weight_scale_2",
    "input_scale",
    "output_scale",
    "k_scale",
    "v_scale",
    "q_scale",
    "prob_scale",
    "weight_zero_point",
    "input_zero_point",
    "weight_global_scale",
    "input_global_scale",
    "weight_shape",
    "weight_g_idx",
    "absmax",
    "quant_map",
    "nested_absmax",
    "nested_quant_map",
    "SCB",
    "weight_format",
}
_FOUR_BIT_PACKED = {"nvfp4", "mxfp4", "bnb-nf4"}


def _packed_bits(config: dict[str, Any]) -> int:
    """Bits per value of integer-packed (int32) weights: AWQ / GPTQ / compressed-tensors pack-quantized."""
    qc = config.get("quantization_config")
    if not isinstance(qc, dict):
        text = config.get("text_config")
        qc = text.get("quantization_config") if isinstance(text, dict) else None
    if not isinstance(qc, dict):
        return 4
    bits = qc.get("bits") or qc.get("w_bit")
    if not bits:
        for group in (qc.get("config_groups") or {}).values():
            weights = (group or {}).get("weights") if isinstance(group, dict) else None
            if isinstance(weights, dict) and weights.get("num_bits"):
                bits = weights["num_bits"]
    try:
        bits = int(bits or 4)
    except (TypeError, ValueError):
        bits = 4
    return bits if bits in (2, 3, 4, 8) else 4


def safetensors_param_count(tensors: Iterable[tuple[str, str, Sequence[int]]], config: dict[str, Any]) -> int:
    """Parameters in (name, dtype, shape) tensor entries of safetensors headers.

    For 16/32-bit and fp8 checkpoints this is the plain sum of element counts. Pre-quantized
    checkpoints store some weights packed (eight 4-bit values per int32 for AWQ/GPTQ, two fp4 values
    per byte for nvfp4/mxfp4/nf4) next to scale and zero-point tensors: packed weights are unpacked
    to their value count and the bookkeeping tensors are left out, so the count is the model's real
    parameter count whatever format the checkpoint is stored in.
    """
    try:
        native = native_format(config)[0]
    except Exception:  # noqa: BLE001 - an odd quantization block only disables the unpacking
        native = "bf16"
    bits = _packed_bits(config)
    total = 0
    for name, dtype, shape in tensors:
        n = math.prod(int(d) for d in shape)
        last = name.rsplit(".", 1)[-1]
        kind = str(dtype).upper()
        if last in _AUX_TENSORS or "quant_state" in name or (kind == "U8" and last.endswith("_scales")):
            continue
        if kind == "I32" and last in ("qweight", "weight_packed"):
            n = n * 32 // bits
        elif (
            kind == "U8"
            and native in _FOUR_BIT_PACKED
            and (last in ("weight", "weight_packed") or last.endswith("_blocks"))
        ):
            n *= 2
        total += n
    return total


def pick_safetensors_files(names: Iterable[str], index: dict[str, Any] | None = None) -> list[str]:
    """Which top-level safetensors files hold the model: the index's shards, else model.safetensors,
    else every top-level *.safetensors (leaving out consolidated.* copies when others exist)."""
    top = sorted({n for n in names if "/" not in n and n.endswith(".safetensors")})
    if index is not None:
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if isinstance(weight_map, dict) and weight_map:
            return sorted({str(v) for v in weight_map.values()})
        return []
    if SAFETENSORS_SINGLE in top:
        return [SAFETENSORS_SINGLE]
    others = [n for n in top if not n.startswith("consolidated")]
    return others or top


def read_safetensors_header(path: Path) -> list[tuple[str, str, list[int]]]:
    """(name, dtype, shape) of every tensor of a local .safetensors file; reads the header only."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise ConfigError(f"{path} is truncated or corrupt: no safetensors header")
            (length,) = struct.unpack("<Q", prefix)
            if length < 2 or length > MAX_SAFETENSORS_HEADER or 8 + length > size:
                raise ConfigError(f"{path} is truncated or corrupt: header length {length} in a {size}-byte file")
            raw = fh.read(length)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{path} is truncated or corrupt: its safetensors header is not JSON") from None
    if not isinstance(header, dict):
        raise ConfigError(f"{path} is truncated or corrupt: its safetensors header is not a JSON object")
    data_size = size - 8 - length
    out: list[tuple[str, str, list[int]]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(info["dtype"])
            shape = [int(d) for d in info["shape"]]
            end = int(info.get("data_offsets", [0, 0])[1])
        except (KeyError, TypeError, ValueError, IndexError):
            raise ConfigError(f"{path} is truncated or corrupt: bad entry for tensor {name!r}") from None
        if any(d < 0 for d in shape):
            raise ConfigError(f"{path} is truncated or corrupt: negative shape for tensor {name!r}")
        if end > data_size:
            raise ConfigError(f"{path} is truncated or corrupt: tensor {name!r} ends past the end of the file")
        out.append((name, dtype, shape))
    return out


# --------------------------------------------------------------------------------------- folders


def read_config_folder(path: Path) -> dict[str, Any]:
    """config.json of a folder, with hf_quant_config.json (if present) merged under `hf_quant_config`."""
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: not found; a model folder needs the config.json of its repo")
    config = load_json_file(config_path)
    quant_path = path / QUANT_CONFIG_FILE
    if quant_path.is_file():
        config = {**config, "hf_quant_config": load_json_file(quant_path)}
    return config


def _folder_params(path: Path, config: dict[str, Any]) -> int | None:
    index_path = path / SAFETENSORS_INDEX
    index = load_json_file(index_path) if index_path.is_file() else None
    names = [p.name for p in path.glob("*.safetensors")]
    files = pick_safetensors_files(names, index)
    if not files or any(not (path / f).is_file() for f in files):
        return None  # no weights here (or only some shards): count from the config
    tensors: list[tuple[str, str, list[int]]] = []
    for name in files:
        tensors.extend(read_safetensors_header(path / name))
    return safetensors_param_count(tensors, config) or None


def read_folder(path: str | Path) -> ResolvedModel:
    """A local model folder: config.json (+ hf_quant_config.json), counts from *.safetensors headers."""
    path = Path(path).expanduser()
    config = read_config_folder(path)
    model_id = path.resolve().name or str(config.get("_name_or_path") or "local-model")
    params = _folder_params(path, config)
    spec = build_spec(model_id, config, params_total=params)
    return ResolvedModel(spec=spec, source="local")


# ------------------------------------------------------------------------------------------ GGUF

GGUF_MAGIC = b"GGUF"
_SPLIT_NAME = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)  # llama.cpp gguf-split parts

# llama.cpp's llama_ftype (gguf.LlamaFileType) -> llmplan format names.
FILE_TYPES: dict[int, str] = {
    0: "fp32",
    1: "fp16",
    2: "q4_0",
    7: "q8_0",
    10: "q2_k",
    11: "q3_k_s",
    12: "q3_k_m",
    13: "q3_k_l",
    14: "q4_k_s",
    15: "q4_k_m",
    16: "q5_k_s",
    17: "q5_k_m",
    18: "q6_k",
    19: "iq2_xxs",
    20: "iq2_xs",
    21: "q2_k_s",
    22: "iq3_xs",
    23: "iq3_xxs",
    25: "iq4_nl",
    26: "iq3_s",
    27: "iq3_m",
    28: "iq2_s",
    29: "iq2_m",
    30: "iq4_xs",
    32: "bf16",
    38: "mxfp4",
    39: "nvfp4",
}
# File types llmplan has no profile for: planned as the nearest one (the weight bytes stay the file's own).
FILE_TYPES_NEAREST: dict[int, tuple[str, str]] = {
    3: ("Q4_1", "q4_0"),
    8: ("Q5_0", "q5_k_s"),
    9: ("Q5_1", "q5_k_s"),
    24: ("IQ1_S", "iq2_xxs"),
    31: ("IQ1_M", "iq2_xxs"),
    36: ("TQ1_0", "iq2_xxs"),
    37: ("TQ2_0", "iq2_xxs"),
    40: ("Q1_0", "iq2_xxs"),
}
# ggml tensor types -> the file format they usually make up (for files without general.file_type).
TENSOR_TYPES: dict[str, str] = {
    "F32": "fp32",
    "F16": "fp16",
    "BF16": "bf16",
    "Q8_0": "q8_0",
    "Q6_K": "q6_k",
    "Q5_K": "q5_k_m",
    "Q5_0": "q5_k_s",
    "Q5_1": "q5_k_s",
    "Q4_K": "q4_k_m",
    "Q4_0": "q4_0",
    "Q4_1": "q4_0",
    "Q3_K": "q3_k_m",
    "Q2_K": "q2_k",
    "IQ4_XS": "iq4_xs",
    "IQ4_NL": "iq4_nl",
    "IQ3_S": "iq3_s",
    "IQ3_XXS": "iq3_xxs",
    "IQ2_S": "iq2_s",
    "IQ2_XS": "iq2_xs",
    "IQ2_XXS": "iq2_xxs",
    "IQ1_S": "iq2_xxs",
    "IQ1_M": "iq2_xxs",
    "TQ1_0": "iq2_xxs",
    "TQ2_0": "iq2_xxs",
    "MXFP4": "mxfp4",
    "NVFP4": "nvfp4",
}
# general.architecture -> the Hugging Face model_type of the same family.
GGUF_MODEL_TYPES: dict[str, str] = {
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "gemma3": "gemma3_text",
    "deepseek2": "deepseek_v3",
    "gpt-oss": "gpt_oss",
    "command-r": "cohere",
    "gptneox": "gpt_neox",
    "stablelm": "stablelm",
}


def _field_value(field: Any) -> Any:
    """A GGUF metadata value (scalar, string or array) from a gguf.ReaderField."""
    from gguf import GGUFValueType

    if field is None or not field.types:
        return None
    main = field.types[0]

    def one(part: Any, kind: Any) -> Any:
        if kind == GGUFValueType.STRING:
            return bytes(part).decode("utf-8", errors="replace")
        return part.tolist()[0]

    if main == GGUFValueType.ARRAY:
        sub = field.types[-1]
        if sub == GGUFValueType.ARRAY:
            return None  # nested arrays: not used here
        return [one(field.parts[i], sub) for i in field.data]
    return one(field.parts[field.data[0]], main)


class _Meta:
    def __init__(self, reader: Any, arch: str) -> None:
        self.reader = reader
        self.arch = arch

    def get(self, key: str, default: Any = None) -> Any:
        field = self.reader.fields.get(key.format(arch=self.arch))
        if field is None:
            return default
        value = _field_value(field)
        return default if value is None else value

    def scalar(self, key: str) -> int | None:
        """An integer key; per-layer arrays give their largest value."""
        value = self.get(key)
        if isinstance(value, list):
            numbers = [v for v in value if isinstance(v, (int, float))]
            value = max(numbers) if numbers else None
        if isinstance(value, bool) or value is None:
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    def array_len(self, key: str) -> int | None:
        field = self.reader.fields.get(key.format(arch=self.arch))
        return len(field.data) if field is not None and field.types else None


def _open_gguf(path: Path) -> Any:
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder, not a GGUF file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic != GGUF_MAGIC:
        hint = ""
        if path.suffix.lower() in (".json", ".safetensors"):
            hint = "; for a Hugging Face checkpoint pass the folder holding config.json"
        raise ConfigError(f"{path} is not a GGUF file{hint}")
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ConfigError("reading GGUF files needs the gguf package (pip install gguf)") from None
    try:
        return GGUFReader(path, "r")
    except ValueError as exc:
        if "GGMLQuantizationType" in str(exc):
            raise ConfigError(
                f"{path} uses a tensor type the installed gguf package does not know; upgrade it (pip install -U gguf)"
            ) from None
        raise ConfigError(f"{path} is truncated or corrupt") from None
    except Exception:  # noqa: BLE001 - any failure of the parser on a bad file is the same fact
        raise ConfigError(f"{path} is truncated or corrupt") from None


def _split_parts(path: Path, meta: _Meta) -> list[Path]:
    count = meta.scalar("split.count") or 1
    if count <= 1:
        return [path]
    m = _SPLIT_NAME.match(path.name)
    if not m:
        raise ConfigError(
            f"{path} is one part of a {count}-part GGUF whose file names do not follow "
            "NAME-00001-of-0000N.gguf; pass the first part with its siblings beside it"
        )
    parts = [path.with_name(f"{m.group(1)}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise ConfigError(f"{path} is part of a {count}-part GGUF; missing {', '.join(missing[:3])}")
    return parts


def _gguf_quant(file_type: int | None, tensors: list[Any]) -> tuple[str, str | None]:
    """(llmplan format, note) for a GGUF file: from general.file_type, else the dominant tensor type."""
    if file_type is not None:
        ftype = int(file_type) & ~1024  # LLAMA_FTYPE_GUESSED flag
        if ftype in FILE_TYPES:
            return FILE_TYPES[ftype], None
        if ftype in FILE_TYPES_NEAREST:
            raw, near = FILE_TYPES_NEAREST[ftype]
            return near, f"GGUF file type {raw} planned as {near} (no {raw} profile); weight bytes are the file's own"
    weight: Counter[str] = Counter()
    for t in tensors:
        if len(t.shape) >= 2:
            weight[t.tensor_type.name] += int(t.n_elements)
    if not weight:
        for t in tensors:
            weight[t.tensor_type.name] += int(t.n_elements)
    for name, _ in weight.most_common():
        if name in TENSOR_TYPES:
            return TENSOR_TYPES[name], None
    return "fp16", "GGUF tensor types not recognised; planned as fp16 with the file's own weight bytes"


def _gguf_attention(meta: _Meta) -> dict[str, Any]:
    """Head sizes: latent attention (MLA) fields where the file has a KV LoRA rank, else head_dim/v_head_dim."""
    key_len = meta.scalar("{arch}.attention.key_length")
    value_len = meta.scalar("{arch}.attention.value_length")
    kv_lora = meta.scalar("{arch}.attention.kv_lora_rank")
    cfg: dict[str, Any] = {}
    if kv_lora:
        rope = meta.scalar("{arch}.rope.dimension_count") or 64
        key_mla = meta.scalar("{arch}.attention.key_length_mla") or key_len
        value_mla = meta.scalar("{arch}.attention.value_length_mla") or value_len
        cfg["kv_lora_rank"] = kv_lora
        cfg["q_lora_rank"] = meta.scalar("{arch}.attention.q_lora_rank")
        cfg["qk_rope_head_dim"] = rope
        if key_mla:
            cfg["qk_nope_head_dim"] = max(int(key_mla) - rope, 0)
        if value_mla:
            cfg["v_head_dim"] = value_mla
        return cfg
    if key_len:
        cfg["head_dim"] = key_len
    if value_len and key_len and value_len != key_len:
        cfg["v_head_dim"] = value_len
    return cfg


def _gguf_experts(meta: _Meta) -> dict[str, Any]:
    experts = meta.scalar("{arch}.expert_count")
    if not experts:
        return {}
    cfg: dict[str, Any] = {
        "num_local_experts": experts,
        "num_experts_per_tok": meta.scalar("{arch}.expert_used_count") or 1,
        "moe_intermediate_size": meta.scalar("{arch}.expert_feed_forward_length") or None,
        "first_k_dense_replace": meta.scalar("{arch}.leading_dense_block_count") or None,
    }
    shared = meta.scalar("{arch}.expert_shared_count")
    if shared:
        cfg["n_shared_experts"] = shared
        shared_ffn = meta.scalar("{arch}.expert_shared_feed_forward_length")
        if shared_ffn:
            cfg["shared_expert_intermediate_size"] = shared_ffn * shared
    return cfg


def _gguf_window(meta: _Meta, n_layers) -> dict[str, Any]:
    window = meta.scalar("{arch}.attention.sliding_window")
    if not window:
        return {}
    cfg: dict[str, Any] = {"sliding_window": window}
    pattern = meta.get("{arch}.attention.sliding_window_pattern")
    if isinstance(pattern, list) and n_layers and len(pattern) >= n_layers:
        cfg["layer_types"] = ["sliding_attention" if p else "full_attention" for p in pattern[:n_layers]]
    elif meta.arch == "gpt-oss" and n_layers:
        cfg["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n_layers)]
    return cfg


def gguf_config(meta: _Meta, tensors: list[Any]) -> dict[str, Any]:
    """An HF-style config.json dict from a GGUF file's metadata and tensor table."""
    arch = meta.arch
    n_layers = meta.scalar("{arch}.block_count")
    heads = meta.scalar("{arch}.attention.head_count")
    kv_heads = meta.scalar("{arch}.attention.head_count_kv")
    vocab = meta.scalar("{arch}.vocab_size") or meta.array_len("tokenizer.ggml.tokens")
    if not vocab:
        embd = next((t for t in tensors if t.name == "token_embd.weight"), None)
        if embd is not None and len(embd.shape) == 2:
            vocab = int(embd.shape[-1])
    cfg: dict[str, Any] = {
        "model_type": GGUF_MODEL_TYPES.get(arch, arch.replace("-", "_")),
        "architectures": [f"gguf:{arch}"],
        "num_hidden_layers": n_layers,
        "hidden_size": meta.scalar("{arch}.embedding_length"),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads if kv_heads is not None else heads,
        "vocab_size": vocab,
        "max_position_embeddings": meta.scalar("{arch}.context_length"),
        "torch_dtype": "float16",
        "tie_word_embeddings": "output.weight" not in {t.name for t in tensors},
        "intermediate_size": meta.scalar("{arch}.feed_forward_length") or None,
        **_gguf_attention(meta),
        **_gguf_experts(meta),
        **_gguf_window(meta, n_layers),
    }
    return {k: v for k, v in cfg.items() if v is not None}


def read_gguf(path: str | Path) -> ResolvedModel:
    """A GGUF file: architecture from its metadata, exact parameter count and weight bytes from its
    tensor table (tensor data stays memory-mapped and is never read). A split file (NAME-00001-of-0000N)
    is read with all its parts."""
    path = Path(path).expanduser()
    reader = _open_gguf(path)
    split = _SPLIT_NAME.match(path.name)
    if split and int(split.group(2)) != 1:
        first = path.with_name(f"{split.group(1)}-00001-of-{split.group(3)}.gguf")
        if first.is_file():  # the metadata lives in the first part
            path, reader = first, _open_gguf(first)
    arch_value = _field_value(reader.fields.get("general.architecture"))
    if not isinstance(arch_value, str) or not arch_value:
        raise ConfigError(f"{path} is truncated or corrupt: it has no general.architecture")
    meta = _Meta(reader, arch_value)
    tensors: list[Any] = []
    for part in _split_parts(path, meta):
        part_reader = reader if part == path else _open_gguf(part)
        _check_complete(part, part_reader)
        tensors.extend(part_reader.tensors)

    config = gguf_config(meta, tensors)
    missing = [k for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size") if k not in config]
    if missing:
        raise ConfigError(
            f"{path}: GGUF metadata for architecture {arch_value!r} lacks "
            f"{', '.join(missing)}; cannot read its architecture"
        )
    params = sum(int(t.n_elements) for t in tensors)
    weight_bytes = sum(int(t.n_bytes) for t in tensors)
    quant, note = _gguf_quant(meta.scalar("general.file_type"), tensors)
    model_id = split.group(1) if split and (meta.scalar("split.count") or 1) > 1 else path.stem
    spec = build_spec(model_id, config, params_total=params, native_quant=quant)
    update: dict[str, Any] = {"exact_weights": (quant, weight_bytes)}
    if note:
        update["approximations"] = (*spec.approximations, note)
    spec = spec.model_copy(update=update)
    return ResolvedModel(spec=spec, source="gguf", gguf_quant=quant)


def _check_complete(path: Path, reader: Any) -> None:
    """Every tensor of this file must lie inside it (GGUFReader maps what is there without checking)."""
    size = path.stat().st_size
    for t in reader.tensors:
        if int(t.data_offset) + int(t.n_bytes) > size:
            raise ConfigError(f"{path} is truncated or corrupt")
