"""`llmplan plan`: the cheapest deployment that meets a workload and its latency targets."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import (
    ModelsOpt,
    OfflineOpt,
    PerfModelOpt,
    PricesOpt,
    check_plot_path,
    emit_json,
    examples,
    handle_errors,
    hub_spinner,
    perf_model_option,
)
from llmplan.cli.completion import complete_engine, complete_gpu, complete_model, complete_quant
from llmplan.cli.workload_options import (
    EngineeringHoursOpt,
    EngineeringRateOpt,
    HoursPerDayOpt,
    InputTokensOpt,
    MaxTtftOpt,
    MaxUtilizationOpt,
    MinTokensPerSOpt,
    ModeOpt,
    MonitoringOpt,
    OutputTokensOpt,
    PeakToAverageOpt,
    RedundancyOpt,
    RentalTierOpt,
    RequestsPerDayOpt,
    UsdPerKwhOpt,
    WorkloadFileOpt,
    YearsOpt,
)

HELP = """The cheapest way to serve MODEL at a request rate within latency targets: GPU type and count,
format, engine and layout, searched over the whole catalog, rented or owned, with monthly cost.

Every option fits in GPU memory and meets every target at the peak rate (average x --peak-to-average).
Costs follow breakeven's rules (GPUs, engineering hours, monitoring; a month is 730 hours). Each option
carries the `llmplan fit` line that reproduces one replica at its planned load. Exit 1 when no option
meets the targets (the output says which target binds), 2 for bad input.

""" + examples(
    "llmplan plan meta-llama/Llama-3.1-8B-Instruct --requests-per-s 5 --input-tokens 1024 \\\n    --output-tokens 256 --max-ttft-s 1 --min-tokens-per-s 30",
    "llmplan plan llama-3.3-70b-instruct --requests-per-day 2000000 --input-tokens 1024 \\\n    --output-tokens 256 --mode own --gpu h100-sxm --gpu h200 --format json",
    "llmplan plan qwen3-30b-a3b --requests-per-s 20 --input-tokens 2000 --output-tokens 400 \\\n    --format yaml > plan.yaml",
)


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"
    yaml = "yaml"


@app.command("plan", help=HELP)
@handle_errors
def plan_command(
    model: Annotated[
        str,
        typer.Argument(autocompletion=complete_model, help="Catalog id/alias, HF repo id, model folder or .gguf file."),
    ],
    requests_per_s: Annotated[
        float | None, typer.Option("--requests-per-s", help="Average requests per second.")
    ] = None,
    requests_per_day: RequestsPerDayOpt = None,
    workload_file: WorkloadFileOpt = None,
    input_tokens: InputTokensOpt = None,
    output_tokens: OutputTokensOpt = None,
    peak_to_average: PeakToAverageOpt = None,
    hours_per_day: HoursPerDayOpt = None,
    max_ttft_s: MaxTtftOpt = None,
    min_tokens_per_s: MinTokensPerSOpt = None,
    max_monthly_cost_usd: Annotated[
        float | None, typer.Option("--max-monthly-cost-usd", help="Target: budget a month.")
    ] = None,
    gpu: Annotated[
        list[str] | None,
        typer.Option(
            "--gpu",
            "-g",
            autocompletion=complete_gpu,
            help="GPU types to consider, repeatable [every one priced for --mode].",
        ),
    ] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option(
            "--engine",
            "-e",
            autocompletion=complete_engine,
            help="Engines to consider, repeatable [vllm, sglang, tensorrt-llm].",
        ),
    ] = None,
    quant: Annotated[
        list[str] | None,
        typer.Option(
            "--quant",
            "-q",
            autocompletion=complete_quant,
            help="Formats to consider, repeatable [the checkpoint's, bf16, fp8, awq, nvfp4].",
        ),
    ] = None,
    mode: ModeOpt = None,
    rental_tier: RentalTierOpt = None,
    engineering_hours: EngineeringHoursOpt = None,
    engineering_rate_usd: EngineeringRateOpt = None,
    monitoring_usd: MonitoringOpt = None,
    redundancy: RedundancyOpt = None,
    max_utilization: MaxUtilizationOpt = None,
    years: YearsOpt = None,
    usd_per_kwh: UsdPerKwhOpt = None,
    top: Annotated[int, typer.Option("--top", help="Options to show.", min=1, max=100)] = 5,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write the Pareto front (cost against tokens/s per user) as a PNG.")
    ] = None,
    fmt: Annotated[
        PlanFormat,
        typer.Option("--format", "-f", help="table, json, markdown, csv or yaml (the winner as a check plan)."),
    ] = PlanFormat.table,
    perf_model: PerfModelOpt = "analytic",
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    offline: OfflineOpt = False,
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.cli.plan_render import print_plan, render_csv, render_markdown, render_yaml
    from llmplan.models.sources import resolve_model
    from llmplan.plans.planner import PlanInputs, plan, validate_inputs

    check_plot_path(plot_path)
    data, workload, terms = _workload_and_terms(locals())
    catalog = Catalog(models_files=models, gpus_files=prices)
    model = model or data.get("model")
    with hub_spinner(model, catalog, fmt.value):
        resolved = resolve_model(model, catalog, offline=offline)
    avg = float(workload.average_requests_per_s())
    inputs = PlanInputs(
        peak_requests_per_s=avg * workload.peak_to_average.base,
        average_requests_per_s=avg,
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        max_ttft_s=workload.max_ttft_s,
        min_tokens_per_s=workload.min_tokens_per_s,
        max_monthly_cost_usd=max_monthly_cost_usd,
        gpus=tuple(gpu or ()),
        engines=_engines(engine),
        quants=_quants(quant),
        perf_model=perf_model_option(perf_model),
        top=top,
    )
    validate_inputs(inputs)
    if data.get("classes"):
        from llmplan.plans.planner import plan_classes

        report = plan_classes(catalog, resolved, inputs, data["classes"], terms)
    else:
        report = plan(catalog, resolved, inputs, terms)
    if plot_path is not None:
        from llmplan.plans.planner_plot import plot_pareto

        plot_pareto(report, str(plot_path))
    if fmt == PlanFormat.json:
        from llmplan.plans.outputs import json_output
        from llmplan.plans.planner import PlanReport

        emit_json(json_output(PlanReport, report.model_dump(mode="json")))
    elif fmt == PlanFormat.yaml:
        typer.echo(render_yaml(report), nl=False)
    elif fmt == PlanFormat.csv:
        typer.echo(render_csv(report), nl=False)
    elif fmt == PlanFormat.markdown:
        typer.echo(render_markdown(report))
    else:
        print_plan(report)
    if not report.options:
        raise typer.Exit(1)


def _workload_and_terms(given: dict):
    """breakeven's workload and self-hosting terms, from the file and the flags (flags win)."""
    from llmplan.cli.breakeven_cmd import _load_workload_file, _validated
    from llmplan.errors import InputError
    from llmplan.plans.breakeven import SelfHostTerms, Workload

    data = _load_workload_file(given["workload_file"]) if given["workload_file"] else {}
    wl = dict(data.get("workload") or {})
    classes = wl.pop("classes", None)
    if given["requests_per_s"] is not None and given["requests_per_day"] is not None:
        raise InputError("give --requests-per-s or --requests-per-day, not both")
    hours = given["hours_per_day"] or wl.get("hours_per_day") or 24.0
    if given["requests_per_s"] is not None:
        if not given["requests_per_s"] > 0:
            raise InputError(f"--requests-per-s must be positive, got {given['requests_per_s']}")
        wl["requests_per_day"] = given["requests_per_s"] * float(hours) * 3600.0
        wl.pop("tokens_per_month", None)
    for key in (
        "requests_per_day",
        "input_tokens",
        "output_tokens",
        "peak_to_average",
        "hours_per_day",
        "max_ttft_s",
        "min_tokens_per_s",
    ):
        if given[key] is not None:
            wl[key] = given[key]
    workload = _validated(Workload, wl, "workload")
    sh = dict(data.get("self_hosted") or {})
    for key in (
        "mode",
        "rental_tier",
        "engineering_hours",
        "engineering_rate_usd",
        "monitoring_usd",
        "redundancy",
        "max_utilization",
        "years",
        "usd_per_kwh",
    ):
        if given[key] is not None:
            sh[key] = given[key]
    if classes is not None:
        from llmplan.plans.planner import parse_classes

        data["classes"] = parse_classes(classes)
    return data, workload, _validated(SelfHostTerms, sh, "self_hosted")


def _canonical(names: list[str] | None, canonical, known, what: str) -> tuple[str, ...]:
    """The names as their canonical ids; an unknown one is bad input naming the choices."""
    from llmplan.errors import InputError

    out = []
    for name in names or ():
        key = canonical(name)
        if key is None:
            raise InputError(f"unknown {what} {name!r}; choose one of: {', '.join(known)}")
        out.append(key)
    return tuple(out)


def _engines(names: list[str] | None) -> tuple[str, ...]:
    from llmplan.engines.profiles import ENGINES, canonical_engine

    return _canonical(names, canonical_engine, ENGINES, "engine")


def _quants(names: list[str] | None) -> tuple[str, ...]:
    from llmplan.engines.formats import FORMATS, canonical_quant

    return _canonical(names, canonical_quant, FORMATS, "quantization format")
