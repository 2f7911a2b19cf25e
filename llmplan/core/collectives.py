"""Collectives between the GPUs of one box, from measured curves by message size (catalog/kernels.py)."""

from __future__ import annotations

import numpy as np

from llmplan.catalog.kernels import Collective

# Latency of one all-reduce where no curve applies (unified memory, CPU boxes): the link kind's floor
RING_FLOOR_S = {
    "nvlink": 8e-6,
    "infinity-fabric": 10e-6,
    "pcie": 25e-6,
    "ethernet": 60e-6,
    "none": 25e-6,
    "unified": 0.0,
}


def seconds(curve: Collective | None, message_bytes, n_gpus):
    """One collective of `message_bytes` per GPU over `n_gpus` (0 on one GPU)."""
    n = np.asarray(n_gpus, dtype=np.float64)
    if curve is None:
        return np.zeros_like(n * np.asarray(message_bytes, dtype=np.float64))
    t = curve.floor_s + np.asarray(message_bytes, dtype=np.float64) / curve.bytes_per_s
    return np.where(n > 1, t, 0.0)


def ring_allreduce_seconds(message_bytes, n_gpus, link_bytes_per_s, link_kind: str):
    """A ring all-reduce moves 2(n-1)/n of the message over each link, plus the link's latency floor."""
    n = np.asarray(n_gpus, dtype=np.float64)
    t = 2.0 * (n - 1) / np.maximum(n, 1) * np.asarray(message_bytes) / link_bytes_per_s + RING_FLOOR_S.get(
        link_kind, 25e-6
    )
    return np.where(n > 1, t, 0.0)
