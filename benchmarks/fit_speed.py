"""Fit the performance model's global constants on every calibration row; write data/kernels/speed_constants.json.

The constants are the few things the measured kernel curves do not cover (llmplan/core/speed_constants.py):
paged-attention and flash-attention efficiency, per-step and per-request framework time by engine group, and
llama.cpp's kernel efficiencies by device class. Each is pulled toward its physical default where the rows do
not decide it. Rerun after changing the model or the rows:

    python benchmarks/fit_speed.py            (needs scipy: pip install -e ".[test]")
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from llmplan.plans.validation import build_basis, fit_constants, load_rows, predict, report_kind

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "kernels" / "speed_constants.json"


def main() -> None:
    rows, skipped = load_rows(ROOT / "tests" / "data" / "calibration")
    basis = build_basis(rows)
    constants = fit_constants(basis, max_evals=400)
    measured = np.array([r.measured for r in basis.rows])
    errors = np.abs(predict(basis, np.array(constants.linear())) / measured - 1.0)
    kinds = np.array([report_kind(r.kind) for r in basis.rows])
    in_sample = {str(k): round(float(np.median(errors[kinds == k])), 4) for k in sorted(set(kinds))}
    payload = {
        "fitted_by": "benchmarks/fit_speed.py",
        "rows": len(basis.rows),
        "rows_left_out": len(skipped) + len(basis.skipped),
        "in_sample_median_abs_error": in_sample,
        "constants": {k: float(f"{v:.6g}") for k, v in asdict(constants).items()},
    }
    OUT.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"{len(basis.rows)} rows; in-sample median errors {in_sample}; wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
