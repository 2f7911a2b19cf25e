"""Fit the engine-memory constants on the published start-up logs, and report leave-one-source-out errors.

    PYTHONPATH=. python benchmarks/fit_engine_memory.py          # prints the constants and the errors

Constants (written by hand into llmplan/engines/memory_rules.py after a run; the test suite checks they match):
- vLLM activation peak of the profile run, per release generation (V0 "0.6", V1 "0.8"/"0.21"):
  activation = a x forward + b x logit_rows x vocab, where forward = profiled tokens x (3 x intermediate / TP +
  4 x hidden) x dtype bytes, logit_rows = max_num_seqs (V0) or every profiled token (V1); a, b by least squares
  on the rows that print "PyTorch activation peak memory" / "peak activation".
- non-torch memory by TP size (vLLM "non_torch_memory"; SGLang: CUDA total - "avail mem" at "Load weight begin"):
  the median per TP bucket (1, 2+).
- CUDA-graph bytes per captured row per layer per hidden element on one GPU (hidden / TP): median over V1 rows
  printing graph memory.
Leave-one-source-out: each source (URL) is refitted without its rows and predicts them.
"""

from __future__ import annotations

import csv
import re
import statistics
from pathlib import Path

import numpy as np

GIB = 1 << 30
MIB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]
DEVICE_CSV = ROOT / "tests" / "data" / "engine_logs" / "device_memory.csv"


def cuda_totals() -> dict[str, float]:
    """Median CUDA-visible total per catalog GPU id from device_memory.csv (torch/vLLM/cudaMemGetInfo rows)."""
    by: dict[str, list[float]] = {}
    with DEVICE_CSV.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            how = r["how_reported"].lower()
            if "nvidia-smi" in how:
                continue
            gpu = r["gpu"].split(" ")[0]
            gpu = {"h100-80gb": "h100-sxm", "dgx-spark": "dgx-spark"}.get(gpu, gpu)
            by.setdefault(gpu, []).append(float(r["total_bytes"]))
    return {k: statistics.median(v) for k, v in by.items()}


def samples():
    from llmplan.catalog.loader import Catalog
    from llmplan.plans.engine_logs import evaluate_all

    out = []
    for case in evaluate_all(Catalog(include_user=False)):
        dep = case.deployment
        if dep is None:
            continue
        row = case.row
        s = {
            "key": row.key,
            "source": row.text("source"),
            "engine": row.engine,
            "case": case,
            "tp": dep.n_gpus if dep.engine.tensor_parallel else 1,
        }
        m = dep.model
        if row.engine == "vllm" and dep.engine.rules is not None:
            width = max(m.intermediate_size, 4 * m.hidden_size // 3)
            tokens = dep.engine.profile_tokens
            s["rules"] = dep.engine.rules.name
            s["forward"] = tokens * (3 * width / s["tp"] + 4 * m.hidden_size) * m.dtype_bytes
            rows = tokens if dep.engine.rules.profile == "batched_tokens" else dep.engine.max_batch
            s["logits"] = rows * m.vocab_size
            act = row.number("activation_peak_gib")
            if act is not None and "vision" not in row.text("notes").lower():
                s["activation"] = act * GIB
            nt = row.number("non_torch_gib")
            if nt is not None:
                s["non_torch"] = nt * GIB
        text = row.text("log_excerpt") + " " + row.text("notes")
        g = re.search(
            r"(?:Graph capturing finished in [0-9]+ secs, took|CUDAGraph|CUDAGraph memory|CUDA graph memory:)\s*([0-9.]+)"
            r"\s*GiB",
            text,
        )
        if g and row.engine == "vllm" and dep.engine.rules is not None and dep.engine.rules.name != "0.6":
            s["graphs"] = float(g.group(1)) * GIB
            s["graph_elems"] = min(dep.engine.max_batch, 512) * m.num_layers * m.hidden_size / s["tp"]
        avail = re.search(r"Load weight begin\. avail mem=([0-9.]+) GB", text)
        totals = cuda_totals()
        if row.engine == "sglang" and avail and case.gpu in totals:
            s["non_torch"] = totals[case.gpu] - float(avail.group(1)) * GIB
        out.append(s)
    return out


def fit_activation(rows):
    fitted = {}
    for gen, names in (("V0", ("0.6",)), ("V1", ("0.8", "0.21"))):
        use = [r for r in rows if r.get("rules") in names and "activation" in r]
        if len(use) < 2:
            continue
        X = np.array([[r["forward"], r["logits"]] for r in use])
        y = np.array([r["activation"] for r in use])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        coef = np.maximum(coef, 0.0)
        fitted[gen] = (float(coef[0]), float(coef[1]))
    return fitted


def fit_non_torch(rows):
    out = {}
    for engine in ("vllm", "sglang"):
        for bucket, test in (("1", lambda tp: tp == 1), ("2+", lambda tp: tp >= 2)):
            vals = [r["non_torch"] for r in rows if r["engine"] == engine and "non_torch" in r and test(r["tp"])]
            if vals:
                out[(engine, bucket)] = statistics.median(vals)
    return out


def fit_graphs(rows):
    vals = [r["graphs"] / r["graph_elems"] for r in rows if "graphs" in r]
    return statistics.median(vals) if vals else None


def predict_activation(r, fitted):
    gen = "V0" if r["rules"] == "0.6" else "V1"
    a, b = fitted.get(gen, (1.0, 4.0))
    return a * r["forward"] + b * r["logits"]


def main() -> None:
    rows = samples()
    act = fit_activation(rows)
    nt = fit_non_torch(rows)
    graphs = fit_graphs(rows)
    print("activation (factor on forward, bytes per logit entry):")
    for gen, (a, b) in act.items():
        print(f"  {gen}: a = {a:.3f}, b = {b:.3f}")
    print("non-torch memory by TP (MiB):")
    for (engine, bucket), v in nt.items():
        print(f"  {engine} TP {bucket}: {v / MIB:.0f}")
    if graphs:
        print(f"CUDA-graph bytes per captured row x layer x hidden element: {graphs:.1f}")
    # leave one source out: refit without a source's rows, predict its activation peaks
    errors = []
    for source in sorted({r["source"] for r in rows if "activation" in r}):
        held = [r for r in rows if r["source"] == source and "activation" in r]
        refit = fit_activation([r for r in rows if r["source"] != source])
        for r in held:
            pred = predict_activation(r, refit)
            errors.append((r["key"], source, (pred - r["activation"]) / GIB, r["activation"] / GIB))
    print("leave-one-source-out activation peak (GiB): key, predicted - printed, printed")
    for key, source, err, printed in errors:
        print(f"  {key:22} {err:+6.2f} of {printed:5.2f}  {source[:70]}")
    abs_err = [abs(e[2]) for e in errors]
    if abs_err:
        print(
            f"  median |error| {statistics.median(abs_err):.2f} GiB, max {max(abs_err):.2f} GiB over {len(abs_err)} rows"
        )


if __name__ == "__main__":
    main()
