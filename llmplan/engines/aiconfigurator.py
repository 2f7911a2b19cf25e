"""Optional estimator: NVIDIA aiconfigurator-core (the `aiconfigurator` extra).

aiconfigurator-core (Apache-2.0) composes a serving step from kernel timings NVIDIA measured on real GPUs
(GEMM, attention, MoE, all-reduce...) per engine version, and schedules continuous batching on top. It covers
NVIDIA datacenter GPUs with TensorRT-LLM, vLLM and SGLang, and the model architectures it knows. The first
estimate of a run costs 1-3 s (it loads the GPU's tables and builds the model), later ones milliseconds; sweeps
and searches still use the analytic model unless this one is asked for by name.

Imported lazily: nothing here touches aiconfigurator_core until `coverage` or `estimate` is called.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from llmplan.errors import InputError

INSTALL_HINT = "pip install 'llmplan[aiconfigurator]'"

# llmplan catalog GPU id -> aiconfigurator system name (its silicon tables are per system).
SYSTEMS = {
    "a100-80gb": "a100_sxm",
    "h100-sxm": "h100_sxm",
    "h200": "h200_sxm",
    "b200": "b200_sxm",
    "b300": "b300_sxm",
    "gb200": "gb200",
    "l40s": "l40s",
    "rtx-pro-6000": "rtx_pro_6000_server",
}
BACKENDS = {"tensorrt-llm": "trtllm", "vllm": "vllm", "sglang": "sglang"}
# llmplan weight format -> aiconfigurator GEMM/MoE quant mode; formats absent here are not covered.
QUANT_MODES = {"bf16": "bfloat16", "fp16": "bfloat16", "fp8": "fp8", "nvfp4": "nvfp4"}
KV_MODES = {"bf16": "bfloat16", "fp16": "bfloat16", "fp8": "fp8"}


@dataclass(frozen=True)
class AicEstimate:
    """One serving point as aiconfigurator estimates it (per replica)."""

    ttft_s: float
    decode_tokens_per_s: float  # per user: 1 / time per output token
    throughput_tokens_per_s: float  # output tokens/s of the replica
    request_latency_s: float
    prefill_tokens_per_s: float
    system: str
    backend: str
    database_version: str


# aiconfigurator-core 0.12 is the last release under that name; NVIDIA ships the same SDK as `aisimulate`
# (import aisimulate_core, same calls). Whichever is installed is used.
PACKAGES = ("aiconfigurator_core", "aisimulate_core")


def _package() -> str | None:
    return next((p for p in PACKAGES if importlib.util.find_spec(p) is not None), None)


def installed() -> bool:
    return _package() is not None


def _sdk(module: str):
    """`sdk.<module>` of whichever package is installed."""
    return importlib.import_module(f"{_package()}.sdk.{module}")


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("aiconfigurator-core", "aisimulate"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return "aiconfigurator"


@contextmanager
def _quiet():
    """aiconfigurator logs every fallback at INFO/WARNING; llmplan reports its own warnings."""
    logger = logging.getLogger(_package() or PACKAGES[0])
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@lru_cache(maxsize=None)
def _database_version(system: str, backend: str) -> str | None:
    with _quiet():
        return _sdk("perf_database").get_latest_database_version(system=system, backend=backend)


@lru_cache(maxsize=None)
def _database(system: str, backend: str, version: str):
    with _quiet():
        return _sdk("perf_database").get_database_view(
            system, backend, version, allow_missing_data=False, database_mode="SILICON"
        )


def _model_path(model_id: str, config: dict[str, Any] | None) -> str | None:
    """A path aiconfigurator can read offline: its bundled copy of the model's config.json, else the
    catalog's config written to a cache folder. None when neither exists (it would reach for the hub)."""
    if model_id in _sdk("common").DefaultHFModels:
        return model_id
    if not config or "architectures" not in config:
        return None
    folder = _private_folder(model_id.replace("/", "--"))
    path = folder / "config.json"
    text = json.dumps(config, sort_keys=True)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        tmp = folder / f"config.json.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    return str(folder)


def _private_folder(name: str):
    """`<user cache>/aiconfigurator/<name>`, created by this user without following a symlink planted there."""
    from llmplan.textfiles import cache_dir

    folder = cache_dir() / "aiconfigurator" / name
    for part in (folder.parent.parent, folder.parent, folder):
        if part.is_symlink():
            raise InputError(
                f"--perf-model aiconfigurator: {part} is a symbolic link; remove it (the model "
                "configs written there must not follow links)"
            )
        part.mkdir(mode=0o700, exist_ok=True)
    return folder


def _architecture_supported(model_path: str) -> bool:
    try:
        with _quiet():
            _sdk("models").get_model_family(model_path)
        return True
    except Exception:  # an architecture it does not model
        return False


def coverage(dep, config: dict[str, Any] | None = None) -> str | None:
    """None when aiconfigurator covers this deployment (GPU, engine, format, model), else why not."""
    if not installed():
        return f"aiconfigurator-core (or aisimulate) is not installed ({INSTALL_HINT})"
    system = SYSTEMS.get(dep.gpu_id)
    if system is None:
        return f"aiconfigurator has no measurements for {dep.gpu_id}"
    backend = BACKENDS.get(dep.engine.name)
    if backend is None:
        return f"aiconfigurator does not model {dep.engine.name} (only {', '.join(BACKENDS)})"
    if _database_version(system, backend) is None:
        return f"aiconfigurator has no {dep.engine.name} measurements on {dep.gpu_id}"
    if dep.fmt.name not in QUANT_MODES or dep.kv_dtype not in KV_MODES:
        return f"aiconfigurator does not model {dep.fmt.name} weights with a {dep.kv_dtype} cache"
    path = _model_path(dep.model.id, config)
    if path is None or not _architecture_supported(path):
        return f"aiconfigurator does not model {dep.model.id}"
    return None


def _model_config(dep, dp_attention: bool):
    """Layout: tensor parallel over the GPUs; expert parallel puts the experts across them, and with attention
    data parallel each GPU runs attention for its own sequences (SGLang --enable-dp-attention)."""
    build_model_config = _sdk("config_builders").build_model_config
    n = dep.n_gpus if dep.engine.tensor_parallel else 1
    moe = dep.model.is_moe
    ep = n if (moe and dep.expert_parallel) else 1
    tp, dp = (1, n) if (moe and dp_attention) else (n, 1)
    quant = None if dep.fmt.name == dep.model.native_quant else QUANT_MODES[dep.fmt.name]
    return build_model_config(
        tp,
        1,
        dp,
        (tp * dp) // ep if moe else None,
        ep if moe else None,
        gemm_quant_mode=quant,
        moe_quant_mode=quant if moe else None,
        kvcache_quant_mode=KV_MODES[dep.kv_dtype],
    )


def estimate(
    dep,
    config: dict[str, Any] | None,
    concurrency: int,
    *,
    dp_attention: bool | None = None,
) -> AicEstimate:
    """aiconfigurator's serving estimate at `concurrency` requests in flight (per replica). Raises InputError
    (one line) when the deployment is not covered or aiconfigurator rejects it."""
    reason = coverage(dep, config)
    if reason is not None:
        raise InputError(f"--perf-model aiconfigurator: {reason}")
    if dp_attention is None:
        dp_attention = bool(dep.dp_attention)
    system, backend = SYSTEMS[dep.gpu_id], BACKENDS[dep.engine.name]
    version = _database_version(system, backend) or ""  # coverage() made sure there is one
    try:
        result = _run_agg(dep, config, concurrency, dp_attention, system, backend, version)
    except InputError:
        raise
    except Exception as exc:  # its own validation (layouts, quant modes the tables lack)
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"--perf-model aiconfigurator: it rejected this deployment ({text})") from None
    return result


def _run_agg(dep, config, concurrency: int, dp_attention: bool, system: str, backend: str, version: str) -> AicEstimate:
    get_backend = _sdk("backends.factory").get_backend
    RuntimeConfig = _sdk("config").RuntimeConfig
    get_model = _sdk("models").get_model
    helpers = _sdk("models.helpers")
    resolve_context_fmha_by_data, resolve_nvfp4_for_system = (
        helpers.resolve_context_fmha_by_data,
        helpers.resolve_nvfp4_for_system,
    )
    path = _model_path(dep.model.id, config)
    database = _database(system, backend, version)
    model_config = _model_config(dep, dp_attention)
    # with attention data parallel each rank batches its own share of the users
    per_rank = max(1, math.ceil(concurrency / model_config.attention_dp_size))
    with _quiet():
        resolve_context_fmha_by_data(model_config, path, database, backend, is_context_role=True)
        resolve_nvfp4_for_system(model_config, system, path, backend_name=backend)
        model = get_model(path, model_config, backend)
        runtime = RuntimeConfig(isl=dep.input_tokens, osl=dep.output_tokens, batch_size=per_rank)
        summary = get_backend(backend).run_agg(model, database, runtime, ctx_tokens=dep.input_tokens)
    if summary.check_oom():
        raise InputError(
            f"--perf-model aiconfigurator: it finds the model does not fit on {dep.n_gpus}x "
            f"{dep.gpu_id} at concurrency {concurrency}"
        )
    row = summary.get_result_dict()
    ttft_s = float(row["ttft"]) / 1e3
    # it runs `per_rank` sequences on every attention rank; with fewer users than ranks the idle ranks produce
    # nothing, so the aggregate is that of the sequences that exist
    simulated = per_rank * model_config.attention_dp_size
    return AicEstimate(
        ttft_s=ttft_s,
        decode_tokens_per_s=1e3 / float(row["tpot"]),
        throughput_tokens_per_s=float(row["tokens/s"]) * min(1.0, concurrency / simulated),
        request_latency_s=float(row["request_latency"]) / 1e3,
        prefill_tokens_per_s=dep.input_tokens / ttft_s if ttft_s > 0 else float("nan"),
        system=system,
        backend=backend,
        database_version=version,
    )
