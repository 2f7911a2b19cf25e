"""Which performance model produces the figures: `--perf-model analytic|aiconfigurator`.

One model per run, the same in every command (fit, sweeps, compare, check, breakeven): `analytic` (the
default: llmplan's step model on measured kernels) or `aiconfigurator` (NVIDIA's estimator, where the optional
extra is installed). `LLMPLAN_PERF_MODEL` sets it too. Installing the extra never changes a figure by itself.
Where aiconfigurator cannot serve a case, `fit` exits 2 while compare, sweeps, check and breakeven use the
analytic model for that row and say so (`performance.model_note`). The old `auto` is read as `analytic`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llmplan.core.fit import Deployment
from llmplan.core.reports import FitReport, PerformanceInfo
from llmplan.errors import InputError

PERF_MODELS = ("analytic", "aiconfigurator")
AUTO_NOTE = "--perf-model auto is gone: every command now uses one model per run; using analytic"


def perf_model_name(value: str | None) -> tuple[str, str | None]:
    """(the model to use, a one-line note for the user or None). Unknown names are bad input."""
    name = (value or "analytic").strip().lower()
    if name == "auto":
        return "analytic", AUTO_NOTE
    if name not in PERF_MODELS:
        raise InputError(
            f"unknown performance model {value!r}; choose {' or '.join(PERF_MODELS)} "
            "(--perf-model or LLMPLAN_PERF_MODEL)"
        )
    return name, None


def choose_perf_model(
    requested: str, dep: Deployment, config: dict[str, Any] | None, strict: bool = True
) -> tuple[str, str | None]:
    """(model used, why aiconfigurator could not serve). Strict: an `aiconfigurator` that cannot serve raises."""
    requested, _ = perf_model_name(requested)
    if requested == "analytic":
        return "analytic", None
    from llmplan.engines import aiconfigurator as aic

    reason = aic.coverage(dep, config)
    if reason is None:
        return "aiconfigurator", None
    if strict:
        raise InputError(f"--perf-model aiconfigurator: {reason}")
    return "analytic", f"aiconfigurator cannot serve this row: {reason}; analytic figures"


def _aic_performance(dep: Deployment, config, concurrency: int) -> PerformanceInfo:
    from llmplan.core.fit import _sig
    from llmplan.engines import aiconfigurator as aic

    est = aic.estimate(dep, config, concurrency)
    return PerformanceInfo(
        decode_tokens_per_s=_sig(est.decode_tokens_per_s),
        throughput_tokens_per_s=_sig(est.throughput_tokens_per_s * dep.replicas),
        prefill_tokens_per_s=_sig(est.prefill_tokens_per_s),
        ttft_s=_sig(est.ttft_s),
        request_latency_s=_sig(est.request_latency_s),
        model="aiconfigurator",
        model_note=(
            f"{aic.package_version()}: {est.backend} {est.database_version} kernel tables measured on {est.system}"
        ),
    )


def _first_clause(text: str, limit: int = 90) -> str:
    """A fallback reason short enough for one table cell (the JSON gets the same words)."""
    clause = text.split(";")[0].split(": either")[0]
    return clause if len(clause) <= limit else clause[:limit].rsplit(" ", 1)[0] + " ..."


def apply_perf_model(
    report: FitReport, dep: Deployment, config: dict[str, Any] | None, requested: str = "analytic", strict: bool = True
) -> FitReport:
    """The report with its performance figures from the chosen model (memory figures are llmplan's own).

    Strict (fit): an aiconfigurator that cannot serve is an error. Otherwise (compare, check, breakeven) the
    row keeps the analytic figures and its note says why."""
    chosen, reason = choose_perf_model(requested, dep, config, strict)
    offloaded = report.offload is not None and not report.fits
    if chosen == "aiconfigurator" and report.fits and not offloaded:
        try:
            perf = _aic_performance(dep, config, report.concurrency)
        except InputError as exc:
            if strict:
                raise
            note = "aiconfigurator: " + _first_clause(str(exc).split(": ", 1)[-1]) + "; analytic figures"
            perf = report.performance.model_copy(update={"model_note": note})
        return report.model_copy(update={"performance": perf})
    if chosen == "aiconfigurator":
        reason = "no figures: the deployment does not fit in GPU memory"
    note = reason or report.performance.model_note
    return report.model_copy(update={"performance": report.performance.model_copy(update={"model_note": note})})


def fit_with(
    dep: Deployment, config: dict[str, Any] | None, requested: str = "analytic", strict: bool = False
) -> FitReport:
    """`core.fit.fit` with its performance figures from the run's performance model."""
    from llmplan.core.fit import fit

    report = fit(dep)
    if perf_model_name(requested)[0] == "analytic":
        return report
    return apply_perf_model(report, dep, config, requested, strict)


def capacity_with(
    dep: Deployment,
    config: dict[str, Any] | None,
    requested: str = "analytic",
    max_ttft_s: float | None = None,
    min_tokens_per_s: float | None = None,
):
    """One replica's sustainable rate (core.capacity.replica_capacity), its figures from the run's model.

    The concurrency is sized on the analytic model (aiconfigurator costs about a second a point); with
    aiconfigurator the throughput and latencies at that concurrency are its own, analytic where it cannot."""
    from llmplan.core.capacity import replica_capacity

    return rescore_capacity(replica_capacity(dep, max_ttft_s, min_tokens_per_s), dep, config, requested)


def rescore_capacity(cap, dep: Deployment, config: dict[str, Any] | None, requested: str = "analytic"):
    """A replica capacity's figures at its concurrency from the run's performance model."""
    if perf_model_name(requested)[0] == "analytic" or cap.concurrency < 1:
        return cap
    chosen, _ = choose_perf_model(requested, dep, config, strict=False)
    if chosen != "aiconfigurator":
        return cap
    from llmplan.engines import aiconfigurator as aic

    try:
        est = aic.estimate(dep, config, cap.concurrency)
    except InputError:
        return cap
    return replace(
        cap,
        output_tokens_per_s=est.throughput_tokens_per_s,
        requests_per_s=est.throughput_tokens_per_s / max(dep.output_tokens, 1),
        ttft_s=est.ttft_s,
        decode_tokens_per_s=est.decode_tokens_per_s,
    )


def rescore_sweep_rows(
    rows: list[dict],
    dep: Deployment,
    config: dict[str, Any] | None,
    max_ttft_s: float | None = None,
    min_tokens_per_s: float | None = None,
) -> list[dict]:
    """Sweep rows with aiconfigurator's figures in place of the analytic ones (rows that fit; ~1 s each)."""
    from llmplan.core.sweep import meets_target
    from llmplan.engines import aiconfigurator as aic

    out = []
    for row in rows:
        if not row["fits"]:
            out.append(dict(row))
            continue
        point = replace(dep, input_tokens=row["input_tokens"], output_tokens=row["output_tokens"])
        est = aic.estimate(point, config, row["concurrency"])
        total = round(est.throughput_tokens_per_s * dep.replicas, 1)
        out.append(
            dict(
                row,
                decode_tokens_per_s=round(est.decode_tokens_per_s, 2),
                throughput_tokens_per_s=total,
                output_tokens_per_s_per_gpu=total / (dep.n_gpus * dep.replicas),
                ttft_s=round(est.ttft_s, 4),
                request_latency_s=round(est.request_latency_s, 3),
                meets_target=meets_target(True, est.ttft_s, est.decode_tokens_per_s, max_ttft_s, min_tokens_per_s),
            )
        )
    return out
