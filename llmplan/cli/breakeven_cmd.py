"""`llmplan breakeven`: self-hosting against paid APIs, on one cost basis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import (
    ApiPricesOpt,
    Format,
    ModelsOpt,
    OfflineOpt,
    PerfModelOpt,
    PricesOpt,
    check_plot_path,
    console,
    emit_json,
    examples,
    handle_errors,
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

HELP = """Monthly cost of self-hosting MODEL against paid APIs, and the volume where self-hosting pays.

Counts GPUs at peak load and the latency target (or full load), idle hours, engineering time and
monitoring. A month is 730 hours for GPUs and tokens alike. Ranges are LOW..HIGH.

""" + examples(
    "llmplan breakeven llama-3.3-70b-instruct --gpu h100-sxm --quant fp8 \\\n    --requests-per-day 100000 --input-tokens 500 --output-tokens 500 \\\n    --api openai/gpt-4o-mini --gpu-hourly-usd 2.50 \\\n    --engineering-hours 10..20 --engineering-rate-usd 100",
    "llmplan breakeven --workload examples/seed-breakeven.yaml --format markdown --plot cost.png",
)

# keys of the workload / self_hosted sections that also have a flag of the same name
FLAGS = {
    "requests_per_day",
    "tokens_per_month",
    "input_tokens",
    "output_tokens",
    "cacheable_share",
    "batch_share",
    "peak_to_average",
    "hours_per_day",
    "max_ttft_s",
    "min_tokens_per_s",
    "mode",
    "rental_tier",
    "gpu_hourly_usd",
    "engineering_hours",
    "engineering_rate_usd",
    "monitoring_usd",
    "redundancy",
    "years",
    "max_utilization",
    "usd_per_kwh",
}
DEFAULT_APIS = ("openai/gpt-4o-mini", "google/gemini-2.5-flash-lite", "openai/gpt-4o")


WORKLOAD_FILE_KEYS = {
    "model",
    "gpu",
    "quant",
    "engine",
    "apis",
    "workload",
    "self_hosted",
    "description",
    "max_price_age_days",
}


def _load_workload_file(path: Path) -> dict:
    from llmplan.errors import InputError
    from llmplan.textfiles import parse_yaml, read_text_input

    data = parse_yaml(read_text_input(path, "workload", InputError), path, InputError)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping with model, gpu, workload, self_hosted, apis")
    unknown = set(data) - WORKLOAD_FILE_KEYS
    if unknown:
        from llmplan.errors import closest_key

        key = sorted(unknown)[0]
        best = closest_key(key, sorted(WORKLOAD_FILE_KEYS))
        hint = f"; did you mean {best!r}?" if best else f"; valid keys: {', '.join(sorted(WORKLOAD_FILE_KEYS))}"
        raise InputError(f"{path}: unknown key {key!r}{hint}")
    return data


def _validated(schema, values: dict, section: str):
    """The workload or self-hosting terms, their errors in the user's words: a key that has a flag is named as
    the flag, any other as the --workload file's `section.key`; an unknown key gets the closest valid one."""
    from pydantic import ValidationError

    from llmplan.errors import InputError, describe_validation

    def name(loc) -> str:
        key = str(loc[0])
        return f"--{key.replace('_', '-')}" if key in FLAGS and key in schema.model_fields else f"{section}.{key}"

    try:
        return schema(**values)
    except ValidationError as exc:
        raise InputError(describe_validation(exc, schema, name)) from None


@app.command("breakeven", help=HELP)
@handle_errors
def breakeven_command(
    model: Annotated[
        str | None,
        typer.Argument(autocompletion=complete_model, help="Model (catalog id/alias, HF repo, folder, .gguf)."),
    ] = None,
    gpu: Annotated[
        str | None,
        typer.Option("--gpu", "-g", autocompletion=complete_gpu, help="GPU id (or NxID for the smallest replica)."),
    ] = None,
    quant: Annotated[
        str | None,
        typer.Option("--quant", "-q", autocompletion=complete_quant, help="Weight format [default: the checkpoint's]."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option("--engine", "-e", autocompletion=complete_engine, help="Serving engine [default: vllm]."),
    ] = None,
    workload_file: WorkloadFileOpt = None,
    requests_per_day: RequestsPerDayOpt = None,
    tokens_per_month: Annotated[
        float | None, typer.Option("--tokens-per-month", help="Or: input+output tokens a month.")
    ] = None,
    input_tokens: InputTokensOpt = None,
    output_tokens: OutputTokensOpt = None,
    cacheable_share: Annotated[
        float | None, typer.Option("--cacheable-share", help="Share of prompt tokens an API can cache (0-1).")
    ] = None,
    batch_share: Annotated[
        float | None, typer.Option("--batch-share", help="Share of traffic eligible for batch APIs (0-1).")
    ] = None,
    peak_to_average: PeakToAverageOpt = None,
    hours_per_day: HoursPerDayOpt = None,
    max_ttft_s: MaxTtftOpt = None,
    min_tokens_per_s: MinTokensPerSOpt = None,
    api: Annotated[
        list[str] | None, typer.Option("--api", help="API offering id, repeatable (`llmplan apis`).")
    ] = None,
    mode: ModeOpt = None,
    rental_tier: RentalTierOpt = None,
    gpu_hourly_usd: Annotated[
        str | None, typer.Option("--gpu-hourly-usd", help="GPU rental per GPU-hour, e.g. 2.5 or 2.5..3.5.")
    ] = None,
    engineering_hours: EngineeringHoursOpt = None,
    engineering_rate_usd: EngineeringRateOpt = None,
    monitoring_usd: MonitoringOpt = None,
    redundancy: RedundancyOpt = None,
    max_utilization: MaxUtilizationOpt = None,
    years: YearsOpt = None,
    usd_per_kwh: UsdPerKwhOpt = None,
    max_price_age_days: Annotated[
        int, typer.Option("--max-price-age-days", help="Warn about prices older than this.")
    ] = 180,
    plot_path: Annotated[
        Path | None, typer.Option("--plot", help="Write a PNG of monthly cost against volume.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, json or markdown.")] = Format.table,
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    api_prices: ApiPricesOpt = None,
    offline: OfflineOpt = False,
    perf_model: PerfModelOpt = "analytic",
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.errors import InputError
    from llmplan.plans.breakeven import SelfHostTerms, Workload, plan_breakeven
    from llmplan.plans.deploy import build_deployment

    check_plot_path(plot_path)
    data = _load_workload_file(workload_file) if workload_file else {}
    catalog = Catalog(models_files=models, gpus_files=prices, apis_files=api_prices)
    model = model or data.get("model")
    if not model:
        raise InputError("name a MODEL (or give `model:` in the --workload file)")
    wl = _with_flags(
        data.get("workload"),
        requests_per_day=requests_per_day,
        tokens_per_month=tokens_per_month,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cacheable_share=cacheable_share,
        batch_share=batch_share,
        peak_to_average=peak_to_average,
        hours_per_day=hours_per_day,
        max_ttft_s=max_ttft_s,
        min_tokens_per_s=min_tokens_per_s,
    )
    # a volume flag replaces the file's volume, whichever way the file gives it
    if requests_per_day is not None:
        wl.pop("tokens_per_month", None)
    elif tokens_per_month is not None:
        wl.pop("requests_per_day", None)
    workload = _validated(Workload, wl, "workload")
    sh = _with_flags(
        data.get("self_hosted"),
        mode=mode,
        rental_tier=rental_tier,
        gpu_hourly_usd=gpu_hourly_usd,
        engineering_hours=engineering_hours,
        engineering_rate_usd=engineering_rate_usd,
        monitoring_usd=monitoring_usd,
        redundancy=redundancy,
        max_utilization=max_utilization,
        years=years,
        usd_per_kwh=usd_per_kwh,
    )
    terms = _validated(SelfHostTerms, sh, "self_hosted")
    api_ids = list(api or data.get("apis") or [])
    dep, resolved = build_deployment(
        catalog,
        model,
        gpu=gpu or data.get("gpu") or "h100-sxm",
        quant=quant or data.get("quant"),
        engine=engine or data.get("engine"),
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        context=workload.input_tokens + workload.output_tokens,
        offline=offline,
    )
    if not api_ids:
        api_ids = [a for a in DEFAULT_APIS if a in catalog.apis]
        api_ids += [k for k, v in catalog.apis.items() if v.open_model == dep.model.id][:3]
    apis = [catalog.api_entry(a) for a in api_ids]
    age = int(data.get("max_price_age_days", max_price_age_days))
    report = plan_breakeven(
        dep,
        workload,
        terms,
        apis,
        max_price_age_days=age,
        perf_model=perf_model_option(perf_model),
        config=resolved.entry.config if resolved.entry else None,
    )
    _show_breakeven(report, fmt, plot_path)


def _with_flags(section, **flags) -> dict:
    """A section of the --workload file with every flag given on the command line written over it."""
    merged = dict(section or {})
    merged.update({key: value for key, value in flags.items() if value is not None})
    return merged


def _show_breakeven(report, fmt: Format, plot_path: Path | None) -> None:
    if plot_path is not None:
        from llmplan.plans.breakeven import plot

        plot(report, str(plot_path))
    if fmt == Format.json:
        emit_json(report.model_dump(mode="json"))
        return
    from llmplan.cli.breakeven_render import breakeven_markdown, print_breakeven

    if fmt == Format.markdown:
        typer.echo(breakeven_markdown(report))
    else:
        print_breakeven(report)
    if plot_path is not None:
        console().print(f"chart written to {plot_path}")
