"""Sweeps: how speed, latency and memory move along one axis, evaluated as one vectorized call."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from llmplan.core.fit import Deployment, _tp_valid, deployment_hardware, kv_per_seq_per_gpu, memory_plan
from llmplan.core.performance import model_cost, serve

AXES = ("concurrency", "input-tokens", "output-tokens")


def _axis_values(dep: Deployment, axis: str) -> np.ndarray:
    if axis == "concurrency":
        # from one user to the most sequences that fit each holding the full --context
        plan = memory_plan(dep)
        top = int(plan.kv_free // max(plan.kv_per_seq, 1.0)) if plan.kv_free > 0 else 1
        top = max(min(top, dep.engine.max_batch), 1)
        values = sorted({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, top})
        return np.array([v for v in values if v <= top], dtype=np.int64)
    limit = dep.context
    values = sorted({64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072})
    return np.array([v for v in values if v < limit] or [max(limit // 2, 1)], dtype=np.int64)


def meets_target(
    fits: bool, ttft_s: float, decode_tokens_per_s: float, max_ttft_s: float | None, min_tokens_per_s: float | None
) -> bool:
    return bool(
        fits
        and (max_ttft_s is None or ttft_s <= max_ttft_s)
        and (min_tokens_per_s is None or decode_tokens_per_s >= min_tokens_per_s)
    )


def sweep_table(
    dep: Deployment, axis: str, *, max_ttft_s: float | None = None, min_tokens_per_s: float | None = None
) -> list[dict]:
    """Rows of figures along `axis`. Concurrency runs from 1 to the largest that fits (engine-capped);
    token axes keep the rest of the request fixed and run at full load."""
    values = _axis_values(dep, axis)
    cost = model_cost(dep.model, dep.fmt)
    hw = deployment_hardware(dep)
    plan = memory_plan(dep)
    if axis == "concurrency":
        conc = values.astype(np.float64)
        inp = np.full_like(conc, dep.input_tokens)
        out = np.full_like(conc, dep.output_tokens)
    else:
        toks = values.astype(np.float64)
        inp = toks if axis == "input-tokens" else np.full_like(toks, dep.input_tokens)
        out = toks if axis == "output-tokens" else np.full_like(toks, dep.output_tokens)
        per_seq = kv_per_seq_per_gpu(dep, dep.n_gpus, inp + out / 2.0)
        conc = np.minimum(np.floor(plan.kv_free / np.maximum(per_seq, 1.0)), dep.engine.max_batch)
        conc = np.maximum(conc, 1.0)
    result = serve(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, conc, inp, out)
    ctx = inp + out / 2.0 if axis != "concurrency" else np.full_like(conc, dep.context)
    kv = kv_per_seq_per_gpu(dep, dep.n_gpus, ctx) * conc
    total = plan.weights_per_gpu + plan.overhead + kv
    rows = []
    for k in range(len(values)):
        ttft = float(result.ttft_s[k])
        decode = float(result.decode_tokens_per_s[k])
        fits = bool(total[k] <= plan.usable)
        meets = meets_target(fits, ttft, decode, max_ttft_s, min_tokens_per_s)
        total_out = round(float(result.throughput_tokens_per_s[k]) * dep.replicas, 1)
        rows.append(
            {
                "concurrency": int(conc[k]),
                "input_tokens": int(inp[k]),
                "output_tokens": int(out[k]),
                "decode_tokens_per_s": round(decode, 2),
                "throughput_tokens_per_s": total_out,
                "output_tokens_per_s_per_gpu": total_out / (dep.n_gpus * dep.replicas),
                "ttft_s": round(ttft, 4),
                "request_latency_s": round(float(result.request_latency_s[k]), 3),
                "memory_bytes": int(total[k]),
                "fits": fits,
                "meets_target": bool(meets),
            }
        )
    return rows


def layout_variants(dep: Deployment, counts: tuple[int, ...] = (1, 2, 4, 8)) -> list[tuple[str, Deployment]]:
    """The layouts `--compare-layouts` draws: tensor parallel over each GPU count (of the chosen type) whose
    weights fit, and for MoE models expert parallel over the same counts. The chosen count is always in."""
    variants: list[tuple[str, Deployment]] = []
    for n in sorted(set(counts) | {dep.n_gpus}):
        if not _tp_valid(dep.model, n, dep.engine) or memory_plan(dep, n).kv_free <= 0:
            continue
        where = f"{n}x {dep.gpu_id}" if n > 1 else dep.gpu_id
        split = f"TP{n}" if dep.engine.tensor_parallel else "layer split"
        label = f"{where} {split}" if n > 1 else where
        variants.append((label, replace(dep, n_gpus=n, expert_parallel=False)))
        if dep.model.is_moe and n > 1:
            ep = replace(dep, n_gpus=n, expert_parallel=True)
            if memory_plan(ep, n).kv_free > 0:
                variants.append((f"{where} EP{n}", ep))
    return variants
