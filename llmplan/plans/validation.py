"""The performance model against published measurements: evaluation, refit and cross-validation.

Every calibration file in tests/data/calibration/ is read into one kind of row. Each row becomes a deployment
and the step times its figure is made of (decode step, the batch's prefill chunks, one prompt alone). Step
times are affine in the global constants (core/speed_constants.py, as `SpeedConstants.linear()`), so they
are computed once per basis vector and any set of constants predicts every row with a matrix product and the
same serving arithmetic the CLI uses (`serving_from_steps`). That makes refitting without a GPU, model or
source take milliseconds: `cross_validate` does it for every group.

Used by tests/test_accuracy.py (with explicit bounds), benchmarks/accuracy_report.py and
benchmarks/fit_speed.py.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from llmplan.catalog.loader import Catalog
from llmplan.core import memory as mem
from llmplan.core.fit import Deployment, deployment_hardware, full_load_concurrency
from llmplan.core.performance import StepTimes, model_cost, serving_from_steps, serving_steps
from llmplan.core.speed_constants import SpeedConstants, speed_constants
from llmplan.errors import LlmplanError
from llmplan.plans.deploy import build_deployment

# ShareGPT prompts average about 220 tokens in vLLM/SGLang's offline benchmarks (the rows give only the
# output mean, 194): the one assumption the evaluation adds to a row.
SHAREGPT_MEAN_INPUT = 220
KINDS = ("decode_bs1", "prefill", "full_load", "output_per_gpu", "per_user", "ttft")
SPEED_KINDS = KINDS


@dataclass(frozen=True)
class CalRow:
    """One published figure, in the evaluation's terms."""

    kind: str  # one of KINDS, or weights_bytes
    measured: float
    engine: str
    gpu: str
    gpu_count: int
    model: str
    quant: str
    input_tokens: int
    output_tokens: int
    concurrency: int | None  # None: full load (the engine chose)
    source: str  # the publication (repository + page, or site)
    file: str
    kv_dtype: str | None = None
    expert_parallel: bool = False
    dp_attention: bool = False
    llama_bench: bool = False  # llama-bench tg/pp: an isolated kernel loop, no request around it
    url: str = ""
    in_process: bool = False  # measured inside the engine's process (no HTTP server, pre-tokenized requests)

    @property
    def moe(self) -> bool:
        return (
            "a3b" in self.model.lower()
            or "a22b" in self.model.lower()
            or any(s in self.model.lower() for s in ("deepseek", "mixtral", "llama-4", "gpt-oss"))
        )


@dataclass(frozen=True)
class Skipped:
    file: str
    line: int
    reason: str


@dataclass
class Evaluated:
    row: CalRow
    predicted: float

    @property
    def error(self) -> float:
        """Signed relative error of the prediction."""
        return self.predicted / self.row.measured - 1.0

    def __getattr__(self, name):  # row fields read through (r.kind, r.gpu, ...)
        return getattr(self.row, name)


# ------------------------------------------------------------------------------------------- reading


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def source_of(url: str) -> str:
    """The publication a URL belongs to: a repository's page (any commit), an issue thread, or a site."""
    url = url.strip().split()[0] if url.strip() else ""
    m = re.match(r"https?://github\.com/([^/]+/[^/]+)/(blob|tree)/[^/]+/(.+?)(#.*)?$", url)
    if m:
        return f"{m.group(1)}:{m.group(3)}"
    m = re.match(r"https?://github\.com/([^/]+/[^/]+)/(issues|pull|discussions)/(\d+)", url)
    if m:
        return f"{m.group(1)}#{m.group(3)}"
    m = re.match(r"https?://github\.com/([^/]+/[^/]+)", url)
    if m:
        return m.group(1)
    m = re.match(r"https?://([^/]+)", url)
    return m.group(1) if m else url


def _int(value: str | None, default: int = 0) -> int:
    return int(float(value)) if value not in ("", None) else default


def _quant(name: str) -> str:
    return "fp16" if name == "f16" else name


def _kv(row: dict[str, str]) -> str | None:
    """The row's cache dtype. NVIDIA's ModelOpt fp8/nvfp4 checkpoints, which TensorRT-LLM's perf-overview
    pages benchmark, set kv_cache_quant_algo FP8."""
    kv = row.get("kv_dtype") or ""
    modelopt = "ModelOpt" in (row.get("notes") or "") or (
        row["engine"] == "tensorrt-llm" and row["quant"] in ("fp8", "nvfp4") and "perf-overview" in row["source"]
    )
    if not kv and modelopt:
        return "fp8"
    return {"f16": "fp16"}.get(kv, kv) or None


_QUANTITY_OF_KIND = {
    "decode_tps_bs1": "decode_bs1",
    "prefill_tps": "prefill",
    "max_throughput_tps": "full_load",
    "throughput_tps": "output_per_gpu",
    "tpot_s": "per_user",
    "ttft_s": "ttft",
    "weights_bytes": "weights_bytes",
}


def _measured_quantity(kind: str, value: float, unit: str, n_gpus: int, llama_bench: bool) -> tuple[str, float]:
    """The row's `kind` as the quantity the harness compares, in the harness's unit."""
    mapped = _QUANTITY_OF_KIND[kind]
    if kind == "tpot_s":
        value = 1.0 / value
    if kind in ("max_throughput_tps", "throughput_tps") and unit == "tokens/s/gpu":
        value *= n_gpus
    if kind == "throughput_tps":
        value /= n_gpus  # output tokens/s per GPU at a fixed concurrency
    if mapped == "prefill" and not llama_bench:
        mapped = "prefill_ttft"  # printed as prompt / TTFT by a serving benchmark
    return mapped, value


def _measurement_rows(path: Path) -> tuple[list[CalRow], list[Skipped]]:
    """measurements.csv and serving_measurements.csv (same core columns)."""
    rows, skipped = [], []
    for line, r in enumerate(read_csv(path), start=2):
        reason = _unusable(r)
        if reason:
            skipped.append(Skipped(path.name, line, reason))
            continue
        kind, value, unit = r["kind"], float(r["value"]), r.get("unit", "")
        n = _int(r["gpu_count"], 1)
        inp, out = _int(r["input_tokens"]), _int(r["output_tokens"])
        conc = _int(r["concurrency"]) or None
        bench = (
            r["engine"] in ("llama.cpp", "ollama") and conc in (None, 1) and kind in ("decode_tps_bs1", "prefill_tps")
        )
        mapped, value = _measured_quantity(kind, value, unit, n, bench)
        if kind == "max_throughput_tps" and not inp:
            inp = SHAREGPT_MEAN_INPUT
        ep = r.get("expert_parallel", "")
        # TensorRT-LLM 1.0's perf-overview ran its MoE models with --ep and enable_attention_dp (the page's
        # llm_options, quoted in serving_measurements.csv); measurements.csv copies the same tables
        multi_trt = r["engine"] == "tensorrt-llm" and n > 1 and "expert_parallel" not in r
        rows.append(
            CalRow(
                kind=mapped,
                measured=value,
                engine=r["engine"],
                gpu=r["gpu"],
                gpu_count=n,
                model=r["model"],
                quant=_quant(r["quant"] or ""),
                input_tokens=inp,
                output_tokens=out,
                concurrency=None if kind == "max_throughput_tps" else (conc or 1),
                source=source_of(r["source"]),
                file=path.name,
                kv_dtype=_kv(r),
                expert_parallel=multi_trt or _int(ep) > 1,
                dp_attention=multi_trt or (r.get("dp_attention") or "").lower() == "true",
                llama_bench=bench,
                url=r["source"],
                in_process=bench or _in_process(r),
            )
        )
    return rows, skipped


IN_PROCESS_MARKS = ("llama-bench", "trtllm-bench", "gptSessionBenchmark", "offline", "static engine")


def _in_process(r: dict[str, str]) -> bool:
    """Benchmarks that drive the engine from its own process: no HTTP, tokenizing or detokenizing per request."""
    text = f"{r.get('source', '')} {r.get('notes', '')}"
    return any(mark in text for mark in IN_PROCESS_MARKS)


def _unusable(r: dict[str, str]) -> str | None:
    if r["kind"] not in (
        "decode_tps_bs1",
        "prefill_tps",
        "max_throughput_tps",
        "throughput_tps",
        "tpot_s",
        "ttft_s",
        "weights_bytes",
    ):
        return f"kind {r['kind']} is not a figure the model predicts"
    if not r["gpu"] and r["kind"] != "weights_bytes":  # weights do not depend on the GPU
        return f"no catalog GPU id (device: {r.get('device') or 'not named'})"
    if not r.get("gpu_count"):
        return "GPU count not published"
    tp = _int(r.get("tensor_parallel"))
    n = _int(r["gpu_count"], 1)
    if tp and tp < n:
        return f"pipeline parallel (TP {tp} on {n} GPUs) is not a layout the model runs yet"
    if r["model"] in ("EleutherAI/gpt-j-6b", "tiiuae/falcon-180B"):
        return f"{r['model']} is not in the model catalog (GPT-J and Falcon architectures are not modelled)"
    if r["kind"] == "prefill_tps" and not _int(r["input_tokens"]):
        return "prompt length not published"
    return None


def _curve_rows(path: Path) -> tuple[list[CalRow], list[Skipped]]:
    """serving_curves.csv: the newest date of each configuration (older images are the same setup's noise)."""
    latest: dict[tuple, dict[str, str]] = {}
    for r in read_csv(path):
        key = (
            r["engine"],
            r["gpu"],
            r["gpu_count"],
            r["model"],
            r["quant"],
            r["tensor_parallel"],
            r["expert_parallel"],
            r["dp_attention"],
            r["input_tokens"],
            r["output_tokens"],
            r["concurrency"],
        )
        if key not in latest or r["date"] > latest[key]["date"]:
            latest[key] = r
    rows = []
    for r in latest.values():
        base = dict(
            engine=r["engine"],
            gpu=r["gpu"],
            gpu_count=_int(r["gpu_count"]),
            model=r["model"],
            quant=r["quant"],
            input_tokens=_int(r["input_tokens"]),
            output_tokens=_int(r["output_tokens"]),
            concurrency=_int(r["concurrency"]),
            source=source_of(r["source"]),
            file=path.name,
            expert_parallel=_int(r["expert_parallel"]) > 1,
            dp_attention=r["dp_attention"] == "true",
            url=r["source"],
        )
        for kind, col in (
            ("output_per_gpu", "output_tokens_per_s_per_gpu"),
            ("per_user", "tokens_per_s_per_user"),
            ("ttft", "median_ttft_s"),
        ):
            if r[col]:
                rows.append(CalRow(kind=kind, measured=float(r[col]), **base))
    return rows, []


def load_rows(folder: Path) -> tuple[list[CalRow], list[Skipped]]:
    rows, skipped = [], []
    for name, reader in (
        ("measurements.csv", _measurement_rows),
        ("serving_measurements.csv", _measurement_rows),
        ("serving_curves.csv", _curve_rows),
    ):
        if (folder / name).exists():
            got, left = reader(folder / name)
            rows += got
            skipped += left
    return rows, skipped


# ------------------------------------------------------------------------------------------- basis


@dataclass
class Basis:
    """Every evaluable row's step times as A + B @ constants.linear(), and what combines them."""

    rows: list[CalRow]
    decode: np.ndarray  # (rows, 1 + constants)
    prefill_all: np.ndarray
    alone: np.ndarray
    concurrency: np.ndarray
    batch: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    gpus: np.ndarray
    continuous: np.ndarray
    batch_tokens: np.ndarray
    penalty: np.ndarray
    request_index: np.ndarray  # which constant is each row's per-request time
    request_factor: np.ndarray  # 0 where the benchmark ran in-process (no per-request serving work)
    skipped: list[Skipped] = field(default_factory=list)


def _deployment(catalog: Catalog, row: CalRow) -> Deployment:
    inp, out = max(row.input_tokens, 1), max(row.output_tokens, 1)
    ctx = max(inp + out, 2048) if not row.llama_bench else max(inp, out, 512)
    dep, _ = build_deployment(
        catalog,
        row.model,
        gpu=f"{row.gpu_count}x{row.gpu}",
        quant=row.quant or None,
        engine=row.engine,
        context=ctx,
        input_tokens=inp,
        output_tokens=out,
        concurrency="max" if row.concurrency is None else row.concurrency,
        kv_dtype=row.kv_dtype,
        expert_parallel=row.expert_parallel and row.gpu_count > 1,
        dp_attention=row.dp_attention and row.expert_parallel and row.gpu_count > 1,
        offline=True,
    )
    return dep


def _faster_than_the_hardware(row: CalRow, dep: Deployment) -> bool:
    """A served TTFT (or prompt/TTFT rate) that implies more prompt FLOPs per second than the GPUs' tensor peak:
    the benchmark reused prompts and the engine's prefix cache answered, so it measures no prefill."""
    if row.kind not in ("ttft", "prefill_ttft") or row.llama_bench or row.input_tokens < 256:
        return False
    seconds = row.measured if row.kind == "ttft" else row.input_tokens / row.measured
    needed = 2.0 * dep.model.params_active * row.input_tokens
    return needed / seconds > deployment_hardware(dep).peak_flops_per_s * dep.n_gpus


def _request_shape(row: CalRow) -> tuple[float, float]:
    """(input, output) tokens the steps are evaluated at. llama-bench tg N decodes from an empty cache (mean
    context N/2); pp N prefills N tokens alone."""
    if row.llama_bench and row.kind == "decode_bs1":
        return 1.0, float(row.output_tokens)
    return float(max(row.input_tokens, 1)), float(max(row.output_tokens, 1))


def _evaluable(rows: list[CalRow], catalog: Catalog) -> tuple[list[CalRow], dict, dict, list[Skipped]]:
    """The rows that can be evaluated, grouped by the deployment they describe (built once per group)."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    deps: dict[tuple, Deployment] = {}
    keep: list[CalRow] = []
    skipped: list[Skipped] = []
    for row in rows:
        if row.kind == "weights_bytes":
            continue
        key = (
            row.model,
            row.quant,
            row.gpu,
            row.gpu_count,
            row.engine,
            row.kv_dtype,
            row.expert_parallel,
            row.dp_attention,
            row.llama_bench,
        )
        try:
            if key not in deps:
                deps[key] = _deployment(catalog, row)
        except LlmplanError as exc:
            skipped.append(Skipped(row.file, 0, f"{row.model} on {row.gpu_count}x{row.gpu}: {exc}"))
            continue
        if _faster_than_the_hardware(row, deps[key]):
            skipped.append(
                Skipped(
                    row.file,
                    0,
                    f"{row.model} on {row.gpu_count}x{row.gpu}, {row.input_tokens}-token "
                    "prompt: the first token came sooner than the GPU's peak could compute the prompt "
                    "(a prompt-cache hit, not a prefill)",
                )
            )
            continue
        groups[key].append(len(keep))
        keep.append(row)
    return keep, groups, deps, skipped


STEP_FIELDS = {"decode": "decode_s", "prefill_all": "prefill_all_s", "alone": "alone_prefill_s"}


def _group_steps(dep: Deployment, rows: list[CalRow], units: list[SpeedConstants]):
    """(concurrency, batch, {step kind: (rows, 1 + constants) basis}) for the rows of one deployment."""
    hw = deployment_hardware(dep)
    cost = model_cost(dep.model, dep.fmt)
    shapes = np.array([_request_shape(r) for r in rows])
    full = max(full_load_concurrency(replace(dep, concurrency=None)), 1)
    c = np.array([r.concurrency if r.concurrency is not None else full for r in rows], float)
    c = np.where([r.kind in ("decode_bs1", "prefill") for r in rows], 1.0, c)
    batch = np.minimum(c, full)  # more clients than the pool holds wait for a free slot
    steps = [
        serving_steps(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, batch, shapes[:, 0], shapes[:, 1], u)
        for u in units
    ]
    basis = {}
    for name, attr in STEP_FIELDS.items():
        base = np.broadcast_to(getattr(steps[0], attr), (len(rows),))
        basis[name] = np.column_stack(
            [base] + [np.broadcast_to(getattr(s, attr), (len(rows),)) - base for s in steps[1:]]
        )
    return c, batch, basis


def build_basis(rows: list[CalRow], catalog: Catalog | None = None) -> Basis:
    names = SpeedConstants.names()
    units = [SpeedConstants.from_linear(np.eye(len(names) + 1)[j][1:]) for j in range(len(names) + 1)]
    keep, groups, deps, skipped = _evaluable(rows, catalog or Catalog(include_user=False))
    n = len(keep)
    out = {k: np.zeros((n, len(names) + 1)) for k in STEP_FIELDS}
    cols = {k: np.ones(n) for k in ("conc", "held", "gpus", "continuous", "batch_tokens", "penalty")}
    req = np.zeros(n, dtype=int)
    for key, idx in groups.items():
        dep, ix = deps[key], np.array(idx)
        cols["conc"][ix], cols["held"][ix], basis = _group_steps(dep, [keep[i] for i in idx], units)
        for name in out:
            out[name][ix] = basis[name]
        cols["gpus"][ix] = dep.n_gpus
        cols["continuous"][ix] = dep.engine.continuous_batching
        cols["batch_tokens"][ix] = dep.engine.batch_tokens
        cols["penalty"][ix] = dep.engine.concurrency_penalty
        req[ix] = names.index(
            {"tensorrt-llm": "request_trt_s", "serving": "request_serving_s"}.get(
                dep.engine.speed_group, "request_llamacpp_s"
            )
        )
    shapes = np.array([_request_shape(r) for r in keep]).reshape(-1, 2)
    factor = np.array([0.0 if r.in_process else 1.0 for r in keep])
    return Basis(
        keep,
        out["decode"],
        out["prefill_all"],
        out["alone"],
        cols["conc"],
        cols["held"],
        shapes[:, 0],
        shapes[:, 1],
        cols["gpus"],
        cols["continuous"].astype(bool),
        cols["batch_tokens"],
        cols["penalty"],
        req,
        factor,
        skipped,
    )


def predict(basis: Basis, linear: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Every row's figure (or the masked rows') for constants given as `SpeedConstants.linear()`."""
    sel = slice(None) if mask is None else mask
    theta = np.concatenate([[1.0], linear])
    steps = StepTimes(basis.decode[sel] @ theta, basis.prefill_all[sel] @ theta, basis.alone[sel] @ theta)
    out = serving_from_steps(
        steps,
        basis.concurrency[sel],
        basis.batch[sel],
        basis.input_tokens[sel],
        basis.output_tokens[sel],
        np.asarray(linear)[basis.request_index[sel]] * basis.request_factor[sel],
        basis.continuous[sel],
        basis.batch_tokens[sel],
        basis.penalty[sel],
    )
    kinds = np.array([r.kind for r in basis.rows])[sel]
    bench_prefill = basis.input_tokens[sel] / steps.alone_prefill_s
    return np.select(
        [
            kinds == "decode_bs1",
            kinds == "prefill",
            kinds == "prefill_ttft",
            kinds == "full_load",
            kinds == "output_per_gpu",
            kinds == "per_user",
            kinds == "ttft",
        ],
        [
            1.0 / steps.decode_s,
            bench_prefill,
            basis.input_tokens[sel] / out.ttft_s,
            out.throughput_tokens_per_s,
            out.throughput_tokens_per_s / basis.gpus[sel],
            out.decode_tokens_per_s,
            out.ttft_s,
        ],
    )


def report_kind(kind: str) -> str:
    """prefill printed as prompt / TTFT counts with the prefill figures."""
    return "prefill" if kind == "prefill_ttft" else kind


# ------------------------------------------------------------------------------------------- fitting

PRIOR_WEIGHT = 0.3  # pulls each constant toward its physical default where the data do not decide it


def fit_constants(
    basis: Basis, mask: np.ndarray | None = None, start: SpeedConstants | None = None, max_evals: int = 400
) -> SpeedConstants:
    """Least squares on log(predicted / measured), each kind weighted equally, robust to outlying rows."""
    from scipy.optimize import least_squares

    mask = np.ones(len(basis.rows), dtype=bool) if mask is None else mask
    prior = np.log(np.array(SpeedConstants().linear()))
    x0 = np.log(np.array((start or SpeedConstants()).linear()))
    measured = np.array([r.measured for r in basis.rows])[mask]
    kinds = np.array([report_kind(r.kind) for r in basis.rows])[mask]
    weights = np.ones(len(kinds))
    for k in set(kinds):
        weights[kinds == k] = 1.0 / np.sqrt((kinds == k).sum())

    def resid(x):
        pred = predict(basis, np.exp(x), mask)
        fit = weights * np.log(np.maximum(pred, 1e-12) / measured)
        return np.concatenate([fit, PRIOR_WEIGHT * (x - prior) / np.sqrt(len(x))])

    sol = least_squares(resid, x0, loss="soft_l1", f_scale=0.05, max_nfev=max_evals)
    return SpeedConstants.from_linear(np.exp(sol.x))


@dataclass
class Errors:
    """Absolute relative errors by row, in-sample and for each leave-one-group-out."""

    basis: Basis
    in_sample: np.ndarray
    held_out: dict[str, np.ndarray]  # "gpu" | "model" | "source" -> each row predicted by the fold without it


def group_key(by: str, row: CalRow) -> str:
    return {
        "gpu": row.gpu,
        "model": row.model,
        "source": row.source,
        "engine": row.engine,
        "moe": "MoE" if row.moe else "dense",
        "shape": f"{row.input_tokens}/{row.output_tokens}",
    }[by]


def cross_validate(
    basis: Basis,
    constants: SpeedConstants | None = None,
    by: tuple[str, ...] = ("gpu", "model", "source"),
    max_evals: int = 60,
) -> Errors:
    constants = constants or speed_constants()
    linear = np.array(constants.linear())
    measured = np.array([r.measured for r in basis.rows])
    in_sample = np.abs(predict(basis, linear) / measured - 1.0)
    held: dict[str, np.ndarray] = {}
    for axis in by:
        keys = np.array([group_key(axis, r) for r in basis.rows])
        errs = np.full(len(keys), np.nan)
        for k in np.unique(keys):
            test = keys == k
            fold = fit_constants(basis, ~test, start=constants, max_evals=max_evals)
            errs[test] = np.abs(predict(basis, np.array(fold.linear()), test) / measured[test] - 1.0)
        held[axis] = errs
    return Errors(basis, in_sample, held)


def medians_by(errors: np.ndarray, rows: list[CalRow], key) -> dict[str, tuple[int, float, float]]:
    """{group: (rows, median, max)} of absolute errors."""
    out: dict[str, list[float]] = defaultdict(list)
    for e, r in zip(errors, rows):
        out[key(r)].append(float(e))
    return {k: (len(v), float(np.median(v)), float(np.max(v))) for k, v in sorted(out.items())}


# ------------------------------------------------------------------------------------------- memory


def weights_rows(folder: Path, catalog: Catalog | None = None) -> list[Evaluated]:
    """Weights an engine reported loading, against llmplan's weights per GPU."""
    catalog = catalog or Catalog(include_user=False)
    rows, _ = load_rows(folder)
    out = []
    for row in rows:
        if row.kind != "weights_bytes":
            continue
        dep, _ = build_deployment(
            catalog,
            row.model,
            gpu=f"{row.gpu_count}x{row.gpu or 'h100-sxm'}",
            quant=row.quant,
            engine=row.engine,
            offline=True,
        )
        out.append(Evaluated(row, mem.weights_bytes(dep.model, dep.fmt) / row.gpu_count))
    return out
