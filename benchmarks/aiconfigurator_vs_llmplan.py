"""aiconfigurator's error beside llmplan's analytic error, on the NVIDIA serving rows aiconfigurator covers.

Rows: DeepSeek-R1 serving curves (fixed concurrency; SGLang and TensorRT-LLM on H200/B200) from
serving_curves.csv, and TensorRT-LLM `max_throughput_tps` rows (offline full load) from measurements.csv.
Figures compared: output tokens/s per GPU, tokens/s per user and TTFT (serving rows); output tokens/s per GPU
(full-load rows, both models at the concurrency llmplan's memory model gives).

The analytic side calls the public function `llmplan.core.fit.fit` (at the row's concurrency, or at full
load), so it follows whatever the analytic model becomes. Needs the extra: pip install -e ".[aiconfigurator]".

Run: python benchmarks/aiconfigurator_vs_llmplan.py [--serving PATH] [--measurements PATH] [--limit N] [--csv OUT]
A serving configuration measured on several dates is estimated once and compared with its latest row
(the calibration README: later images are faster; fit to the latest).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NVIDIA_SERVING_GPUS = ("h200", "b200", "b300", "h100-sxm", "gb200")


def _find(name: str) -> Path | None:
    for folder in (
        ROOT / "tests" / "data" / "calibration",
        ROOT.parent / "shared" / "calibration",
        ROOT.parents[1] / "shared" / "calibration",
    ):
        if (folder / name).is_file():
            return folder / name
    return None


@dataclass
class Compared:
    source: str  # serving | max_throughput
    group: str
    metric: str
    measured: float
    analytic: float | None
    aiconfigurator: float | None
    point: str = ""  # input/output tokens and concurrency of the row


def _err(pred: float | None, measured: float) -> float | None:
    return None if pred is None or measured <= 0 else abs(pred / measured - 1.0)


def _build(catalog, row: dict, concurrency, dp_attention: bool):
    from llmplan.plans.deploy import build_deployment

    n = int(row["gpu_count"])
    isl, osl = int(row["input_tokens"]), int(row["output_tokens"])
    ep = int(row.get("expert_parallel") or 1) > 1
    kwargs = dict(
        gpu=f"{n}x{row['gpu']}",
        quant=row["quant"],
        engine=row["engine"],
        context=isl + osl,
        input_tokens=isl,
        output_tokens=osl,
        concurrency=concurrency,
        expert_parallel=ep,
        dp_attention=dp_attention and ep,
        kv_dtype=row.get("kv_dtype") or None,
    )
    return build_deployment(catalog, row["model"], **kwargs)


def _aic(dep, config, concurrency: int, dp_attention: bool):
    from llmplan.engines import aiconfigurator as aic
    from llmplan.errors import LlmplanError

    try:
        return aic.estimate(dep, config, concurrency, dp_attention=dp_attention)
    except LlmplanError as exc:
        print(
            f"  aiconfigurator skipped {dep.model.id} {dep.n_gpus}x{dep.gpu_id} {dep.engine.name}: {exc}",
            file=sys.stderr,
        )
        return None


def _aic_full_load(dep, config, concurrency: int):
    """aiconfigurator at llmplan's full-load concurrency, or, where its own memory check (every sequence at its
    full length) refuses that, at the largest concurrency it accepts (steps of 3/4)."""
    from llmplan.engines import aiconfigurator as aic
    from llmplan.errors import LlmplanError

    for _ in range(12):
        try:
            return aic.estimate(replace(dep, concurrency=concurrency), config, concurrency)
        except LlmplanError as exc:
            if "does not fit" not in str(exc) or concurrency <= 1:
                print(f"  aiconfigurator skipped {dep.model.id} {dep.n_gpus}x{dep.gpu_id}: {exc}", file=sys.stderr)
                return None
            concurrency = max(1, concurrency * 3 // 4)
    return None


def latest_serving_rows(path: Path) -> list[dict]:
    from llmplan.plans.validation import read_csv as read_rows

    key = (
        "engine",
        "gpu",
        "gpu_count",
        "model",
        "quant",
        "tensor_parallel",
        "expert_parallel",
        "dp_attention",
        "input_tokens",
        "output_tokens",
        "concurrency",
    )
    latest: dict[tuple, dict] = {}
    for row in read_rows(path):
        if row["gpu"] not in NVIDIA_SERVING_GPUS:
            continue
        k = tuple(row[c] for c in key)
        if k not in latest or row["date"] > latest[k]["date"]:
            latest[k] = row
    return list(latest.values())


def compare_serving(rows: list[dict], catalog) -> list[Compared]:
    from llmplan.core.fit import fit

    out = []
    for i, row in enumerate(rows):
        conc = int(row["concurrency"])
        dp = row["dp_attention"].strip().lower() == "true"
        dep, resolved = _build(catalog, row, conc, dp)
        perf = fit(dep).performance
        est = _aic(dep, resolved.entry.config if resolved.entry else None, conc, dp)
        n = dep.n_gpus
        group = (
            f"{row['engine']} {n}x{row['gpu']} {row['quant']}{' EP' if dep.expert_parallel else ''}"
            f"{' dpa' if dp else ''}"
        )
        analytic = {
            "out_tok_s_per_gpu": perf.throughput_tokens_per_s and perf.throughput_tokens_per_s / n,
            "tok_s_per_user": perf.decode_tokens_per_s,
            "ttft_s": perf.ttft_s,
        }
        aicfig = {
            "out_tok_s_per_gpu": est and est.throughput_tokens_per_s / n,
            "tok_s_per_user": est and est.decode_tokens_per_s,
            "ttft_s": est and est.ttft_s,
        }
        measured = {
            "out_tok_s_per_gpu": row["output_tokens_per_s_per_gpu"],
            "tok_s_per_user": row["tokens_per_s_per_user"],
            "ttft_s": row["median_ttft_s"],
        }
        for metric, value in measured.items():
            if value not in ("", None):
                out.append(
                    Compared(
                        "serving",
                        group,
                        metric,
                        float(value),
                        analytic[metric],
                        aicfig[metric],
                        f"{dep.input_tokens}/{dep.output_tokens} c={conc}",
                    )
                )
        if (i + 1) % 20 == 0:
            print(f"  {i + 1}/{len(rows)} serving configurations", file=sys.stderr)
    return out


def compare_max_throughput(path: Path, catalog) -> list[Compared]:
    """TensorRT-LLM full-load rows, as the accuracy harness reads them (its MoE rows ran expert parallel with
    attention data parallel; ModelOpt checkpoints keep an fp8 cache)."""
    from llmplan.core.fit import fit, full_load_concurrency
    from llmplan.plans.validation import _kv, read_csv

    out = []
    for row in read_csv(path):
        if row["kind"] != "max_throughput_tps" or row["engine"] != "tensorrt-llm":
            continue
        n = int(row["gpu_count"] or 1)
        dep, resolved = _build(catalog, dict(row, expert_parallel=str(n), kv_dtype=_kv(row)), "max", n > 1)
        conc = max(full_load_concurrency(dep), 1)
        perf = fit(replace(dep, concurrency=conc)).performance
        est = _aic_full_load(dep, resolved.entry.config if resolved.entry else None, conc)
        group = f"trtllm max {n}x{row['gpu']} {row['quant']}"
        out.append(
            Compared(
                "max_throughput",
                group,
                "out_tok_s_per_gpu",
                float(row["value"]) / n,
                perf.throughput_tokens_per_s and perf.throughput_tokens_per_s / n,
                est and est.throughput_tokens_per_s / n,
                f"{dep.input_tokens}/{dep.output_tokens} c=max",
            )
        )
    return out


def _median(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    return f"{100 * statistics.median(vals):5.1f}%" if vals else "    -"


def report(results: list[Compared]) -> None:
    print(
        f"{'rows':<44} {'metric':<18} {'n':>4} {'analytic':>9} {'aiconfig':>9}  (median |error|; both: rows "
        "both estimate)"
    )
    keys = sorted({(r.source, r.metric) for r in results})
    for source, metric in keys:
        sel = [r for r in results if r.source == source and r.metric == metric]
        both = [r for r in sel if r.analytic is not None and r.aiconfigurator is not None]
        print(
            f"{source + ' (all)':<44} {metric:<18} {len(both):>4} "
            f"{_median([_err(r.analytic, r.measured) for r in both])} "
            f"{_median([_err(r.aiconfigurator, r.measured) for r in both])}"
        )
        for group in sorted({r.group for r in sel}):
            g = [r for r in both if r.group == group]
            if g:
                print(
                    f"  {group:<42} {metric:<18} {len(g):>4} "
                    f"{_median([_err(r.analytic, r.measured) for r in g])} "
                    f"{_median([_err(r.aiconfigurator, r.measured) for r in g])}"
                )
    missing_a = sum(r.analytic is None for r in results)
    missing_c = sum(r.aiconfigurator is None for r in results)
    print(
        f"\nfigures without an estimate: analytic {missing_a}, aiconfigurator {missing_c} "
        f"(of {len(results)}); rows where either is missing are left out of the medians"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serving", type=Path, default=_find("serving_curves.csv"))
    parser.add_argument("--measurements", type=Path, default=_find("measurements.csv"))
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N serving configurations")
    parser.add_argument("--csv", type=Path, default=None, help="also write every compared figure to this CSV")
    args = parser.parse_args()
    from llmplan.catalog.loader import Catalog
    from llmplan.engines import aiconfigurator as aic

    catalog = Catalog(include_user=False)
    start = time.time()
    results: list[Compared] = []
    if args.serving is not None:
        rows = latest_serving_rows(args.serving)[: args.limit]
        print(f"serving rows: {args.serving} ({len(rows)} configurations, latest date each)", file=sys.stderr)
        results += compare_serving(rows, catalog)
    if args.measurements is not None:
        results += compare_max_throughput(args.measurements, catalog)
    print(f"{aic.package_version()}; {time.time() - start:.0f} s\n")
    report(results)
    if args.csv is not None:
        import csv
        from dataclasses import asdict

        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(asdict(results[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in results)


if __name__ == "__main__":
    main()
