"""The breakeven planner: a workload, a self-hosted deployment and paid APIs, priced on one basis.

Inputs may be ranges (`LOW..HIGH` on the command line, `{low, high}` in YAML); the base case uses the
midpoint, low/high the favourable/unfavourable ends for self-hosting, and a seeded Monte Carlo over
uniform draws says how often self-hosting wins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from llmplan.catalog.schemas import ApiEntry, GpuEntry
from llmplan.core import cost as C
from llmplan.core.capacity import best_replica, replicas_needed
from llmplan.core.fit import Deployment, fit
from llmplan.errors import MAX_COUNT, InputError

SAMPLES = 4000
SEED = 20261125


class Range(BaseModel):
    """A number or a range; a single number is a range of width zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float = Field(ge=0)
    high: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self

    @property
    def base(self) -> float:
        return (self.low + self.high) / 2.0

    @classmethod
    def of(cls, value: Any) -> "Range":
        if isinstance(value, Range):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if isinstance(value, (int, float)):
            return cls(low=float(value), high=float(value))
        text = str(value).strip()
        try:
            if ".." in text:
                lo, hi = (float(p) for p in text.split("..", 1))
                return cls(low=lo, high=hi)
            return cls(low=float(text), high=float(text))
        except ValueError:
            raise InputError(f"{value!r} is neither a number nor a range LOW..HIGH") from None

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.low == self.high:
            return np.full(n, self.low)
        return rng.uniform(self.low, self.high, n)


def _range(v: Any) -> Range:
    return Range.of(v)


class Workload(BaseModel):
    """What the service must carry. From flags or a workload YAML file."""

    model_config = ConfigDict(extra="forbid")
    requests_per_day: float | None = Field(default=None, gt=0, le=MAX_COUNT)
    tokens_per_month: float | None = Field(
        default=None, gt=0, le=MAX_COUNT, description="input + output tokens a month"
    )
    input_tokens: int = Field(default=500, gt=0, le=MAX_COUNT)
    output_tokens: int = Field(default=500, gt=0, le=MAX_COUNT)
    cacheable_share: float = Field(default=0.0, ge=0, le=1, description="share of prompt tokens an API caches")
    batch_share: float = Field(default=0.0, ge=0, le=1, description="share of traffic eligible for batch APIs")
    peak_to_average: Range = Field(default_factory=lambda: Range(low=2.0, high=2.0))
    hours_per_day: float = Field(default=24.0, gt=0, le=24, description="hours a day the traffic arrives in")
    max_ttft_s: float | None = Field(default=None, gt=0)
    min_tokens_per_s: float | None = Field(default=None, gt=0)

    @field_validator("peak_to_average", mode="before")
    @classmethod
    def _as_range(cls, v: Any) -> Range:
        return _range(v)

    @model_validator(mode="after")
    def _volume(self) -> "Workload":
        if self.requests_per_day is None and self.tokens_per_month is None:
            raise ValueError(
                "no volume: give --requests-per-day N or --tokens-per-month N (in a --workload "
                "file: workload.requests_per_day or workload.tokens_per_month)"
            )
        if self.requests_per_day is None:
            per_request = self.input_tokens + self.output_tokens
            self.requests_per_day = self.tokens_per_month / per_request / C.DAYS_PER_MONTH
        if self.peak_to_average.low < 1:
            raise ValueError("peak_to_average must be at least 1")
        return self

    def average_requests_per_s(self, requests_per_day=None):
        rpd = self.requests_per_day if requests_per_day is None else requests_per_day
        return np.asarray(rpd, dtype=np.float64) / (self.hours_per_day * 3600.0)


class SelfHostTerms(BaseModel):
    """What running it yourself costs besides the GPUs' work."""

    model_config = ConfigDict(extra="forbid")
    mode: str = Field(default="rent", pattern="^(rent|own)$")
    rental_tier: str = Field(default="on_demand", pattern="^(on_demand|reserved|spot)$")
    gpu_hourly_usd: Range | None = None
    engineering_hours: Range = Field(
        default_factory=lambda: Range(
            low=C.DEFAULT_ENGINEERING_HOURS_PER_MONTH[0], high=C.DEFAULT_ENGINEERING_HOURS_PER_MONTH[1]
        )
    )
    engineering_rate_usd: Range = Field(
        default_factory=lambda: Range(low=C.DEFAULT_ENGINEERING_RATE_USD[0], high=C.DEFAULT_ENGINEERING_RATE_USD[1])
    )
    monitoring_usd: Range = Field(
        default_factory=lambda: Range(
            low=C.DEFAULT_MONITORING_USD_PER_MONTH[0], high=C.DEFAULT_MONITORING_USD_PER_MONTH[1]
        )
    )
    redundancy: int = Field(default=0, ge=0, description="spare replicas (1 = N+1)")
    max_utilization: float = Field(
        default=1.0, gt=0, le=1, description="the peak rate uses at most this share of what the replicas serve"
    )
    years: float = Field(default=3.0, gt=0)
    usd_per_kwh: float = Field(default=0.13, ge=0)
    pue: float = Field(default=1.4, ge=1)

    @field_validator("gpu_hourly_usd", "engineering_hours", "engineering_rate_usd", "monitoring_usd", mode="before")
    @classmethod
    def _as_range(cls, v: Any) -> Range | None:
        return None if v is None else _range(v)


# ------------------------------------------------------------------------------------------ reports


class PriceRef(BaseModel):
    usd: float
    source: str
    as_of: str


class SelfHostedReport(BaseModel):
    gpu: str
    gpus: int
    gpus_per_replica: int
    replicas: int
    quant: str
    engine: str
    mode: str
    gpu_hourly_usd: float | None
    gpu_price: PriceRef | None
    replica_requests_per_s: float
    replica_output_tokens_per_s: float
    sized_at: str
    engineering_monthly_usd: float
    monitoring_monthly_usd: float
    gpu_monthly_usd: float
    monthly_cost_usd: float
    monthly_cost_low_usd: float
    monthly_cost_high_usd: float
    usd_per_mtok: float
    utilization: float
    redundancy: int = Field(default=0, description="spare replicas counted in `replicas`")
    max_utilization: float = Field(default=1.0, description="share of replica capacity the peak may use")


class ApiReport(BaseModel):
    id: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None
    monthly_cost_usd: float
    usd_per_mtok: float
    breakeven_requests_per_day: float | None
    self_hosted_wins_share: float
    source: str
    as_of: str
    tier: str | None = None


class WorkloadReport(BaseModel):
    requests_per_day: float
    input_tokens: int
    output_tokens: int
    month_hours: float
    monthly_input_tokens: float
    monthly_output_tokens: float
    average_requests_per_s: float
    peak_requests_per_s: float
    peak_to_average: float
    hours_per_day: float


class BreakevenReport(BaseModel):
    model: str
    workload: WorkloadReport
    self_hosted: SelfHostedReport
    apis: list[ApiReport]
    verdict: str
    reasons: list[str]
    warnings: list[str]
    fit: dict | None = None


# ------------------------------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class GpuPrice:
    hourly_usd: float | None
    hourly_ref: PriceRef | None
    purchase_usd: float | None
    purchase_ref: PriceRef | None


RENTAL_TIERS = ("on_demand", "reserved", "spot")


def rentals_of_tier(gpu_id: str, gpu: GpuEntry, tier: str) -> list:
    """The catalog's rental prices of `tier` for the GPU. A tier it has no price for is an error listing the
    tiers it has (pricing spot as on-demand without a word would mislead); a GPU with no rental at all gives
    an empty list, for the caller to say what to pass instead."""
    if tier not in RENTAL_TIERS:
        raise InputError(f"unknown rental tier {tier!r}; choose one of: {', '.join(RENTAL_TIERS)}")
    rentals = [r for r in gpu.rental if r.tier == tier]
    if not rentals and gpu.rental:
        have = sorted({r.tier for r in gpu.rental})
        raise InputError(
            f"the catalog has no {tier} price for {gpu_id}; tiers it has: {', '.join(have)} "
            f"(use --rental-tier {have[0]}, or give a price with --gpu-hourly-usd or --prices FILE)"
        )
    return rentals


def gpu_price(dep: Deployment, tier: str = "on_demand", strict: bool = False) -> GpuPrice:
    """Cheapest catalog rental of the tier (per GPU-hour) and the purchase price, with sources. `strict`: a tier
    without a catalog price is an error (see rentals_of_tier), else it falls back to on-demand."""
    if strict:
        rentals = rentals_of_tier(dep.gpu_id, dep.gpu, tier)
    else:
        rentals = [r for r in dep.gpu.rental if r.tier == tier] or [r for r in dep.gpu.rental if r.tier == "on_demand"]
    hourly = ref = None
    if rentals:
        best = min(rentals, key=lambda r: r.usd_per_gpu_hour)
        hourly = best.usd_per_gpu_hour
        ref = PriceRef(
            usd=hourly, source=f"{best.provider} {best.instance or ''}: {best.source}".strip(), as_of=str(best.as_of)
        )
    purchase = pref = None
    if dep.gpu.purchase_usd:
        purchase = dep.gpu.purchase_usd
        pref = PriceRef(
            usd=purchase,
            source=dep.gpu.purchase_source or dep.gpu.source,
            as_of=str(dep.gpu.purchase_as_of or dep.gpu.as_of),
        )
    return GpuPrice(hourly, ref, purchase, pref)


def price_age_warnings(items: list[tuple[str, str]], max_age_days: int, today: dt.date | None = None) -> list[str]:
    today = today or dt.date.today()
    out = []
    for label, as_of in items:
        try:
            age = (today - dt.date.fromisoformat(str(as_of)[:10])).days
        except ValueError:
            continue
        if age > max_age_days:
            out.append(f"price of {label} is {age} days old (as of {as_of}); refresh it or pass --max-price-age-days")
    return out


# ----------------------------------------------------------------------------------------- planner


def people_monthly_usd(terms: SelfHostTerms) -> float:
    """Engineering time plus monitoring a month, base case: the part of the bill that is not GPUs."""
    return float(
        C.engineering_monthly_usd(terms.engineering_hours.base, terms.engineering_rate_usd.base)
        + terms.monitoring_usd.base
    )


def replicas_for(peak_requests_per_s, replica_requests_per_s: float, max_utilization: float, redundancy: int):
    """Replicas for a peak rate, each loaded to at most `max_utilization` of its capacity, plus the spares."""
    return replicas_needed(peak_requests_per_s, replica_requests_per_s * max_utilization) + redundancy


def gpu_month_usd(terms: SelfHostTerms, gpus, hourly, dep: Deployment, price: GpuPrice):
    """GPUs a month: rented at `hourly` per GPU-hour, or owned (amortized purchase plus power)."""
    if terms.mode == "own":
        if not price.purchase_usd:
            raise InputError(f"{dep.gpu_id} has no purchase price in the catalog; use --mode rent or --prices FILE")
        own = C.OwnershipTerms(years=terms.years, usd_per_kwh=terms.usd_per_kwh, pue=terms.pue)
        return C.own_monthly_usd(gpus, price.purchase_usd, dep.gpu.tdp_watts, own)
    return C.rent_monthly_usd(gpus, hourly)


@dataclass(frozen=True)
class _SelfHostCost:
    """Monthly self-hosting cost as a function of the uncertain terms; numpy arrays in give a Monte Carlo out."""

    workload: Workload
    terms: SelfHostTerms
    dep: Deployment
    price: GpuPrice
    replica_requests_per_s: float
    gpus_per_replica: int
    hourly_range: Range | None

    def __call__(self, peak_ratio, hourly, eng_h, eng_rate, monitoring):
        peak_rps = self.workload.average_requests_per_s() * peak_ratio
        replicas = replicas_for(
            peak_rps, self.replica_requests_per_s, self.terms.max_utilization, self.terms.redundancy
        )
        gpu_month = gpu_month_usd(self.terms, replicas * self.gpus_per_replica, hourly, self.dep, self.price)
        return gpu_month + C.engineering_monthly_usd(eng_h, eng_rate) + monitoring, replicas, gpu_month

    @property
    def hourly_base_usd(self) -> float:
        return self.hourly_range.base if self.hourly_range else 0.0

    def at(self, end: str):
        """The cost with every range at `end`: "low" (favourable to self-hosting), "base" or "high"."""
        t = self.terms
        return self(
            getattr(self.workload.peak_to_average, end),
            getattr(self.hourly_range, end) if self.hourly_range else 0.0,
            getattr(t.engineering_hours, end),
            getattr(t.engineering_rate_usd, end),
            getattr(t.monitoring_usd, end),
        )

    def monte_carlo(self) -> np.ndarray:
        """Seeded uniform draws of every range: the monthly cost, one per draw."""
        rng = np.random.default_rng(SEED)
        t = self.terms
        cost, _, _ = self(
            self.workload.peak_to_average.sample(rng, SAMPLES),
            self.hourly_range.sample(rng, SAMPLES) if self.hourly_range else np.zeros(SAMPLES),
            t.engineering_hours.sample(rng, SAMPLES),
            t.engineering_rate_usd.sample(rng, SAMPLES),
            t.monitoring_usd.sample(rng, SAMPLES),
        )
        return cost


def _sized_replica(dep: Deployment, workload: Workload, perf_model: str, config: dict | None):
    """The cheapest replica that meets the latency target at the workload's shape, its capacity and fit report."""
    dep = replace(
        dep,
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        context=max(dep.context, workload.input_tokens + workload.output_tokens),
        concurrency=None,
    )
    peak_rps = float(workload.average_requests_per_s()) * workload.peak_to_average.base
    dep, cap = best_replica(dep, workload.max_ttft_s, workload.min_tokens_per_s, peak_requests_per_s=peak_rps)
    if perf_model != "analytic":
        from llmplan.plans.perf_model import rescore_capacity

        cap = rescore_capacity(cap, dep, config, perf_model)
    fit_report = fit(replace(dep, concurrency=1))
    if cap.requests_per_s <= 0:
        raise InputError(
            f"{dep.model.id} in {dep.fmt.name} does not fit on {dep.n_gpus}x{dep.gpu_id}; "
            "choose a bigger GPU, more GPUs or a smaller format"
        )
    return dep, cap, fit_report


def _hourly_range(dep: Deployment, terms: SelfHostTerms, price: GpuPrice) -> Range | None:
    """Per GPU-hour: the user's range, else the catalog's price when renting, else none (owned GPUs)."""
    if terms.mode != "rent" or terms.gpu_hourly_usd is not None:
        return terms.gpu_hourly_usd
    if price.hourly_usd is None:
        raise InputError(
            f"the catalog has no {terms.rental_tier} rental price for {dep.gpu_id}; pass --gpu-hourly-usd or --mode own"
        )
    return Range(low=price.hourly_usd, high=price.hourly_usd)


def _api_report(
    api_id: str,
    api: ApiEntry,
    workload: Workload,
    self_host_costs: np.ndarray,
    fixed_usd: float,
    per_replica_month_usd: float,
    replica_requests_per_day: float,
) -> ApiReport:
    rpd = workload.requests_per_day
    monthly = float(
        C.api_monthly_cost_usd(
            rpd,
            workload.input_tokens,
            workload.output_tokens,
            api.input_usd_per_mtok,
            api.output_usd_per_mtok,
            api.cached_input_usd_per_mtok,
            workload.cacheable_share,
            workload.batch_share,
            api.batch_discount,
        )
    )
    be = C.breakeven_requests_per_day(monthly / rpd, fixed_usd, per_replica_month_usd, replica_requests_per_day)
    tokens_month = float(C.monthly_tokens(rpd, workload.input_tokens + workload.output_tokens))
    return ApiReport(
        id=api_id,
        input_usd_per_mtok=api.input_usd_per_mtok,
        output_usd_per_mtok=api.output_usd_per_mtok,
        cached_input_usd_per_mtok=api.cached_input_usd_per_mtok,
        monthly_cost_usd=round(monthly, 2),
        usd_per_mtok=round(float(C.usd_per_mtok(monthly, tokens_month)), 4),
        breakeven_requests_per_day=None if be is None else round(be, 1),
        self_hosted_wins_share=round(float(np.mean(self_host_costs <= monthly)), 3),
        source=api.source,
        as_of=str(api.as_of),
        tier=api.tier,
    )


def _price_ages(api_reports: list[ApiReport], dep: Deployment, terms: SelfHostTerms, price: GpuPrice):
    """Every catalog price the report stands on, as (label, as-of date)."""
    items = [(a.id, a.as_of) for a in api_reports]
    if terms.mode == "rent" and terms.gpu_hourly_usd is None and price.hourly_ref:
        items.append((f"{dep.gpu_id} rental", price.hourly_ref.as_of))
    if terms.mode == "own" and price.purchase_ref:
        items.append((f"{dep.gpu_id} purchase", price.purchase_ref.as_of))
    return items


def _gpu_price_ref(terms: SelfHostTerms, price: GpuPrice, hourly_usd: float) -> PriceRef | None:
    if terms.mode == "own":
        return price.purchase_ref
    if terms.gpu_hourly_usd is None:
        return price.hourly_ref
    return PriceRef(usd=hourly_usd, source="--gpu-hourly-usd", as_of=str(dt.date.today()))


def _self_hosted_report(dep: Deployment, cap, terms: SelfHostTerms, cost: _SelfHostCost) -> SelfHostedReport:
    base_cost, replicas, gpu_month = cost.at("base")
    replicas = int(replicas)
    tokens_month = float(
        C.monthly_tokens(cost.workload.requests_per_day, cost.workload.input_tokens + cost.workload.output_tokens)
    )
    avg_rps = float(cost.workload.average_requests_per_s())
    hourly_base = cost.hourly_base_usd
    return SelfHostedReport(
        gpu=dep.gpu_id,
        gpus=replicas * cap.gpus_per_replica,
        gpus_per_replica=cap.gpus_per_replica,
        replicas=replicas,
        quant=dep.fmt.name,
        engine=dep.engine.name,
        mode=terms.mode,
        gpu_hourly_usd=None if terms.mode == "own" else round(hourly_base, 4),
        gpu_price=_gpu_price_ref(terms, cost.price, hourly_base),
        replica_requests_per_s=round(cap.requests_per_s, 4),
        replica_output_tokens_per_s=round(cap.output_tokens_per_s, 1),
        sized_at=cap.sized_at,
        engineering_monthly_usd=round(
            float(C.engineering_monthly_usd(terms.engineering_hours.base, terms.engineering_rate_usd.base)), 2
        ),
        monitoring_monthly_usd=round(terms.monitoring_usd.base, 2),
        gpu_monthly_usd=round(float(gpu_month), 2),
        monthly_cost_usd=round(float(base_cost), 2),
        monthly_cost_low_usd=round(float(cost.at("low")[0]), 2),
        monthly_cost_high_usd=round(float(cost.at("high")[0]), 2),
        usd_per_mtok=round(float(C.usd_per_mtok(base_cost, tokens_month)), 4),
        utilization=round(min(avg_rps / (replicas * cap.requests_per_s), 1.0) if replicas else 0.0, 4),
        redundancy=terms.redundancy,
        max_utilization=terms.max_utilization,
    )


def _workload_report(workload: Workload) -> WorkloadReport:
    rpd = workload.requests_per_day
    avg_rps = float(workload.average_requests_per_s())
    return WorkloadReport(
        requests_per_day=rpd,
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        month_hours=C.MONTH_HOURS,
        monthly_input_tokens=float(C.monthly_tokens(rpd, workload.input_tokens)),
        monthly_output_tokens=float(C.monthly_tokens(rpd, workload.output_tokens)),
        average_requests_per_s=round(avg_rps, 4),
        peak_requests_per_s=round(avg_rps * workload.peak_to_average.base, 4),
        peak_to_average=workload.peak_to_average.base,
        hours_per_day=workload.hours_per_day,
    )


def plan_breakeven(
    dep: Deployment,
    workload: Workload,
    terms: SelfHostTerms,
    apis: list[tuple[str, ApiEntry]],
    max_price_age_days: int = 180,
    today: dt.date | None = None,
    perf_model: str = "analytic",
    config: dict | None = None,
) -> BreakevenReport:
    dep, cap, fit_report = _sized_replica(dep, workload, perf_model, config)
    warnings: list[str] = []
    if not cap.meets_target:
        warnings.append("no concurrency meets the latency target on this GPU; sized at concurrency 1")
    # the tier matters only where the catalog prices the GPUs
    price = gpu_price(dep, terms.rental_tier, strict=terms.mode == "rent" and terms.gpu_hourly_usd is None)
    cost = _SelfHostCost(
        workload, terms, dep, price, cap.requests_per_s, cap.gpus_per_replica, _hourly_range(dep, terms, price)
    )
    per_replica_month = float(gpu_month_usd(terms, cap.gpus_per_replica, cost.hourly_base_usd, dep, price))
    fixed = people_monthly_usd(terms) + terms.redundancy * per_replica_month
    replica_rpd = cap.requests_per_s * workload.hours_per_day * 3600.0 / workload.peak_to_average.base
    mc_cost = cost.monte_carlo()
    api_reports = [
        _api_report(api_id, api, workload, mc_cost, fixed, per_replica_month, replica_rpd) for api_id, api in apis
    ]
    warnings += price_age_warnings(_price_ages(api_reports, dep, terms, price), max_price_age_days, today)
    warnings += fit_report.warnings
    self_report = _self_hosted_report(dep, cap, terms, cost)
    workload_report = _workload_report(workload)
    capacity_rps = (self_report.replicas - terms.redundancy) * cap.requests_per_s
    verdict, reasons = _verdict(self_report, api_reports, workload_report, capacity_rps, dep)
    return BreakevenReport(
        model=dep.model.id,
        workload=workload_report,
        self_hosted=self_report,
        apis=api_reports,
        verdict=verdict,
        reasons=reasons,
        warnings=warnings,
        fit=fit_report.model_dump(mode="json"),
    )


def _fmt_usd(x: float) -> str:
    return f"${x:,.0f}"


def _verdict(
    s: SelfHostedReport, apis: list[ApiReport], w: WorkloadReport, capacity_rps: float, dep: Deployment
) -> tuple[str, list[str]]:
    reasons = []
    cheaper = [a for a in apis if s.monthly_cost_usd < a.monthly_cost_usd]
    dearer = [a for a in apis if s.monthly_cost_usd >= a.monthly_cost_usd]
    reasons.append(
        f"volume: {w.requests_per_day:,.0f} requests/day = "
        f"{(w.monthly_input_tokens + w.monthly_output_tokens) / 1e9:,.2f} B tokens a 730-hour month"
    )
    reasons.append(
        f"utilization: the {s.gpus} GPU(s) run at {s.utilization:.0%} of their capacity on average; "
        f"idle hours are paid for too"
    )
    if w.peak_to_average > 1:
        reasons.append(f"burstiness: peaks of {w.peak_to_average:g}x the average set the GPU count")
    reasons.append(
        f"people: engineering {_fmt_usd(s.engineering_monthly_usd)} + monitoring "
        f"{_fmt_usd(s.monitoring_monthly_usd)} a month are "
        f"{(s.engineering_monthly_usd + s.monitoring_monthly_usd) / max(s.monthly_cost_usd, 1):.0%} "
        "of the self-hosted bill"
    )
    tiers = {a.tier for a in apis if a.tier}
    if tiers - {"open"}:
        reasons.append(
            f"quality: {dep.model.id} is compared with {', '.join(sorted(tiers))}-tier APIs; "
            "no sourced benchmark score in the catalog compares them, so check quality separately"
        )
    if not dearer:
        verdict = (
            f"Self-hosting {dep.model.id} on {s.gpus}x {s.gpu} ({_fmt_usd(s.monthly_cost_usd)}/month) is "
            f"cheaper than every API compared at this volume."
        )
    elif not cheaper:
        best = min(apis, key=lambda a: a.monthly_cost_usd)
        be = best.breakeven_requests_per_day
        when = (
            f"it starts to pay against {best.id} at about {be:,.0f} requests/day"
            if be
            else f"it does not catch up with {best.id} at any volume"
        )
        verdict = (
            f"Use an API: {best.id} costs {_fmt_usd(best.monthly_cost_usd)}/month against "
            f"{_fmt_usd(s.monthly_cost_usd)}/month self-hosted; {when}."
        )
    else:
        verdict = (
            f"Mixed: self-hosting ({_fmt_usd(s.monthly_cost_usd)}/month) beats "
            f"{', '.join(a.id for a in cheaper)} but not {', '.join(a.id for a in dearer)}."
        )
    return verdict, reasons


def volume_curve(report: BreakevenReport, points: int = 60) -> dict[str, Any]:
    """Monthly cost against volume for a chart: self-hosted steps and API lines."""
    s, w = report.self_hosted, report.workload
    top = max(
        [w.requests_per_day * 4]
        + [a.breakeven_requests_per_day * 2 for a in report.apis if a.breakeven_requests_per_day]
    )
    rpd = np.unique(np.append(np.geomspace(max(w.requests_per_day / 100, 1.0), top, points), w.requests_per_day))
    per_replica = s.gpu_monthly_usd / max(s.replicas, 1)
    fixed = s.engineering_monthly_usd + s.monitoring_monthly_usd
    replicas = replicas_for(
        rpd / (w.hours_per_day * 3600.0) * w.peak_to_average, s.replica_requests_per_s, s.max_utilization, s.redundancy
    )
    self_cost = fixed + replicas * per_replica
    curves = {"requests_per_day": rpd, "self_hosted": self_cost}
    for a in report.apis:
        curves[a.id] = rpd * (a.monthly_cost_usd / w.requests_per_day)
    return curves


def plot(report: BreakevenReport, path: str) -> None:
    from llmplan.plans.plotting import pyplot_for

    plt = pyplot_for(path)
    curves = volume_curve(report)
    x = curves.pop("requests_per_day")
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    ax.step(
        x,
        curves.pop("self_hosted"),
        where="post",
        lw=2.5,
        color="black",
        label=f"self-hosted: {report.self_hosted.gpus_per_replica}x {report.self_hosted.gpu} per replica",
    )
    for api in report.apis:
        (line,) = ax.plot(x, curves[api.id], lw=1.6, label=api.id)
        if api.breakeven_requests_per_day:
            be = api.breakeven_requests_per_day
            ax.plot(
                [be], [be * api.monthly_cost_usd / report.workload.requests_per_day], "o", color=line.get_color(), ms=7
            )
            ax.annotate(
                f"{be:,.0f}/day",
                (be, be * api.monthly_cost_usd / report.workload.requests_per_day),
                textcoords="offset points",
                xytext=(6, -12),
                fontsize=8,
                color=line.get_color(),
            )
    ax.axvline(report.workload.requests_per_day, color="grey", ls="--", lw=1)
    ax.text(report.workload.requests_per_day, ax.get_ylim()[1] * 0.5, " your volume", color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests per day")
    ax.set_ylabel("monthly cost, USD (730-hour month)")
    ax.set_title(
        f"{report.model}: self-hosted vs API, {report.workload.input_tokens} in / "
        f"{report.workload.output_tokens} out tokens per request",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
