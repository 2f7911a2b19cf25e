"""Print the performance model's error against the calibration measurements, per kind, engine, GPU,
model and shape. Run: python benchmarks/accuracy_report.py [--rows]"""

from __future__ import annotations

import sys
from pathlib import Path

from llmplan.plans.validation import evaluate_file, summarize

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    results = evaluate_file(ROOT / "tests" / "data" / "calibration" / "measurements.csv")
    keys = {
        "kind": lambda r: r.kind,
        "kind/engine": lambda r: f"{r.kind}/{r.engine}",
        "max_throughput by GPU": lambda r: f"{r.gpu} x{r.gpu_count}" if r.kind == "max_throughput_tps" else "-",
        "max_throughput by model": lambda r: r.model if r.kind == "max_throughput_tps" else "-",
        "max_throughput by shape": lambda r: f"{r.input_tokens}/{r.output_tokens}" if r.kind == "max_throughput_tps" else "-",
        "llama.cpp by GPU": lambda r: f"{r.kind} {r.gpu} x{r.gpu_count}" if r.engine == "llama.cpp" else "-",
    }
    for title, key in keys.items():
        print(f"\n== {title}")
        for k, v in summarize(results, key).items():
            if k == "-":
                continue
            print(f"  {k:55s} rows {v['rows']:4d}  median {v['median_abs_error']:6.1%}  max {v['max_abs_error']:6.1%}")
    if "--rows" in sys.argv:
        for r in results:
            print(f"{r.kind:18s} {r.engine:12s} {r.gpu:14s} x{r.gpu_count} {r.model[-28:]:28s} {r.quant:7s} "
                  f"{r.input_tokens:6d}/{r.output_tokens:<6d} meas {r.measured:10.1f} pred {r.predicted:10.1f} {r.error:+.1%}")


if __name__ == "__main__":
    main()
