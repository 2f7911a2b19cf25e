"""The performance model's error on every calibration row: in-sample and cross-validated.

For each kind of figure it prints the median absolute error in-sample and when the global constants are
refitted without each GPU, each model and each source in turn (the held-out rows predicted by a fit that never
saw them). Then every group of 10 rows or more whose held-out median is above 35%, the rows left out with
their reason, and the vendors whose scaling rests on a single measured GPU.

Run: python benchmarks/accuracy_report.py [--groups] [--rows]   (needs scipy: pip install -e ".[test]")
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from llmplan.catalog.loader import Catalog
from llmplan.core.speed_constants import speed_constants
from llmplan.plans.validation import (
    KINDS,
    build_basis,
    cross_validate,
    group_key,
    load_rows,
    medians_by,
    predict,
    report_kind,
)

ROOT = Path(__file__).resolve().parents[1]
AXES = ("gpu", "model", "source")
TARGETS = {
    "decode_bs1": 0.10,
    "prefill": 0.20,
    "full_load": 0.20,
    "output_per_gpu": 0.20,
    "per_user": 0.20,
    "ttft": 0.35,
}


def main() -> None:
    rows, skipped = load_rows(ROOT / "tests" / "data" / "calibration")
    basis = build_basis(rows)
    errors = cross_validate(basis, speed_constants())
    kinds = np.array([report_kind(r.kind) for r in basis.rows])
    print(
        f"{len(basis.rows)} rows evaluated, {len(skipped) + len(basis.skipped)} left out "
        f"({(len(skipped) + len(basis.skipped)) / (len(rows) + len(skipped)):.1%})\n"
    )
    print(
        f"{'median |error|':16s} {'rows':>5s} {'in-sample':>10s} "
        + " ".join(f"{'-' + a:>9s}" for a in AXES)
        + f" {'target':>7s}"
    )
    for kind in KINDS:
        m = kinds == kind
        held = " ".join(f"{np.median(errors.held_out[a][m]):9.1%}" for a in AXES)
        print(f"{kind:16s} {m.sum():5d} {np.median(errors.in_sample[m]):10.1%} {held} {TARGETS[kind]:7.0%}")
    print("\nGroups of 10+ rows with a held-out median above 35%:")
    worst = []
    for axis in AXES + ("engine", "moe", "shape"):
        held = errors.held_out[axis] if axis in errors.held_out else errors.held_out["source"]
        for g, (n, med, _) in medians_by(
            held, basis.rows, lambda r, axis=axis: f"{report_kind(r.kind)} by {axis} {group_key(axis, r)}"
        ).items():
            if n >= 10 and med > 0.35:
                worst.append(f"  {g:70s} rows {n:4d}  median {med:6.1%}")
    print("\n".join(worst) or "  none")
    _vendors(basis)
    print("\nLeft out:")
    for reason, n in Counter(s.reason for s in skipped + basis.skipped).most_common():
        print(f"  {n:4d}  {reason}")
    if "--groups" in sys.argv:
        for axis in ("gpu", "model", "engine", "source", "moe", "shape"):
            held = errors.held_out.get(axis, errors.held_out["source"])
            print(f"\n== held out by {axis if axis in errors.held_out else 'source'}, grouped by {axis}")
            for g, (n, med, mx) in medians_by(
                held, basis.rows, lambda r, axis=axis: f"{report_kind(r.kind):15s} {group_key(axis, r)}"
            ).items():
                print(f"  {g:70s} rows {n:4d}  median {med:6.1%}  max {mx:7.1%}")
    if "--rows" in sys.argv:
        pred = predict(basis, np.array(speed_constants().linear()))
        for r, p in zip(basis.rows, pred):
            print(
                f"{r.kind:14s} {r.engine:12s} {r.gpu:13s} x{r.gpu_count} {r.model[-30:]:30s} {r.quant:6s} "
                f"{r.input_tokens:6d}/{r.output_tokens:<6d} c={r.concurrency} meas {r.measured:10.4g} "
                f"pred {p:10.4g} {p / r.measured - 1:+.1%}"
            )


def _vendors(basis) -> None:
    catalog = Catalog(include_user=False)
    by_vendor: dict[str, set[str]] = {}
    for r in basis.rows:
        by_vendor.setdefault(catalog.gpu_entry(r.gpu)[1].vendor, set()).add(r.gpu)
    for vendor, gpus in sorted(by_vendor.items()):
        if len(gpus) == 1:
            print(
                f"\nNote: {vendor} has one GPU in the data ({', '.join(gpus)}); its kernels are scaled from the "
                "nearest measured NVIDIA part, and that scaling is not cross-validated."
            )


if __name__ == "__main__":
    main()
