"""Accuracy of the performance model against published measurements (tests/data/calibration).

Bounds are the ones the project promises; the figures are printed by benchmarks/accuracy_report.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import DATA
from llmplan.plans.validation import evaluate_file


@pytest.fixture(scope="module")
def results(catalog):
    return evaluate_file(DATA / "calibration" / "measurements.csv", catalog)


def _errors(results, kind):
    errs = np.array([abs(r.error) for r in results if r.kind == kind])
    assert len(errs) > 0, f"no {kind} rows evaluated"
    return errs


def test_every_measurement_row_is_applicable(results):
    # every device and model named in the calibration files is in the catalogs
    assert len(results) == 768


def test_batch1_decode_accuracy(results):
    errs = _errors(results, "decode_tps_bs1")
    assert np.median(errs) <= 0.15
    assert errs.max() <= 0.40


def test_prefill_accuracy(results):
    assert np.median(_errors(results, "prefill_tps")) <= 0.25


def test_full_load_throughput_accuracy(results):
    errs = _errors(results, "max_throughput_tps")
    assert np.median(errs) <= 0.25
    assert errs.max() <= 0.60


def test_full_load_accuracy_per_engine(results):
    for engine in ("tensorrt-llm", "vllm", "sglang"):
        errs = np.array([abs(r.error) for r in results if r.kind == "max_throughput_tps" and r.engine == engine])
        assert len(errs) and np.median(errs) <= 0.25, engine


def test_weights_reported_by_vllm(results):
    assert _errors(results, "weights_bytes").max() <= 0.03
