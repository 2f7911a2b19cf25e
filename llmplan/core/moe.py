"""Routed experts as grouped GEMMs, timed by the roofline of a measured grouped-MoE curve.

A step streams only the experts its tokens are routed to: with routing close to uniform, a GPU holding E_l of
the E experts touches E_l x (1 - (1 - k/E)^T) of them for T tokens of top-k routing. Each touched expert is its
own small GEMM problem (a per-expert cost in the fit), and the math is 2 x matrices x T x k x hidden x
intermediate FLOPs over the expert-parallel group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmplan.catalog.kernels import Roofline
from llmplan.core.gemm import ACTIVATION_BYTES, roofline_seconds
from llmplan.models.architecture import ModelSpec


@dataclass(frozen=True)
class Experts:
    layers: int
    num_experts: int
    top_k: int
    hidden: int
    params_each: float  # weights of one expert in one layer (all its matrices)
    bytes_each: float


def model_experts(model: ModelSpec, expert_bits: float) -> Experts | None:
    if not model.num_experts or not model.moe_layers:
        return None
    shapes = [(k_in, n_out) for kind, _, k_in, n_out, _ in model.linear_modules if kind == "expert"]
    if shapes:
        params_each = float(sum(k_in * n_out for k_in, n_out in shapes))
    else:
        params_each = model.expert_params / (model.num_experts * model.moe_layers)
    return Experts(
        model.moe_layers,
        model.num_experts,
        max(model.experts_per_token, 1),
        model.hidden_size,
        params_each,
        params_each * expert_bits / 8,
    )


def touched_experts(experts: Experts, tokens, ep) -> np.ndarray:
    """Expected experts one GPU's share of the layer must stream for `tokens` routed tokens."""
    t = np.maximum(np.asarray(tokens, dtype=np.float64), 0.0)
    share = experts.top_k / experts.num_experts
    return experts.num_experts / ep * (1.0 - (1.0 - share) ** t)


def seconds(experts: Experts, tokens, roof: Roofline, bandwidth, peak, ep, tp_slice):
    """All MoE layers of one step on one GPU: `tokens` enter each layer (the whole EP group's tokens)."""
    t = np.asarray(tokens, dtype=np.float64)
    touched = touched_experts(experts, t, ep)
    routed = t * experts.top_k / ep  # token-expert pairs this GPU computes
    bytes_ = (touched * experts.bytes_each + routed * 2 * experts.hidden * ACTIVATION_BYTES) / tp_slice
    flops = 2.0 * routed * experts.params_each / tp_slice
    per_layer = roofline_seconds(roof, bytes_, flops, bandwidth, peak) + touched * roof.per_expert_s
    return experts.layers * per_layer
