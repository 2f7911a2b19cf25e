"""`llmplan plan`: the cheapest deployment that meets a workload and its latency targets.

It enumerates every GPU type with a price for the chosen mode x GPUs per box x weight format the GPU runs x
engine x layout (tensor parallel; for MoE also expert parallel with attention data parallel), sizes each
replica with the performance model's public capacity function at the targets, adds replicas for the peak rate,
and prices the result with breakeven's cost rules. The options that fit and meet every target are ranked by
monthly cost. Each names what bounds it and the layouts it beat, and carries the `llmplan fit` line that
reproduces one replica at the load it will see.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pydantic import BaseModel, Field

from llmplan.catalog.loader import Catalog
from llmplan.core import cost as C
from llmplan.core.capacity import ReplicaCapacity, operating_point
from llmplan.core.fit import Deployment, full_load_concurrency, tp_problem
from llmplan.errors import InputError, LlmplanError
from llmplan.models.resolved import ResolvedModel
from llmplan.plans.breakeven import GpuPrice, SelfHostTerms, gpu_month_usd, gpu_price, people_monthly_usd, replicas_for
from llmplan.plans.deploy import build_deployment

GPUS_PER_BOX = (1, 2, 4, 8)
SERVING_ENGINES = ("vllm", "sglang", "tensorrt-llm")
# formats tried beside the checkpoint's own: 8-bit float, 4-bit weight-only (AWQ) and NVIDIA's 4-bit float
CANDIDATE_FORMATS = ("bf16", "fp8", "awq", "nvfp4")
TARGETS = ("max_ttft_s", "min_tokens_per_s", "max_monthly_cost_usd")


@dataclass(frozen=True)
class PlanInputs:
    peak_requests_per_s: float
    average_requests_per_s: float
    input_tokens: int
    output_tokens: int
    max_ttft_s: float | None = None
    min_tokens_per_s: float | None = None
    max_monthly_cost_usd: float | None = None
    gpus: tuple[str, ...] = ()  # empty: every catalog GPU priced for the mode
    engines: tuple[str, ...] = ()
    quants: tuple[str, ...] = ()
    perf_model: str = "analytic"
    top: int = 5


class Layout(BaseModel):
    tp: int = Field(description="tensor parallel size inside a replica")
    pp: int = Field(default=1, description="pipeline stages (nodes)")
    ep: int = Field(default=1, description="expert parallel size (1: experts sliced by tensor parallel)")
    dp_attention: bool = False
    nodes: int = 1
    replicas: int
    disaggregated: bool = False


class RunnerUp(BaseModel):
    gpu: str
    total_gpus: int
    layout: str
    engine: str
    quant: str
    usd_per_month: float


class PlanOption(BaseModel):
    total_gpus: int = Field(description="all replicas")
    gpu: str
    gpus_per_replica: int
    layout: Layout
    engine: str
    quant: str
    ttft_s: float = Field(description="time to first token at the planned rate (peak), per replica's load")
    decode_tokens_per_s: float = Field(description="per user, at the planned rate (peak)")
    concurrency_per_replica: int = Field(description="requests in flight per replica at the peak (Little's law)")
    replica_requests_per_s: float = Field(description="what one replica sustains within the targets")
    utilization: float = Field(description="average load over the capacity provisioned")
    usd_per_month: float
    gpu_usd_per_month: float
    usd_per_mtok: float = Field(description="over input + output tokens of the workload actually served")
    bound_by: str = Field(description="memory, max_ttft_s, min_tokens_per_s or rate")
    beat: list[RunnerUp] = Field(default_factory=list, description="cheapest other layouts on this GPU type")
    fit_command: str
    launch_command: str | None = None
    price_source: str | None = None
    quality_note: str | None = None
    pools: list["Pool"] | None = Field(
        default=None,
        description="with request classes: each pool, its classes "
        "and cost; the option's usd_per_month and total_gpus are their sums "
        "(plus engineering and monitoring once)",
    )


class ParetoPoint(BaseModel):
    usd_per_month: float
    decode_tokens_per_s: float = Field(description="per user at the planned rate")
    option: str


class PlanReport(BaseModel):
    model: str
    requests_per_s: float = Field(description="average")
    peak_requests_per_s: float
    input_tokens: int
    output_tokens: int
    targets: dict[str, float | None]
    mode: str
    options: list[PlanOption] = Field(description="ranked by usd_per_month, cheapest first")
    binding: list[str] = Field(
        default_factory=list, description="targets no option could meet (empty when options exist)"
    )
    closest: PlanOption | None = Field(
        default=None, description="the option nearest the targets, when none meets them all"
    )
    api_reference: dict | None = Field(default=None, description="the cheapest API offering of the same model")
    classes: list[dict] | None = Field(default=None, description="the request classes planned for, if any")
    candidates: int = Field(description="deployments evaluated")
    pareto: list[ParetoPoint] = Field(
        default_factory=list, description="options no other beats on both cost and tokens/s per user, cheapest first"
    )
    notes: list[str] = Field(default_factory=list)


@dataclass
class _Evaluated:
    option: PlanOption
    misses: tuple[str, ...]  # targets this option does not meet
    shortfall: float  # how far off, for choosing the closest
    dep: Deployment
    cap: ReplicaCapacity
    curve: object = None  # the replica's serving curve, reused for its operating point
    peak_rps: float = 0.0  # the peak rate this evaluation was sized for


def plan(catalog: Catalog, model: ResolvedModel, inputs: PlanInputs, terms: SelfHostTerms) -> PlanReport:
    """Every candidate evaluated, the ones meeting every target ranked by monthly cost."""
    evaluated = [
        ev
        for dep in candidate_deployments(catalog, model, inputs, terms)
        if (ev := _evaluate(dep, inputs, terms)) is not None
    ]
    # cheapest first; among equal costs the faster streams and shorter waits first
    good = sorted(
        (e for e in evaluated if not e.misses),
        key=lambda e: (e.option.usd_per_month, -e.option.decode_tokens_per_s, e.option.ttft_s),
    )
    for e in good:
        _at_load(e, inputs, terms)
    good.sort(key=lambda e: (e.option.usd_per_month, -e.option.decode_tokens_per_s, e.option.ttft_s))
    shown = _distinct(good)[: inputs.top]
    for e in shown:
        _finish(e, inputs, terms)
    _attach_runners_up(good)
    report = PlanReport(
        model=model.spec.id,
        requests_per_s=round(inputs.average_requests_per_s, 6),
        peak_requests_per_s=round(inputs.peak_requests_per_s, 6),
        input_tokens=inputs.input_tokens,
        output_tokens=inputs.output_tokens,
        mode=terms.mode,
        candidates=len(evaluated),
        targets={
            "max_ttft_s": inputs.max_ttft_s,
            "min_tokens_per_s": inputs.min_tokens_per_s,
            "max_monthly_cost_usd": inputs.max_monthly_cost_usd,
        },
        options=[e.option for e in shown],
        api_reference=_api_reference(catalog, model, inputs),
        pareto=pareto_front([e.option for e in good]),
    )
    if not good:
        report.binding = _binding(evaluated)
        if evaluated:
            closest = min(evaluated, key=lambda e: (len(e.misses), e.shortfall))
            _finish(closest, inputs, terms)
            report.closest = closest.option
    report.notes.append(
        "single-node layouts only: pipeline parallel across nodes and disaggregated prefill/decode "
        "pools are not searched yet"
    )
    return report


def candidate_deployments(catalog: Catalog, model: ResolvedModel, inputs: PlanInputs, terms: SelfHostTerms):
    """Deployments worth evaluating: priced GPU x box size x format x engine x layout that runs and fits."""
    for gpu_id, _gpu in _priced_gpus(catalog, inputs, terms):
        for quant in _formats(model, inputs):
            for engine in _engines(inputs):
                for n in GPUS_PER_BOX:
                    for ep in (False, True) if model.spec.is_moe and n > 1 else (False,):
                        dep = _deployment(catalog, model, gpu_id, n, quant, engine, ep, inputs)
                        if dep is not None:
                            yield dep


def _priced_gpus(catalog: Catalog, inputs: PlanInputs, terms: SelfHostTerms):
    wanted = {catalog.gpu_entry(g)[0] for g in inputs.gpus} if inputs.gpus else None
    for gpu_id, gpu in catalog.gpus.items():
        if wanted is not None and gpu_id not in wanted:
            continue
        priced = gpu.purchase_usd if terms.mode == "own" else any(r.tier == terms.rental_tier for r in gpu.rental)
        if priced and gpu.vendor in ("nvidia", "amd"):
            yield gpu_id, gpu


def _formats(model: ResolvedModel, inputs: PlanInputs) -> tuple[str, ...]:
    if inputs.quants:
        return inputs.quants
    own = model.spec.native_quant or ("bf16" if model.spec.dtype_bytes == 2 else "fp16")
    return tuple(dict.fromkeys((own, *CANDIDATE_FORMATS)))


def _engines(inputs: PlanInputs) -> tuple[str, ...]:
    return inputs.engines or SERVING_ENGINES


def _deployment(catalog, model, gpu_id, n, quant, engine, ep, inputs) -> Deployment | None:
    """The replica at full-load settings, or None where the engine, format or memory says no."""
    try:
        dep, _ = build_deployment(
            catalog,
            model,
            gpu=f"{n}x{gpu_id}",
            quant=quant,
            engine=engine,
            context=inputs.input_tokens + inputs.output_tokens,
            concurrency="max",
            input_tokens=inputs.input_tokens,
            output_tokens=inputs.output_tokens,
            expert_parallel=ep,
            dp_attention=ep,
            offline=True,
        )
        from llmplan.core.hardware import check_runnable

        check_runnable(gpu_id, dep.gpu, dep.fmt, dep.engine.name)
    except LlmplanError:
        return None
    if tp_problem(dep) or full_load_concurrency(dep) < 1:
        return None
    return dep


def _evaluate(dep: Deployment, inputs: PlanInputs, terms: SelfHostTerms) -> _Evaluated | None:
    from llmplan.core.capacity import replica_capacity, serving_curve
    from llmplan.plans.perf_model import rescore_capacity

    curve = serving_curve(dep)
    if curve is None:
        return None
    cap = rescore_capacity(
        replica_capacity(dep, inputs.max_ttft_s, inputs.min_tokens_per_s, curve), dep, None, inputs.perf_model
    )
    if cap.requests_per_s <= 0:
        return None
    price = gpu_price(dep, terms.rental_tier)
    if terms.mode == "rent" and price.hourly_usd is None:
        return None
    replicas = int(
        replicas_for(inputs.peak_requests_per_s, cap.requests_per_s, terms.max_utilization, terms.redundancy)
    )
    option = _option(dep, cap, replicas, price, inputs, terms)
    misses = []
    shortfall = 0.0
    if not cap.meets_target:
        misses += [t for t in ("max_ttft_s", "min_tokens_per_s") if _target_missed(t, option, inputs)]
        shortfall += _latency_shortfall(option, inputs)
    if inputs.max_monthly_cost_usd is not None and option.usd_per_month > inputs.max_monthly_cost_usd:
        misses.append("max_monthly_cost_usd")
        shortfall += option.usd_per_month / inputs.max_monthly_cost_usd - 1.0
    return _Evaluated(option, tuple(misses), shortfall, dep, cap, curve, inputs.peak_requests_per_s)


def _option(
    dep: Deployment, cap: ReplicaCapacity, replicas: int, price: GpuPrice, inputs: PlanInputs, terms: SelfHostTerms
) -> PlanOption:
    """The option as priced; the figures at the planned load are filled in by `_finish` for the ones shown."""
    gpus = replicas * dep.n_gpus
    gpu_month = float(gpu_month_usd(terms, gpus, price.hourly_usd, dep, price))
    monthly = gpu_month + people_monthly_usd(terms)
    serving = max(replicas - terms.redundancy, 1)
    rpd = inputs.average_requests_per_s * 86400.0
    tokens = float(C.monthly_tokens(rpd, inputs.input_tokens + inputs.output_tokens))
    ep = dep.n_gpus if dep.expert_parallel else 1
    layout = Layout(tp=1 if dep.dp_attention else dep.n_gpus, ep=ep, dp_attention=dep.dp_attention, replicas=replicas)
    ref = price.purchase_ref if terms.mode == "own" else price.hourly_ref
    return PlanOption(
        total_gpus=gpus,
        gpu=dep.gpu_id,
        gpus_per_replica=dep.n_gpus,
        layout=layout,
        engine=dep.engine.name,
        quant=dep.fmt.name,
        ttft_s=round(cap.ttft_s, 4),
        decode_tokens_per_s=round(cap.decode_tokens_per_s, 2),
        concurrency_per_replica=cap.concurrency,
        replica_requests_per_s=round(cap.requests_per_s, 4),
        utilization=round(min(inputs.average_requests_per_s / (serving * cap.requests_per_s), 1.0), 4),
        usd_per_month=round(monthly, 2),
        gpu_usd_per_month=round(gpu_month, 2),
        usd_per_mtok=round(float(C.usd_per_mtok(monthly, tokens)), 4),
        bound_by="rate",
        fit_command="",
        price_source=ref.source if ref else None,
        quality_note=_quality(dep),
    )


def _at_load(e: "_Evaluated", inputs: PlanInputs, terms: SelfHostTerms) -> None:
    """The option's figures at the load each replica will see at the peak (Little's law)."""
    o = e.option
    serving = max(o.layout.replicas - terms.redundancy, 1)
    point = operating_point(e.dep, inputs.peak_requests_per_s / serving, e.curve)
    o.ttft_s, o.decode_tokens_per_s = round(point.ttft_s, 4), round(point.decode_tokens_per_s, 2)
    o.concurrency_per_replica = point.concurrency


def _finish(e: "_Evaluated", inputs: PlanInputs, terms: SelfHostTerms) -> None:
    """What binds an option shown, and the lines that replay it (options off target stay at their sizing
    point, where the miss shows)."""
    o = e.option
    run = replace(e.dep, concurrency=max(o.concurrency_per_replica, 1))
    o.bound_by = _bound_by(e, inputs, terms)
    o.fit_command = fit_command(run)
    o.launch_command = _launch_command(run)


def _target_missed(target: str, option: PlanOption, inputs: PlanInputs) -> bool:
    if target == "max_ttft_s":
        return inputs.max_ttft_s is not None and option.ttft_s > inputs.max_ttft_s
    return inputs.min_tokens_per_s is not None and option.decode_tokens_per_s < inputs.min_tokens_per_s


def _latency_shortfall(option: PlanOption, inputs: PlanInputs) -> float:
    off = 0.0
    if inputs.max_ttft_s is not None:
        off += max(option.ttft_s / inputs.max_ttft_s - 1.0, 0.0)
    if inputs.min_tokens_per_s is not None:
        off += max(inputs.min_tokens_per_s / max(option.decode_tokens_per_s, 1e-9) - 1.0, 0.0)
    return off


def _bound_by(e: "_Evaluated", inputs: PlanInputs, terms: SelfHostTerms) -> str:
    """What sets the cost: the smallest layout that holds the model (memory), a latency target that caps a
    replica's concurrency below its pool (that target), or the request rate (replicas at full load)."""
    from llmplan.core.capacity import replica_capacity

    dep, cap = e.dep, e.cap
    if e.option.layout.replicas - terms.redundancy <= 1:
        return "memory"
    if cap.sized_at != "latency target" or cap.concurrency >= full_load_concurrency(dep):
        return "rate"
    alone = {}
    if inputs.max_ttft_s is not None:
        alone["max_ttft_s"] = replica_capacity(dep, max_ttft_s=inputs.max_ttft_s).concurrency
    if inputs.min_tokens_per_s is not None:
        alone["min_tokens_per_s"] = replica_capacity(dep, min_tokens_per_s=inputs.min_tokens_per_s).concurrency
    return min(alone, key=alone.get) if alone else "rate"


def _distinct(ranked: list["_Evaluated"]) -> list["_Evaluated"]:
    """The best engine of each hardware, format and layout: the list shows choices, not engine variants of one
    (those stay in `beat`)."""
    seen: set = set()
    out = []
    for e in ranked:
        o = e.option
        key = (o.gpu, o.total_gpus, o.gpus_per_replica, o.quant, o.layout.ep, o.layout.dp_attention)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def option_label(o: PlanOption) -> str:
    if o.pools and len(o.pools) > 1:
        return " + ".join(f"{p.total_gpus}x {p.gpu} {p.quant} {p.engine} ({', '.join(p.classes)})" for p in o.pools)
    return f"{o.total_gpus}x {o.gpu} {o.quant} {o.engine}"


def pareto_front(options: list[PlanOption]) -> list[ParetoPoint]:
    """Options no other is both cheaper (or as cheap) and faster per user than, cheapest first."""
    front: list[ParetoPoint] = []
    best_speed = -1.0
    for o in sorted(options, key=lambda o: (o.usd_per_month, -o.decode_tokens_per_s)):
        if o.decode_tokens_per_s > best_speed:
            front.append(
                ParetoPoint(
                    usd_per_month=o.usd_per_month, decode_tokens_per_s=o.decode_tokens_per_s, option=option_label(o)
                )
            )
            best_speed = o.decode_tokens_per_s
    return front


def _attach_runners_up(ranked: list[_Evaluated]) -> None:
    """Each option lists the cheapest few other layouts on its GPU type that it beat."""
    for i, e in enumerate(ranked):
        beaten = [o.option for o in ranked[i + 1 :] if o.option.gpu == e.option.gpu]
        e.option.beat = [
            RunnerUp(
                gpu=o.gpu,
                total_gpus=o.total_gpus,
                layout=_layout_words(o),
                engine=o.engine,
                quant=o.quant,
                usd_per_month=o.usd_per_month,
            )
            for o in beaten[:3]
        ]


def _layout_words(o: PlanOption) -> str:
    core = (
        f"DP-attention {o.gpus_per_replica} + EP {o.layout.ep}"
        if o.layout.dp_attention
        else f"TP {o.layout.tp}" + (f" + EP {o.layout.ep}" if o.layout.ep > 1 else "")
    )
    return f"{o.layout.replicas} x ({core})"


def _binding(evaluated: list[_Evaluated]) -> list[str]:
    """Targets that every candidate misses (all three when nothing fits at all)."""
    if not evaluated:
        return ["memory"]
    return [t for t in TARGETS if all(t in e.misses for e in evaluated)] or sorted(
        {t for e in evaluated for t in e.misses}
    )


def fit_command(dep: Deployment) -> str:
    """The `llmplan fit` line that reproduces one replica at its planned load."""
    parts = [
        "llmplan fit",
        dep.model.id,
        "--gpu",
        f"{dep.n_gpus}x{dep.gpu_id}" if dep.n_gpus > 1 else dep.gpu_id,
        "--quant",
        dep.fmt.name,
        "--engine",
        dep.engine.name,
        "--context",
        str(dep.context),
        "--concurrency",
        str(dep.concurrency),
        "--input-tokens",
        str(dep.input_tokens),
        "--output-tokens",
        str(dep.output_tokens),
    ]
    if dep.expert_parallel:
        parts.append("--expert-parallel")
    if dep.dp_attention:
        parts.append("--dp-attention")
    return " ".join(parts)


def _launch_command(dep: Deployment) -> str | None:
    from llmplan.core.fit import fit
    from llmplan.engines.launch import EMIT_ENGINES
    from llmplan.plans.launch import with_launch

    if dep.engine.name not in EMIT_ENGINES:
        return None
    report = with_launch(fit(dep), dep)
    return report.launch.command if report.launch else None


def _quality(dep: Deployment) -> str | None:
    lo, hi = dep.fmt.quality_retention
    if lo >= 1.0 or dep.fmt.name == dep.model.native_quant:
        return None
    return f"{dep.fmt.name}: {lo:.0%}-{hi:.0%} of the 16-bit model's benchmark scores ({dep.fmt.quality_source})"


def _api_reference(catalog: Catalog, model: ResolvedModel, inputs: PlanInputs) -> dict | None:
    """The cheapest catalog API offering of this same model for the workload (no quality claim: same weights)."""
    rpd = inputs.average_requests_per_s * 86400.0
    offers = [
        (
            api_id,
            float(
                C.api_monthly_cost_usd(
                    rpd, inputs.input_tokens, inputs.output_tokens, api.input_usd_per_mtok, api.output_usd_per_mtok
                )
            ),
        )
        for api_id, api in catalog.apis.items()
        if api.open_model == model.spec.id
    ]
    if not offers:
        return None
    api_id, monthly = min(offers, key=lambda x: x[1])
    tokens = float(C.monthly_tokens(rpd, inputs.input_tokens + inputs.output_tokens))
    return {
        "id": api_id,
        "usd_per_month": round(monthly, 2),
        "usd_per_mtok": round(float(C.usd_per_mtok(monthly, tokens)), 4),
    }


def validate_inputs(inputs: PlanInputs) -> None:
    for name in ("peak_requests_per_s", "average_requests_per_s"):
        if not getattr(inputs, name) > 0:
            raise InputError("the request rate must be positive: give --requests-per-s or --requests-per-day")
    for name, flag in (
        ("max_ttft_s", "--max-ttft-s"),
        ("min_tokens_per_s", "--min-tokens-per-s"),
        ("max_monthly_cost_usd", "--max-monthly-cost-usd"),
    ):
        value = getattr(inputs, name)
        if value is not None and not value > 0:
            raise InputError(f"{flag} must be a positive number, got {value}")


# ------------------------------------------------------------------------------------ request classes


@dataclass(frozen=True)
class RequestClass:
    name: str
    share: float  # of the requests
    input_tokens: int
    output_tokens: int
    max_ttft_s: float | None = None
    min_tokens_per_s: float | None = None


class Pool(BaseModel):
    classes: list[str]
    gpu: str
    gpus_per_replica: int
    layout: Layout
    engine: str
    quant: str
    total_gpus: int
    usd_per_month: float = Field(description="its GPUs a month (engineering and monitoring are the option's)")
    ttft_s: float = Field(description="its slowest class's time to first token at the peak")
    decode_tokens_per_s: float = Field(description="its slowest class's tokens/s per user at the peak")
    fit_command: str = Field(description="one replica at its first class's load")


def plan_classes(
    catalog: Catalog, model: ResolvedModel, inputs: PlanInputs, classes: tuple[RequestClass, ...], terms: SelfHostTerms
) -> PlanReport:
    """Several request classes: the cheapest single pool that serves them all, and each class on its own pool
    (possibly of a different GPU type), side by side; engineering and monitoring counted once."""
    per_class = {c.name: _class_candidates(catalog, model, inputs, c, terms) for c in classes}
    options = [o for o in (_mixed_option(per_class, classes, terms),) if o is not None]
    singles, seen = [], set()
    for o in _single_pools(per_class, classes, terms):  # one per hardware, format and layout
        key = (o.gpu, o.total_gpus, o.quant, o.layout.ep, o.layout.dp_attention)
        if key not in seen:
            seen.add(key)
            singles.append(o)
    options += singles[: inputs.top]
    options.sort(key=lambda o: o.usd_per_month)
    report = PlanReport(
        model=model.spec.id,
        requests_per_s=round(inputs.average_requests_per_s, 6),
        peak_requests_per_s=round(inputs.peak_requests_per_s, 6),
        input_tokens=inputs.input_tokens,
        output_tokens=inputs.output_tokens,
        mode=terms.mode,
        candidates=sum(len(v) for v in per_class.values()),
        targets={
            "max_ttft_s": inputs.max_ttft_s,
            "min_tokens_per_s": inputs.min_tokens_per_s,
            "max_monthly_cost_usd": inputs.max_monthly_cost_usd,
        },
        options=options[: inputs.top],
        classes=[c.__dict__ for c in classes],
    )
    tokens = sum(
        float(C.monthly_tokens(inputs.average_requests_per_s * c.share * 86400.0, c.input_tokens + c.output_tokens))
        for c in classes
    )
    for o in report.options:
        o.usd_per_mtok = round(float(C.usd_per_mtok(o.usd_per_month, tokens)), 4)
    if not options:
        report.binding = [
            t for t in ("max_ttft_s", "min_tokens_per_s") if any(getattr(c, t) is not None for c in classes)
        ] or ["memory"]
    return report


def _class_candidates(catalog, model, inputs: PlanInputs, c: RequestClass, terms) -> dict[tuple, _Evaluated]:
    """Every layout that serves class `c` within its own targets, keyed by its hardware and layout."""
    share = replace(
        inputs,
        peak_requests_per_s=inputs.peak_requests_per_s * c.share,
        average_requests_per_s=inputs.average_requests_per_s * c.share,
        input_tokens=c.input_tokens,
        output_tokens=c.output_tokens,
        max_ttft_s=c.max_ttft_s or inputs.max_ttft_s,
        min_tokens_per_s=c.min_tokens_per_s or inputs.min_tokens_per_s,
        max_monthly_cost_usd=None,
    )
    out = {}
    for dep in candidate_deployments(catalog, model, share, terms):
        e = _evaluate(dep, share, terms)
        if e is not None and not e.misses:
            out[(dep.gpu_id, dep.n_gpus, dep.fmt.name, dep.engine.name, dep.expert_parallel)] = e
    return out


def _pool(evs: list[_Evaluated], classes: list[str], replicas: int, terms: SelfHostTerms) -> Pool:
    """A pool of `replicas` of the layout the evaluations share, serving `classes` (one evaluation each)."""
    e = evs[0]
    price = gpu_price(e.dep, terms.rental_tier)
    gpus = replicas * e.dep.n_gpus
    month = float(gpu_month_usd(terms, gpus, price.hourly_usd, e.dep, price))
    layout = e.option.layout.model_copy(update={"replicas": replicas})
    serving = max(replicas - terms.redundancy, 1)
    points = [operating_point(x.dep, x.peak_rps / serving, x.curve) for x in evs]
    run = replace(e.dep, concurrency=max(points[0].concurrency, 1))
    return Pool(
        classes=classes,
        gpu=e.dep.gpu_id,
        gpus_per_replica=e.dep.n_gpus,
        layout=layout,
        engine=e.dep.engine.name,
        quant=e.dep.fmt.name,
        total_gpus=gpus,
        usd_per_month=round(month, 2),
        ttft_s=round(max(p.ttft_s for p in points), 4),
        decode_tokens_per_s=round(min(p.decode_tokens_per_s for p in points), 2),
        fit_command=fit_command(run),
    )


def _pooled_option(pools: list[Pool], first: _Evaluated, terms: SelfHostTerms) -> PlanOption:
    gpu_month = sum(p.usd_per_month for p in pools)
    o = first.option.model_copy(deep=True)
    o.pools = pools
    o.gpu = "+".join(dict.fromkeys(p.gpu for p in pools))
    o.total_gpus = sum(p.total_gpus for p in pools)
    o.gpu_usd_per_month = round(gpu_month, 2)
    o.usd_per_month = round(gpu_month + people_monthly_usd(terms), 2)
    o.ttft_s = max(p.ttft_s for p in pools)
    o.decode_tokens_per_s = min(p.decode_tokens_per_s for p in pools)
    o.fit_command = pools[0].fit_command
    o.bound_by = "rate"
    o.beat = []
    return o


def _mixed_option(per_class: dict, classes: tuple[RequestClass, ...], terms: SelfHostTerms) -> PlanOption | None:
    """Each class on the pool that serves it most cheaply."""
    pools, firsts = [], []
    for c in classes:
        if not per_class[c.name]:
            return None
        e = min(per_class[c.name].values(), key=lambda e: e.option.gpu_usd_per_month)
        pools.append(_pool([e], [c.name], e.option.layout.replicas, terms))
        firsts.append(e)
    return _pooled_option(pools, firsts[0], terms)


def _single_pools(per_class: dict, classes: tuple[RequestClass, ...], terms: SelfHostTerms) -> list[PlanOption]:
    """One pool for every class: a layout that meets each class's targets, with replicas for the sum of the
    classes' peak loads, each taking its share of a replica's capacity for that class."""
    common = set.intersection(*(set(v) for v in per_class.values())) if per_class else set()
    options = []
    for key in common:
        evs = [per_class[c.name][key] for c in classes]
        load = sum(
            e.option.layout.replicas and e.peak_rps / (e.cap.requests_per_s * terms.max_utilization) for e in evs
        )
        replicas = max(int(np.ceil(load - 1e-9)), 1) + terms.redundancy
        pool = _pool(evs, [c.name for c in classes], replicas, terms)
        options.append(_pooled_option([pool], evs[0], terms))
    return sorted(options, key=lambda o: o.usd_per_month)


def parse_classes(raw: list, flag: str = "workload.classes") -> tuple[RequestClass, ...]:
    """`workload.classes` of a workload file: shares summing to 1, each with its request shape."""
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{flag} must be a list of {{name, share, input_tokens, output_tokens}}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InputError(f"{flag}[{i}] must be a mapping with name, share, input_tokens, output_tokens")
        unknown = set(item) - {"name", "share", "input_tokens", "output_tokens", "max_ttft_s", "min_tokens_per_s"}
        if unknown:
            raise InputError(
                f"{flag}[{i}]: unknown key {sorted(unknown)[0]!r}; keys: name, share, input_tokens, "
                "output_tokens, max_ttft_s, min_tokens_per_s"
            )
        try:
            c = RequestClass(
                str(item.get("name", f"class-{i + 1}")),
                float(item["share"]),
                int(item["input_tokens"]),
                int(item["output_tokens"]),
                item.get("max_ttft_s"),
                item.get("min_tokens_per_s"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{flag}[{i}] needs a number for share, input_tokens and output_tokens ({exc})") from None
        if c.share <= 0 or c.input_tokens < 1 or c.output_tokens < 1:
            raise InputError(f"{flag}[{i}] ({c.name}): share, input_tokens and output_tokens must be positive")
        out.append(c)
    total = sum(c.share for c in out)
    if abs(total - 1.0) > 1e-6:
        raise InputError(f"{flag} shares sum to {total:g}, not 1; make them add up to 1")
    return tuple(out)


PlanOption.model_rebuild()
PlanReport.model_rebuild()
