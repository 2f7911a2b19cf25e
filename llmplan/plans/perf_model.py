"""Which performance model produces the figures: `--perf-model auto|analytic|aiconfigurator`.

auto (the default) takes aiconfigurator-core's estimate where the optional extra is installed and covers the
GPU, engine, format and model, and the analytic model elsewhere; every report names the model it used
(`performance.model`). Sweeps use the analytic model unless aiconfigurator is asked for by name: its
estimates cost about a second each.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from llmplan.core.fit import Deployment
from llmplan.core.reports import FitReport, PerformanceInfo
from llmplan.errors import InputError

PERF_MODELS = ("auto", "analytic", "aiconfigurator")


def choose_perf_model(requested: str, dep: Deployment, config: dict[str, Any] | None) -> tuple[str, str | None]:
    """(model used, why auto fell back to analytic). An explicit `aiconfigurator` that cannot serve raises."""
    if requested not in PERF_MODELS:
        raise InputError(f"unknown performance model {requested!r}; choose {', '.join(PERF_MODELS)}")
    if requested == "analytic":
        return "analytic", None
    from llmplan.engines import aiconfigurator as aic

    if requested == "auto" and not aic.installed():
        return "analytic", None  # a plain install: nothing to fall back from, nothing to say
    reason = aic.coverage(dep, config)
    if reason is None:
        return "aiconfigurator", None
    if requested == "aiconfigurator":
        raise InputError(f"--perf-model aiconfigurator: {reason}")
    return "analytic", reason


def _aic_performance(dep: Deployment, config, concurrency: int) -> PerformanceInfo:
    from importlib.metadata import version

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
        model_note=(f"aiconfigurator-core {version('aiconfigurator-core')}: {est.backend} {est.database_version} "
                    f"kernel tables measured on {est.system}"),
    )


def _first_clause(text: str, limit: int = 90) -> str:
    """A fallback reason short enough for one table cell (the JSON gets the same words)."""
    clause = text.split(";")[0].split(": either")[0]
    return clause if len(clause) <= limit else clause[:limit].rsplit(" ", 1)[0] + " ..."


def apply_perf_model(report: FitReport, dep: Deployment, config: dict[str, Any] | None,
                     requested: str = "auto") -> FitReport:
    """The report with its performance figures from the chosen model (memory figures are llmplan's own)."""
    chosen, reason = choose_perf_model(requested, dep, config)
    offloaded = report.offload is not None and not report.fits
    if chosen == "aiconfigurator" and report.fits and not offloaded:
        try:
            perf = _aic_performance(dep, config, report.concurrency)
        except InputError as exc:
            if requested == "aiconfigurator":
                raise
            perf = report.performance.model_copy(update={"model_note": _first_clause(str(exc).split(": ", 1)[-1])})
        return report.model_copy(update={"performance": perf})
    if chosen == "aiconfigurator":
        reason = "no figures: the deployment does not fit in GPU memory"
    return report.model_copy(update={"performance": report.performance.model_copy(update={"model_note": reason})})


def rescore_sweep_rows(rows: list[dict], dep: Deployment, config: dict[str, Any] | None,
                       max_ttft_s: float | None = None, min_tokens_per_s: float | None = None) -> list[dict]:
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
        out.append(dict(row, decode_tokens_per_s=round(est.decode_tokens_per_s, 2), throughput_tokens_per_s=total,
                        output_tokens_per_s_per_gpu=total / (dep.n_gpus * dep.replicas),
                        ttft_s=round(est.ttft_s, 4), request_latency_s=round(est.request_latency_s, 3),
                        meets_target=meets_target(True, est.ttft_s, est.decode_tokens_per_s, max_ttft_s,
                                                  min_tokens_per_s)))
    return out
