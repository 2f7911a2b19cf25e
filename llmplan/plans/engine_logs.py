"""Published engine start-up logs, read back and recomputed with llmplan's memory rules.

The rows live in `tests/data/engine_logs/` (`engine_logs.csv`, copied from the shared calibration folder, and
`engine_logs_extra.csv`); each is one engine start someone posted (a GitHub issue, a notebook's saved output, a
committed log file) with what the engine printed about weights and its KV pool. For each row this module builds
the deployment the log describes (model, format, engine and its release, tensor parallel, memory fraction,
max_model_len, max_num_seqs, max_num_batched_tokens, llama.cpp's -c and -np) and computes llmplan's weights per
GPU, KV pool bytes per GPU and the token figure the engine prints. Rows that cannot be evaluated at all are
kept, with the reason.

All log figures are GiB (the collectors converted MiB and SGLang's "GB", which is GiB); rows compare in bytes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from llmplan.catalog.loader import Catalog

GIB = 1 << 30
LOG_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "engine_logs"
LOG_FILES = ("engine_logs.csv", "engine_logs_extra.csv")

# Log GPU ids -> catalog ids. An 80 GB H100 is the SXM card unless the row says PCIe.
GPU_IDS = {
    "h100-80gb": "h100-sxm",
    "h100-sxm": "h100-sxm",
    "h100-pcie": "h100-pcie",
    "h200": "h200",
    "b200": "b200",
    "a100-80gb": "a100-80gb",
    "a100-40gb": "a100-40gb",
    "l40s": "l40s",
    "l4": "l4",
    "t4": "t4",
    "rtx-3090": "rtx-3090",
    "rtx-4090": "rtx-4090",
    "rtx-5080": "rtx-5080",
    "rtx-5090": "rtx-5090",
    "rtx-a6000": "rtx-a6000",
    "gb10": "dgx-spark",
    "dgx-spark": "dgx-spark",
    "apple-m4": "apple-m4",
    "rtx-3060-laptop-6gb": "rtx-3060-laptop",
}

# Log model names -> (catalog id, why). A checkpoint with the same layer shapes as a catalog model (a fine-tune,
# a re-upload, a quantized copy) maps to that model; the reason says which shapes agree.
MODEL_IDS: dict[str, tuple[str, str]] = {
    "meta-llama/Meta-Llama-3-8B": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "Llama 3 8B has Llama 3.1 8B's shapes "
        "(32 layers, 4096 hidden, 8 KV heads, vocab 128256); max_position_embeddings 8192",
    ),
    "meta-llama/Llama-3.1-8B-Instruct": ("meta-llama/Llama-3.1-8B-Instruct", ""),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": (
        "Qwen/Qwen2.5-14B-Instruct",
        "a Qwen2.5-14B fine-tune (same config shapes: 48 layers, 5120 hidden, 8 KV heads, vocab 152064)",
    ),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": (
        "Qwen/Qwen2.5-7B-Instruct",
        "a Qwen2.5-Math-7B fine-tune (28 layers, 3584 hidden, 4 KV heads, vocab 152064: Qwen2.5-7B's shapes)",
    ),
    "openai/gpt-oss-120b": ("openai/gpt-oss-120b", ""),
    "openai/gpt-oss-20b": ("openai/gpt-oss-20b", ""),
    "unsloth/Llama-3.2-3B-Instruct": ("meta-llama/Llama-3.2-3B-Instruct", "Unsloth's re-upload"),
    "unsloth/phi-4-bnb-4bit": ("microsoft/phi-4", "Unsloth's bitsandbytes copy"),
    "unsloth/Qwen3-8B-FP8": ("Qwen/Qwen3-8B", "Unsloth's fp8 copy"),
    "unsloth/Llama-3.2-1B-Instruct-FP8-Block": ("meta-llama/Llama-3.2-1B-Instruct", "Unsloth's fp8 copy"),
    "unsloth/mistral-7b-instruct-v0.3-bnb-4bit": ("mistralai/Mistral-7B-Instruct-v0.3", "Unsloth's bnb copy"),
    "unsloth/meta-llama-3.1-8b-instruct-unsloth-bnb-4bit": ("meta-llama/Llama-3.1-8B-Instruct", "Unsloth's bnb copy"),
    "unsloth/Qwen3-4B-Base": ("Qwen/Qwen3-4B", "the base model of Qwen3-4B (same config shapes)"),
    "unsloth/qwen2.5-3b-instruct-unsloth-bnb-4bit": ("Qwen/Qwen2.5-3B-Instruct", "Unsloth's bnb copy"),
    "unsloth/DeepSeek-R1-0528-Qwen3-8B": ("Qwen/Qwen3-8B", "a Qwen3-8B fine-tune (same config shapes)"),
    "cyankiwi/gemma-4-26B-A4B-it-qat-AWQ-INT4": ("google/gemma-4-26B-A4B", "an AWQ copy of the instruct model"),
    "RedHatAI/gemma-4-26B-A4B-it-NVFP4": ("google/gemma-4-26B-A4B", "an NVFP4 copy of the instruct model"),
    "Qwen/QwQ-32B": (
        "Qwen/Qwen2.5-32B-Instruct",
        "built on Qwen2.5-32B (64 layers, 5120 hidden, 8 KV heads, vocab 152064)",
    ),
    "Qwen/Qwen2.5-14B-Instruct": ("Qwen/Qwen2.5-14B-Instruct", ""),
    "Qwen/Qwen2.5-Coder-7B-Instruct": (
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen2.5-Coder-7B has Qwen2.5-7B's shapes (28 layers, 3584 hidden, 4 KV heads, vocab 152064)",
    ),
    "Qwen/Qwen2.5-3B-Instruct": ("Qwen/Qwen2.5-3B-Instruct", ""),
    "meta-llama/Llama-3.3-70B-Instruct": ("meta-llama/Llama-3.3-70B-Instruct", ""),
    "unsloth/qwen2.5-vl-7b-instruct-unsloth-bnb-4bit": (
        "Qwen/Qwen2.5-7B-Instruct",
        "the language model of Qwen2.5-VL-7B has Qwen2.5-7B's shapes",
    ),
    "Qwen/Qwen3-235B-A22B-FP8": ("Qwen/Qwen3-235B-A22B", "the official fp8 checkpoint"),
    "Qwen/Qwen2.5-7B-Instruct-AWQ": ("Qwen/Qwen2.5-7B-Instruct", "the official AWQ checkpoint"),
    "meta-llama/Llama-3.2-3B": ("meta-llama/Llama-3.2-3B-Instruct", "the base model (same config shapes)"),
    "Qwen/Qwen3-14B": ("Qwen/Qwen3-14B", ""),
    "Qwen/Qwen2-7B-Instruct": (
        "Qwen/Qwen2.5-7B-Instruct",
        "Qwen2-7B has Qwen2.5-7B's shapes (28 layers, 3584 hidden, 18944 intermediate, 4 KV heads, vocab 152064)",
    ),
    "google/gemma-3-12b-it": (
        "google/gemma-3-12b-it",
        "inferred by the collectors from the layer count, projector and KV size (the log does not name it)",
    ),
    "nvidia/Nemotron-3-Nano-Omni-30B-A3B-Reasoning": (
        "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
        "the Omni model's language model is Nemotron 3 Nano 30B-A3B",
    ),
    "Qwen/Qwen3.5-35B-A3B": ("Qwen/Qwen3.5-35B-A3B", ""),
    "Qwen/Qwen2.5-14B-Instruct-AWQ": ("Qwen/Qwen2.5-14B-Instruct", "the official AWQ checkpoint"),
    "microsoft/Phi-3-mini-4k-instruct": (
        "microsoft/Phi-3.5-mini-instruct",
        "Phi-3-mini has Phi-3.5-mini's shapes (32 layers, 3072 hidden, 32 KV heads, vocab 32064); 4K context",
    ),
    "RedHatAI/Llama-3.3-70B-Instruct-FP8-dynamic": ("meta-llama/Llama-3.3-70B-Instruct", "an fp8 copy"),
    "Qwen/Qwen3-0.6B": ("Qwen/Qwen3-0.6B", ""),
    "Qwen/Qwen3-32B": ("Qwen/Qwen3-32B", ""),
    "mistralai/Mistral-Small-3.2-24B-Instruct-2506": (
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        "3.2 is a fine-tune of 3.1 (same text and vision shapes)",
    ),
    "cognitivecomputations/DeepSeek-V3-0324-AWQ": ("deepseek-ai/DeepSeek-V3", "an AWQ copy of V3-0324 (V3's shapes)"),
    "deepseek-ai/DeepSeek-V3.2-Exp": ("deepseek-ai/DeepSeek-V3.2", "V3.2-Exp has V3.2's shapes (MLA + indexer)"),
    "deepseek-ai/DeepSeek-V4-Pro": ("deepseek-ai/DeepSeek-V4-Pro", ""),
}

# Rows of which only some figures can be recomputed: model prefix -> {figure: why not}.
PARTIAL = {
    "unsloth/qwen2.5-vl-7b": {
        "weights": "its vision tower (16-bit) is outside the catalog's Qwen2.5-7B",
        "kv_pool": "its activation peak is the vision encoder's profile run",
    },
    "meta-llama/Llama-3.3-70B-Instruct (target": {
        "weights": "a draft model shares the GPU (speculative decoding)",
        "kv_pool": "a draft model shares the GPU and the fraction is not printed; the pool is the target's (its "
        "per-token size is the 70B's)",
    },
}

# Printed figures read from the log line itself where the collectors' column holds a part of it: key -> {figure:
# (GiB, the log line)}.
PRINTED_FROM_EXCERPT = {
    "engine_logs:26": {
        "kv_pool": (
            72 / 1024,
            "llama_kv_cache: size = 72.00 MiB (2048 cells, 36 layers): the whole "
            "cache; the column's 68 MiB is the share of the 35 offloaded layers",
        )
    },
}

# Rows no figure of which can be recomputed, by why. Matched on the model column's start.
UNEVALUABLE = {
    "meta-llama/Llama-3.2-11B-Vision": "vision model outside the catalog (mllama); its 36.6 GiB activation peak is "
    "the vision encoder's profile of 128 images",
    "poolside/Laguna": "speculative decoding with a draft model (DFlash) and a model outside the catalog",
    "unidentified": "the log does not name the model",
    "google/gemma-4-E4B-it": "gemma-4 E4B (per-layer embeddings, KV shared across layers) is outside the catalog",
}


@dataclass(frozen=True)
class LogRow:
    """One engine start as the collectors wrote it down (GiB figures as printed)."""

    key: str  # file stem and 1-based data row, e.g. engine_logs_extra:6
    raw: dict[str, str]

    def text(self, name: str) -> str:
        return (self.raw.get(name) or "").strip()

    def number(self, name: str) -> float | None:
        m = re.match(r"-?[0-9][0-9.,]*", self.text(name).replace(",", ""))
        return float(m.group(0)) if m else None

    @property
    def engine(self) -> str:
        first = self.text("engine").split()[0].lower()
        return "vllm" if first.startswith("vllm") else first

    @property
    def label(self) -> str:
        return f"{self.key} {self.engine} {self.text('model').split(' ')[0]} on {self.text('gpu').split(' ')[0]}"


@dataclass
class LogCase:
    """A log row with llmplan's figures beside the printed ones (bytes; tokens as printed)."""

    row: LogRow
    reason: str | None = None  # why no figure could be recomputed (the row is left out)
    engine_version: str | None = None  # the modelled rule set the row ran with
    model_id: str | None = None
    gpu: str | None = None
    quant: str | None = None
    printed: dict[str, float] = field(default_factory=dict)  # weights, kv_pool, kv_tokens
    computed: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # figure -> why it is not compared
    notes: list[str] = field(default_factory=list)
    deployment: object = None

    @property
    def evaluated(self) -> bool:
        return self.reason is None and bool(self.computed)

    def error(self, what: str) -> float | None:
        """Relative error of llmplan's figure against the printed one (None where not both)."""
        if what not in self.printed or what not in self.computed:
            return None
        p = self.printed[what]
        return (self.computed[what] - p) / abs(p) if p else None


def load_rows(folder: Path = LOG_DIR) -> list[LogRow]:
    rows: list[LogRow] = []
    for name in LOG_FILES:
        path = folder / name
        with path.open(encoding="utf-8", newline="") as fh:
            for i, raw in enumerate(csv.DictReader(fh), start=1):
                rows.append(LogRow(f"{path.stem}:{i}", raw))
    return rows


def _gpu_id(row: LogRow) -> str | None:
    text = row.text("gpu").lower()
    if text.startswith("unidentified") or text.startswith("80gb-class"):
        return None
    head = text.split(" ")[0]
    if "pcie" in row.text("notes").lower() and head.startswith("h100"):
        return "h100-pcie"
    return GPU_IDS.get(head)


def _quant(row: LogRow) -> str | None:
    q = row.text("quant").lower()
    gguf = re.match(r"(?:ud-)?(q[0-9]_[0-9a-z_]+)", q)
    if gguf:
        name = gguf.group(1)
        return "q4_k_m" if name == "q4_k_xl" else name
    for prefix, name in (
        ("bnb-4bit", "bnb-nf4"),
        ("mxfp4", "mxfp4"),
        ("nvfp4", "nvfp4"),
        ("awq", "awq"),
        ("fp8", "fp8"),
        ("fp16", "fp16"),
        ("bf16", "bf16"),
    ):
        if q.startswith(prefix):
            return name
    return None


def _model(row: LogRow) -> tuple[str | None, str]:
    text = row.text("model")
    for prefix, why in UNEVALUABLE.items():
        if text.startswith(prefix):
            return None, why
    name = re.sub(r" \((?:GGUF|engine config|inferred|target)[^)]*\)?.*$", "", text).strip()
    name = name.split(" (")[0].strip()
    if name not in MODEL_IDS:
        return None, f"model {name!r} has no catalog entry"
    return MODEL_IDS[name]


def _int(value: float | None) -> int | None:
    return int(value) if value is not None and value > 0 else None


def rule_version(row: LogRow) -> str:
    """The engine release the row ran, as `--engine-version` takes it (backend-qualified for TensorRT-LLM)."""
    from llmplan.engines.memory_rules import version_from_log

    return version_from_log(row.engine, row.text("engine") + " " + row.text("engine_version"))


def _printed_figures(row: LogRow, case: LogCase) -> None:
    """The engine's own figures: from the row's columns, or from the excerpt where only it has them."""
    for what, column in (("weights", "weights_gib_per_gpu"), ("kv_pool", "kv_cache_gib_per_gpu")):
        value = row.number(column)
        if value is not None:
            case.printed[what] = value * GIB
    for what, (gib, line) in PRINTED_FROM_EXCERPT.get(row.key, {}).items():
        case.printed[what] = gib * GIB
        case.notes.append(line)
    tokens = row.number("kv_cache_tokens")
    if tokens is not None:
        case.printed["kv_tokens"] = tokens


def _engine_settings(row: LogRow, version: str) -> dict:
    """The row's memory flags under the names `EngineSettings` takes for its engine."""
    fraction = row.number("memory_fraction")
    max_seqs = _int(row.number("max_num_seqs"))
    batched = _int(row.number("max_num_batched_tokens"))
    settings: dict = dict(engine_version=version)
    if row.engine == "vllm":
        settings.update(gpu_memory_utilization=fraction, max_num_seqs=max_seqs, max_num_batched_tokens=batched)
    elif row.engine == "sglang":
        settings.update(
            mem_fraction_static=fraction,
            max_num_seqs=max_seqs,
            max_num_batched_tokens=batched if batched and batched > 0 else None,
        )
    elif row.engine == "tensorrt-llm":
        settings.update(free_gpu_memory_fraction=fraction, max_num_seqs=max_seqs, max_num_batched_tokens=batched)
    else:
        settings.update(parallel=_int(row.number("llamacpp_parallel")))
    return settings


def _log_deployment(row: LogRow, catalog: Catalog, case: LogCase):
    """The deployment the row started, or None with `case.reason` saying why llmplan refuses it."""
    from dataclasses import replace

    from llmplan.engines.memory_rules import EngineSettings
    from llmplan.errors import LlmplanError
    from llmplan.plans.deploy import build_deployment

    engine = row.engine
    layer_split = engine in ("llama.cpp", "ollama")
    count = int(row.number("gpu_count") or 1) if layer_split else int(row.number("tensor_parallel") or 1)
    context = _int(row.number("max_model_len"))
    concurrency = 1
    if layer_split:
        slots = _int(row.number("llamacpp_parallel")) or 1
        context = max(1, (_int(row.number("llamacpp_ctx")) or 4096) // slots)
        concurrency = slots
    dp_attention = "dp-attention" in row.text("tensor_parallel") + row.text("notes")
    try:
        dep, _ = build_deployment(
            catalog,
            case.model_id,
            # a stand-in where the GPU is unnamed: only GPU-free figures are kept
            gpu=f"{count}x{case.gpu or 'h100-sxm'}",
            quant=case.quant,
            engine=engine,
            kv_dtype="fp8" if row.text("kv_dtype").lower().startswith("fp8") else None,
            context=context,
            concurrency=concurrency,
            settings=EngineSettings(**_engine_settings(row, case.engine_version)),
            dp_attention=dp_attention,
            expert_parallel=dp_attention,
        )
    except LlmplanError as exc:
        case.reason = f"llmplan refuses the deployment: {exc}"
        return None
    if context is None:
        # the engine's default max_model_len: the model's own (Llama 3 8B: 8192)
        default = 8192 if row.text("model").startswith("meta-llama/Meta-Llama-3-8B") else dep.model.max_context
        dep = replace(dep, context=default)
    return dep


def _computed_figures(row: LogRow, case: LogCase, dep) -> None:
    """llmplan's weights, KV pool and token figures, less those the row cannot be compared on."""
    from llmplan.core.fit import kv_pool, memory_plan, tokens_for_pool

    plan = memory_plan(dep)
    pool = kv_pool(dep, plan)
    case.computed["weights"] = plan.weights_per_gpu
    if "kv_pool" in case.skipped:
        pass
    elif case.gpu is None:
        case.skipped["kv_pool"] = "the log does not name the GPU"
    elif dep.gpu.kind == "unified" and row.engine == "tensorrt-llm":
        case.skipped["kv_pool"] = (
            "unified memory shared with the OS: TensorRT-LLM's fraction applies to what the OS left free at that moment"
        )
    else:
        # a failed start prints what the budget left, negative included
        case.computed["kv_pool"] = pool.bytes if pool.bytes > 0 or dep.engine.budget == "buffers" else plan.kv_free
        case.computed["kv_tokens"] = pool.tokens_printed
    if "kv_tokens" not in case.computed and "kv_pool" in case.printed:
        # the token figure the engine prints for the pool it printed (per-token bytes and block rounding)
        case.computed["kv_tokens"] = tokens_for_pool(dep, case.printed["kv_pool"])
        case.notes.append("kv_tokens computed from the printed pool")
    if "cpu_offload_gb" in row.text("log_excerpt") or "cpu-offload-gb" in row.text("notes"):
        case.skipped["weights"] = "--cpu-offload-gb moved weights to host memory (not modelled)"
    if not dep.engine.tensor_parallel and int(row.number("gpu_count") or 1) > 1:
        case.skipped["weights"] = "per-GPU figures of a layer split differ by GPU; the row gives both"
    for what in case.skipped:
        case.computed.pop(what, None)


def evaluate(row: LogRow, catalog: Catalog) -> LogCase:
    """Build the deployment the row describes and compute llmplan's figures for it."""
    case = LogCase(row)
    model_id, why = _model(row)
    if model_id is None:
        case.reason = why
        return case
    if why:
        case.notes.append(why)
    case.model_id = model_id
    for prefix, figures in PARTIAL.items():
        if row.text("model").startswith(prefix):
            case.skipped.update(figures)
    case.gpu = _gpu_id(row)
    case.quant = _quant(row)
    case.engine_version = rule_version(row)
    _printed_figures(row, case)
    dep = _log_deployment(row, catalog, case)
    if dep is None:
        return case
    case.deployment = dep
    _computed_figures(row, case, dep)
    return case


def evaluate_all(catalog: Catalog | None = None, folder: Path = LOG_DIR) -> list[LogCase]:
    catalog = catalog or Catalog(include_user=False)
    return [evaluate(row, catalog) for row in load_rows(folder)]
