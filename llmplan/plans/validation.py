"""Run the estimates over published measurements and report the errors.

Used by tests/test_accuracy.py (with explicit bounds) and benchmarks/accuracy_report.py.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from llmplan.catalog.loader import Catalog
from llmplan.core import memory as mem
from llmplan.core.fit import Deployment, full_load_concurrency
from llmplan.core.hardware import hardware_for
from llmplan.core.performance import (
    decode_step_seconds,
    model_cost,
    prefill_seconds,
    serve,
)
from llmplan.plans.deploy import build_deployment

# The calibration README states that TensorRT-LLM's MoE rows used expert parallelism (degree unstated):
# multi-GPU TensorRT-LLM rows are evaluated with --expert-parallel (a no-op for dense models).
# ShareGPT prompts average about 220 tokens in vLLM/SGLang's offline benchmarks (the rows give only the
# output mean, 194): the one assumption the evaluation adds to a row.
SHAREGPT_MEAN_INPUT = 220

PREDICTED_KINDS = ("decode_tps_bs1", "prefill_tps", "max_throughput_tps", "weights_bytes", "throughput_tps")


@dataclass(frozen=True)
class Evaluated:
    kind: str
    engine: str
    gpu: str
    gpu_count: int
    model: str
    quant: str
    input_tokens: int
    output_tokens: int
    measured: float
    predicted: float

    @property
    def error(self) -> float:
        """Signed relative error of the prediction."""
        return self.predicted / self.measured - 1.0


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _quant(name: str) -> str:
    return "fp16" if name == "f16" else name


def _int(value: str, default: int = 0) -> int:
    return int(float(value)) if value not in ("", None) else default


def evaluate_row(row: dict[str, str], catalog: Catalog) -> Evaluated | None:
    kind = row["kind"]
    if kind not in PREDICTED_KINDS:
        return None
    n = _int(row["gpu_count"], 1)
    gpu = row["gpu"] or "h100-sxm"
    inp = _int(row["input_tokens"])
    out = _int(row["output_tokens"])
    ctx = _int(row["context"], 4096)
    engine = row["engine"]
    measured = float(row["value"])
    if kind == "weights_bytes":
        dep, _ = build_deployment(catalog, row["model"], gpu=f"{n}x{gpu}", quant=_quant(row["quant"]),
                                  engine=engine, context=ctx)
        predicted = mem.weights_bytes(dep.model, dep.fmt) / n
    elif kind in ("decode_tps_bs1", "prefill_tps"):
        tokens = out if kind == "decode_tps_bs1" else inp
        dep, _ = build_deployment(catalog, row["model"], gpu=f"{n}x{gpu}", quant=_quant(row["quant"]),
                                  engine=engine, context=max(ctx, tokens), input_tokens=max(inp, 1),
                                  output_tokens=max(out, 1), kv_dtype=_kv(row))
        predicted = _single_stream(dep, kind, tokens)
    else:
        if not inp:
            inp = SHAREGPT_MEAN_INPUT
        dep, _ = build_deployment(catalog, row["model"], gpu=f"{n}x{gpu}", quant=_quant(row["quant"]),
                                  engine=engine, context=max(ctx, inp + out), input_tokens=inp,
                                  output_tokens=out, concurrency="max" if kind == "max_throughput_tps"
                                  else _int(row["concurrency"], 1), kv_dtype=_kv(row),
                                  expert_parallel=engine == "tensorrt-llm" and n > 1)
        predicted = _throughput(dep)
    return Evaluated(kind, engine, gpu, n, row["model"], row["quant"], inp, out, measured, float(predicted))


def _kv(row: dict[str, str]) -> str | None:
    """The row's cache dtype; NVIDIA ModelOpt fp8/nvfp4 checkpoints set kv_cache_quant_algo FP8."""
    kv = row.get("kv_dtype") or ""
    if not kv and "ModelOpt" in (row.get("notes") or ""):
        return "fp8"
    return {"f16": "fp16"}.get(kv, kv) or None


def _single_stream(dep: Deployment, kind: str, tokens: int) -> float:
    cost = model_cost(dep.model, dep.fmt)
    hw = hardware_for(dep.gpu, dep.fmt, dep.n_gpus, dep.host_bandwidth, dep.expert_parallel)
    if kind == "decode_tps_bs1":
        # llama-bench tg N: N tokens from an empty cache, so the cache holds N/2 tokens on average
        step = decode_step_seconds(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, 1, tokens / 2.0)
        return 1.0 / float(step)
    return tokens / float(prefill_seconds(cost, dep.engine, hw, tokens))


def _throughput(dep: Deployment) -> float:
    concurrency = dep.concurrency if dep.concurrency is not None else full_load_concurrency(dep)
    dep = replace(dep, concurrency=max(concurrency, 1))
    cost = model_cost(dep.model, dep.fmt)
    hw = hardware_for(dep.gpu, dep.fmt, dep.n_gpus, dep.host_bandwidth, dep.expert_parallel)
    out = serve(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, dep.concurrency, dep.input_tokens,
                dep.output_tokens)
    return float(out.throughput_tokens_per_s)


def evaluate_file(path: Path, catalog: Catalog | None = None) -> list[Evaluated]:
    catalog = catalog or Catalog(include_user=False)
    results = []
    for row in read_rows(path):
        ev = evaluate_row(row, catalog)
        if ev is not None:
            results.append(ev)
    return results


def summarize(results: list[Evaluated], key) -> dict[str, dict[str, float]]:
    import numpy as np

    groups: dict[str, list[float]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(abs(r.error))
    return {
        k: {"rows": len(v), "median_abs_error": float(np.median(v)), "max_abs_error": float(np.max(v))}
        for k, v in sorted(groups.items())
    }
