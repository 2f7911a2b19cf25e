"""Money: the one cost formula that `breakeven`, `compare` and `check` share.

A month is 730 hours (8,760 / 12) everywhere, token volumes included: a month of traffic is
730 / 24 = 30.42 days. Prices are USD; token prices USD per million tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MONTH_HOURS = 730.0
DAYS_PER_MONTH = MONTH_HOURS / 24.0

# What running a deployment costs besides its GPUs when the user says nothing: the one set of defaults
# `breakeven` and `check` share (LOW, HIGH; the base case is the midpoint).
DEFAULT_ENGINEERING_HOURS_PER_MONTH = (10.0, 20.0)
DEFAULT_ENGINEERING_RATE_USD = (100.0, 100.0)
DEFAULT_MONITORING_USD_PER_MONTH = (100.0, 200.0)


@dataclass(frozen=True)
class OwnershipTerms:
    """Buying instead of renting."""

    years: float = 3.0  # straight-line amortization period
    usd_per_kwh: float = 0.13  # US commercial average (EIA 2023-24)
    pue: float = 1.4  # modern colocation (Uptime Institute: 1.58 industry average, 1.1-1.2 hyperscale)
    server_power_share: float = 0.5  # CPU, RAM, NICs, fans on top of GPU power
    server_capex_share: float = 0.25  # host server and networking per GPU, share of the GPU's price
    power_utilization: float = 0.7  # average draw as a share of TDP while serving


def monthly_tokens(requests_per_day, tokens_per_request):
    """Tokens a month of `requests_per_day` brings (730-hour month)."""
    return np.asarray(requests_per_day, dtype=np.float64) * DAYS_PER_MONTH * tokens_per_request


def api_monthly_cost_usd(
    requests_per_day,
    input_tokens: float,
    output_tokens: float,
    input_usd_per_mtok,
    output_usd_per_mtok,
    cached_input_usd_per_mtok=None,
    cacheable_share: float = 0.0,
    batch_share: float = 0.0,
    batch_discount: float = 0.0,
):
    """Tokens x prices: cached prompt tokens at the cache-read price, a batch share at the batch discount."""
    tin = monthly_tokens(requests_per_day, input_tokens) / 1e6
    tout = monthly_tokens(requests_per_day, output_tokens) / 1e6
    cached_price = input_usd_per_mtok if cached_input_usd_per_mtok is None else cached_input_usd_per_mtok
    share = cacheable_share if cached_input_usd_per_mtok is not None else 0.0
    inp = tin * ((1 - share) * input_usd_per_mtok + share * cached_price)
    total = inp + tout * output_usd_per_mtok
    return total * (1 - batch_share * batch_discount)


def rent_monthly_usd(gpus, usd_per_gpu_hour):
    return np.asarray(gpus, dtype=np.float64) * np.asarray(usd_per_gpu_hour, dtype=np.float64) * MONTH_HOURS


def power_monthly_usd(gpus, tdp_watts: float, terms: OwnershipTerms):
    """GPU power x utilization, plus the server's share, x PUE, for 730 hours."""
    kw = np.asarray(gpus, dtype=np.float64) * tdp_watts / 1000.0
    return kw * terms.power_utilization * (1 + terms.server_power_share) * terms.pue * MONTH_HOURS * terms.usd_per_kwh


def own_monthly_usd(gpus, purchase_usd: float, tdp_watts: float, terms: OwnershipTerms):
    """Purchase (with host server share) amortized straight-line, plus power."""
    capex = np.asarray(gpus, dtype=np.float64) * purchase_usd * (1 + terms.server_capex_share)
    return capex / (terms.years * 12.0) + power_monthly_usd(gpus, tdp_watts, terms)


def engineering_monthly_usd(hours_per_month, usd_per_hour):
    return np.asarray(hours_per_month, dtype=np.float64) * np.asarray(usd_per_hour, dtype=np.float64)


def usd_per_mtok(monthly_usd, monthly_tokens_all_kinds):
    """USD per million tokens of all kinds (input + output) actually served."""
    tok = np.asarray(monthly_tokens_all_kinds, dtype=np.float64)
    return np.where(tok > 0, np.asarray(monthly_usd, dtype=np.float64) / np.maximum(tok, 1.0) * 1e6, np.inf)


def full_load_usd_per_mtok(hourly_usd, output_tokens_per_s, input_tokens: float, output_tokens: float):
    """Cost per million tokens (input + output) of a replica kept at full load for the request shape."""
    out_per_hour = np.asarray(output_tokens_per_s, dtype=np.float64) * 3600.0
    all_per_hour = out_per_hour * (input_tokens + output_tokens) / output_tokens
    return np.asarray(hourly_usd, dtype=np.float64) / np.maximum(all_per_hour, 1e-9) * 1e6


def breakeven_requests_per_day(
    api_usd_per_request_day: float,
    fixed_monthly_usd: float,
    per_replica_monthly_usd: float,
    replica_requests_per_day: float,
    first_replicas: int = 1,
    max_replicas: int = 100_000,
) -> float | None:
    """Smallest daily volume at which self-hosting costs no more than the API.

    Self-hosting is a step function: k replicas serve up to k x replica capacity, at fixed + k x per-replica
    cost. The API is linear: `api_usd_per_request_day` x volume per month. Returns None when self-hosting
    never catches up (each added replica costs more than the traffic it serves would cost at the API).
    """
    a = api_usd_per_request_day
    if a <= 0 or replica_requests_per_day <= 0:
        return None
    if a * replica_requests_per_day < per_replica_monthly_usd:
        # marginal replica costs more than the API charges for what it serves: only the first steps can win
        max_replicas = min(max_replicas, first_replicas + 1000)
    for k in range(first_replicas, max_replicas + 1):
        lo = (k - 1) * replica_requests_per_day if k > first_replicas else 0.0
        hi = k * replica_requests_per_day
        cost = fixed_monthly_usd + k * per_replica_monthly_usd
        if a * hi >= cost:
            return float(max(lo, cost / a))
    return None
