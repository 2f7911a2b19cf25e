"""Dense GEMMs of one forward pass, timed by the roofline of a measured GEMM curve.

Engines fuse the projections that share an input (q/k/v into one QKV GEMM, gate/up into one): each fused
GEMM pays one launch floor. Under tensor parallel every GEMM is sliced (column- or row-parallel, the lm_head
vocab-parallel), so each GPU streams and multiplies 1/tp of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmplan.catalog.kernels import Roofline
from llmplan.models.architecture import ModelSpec

ACTIVATION_BYTES = 2.0  # activations in and out of a GEMM are 16-bit in every engine modelled
_FUSED = {
    "q_proj": "qkv",
    "k_proj": "qkv",
    "v_proj": "qkv",
    "gate_proj": "gate_up",
    "up_proj": "gate_up",
    "w1": "gate_up",
    "w3": "gate_up",
}


@dataclass(frozen=True)
class Gemm:
    """One (fused) GEMM of a layer: `[tokens x k] @ [k x n]`, run `count` times per forward pass."""

    name: str
    n: int
    k: int
    count: int
    weight_bytes: float  # one instance's weights at the format's bits
    lm_head: bool = False  # in prefill only each prompt's last token reaches it


def model_gemms(model: ModelSpec, linear_bits: float, head_bits: float, dense_read_bytes: float) -> tuple[Gemm, ...]:
    """The model's dense GEMMs (attention projections, dense MLPs, shared experts) and its lm_head."""
    fused: dict[tuple[str, str, int, int], list[int]] = {}
    for kind, name, k_in, n_out, count in model.linear_modules:
        if kind == "expert":
            continue
        key = (kind, _FUSED.get(name, name), k_in, count)
        fused.setdefault(key, []).append(n_out)
    gemms = [
        Gemm(f"{kind}.{name}", sum(outs), k_in, count, sum(outs) * k_in * linear_bits / 8)
        for (kind, name, k_in, count), outs in fused.items()
    ]
    head = model.vocab_size * model.hidden_size * head_bits / 8
    if not gemms:
        # No layer shapes (e.g. a GGUF without them): one GEMM per layer carrying the dense weights
        body = max(dense_read_bytes - head, 0.0) / max(model.num_layers, 1)
        n_out = max(int(body * 8 / linear_bits / max(model.hidden_size, 1)), 1)
        gemms = [Gemm("layer", n_out, model.hidden_size, model.num_layers, body)]
    gemms.append(Gemm("lm_head", model.vocab_size, model.hidden_size, 1, head, lm_head=True))
    return tuple(gemms)


def smooth_max(a, b, p: float):
    """(a^p + b^p)^(1/p): the roofline's max, rounded where memory and math time are close."""
    hi = np.maximum(np.maximum(a, b), 1e-30)
    return hi * ((a / hi) ** p + (b / hi) ** p) ** (1.0 / p)


def roofline_seconds(roof: Roofline, bytes_, flops, bandwidth, peak):
    return roof.floor_s + smooth_max(
        bytes_ / (bandwidth * roof.bandwidth_eff), flops / (peak * roof.math_eff), roof.smooth_p
    )


def seconds(gemms: tuple[Gemm, ...], tokens, roof: Roofline, bandwidth, peak, tp, head_tokens=None):
    """Seconds of all dense GEMMs for `tokens` tokens on one GPU of a tensor-parallel group of `tp`."""
    m = np.asarray(tokens, dtype=np.float64)
    head_m = m if head_tokens is None else np.asarray(head_tokens, dtype=np.float64)
    total = 0.0
    for g in gemms:
        rows = head_m if g.lm_head else m
        bytes_ = (g.weight_bytes + rows * (g.n + g.k) * ACTIVATION_BYTES) / tp
        flops = 2.0 * rows * g.n * g.k / tp
        total = total + g.count * roofline_seconds(roof, bytes_, flops, bandwidth, peak)
    return total
