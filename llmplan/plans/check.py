"""`llmplan check`: planned deployments in YAML, validated against memory, speed and budget limits.

Top-level keys other than `deployments:` are shared defaults for every deployment (`require:` limits
merge key by key). Every error names the file, the line and the field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmplan.errors import MAX_COUNT, LlmplanError, PlanError
from llmplan.textfiles import SafeLoader, parse_yaml, read_text_input, yaml_error_line

LIMIT_KEYS = (
    "fits",
    "min_headroom_pct",
    "min_decode_tokens_per_s",
    "max_ttft_s",
    "max_request_latency_s",
    "max_monthly_cost_usd",
    "max_usd_per_mtok",
    "max_price_age_days",
)


class Require(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fits: bool | None = None
    min_headroom_pct: float | None = Field(default=None, ge=0, le=100)
    min_decode_tokens_per_s: float | None = Field(default=None, gt=0)
    max_ttft_s: float | None = Field(default=None, gt=0)
    max_request_latency_s: float | None = Field(default=None, gt=0)
    max_monthly_cost_usd: float | None = Field(default=None, gt=0)
    max_usd_per_mtok: float | None = Field(default=None, gt=0)
    max_price_age_days: int | None = Field(default=None, ge=0)


class PlanWorkload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests_per_day: float = Field(gt=0, le=MAX_COUNT)
    input_tokens: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    output_tokens: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    peak_to_average: float = Field(default=2.0, ge=1)
    hours_per_day: float = Field(default=24.0, gt=0, le=24)
    cacheable_share: float = Field(default=0.0, ge=0, le=1)


class PlanDeployment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    model: str
    gpu: str = "h100-sxm"
    quant: str | None = None
    engine: str | None = None
    kv_dtype: str | None = None
    context: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    concurrency: int | str = 1
    input_tokens: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    output_tokens: int | None = Field(default=None, gt=0, le=MAX_COUNT)
    replicas: int = Field(default=1, ge=1)
    expert_parallel: bool = False
    dp_attention: bool = False
    gpu_hourly_usd: float | None = Field(default=None, gt=0)
    # None: breakeven's defaults (llmplan.core.cost), so both commands price a deployment alike
    engineering_hours: float | None = Field(default=None, ge=0)
    engineering_rate_usd: float | None = Field(default=None, ge=0)
    monitoring_usd: float | None = Field(default=None, ge=0)
    workload: PlanWorkload | None = None
    require: Require = Field(default_factory=Require)


@dataclass
class Located:
    """A deployment with where it sits in its file."""

    path: Path
    line: int  # 1-based line of the deployment's first key
    key_lines: dict[str, int]
    raw: dict[str, Any]


@dataclass
class LimitResult:
    limit: str
    required: Any
    actual: Any
    passed: bool
    note: str = ""


@dataclass
class DeploymentResult:
    name: str
    path: str
    line: int
    passed: bool
    limits: list[LimitResult] = field(default_factory=list)
    estimate: dict | None = None
    cost: dict | None = None
    warnings: list[str] = field(default_factory=list)  # every warning of the estimate and the cost

    @property
    def failures(self) -> list[LimitResult]:
        return [x for x in self.limits if not x.passed]


# ------------------------------------------------------------------------------------------ loading


def _node_lines(node) -> tuple[int, dict[str, int]]:
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[str(key.value)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for k2, _ in value.value:
                    lines[f"{key.value}.{k2.value}"] = k2.start_mark.line + 1
    return node.start_mark.line + 1, lines


def load_plan(path: Path) -> list[Located]:
    """Read one plan file into deployments (defaults applied), each with its line numbers."""
    text = read_text_input(path, "plan", PlanError)
    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        raise PlanError(yaml_error_line(path, exc)) from None
    data = parse_yaml(text, path, PlanError)
    if not isinstance(data, dict) or "deployments" not in data:
        raise PlanError(f"{path}:1: a plan is a mapping with a `deployments:` list (see `llmplan check --init`)")
    deployments = data.get("deployments")
    if not isinstance(deployments, list) or not deployments:
        line = _key_line(root, "deployments")
        raise PlanError(f"{path}:{line}: field 'deployments': must be a non-empty list")
    defaults = {k: v for k, v in data.items() if k != "deployments"}
    seq_node = next((v for k, v in root.value if k.value == "deployments"), None)
    out = []
    for i, item in enumerate(deployments):
        node = seq_node.value[i] if seq_node is not None and i < len(seq_node.value) else None
        line, key_lines = _node_lines(node) if node is not None else (1, {})
        if not isinstance(item, dict):
            raise PlanError(f"{path}:{line}: deployment {i + 1} must be a mapping")
        merged = {**defaults, **item}
        if isinstance(defaults.get("require"), dict) and isinstance(item.get("require"), dict):
            merged["require"] = {**defaults["require"], **item["require"]}
        out.append(Located(path, line, key_lines, merged))
    return out


def _key_line(root, key: str) -> int:
    if isinstance(root, yaml.MappingNode):
        for k, _ in root.value:
            if k.value == key:
                return k.start_mark.line + 1
    return 1


def plan_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file())
        else:
            files.append(p)
    if not files:
        raise PlanError("no plan files found (give YAML files or folders holding them)")
    return files


def validate(loc: Located) -> PlanDeployment:
    try:
        dep = PlanDeployment.model_validate(loc.raw)
    except ValidationError as exc:
        from llmplan.errors import clean_loc, explain_error

        err = exc.errors()[0]
        parts = [str(x) for x in clean_loc(err["loc"])]
        dotted = ".".join(parts)
        line = loc.key_lines.get(dotted) or (loc.key_lines.get(parts[0]) if parts else None) or loc.line
        name = loc.raw.get("name", "?")
        phrase = explain_error(err, PlanDeployment)
        if err["type"] == "extra_forbidden":  # a typo: name the key it meant
            raise PlanError(
                f"{loc.path}:{line}: deployment {name!r}: unknown key {dotted!r}" + phrase.removeprefix("unknown key")
            ) from None
        raise PlanError(
            f"{loc.path}:{line}: deployment {name!r} field {dotted!r} {phrase}"
            if phrase.startswith(("must ", "is required"))
            else f"{loc.path}:{line}: deployment {name!r} field {dotted!r}: {phrase}"
        ) from None
    return dep


# ----------------------------------------------------------------------------------------- checking


def _age_days(as_of: str, today: dt.date) -> int | None:
    try:
        return (today - dt.date.fromisoformat(str(as_of)[:10])).days
    except ValueError:
        return None


def _estimate(loc: Located, plan: PlanDeployment, catalog, perf_model: str):
    """The deployment, its fit report (with launch flags where the engine has them) and the model's config;
    a field the catalog or engine refuses is an error at that field's line."""
    from llmplan.core.fit import fit
    from llmplan.engines.launch import EMIT_ENGINES
    from llmplan.plans.deploy import build_deployment
    from llmplan.plans.launch import with_launch
    from llmplan.plans.perf_model import apply_perf_model

    try:
        dep, resolved = build_deployment(
            catalog,
            plan.model,
            gpu=plan.gpu,
            quant=plan.quant,
            engine=plan.engine,
            kv_dtype=plan.kv_dtype,
            context=plan.context,
            concurrency=plan.concurrency,
            input_tokens=plan.input_tokens,
            output_tokens=plan.output_tokens,
            replicas=plan.replicas,
            expert_parallel=plan.expert_parallel,
            dp_attention=plan.dp_attention,
        )
        report = fit(dep)  # also where a format the engine or GPU cannot run is refused
        config = resolved.entry.config if resolved.entry else None
        if perf_model != "analytic":
            report = apply_perf_model(report, dep, config, perf_model, strict=False)
    except LlmplanError as exc:
        field_name = _field_of(str(exc))
        line = loc.key_lines.get(field_name, loc.line)
        raise PlanError(f"{loc.path}:{line}: deployment {plan.name!r} field {field_name!r}: {exc}") from None
    if dep.engine.name in EMIT_ENGINES:
        report = with_launch(report, dep)
    return dep, report, config


def _fit_limits(req: Require, dep, report) -> list[LimitResult]:
    """A deployment that cannot run never passes: fitting is implied unless the plan says `fits: false`
    (e.g. llama.cpp with partial offload), and the request must fit a context the model has."""
    results: list[LimitResult] = []
    if req.fits is None:
        note = (
            ""
            if report.fits
            else "implied for every deployment; set require.fits: false to accept one that does not fit"
        )
        results.append(LimitResult("fits", True, report.fits, bool(report.fits), note))
    elif req.fits:
        results.append(LimitResult("fits", True, report.fits, bool(report.fits)))
    request_tokens = dep.input_tokens + dep.output_tokens
    if request_tokens > dep.context:
        note = (
            f"input + output tokens ({request_tokens}) exceed the context ({dep.context}): raise context or "
            "shorten the request"
        )
        results.append(LimitResult("max_request_tokens", dep.context, request_tokens, False, note))
    if dep.context > dep.model.max_context:
        note = (
            f"context {dep.context} is beyond the model's maximum of {dep.model.max_context} tokens "
            "(max_position_embeddings)"
        )
        results.append(LimitResult("max_context", dep.model.max_context, dep.context, False, note))
    if req.min_headroom_pct is not None:
        headroom = report.memory.headroom_pct
        ok = bool(report.fits and headroom >= req.min_headroom_pct)
        results.append(LimitResult("min_headroom_pct", req.min_headroom_pct, headroom, ok))
    return results


def _speed_limits(req: Require, perf) -> list[LimitResult]:
    results: list[LimitResult] = []
    for limit, actual, better in (
        ("min_decode_tokens_per_s", perf.decode_tokens_per_s, "high"),
        ("max_ttft_s", perf.ttft_s, "low"),
        ("max_request_latency_s", perf.request_latency_s, "low"),
    ):
        wanted = getattr(req, limit)
        if wanted is None:
            continue
        if actual is None:
            results.append(LimitResult(limit, wanted, None, False, "no estimate: the deployment does not fit"))
        else:
            results.append(
                LimitResult(limit, wanted, actual, actual >= wanted if better == "high" else actual <= wanted)
            )
    return results


@dataclass
class _Cost:
    monthly_usd: float
    usd_per_mtok: float
    info: dict
    warnings: list[str]
    basis: str


def _workload_cost(plan: PlanDeployment, dep, report, terms, config, today: dt.date, perf_model: str) -> _Cost:
    """The plan's workload priced as `breakeven` prices it: replicas for the peak, idle hours included."""
    from llmplan.plans.breakeven import Workload, plan_breakeven

    wl, req = plan.workload, plan.require
    assert wl is not None
    workload = Workload(
        requests_per_day=wl.requests_per_day,
        input_tokens=wl.input_tokens or dep.input_tokens,
        output_tokens=wl.output_tokens or dep.output_tokens,
        peak_to_average=wl.peak_to_average,
        hours_per_day=wl.hours_per_day,
        cacheable_share=wl.cacheable_share,
        max_ttft_s=req.max_ttft_s,
        min_tokens_per_s=req.min_decode_tokens_per_s,
    )
    be = plan_breakeven(
        replace(dep), workload, terms, [], max_price_age_days=10**6, today=today, perf_model=perf_model, config=config
    )
    return _Cost(
        be.self_hosted.monthly_cost_usd,
        be.self_hosted.usd_per_mtok,
        be.self_hosted.model_dump(mode="json"),
        [w for w in be.warnings if w not in report.warnings],
        "workload",
    )


def _full_load_cost(dep, terms, hourly: float, config, perf_model: str) -> _Cost:
    """Without a workload: the deployment's GPUs all month, and tokens priced at full load for the request shape."""
    from llmplan.core import cost as C
    from llmplan.plans.breakeven import people_monthly_usd
    from llmplan.plans.perf_model import capacity_with

    monthly = float(C.rent_monthly_usd(dep.n_gpus * dep.replicas, hourly)) + people_monthly_usd(terms)
    cap = capacity_with(replace(dep, concurrency=None), config, perf_model)
    per_mtok = float(
        C.full_load_usd_per_mtok(hourly * dep.n_gpus, cap.output_tokens_per_s, dep.input_tokens, dep.output_tokens)
    )
    info = {
        "monthly_cost_usd": round(monthly, 2),
        "usd_per_mtok": round(per_mtok, 4),
        "gpu_hourly_usd": hourly,
        "basis": "full load for the request shape, input + output tokens",
    }
    return _Cost(monthly, per_mtok, info, [], "full load")


def _cost_limits(
    loc: Located, plan: PlanDeployment, dep, report, price, config, today: dt.date, perf_model: str
) -> tuple[list[LimitResult], _Cost | None]:
    from llmplan.plans.breakeven import SelfHostTerms

    req = plan.require
    if req.max_monthly_cost_usd is None and req.max_usd_per_mtok is None:
        return [], None
    hourly = plan.gpu_hourly_usd or price.hourly_usd
    if hourly is None:
        raise PlanError(
            f"{loc.path}:{loc.line}: deployment {plan.name!r}: {dep.gpu_id} has no rental price in "
            "the catalog; set gpu_hourly_usd"
        )
    given = {
        k: getattr(plan, k)
        for k in ("engineering_hours", "engineering_rate_usd", "monitoring_usd")
        if getattr(plan, k) is not None
    }
    terms = SelfHostTerms(gpu_hourly_usd=hourly, **given)
    if plan.workload is not None:
        cost = _workload_cost(plan, dep, report, terms, config, today, perf_model)
    else:
        cost = _full_load_cost(dep, terms, hourly, config, perf_model)
    results = []
    if req.max_monthly_cost_usd is not None:
        monthly = round(cost.monthly_usd, 2)
        ok = cost.monthly_usd <= req.max_monthly_cost_usd
        results.append(LimitResult("max_monthly_cost_usd", req.max_monthly_cost_usd, monthly, ok))
    if req.max_usd_per_mtok is not None:
        ok = cost.usd_per_mtok <= req.max_usd_per_mtok
        note = f"basis: {cost.basis}"
        results.append(LimitResult("max_usd_per_mtok", req.max_usd_per_mtok, round(cost.usd_per_mtok, 4), ok, note))
    return results, cost


def _price_age_limit(plan: PlanDeployment, dep, price, today: dt.date) -> list[LimitResult]:
    wanted = plan.require.max_price_age_days
    if wanted is None:
        return []
    if plan.gpu_hourly_usd is not None:
        return [LimitResult("max_price_age_days", wanted, 0, True, "price given in the plan")]
    ref = price.hourly_ref or price.purchase_ref
    age = _age_days(ref.as_of, today) if ref else None
    if age is None:
        return [LimitResult("max_price_age_days", wanted, None, False, f"{dep.gpu_id} has no dated price")]
    return [LimitResult("max_price_age_days", wanted, age, age <= wanted, f"{dep.gpu_id} price as of {ref.as_of}")]


def check_deployment(
    loc: Located, plan: PlanDeployment, catalog, today: dt.date | None = None, perf_model: str = "analytic"
) -> DeploymentResult:
    from llmplan.plans.breakeven import gpu_price

    today = today or dt.date.today()
    dep, report, config = _estimate(loc, plan, catalog, perf_model)
    price = gpu_price(dep)
    cost_results, cost = _cost_limits(loc, plan, dep, report, price, config, today, perf_model)
    results = (
        _fit_limits(plan.require, dep, report)
        + _speed_limits(plan.require, report.performance)
        + cost_results
        + _price_age_limit(plan, dep, price, today)
    )
    return DeploymentResult(
        plan.name,
        str(loc.path),
        loc.line,
        all(r.passed for r in results),
        results,
        report.model_dump(mode="json"),
        cost.info if cost else None,
        list(report.warnings) + (cost.warnings if cost else []),
    )


def _field_of(message: str) -> str:
    lowered = message.lower()
    for key, words in (
        ("gpu", ("gpu",)),
        ("quant", ("format", "quantiz", "weights")),
        ("engine", ("engine",)),
        ("kv_dtype", ("kv cache", "kv_dtype")),
        ("concurrency", ("concurrency",)),
        ("context", ("context",)),
        ("model", ("model", "config", "hub")),
    ):
        if any(w in lowered for w in words):
            return key
    return "model"


# plan keys that may name a file on disk; a relative one is read from the plan file's folder
PATH_KEYS = ("model",)


def resolve_relative_paths(plan: PlanDeployment, plan_file: Path) -> PlanDeployment:
    """Relative file paths in a plan are relative to the plan file, not to where `check` runs, so a plan in a
    subfolder passes from any directory. A value is a path when it is written as one (`./`, `../`, a .gguf
    file) or names something that exists beside the plan; catalog ids and hub repo ids stay as they are."""
    folder = Path(plan_file).parent
    updates = {}
    for key in PATH_KEYS:
        value = getattr(plan, key)
        if not isinstance(value, str) or not value or value.startswith("~") or Path(value).is_absolute():
            continue
        written_as_path = value.startswith(("./", "../", ".\\", "..\\")) or value.lower().endswith(".gguf")
        beside = folder / value
        if written_as_path or beside.exists():
            updates[key] = str(beside)
    return plan.model_copy(update=updates) if updates else plan


def run_check(
    paths: list[Path], catalog, today: dt.date | None = None, perf_model: str = "analytic"
) -> list[DeploymentResult]:
    located = [loc for f in plan_files(paths) for loc in load_plan(f)]
    plans = [resolve_relative_paths(validate(loc), loc.path) for loc in located]  # all valid before any estimate
    return [check_deployment(loc, plan, catalog, today, perf_model) for loc, plan in zip(located, plans)]


INIT_PLAN = """\
# llmplan deployment plan: `llmplan check plans/` fails CI when a change breaks a limit.
# Keys at the top level (other than `deployments`) are defaults for every deployment;
# `require:` limits merge key by key. Units are in the names: _s seconds, _pct percent, _usd dollars.
engine: vllm
require:
  fits: true                 # weights + KV cache + engine overhead fit in GPU memory
  min_headroom_pct: 5        # percent of usable GPU memory left free
  max_price_age_days: 365    # fail when the catalog's GPU price is older than this

deployments:
  - name: chat-assistant
    model: llama-3.1-8b-instruct     # catalog id/alias, Hugging Face repo id, folder or .gguf
    gpu: l40s                        # ID, or NxID for N GPUs in one box (e.g. 2xh100-sxm)
    quant: fp8
    context: 8192                    # tokens per sequence the KV cache is sized for
    concurrency: 16                  # sequences at once (or `max`)
    input_tokens: 1000
    output_tokens: 250
    require:
      min_decode_tokens_per_s: 20    # per-user decode speed
      max_ttft_s: 1.0                # time to first token
      max_request_latency_s: 20
  - name: batch-summaries
    model: meta-llama/Llama-3.3-70B-Instruct
    gpu: 2xh100-sxm
    quant: fp8
    context: 16384
    concurrency: 8
    input_tokens: 4000
    output_tokens: 500
    gpu_hourly_usd: 2.50             # overrides the catalog's rental price
    engineering_hours: 10
    engineering_rate_usd: 100
    workload:                        # enables the budget limits
      requests_per_day: 20000
      peak_to_average: 2
    require:
      max_monthly_cost_usd: 6000
      max_usd_per_mtok: 2.5          # over input + output tokens actually served
"""
