"""Capacity: what one replica sustains for a workload's request shape, and how many replicas a peak needs.

Replicas are sized at the latency target where one is given (the largest concurrency whose time to first
token and per-user decode speed still meet it); without a target, at the full-load ceiling
(`--concurrency max`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from llmplan.core.fit import GPU_COUNTS, Deployment, deployment_hardware, full_load_concurrency, min_gpus
from llmplan.core.performance import Throughput, model_cost, serve


@dataclass(frozen=True)
class ReplicaCapacity:
    gpus_per_replica: int
    concurrency: int  # sequences in flight at the sizing point
    output_tokens_per_s: float  # aggregate output tokens/s of one replica at that point
    requests_per_s: float  # sustainable request rate of one replica
    ttft_s: float
    decode_tokens_per_s: float
    sized_at: str  # "latency target" | "full load"
    meets_target: bool


@dataclass(frozen=True)
class ServingCurve:
    """One replica's figures from one user to a full pool (every user up to 32, then 64 steps)."""

    concurrency: np.ndarray
    figures: Throughput


def serving_curve(dep: Deployment) -> ServingCurve | None:
    top = max(full_load_concurrency(dep), 0)
    if top < 1:
        return None
    conc = np.unique(
        np.concatenate(
            [np.arange(1, min(top, 32) + 1), np.clip(np.round(np.geomspace(1, top, num=min(top, 64))), 1, top)]
        )
    )
    conc = conc.astype(np.int64)
    out = serve(
        model_cost(dep.model, dep.fmt),
        dep.model,
        dep.kv_elem_bytes,
        dep.engine,
        deployment_hardware(dep),
        conc,
        dep.input_tokens,
        dep.output_tokens,
    )
    return ServingCurve(conc, out)


def replica_capacity(
    dep: Deployment,
    max_ttft_s: float | None = None,
    min_tokens_per_s: float | None = None,
    curve: ServingCurve | None = None,
) -> ReplicaCapacity:
    """The sustainable request rate of one replica for the deployment's request shape."""
    n = dep.n_gpus
    curve = curve or serving_curve(dep)
    if curve is None:
        return ReplicaCapacity(n, 0, 0.0, 0.0, math.inf, 0.0, "does not fit", False)
    conc, out = curve.concurrency, curve.figures
    if max_ttft_s is None and min_tokens_per_s is None:
        k = len(conc) - 1
        sized = "full load"
        ok = True
    else:
        meets = np.ones(len(conc), dtype=bool)
        if max_ttft_s is not None:
            meets &= out.ttft_s <= max_ttft_s
        if min_tokens_per_s is not None:
            meets &= out.decode_tokens_per_s >= min_tokens_per_s
        ok = bool(meets.any())
        k = int(np.nonzero(meets)[0].max()) if ok else 0
        sized = "latency target"
    tps = float(out.throughput_tokens_per_s[k])
    return ReplicaCapacity(
        gpus_per_replica=n,
        concurrency=int(conc[k]),
        output_tokens_per_s=tps,
        requests_per_s=tps / dep.output_tokens,
        ttft_s=float(out.ttft_s[k]),
        decode_tokens_per_s=float(out.decode_tokens_per_s[k]),
        sized_at=sized,
        meets_target=ok,
    )


def best_replica(
    dep: Deployment,
    max_ttft_s: float | None = None,
    min_tokens_per_s: float | None = None,
    max_gpus: int = 8,
    peak_requests_per_s: float | None = None,
) -> tuple[Deployment, ReplicaCapacity]:
    """The replica size (GPUs of its kind in one box) that needs the fewest GPUs for the peak load.

    The smallest size that holds the model often has little room left for cache, so a larger tensor-
    parallel replica can carry several times the traffic per GPU; at low volume the smallest size wins.
    Ties (and no peak given) go to the most requests per GPU. A size the user fixed (NxID) is kept.
    """
    if dep.n_gpus > 1:
        return dep, replica_capacity(dep, max_ttft_s, min_tokens_per_s)
    first = min_gpus(replace(dep, concurrency=1), 1)
    if first is None:
        return dep, replica_capacity(dep, max_ttft_s, min_tokens_per_s)
    best: tuple[Deployment, ReplicaCapacity] | None = None
    for n in (c for c in GPU_COUNTS if first <= c <= max(first, max_gpus)):
        if dep.engine.tensor_parallel and dep.model.num_heads % n:
            continue
        candidate = replace(dep, n_gpus=n)
        cap = replica_capacity(candidate, max_ttft_s, min_tokens_per_s)

        def rank(d: Deployment, c: ReplicaCapacity) -> tuple:
            gpus = (
                float(replicas_needed(peak_requests_per_s, c.requests_per_s)) * d.n_gpus
                if peak_requests_per_s is not None and c.requests_per_s > 0
                else 0.0
            )
            return (c.meets_target, -gpus, c.requests_per_s / d.n_gpus)

        if best is None or rank(candidate, cap) > rank(*best):
            best = (candidate, cap)
        if not dep.engine.tensor_parallel:
            break  # layer split adds memory, not speed
    return best if best else (dep, replica_capacity(dep, max_ttft_s, min_tokens_per_s))


def replicas_needed(peak_requests_per_s, replica_requests_per_s) -> np.ndarray:
    """Replicas to serve a peak request rate (at least one)."""
    peak = np.asarray(peak_requests_per_s, dtype=np.float64)
    per = max(float(replica_requests_per_s), 1e-12)
    return np.maximum(np.ceil(peak / per - 1e-9), 1).astype(np.int64)


@dataclass(frozen=True)
class OperatingPoint:
    """Where one replica runs when a given request rate arrives."""

    concurrency: int  # requests in flight (Little's law: rate x request latency)
    ttft_s: float
    decode_tokens_per_s: float
    request_latency_s: float


def operating_point(dep: Deployment, requests_per_s: float, curve: ServingCurve | None = None) -> OperatingPoint:
    """The replica's state at `requests_per_s`: the fewest requests in flight whose completion rate
    (concurrency / request latency) carries that rate, at most the pool's full load."""
    curve = curve or serving_curve(dep)
    if curve is None:
        return OperatingPoint(0, math.inf, 0.0, math.inf)
    conc, out = curve.concurrency, curve.figures
    rate = conc / out.request_latency_s
    enough = np.nonzero(rate >= requests_per_s)[0]
    k = int(enough[0]) if len(enough) else len(conc) - 1
    return OperatingPoint(
        int(conc[k]), float(out.ttft_s[k]), float(out.decode_tokens_per_s[k]), float(out.request_latency_s[k])
    )
