"""Readable placeholders in `--help`: `--gpu GPU`, `--max-ttft-s SECONDS`, `MODEL`, never `<str>` or `{model}`.

Typer prints an option's Python type (`<str>`, `<list[Path]>`) where no metavar is given. Rather than
repeat a metavar on every declaration, the command group fills them in once, from the option's name
(or, failing that, its type), so a new option gets a sensible placeholder without anyone remembering to.
Choices keep Typer's own `<a|b|c>` display, which lists them.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

BY_NAME = {
    "model": "MODEL",
    "gpu": "GPU",
    "quant": "FORMAT",
    "engine": "ENGINE",
    "kv_dtype": "DTYPE",
    "context": "TOKENS",
    "concurrency": "N|max",
    "input_tokens": "TOKENS",
    "output_tokens": "TOKENS",
    "replicas": "N",
    "host_bandwidth_gbs": "GB/S",
    "max_ttft_s": "SECONDS",
    "min_tokens_per_s": "TOKENS/S",
    "prices": "FILE",
    "models": "FILE",
    "api_prices": "FILE",
    "workload_file": "FILE",
    "workload": "FILE",
    "plot_path": "FILE.png",
    "plot": "FILE.png",
    "files": "PLAN",
    "search": "SEARCH",
    "api": "PROVIDER/MODEL",
    "requests_per_day": "N",
    "requests_per_s": "N",
    "tokens_per_month": "N",
    "peak_to_average": "RATIO",
    "gpu_hourly_usd": "USD",
    "engineering_hours": "HOURS",
    "engineering_rate_usd": "USD",
    "monitoring_usd": "USD",
    "max_monthly_cost_usd": "USD",
    "max_price_usd": "USD",
    "min_memory_gb": "GB",
    "years": "YEARS",
    "usd_per_kwh": "USD",
    "max_price_age_days": "DAYS",
    "hours_per_day": "HOURS",
    "cacheable_share": "SHARE",
    "batch_share": "SHARE",
    "rental_tier": "TIER",
    "redundancy": "N",
    "seq_len": "TOKENS",
    "micro_batch": "N",
    "grad_accum": "N",
    "tokens": "TOKENS",
    "dataset_examples": "N",
    "avg_tokens": "TOKENS",
    "epochs": "N",
    "lora_rank": "RANK",
    "headroom_pct": "PERCENT",
    "top": "N",
    "nodes": "N",
    "pipeline_parallel": "N",
    "engine_version": "VERSION",
    "emit": "ENGINE",
}
BY_TYPE = {"int": "N", "float": "NUMBER", "str": "TEXT", "Path": "FILE", "path": "FILE"}


def placeholder(param: Any) -> str | None:
    """The metavar a parameter should show, or None to keep Typer's (flags and choices)."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(descriptor, "is_choice", False):
        return None
    name = BY_NAME.get(param.name or "")
    if name is None:
        bare = param.bare_type() if hasattr(param, "bare_type") else "str"
        name = BY_TYPE.get(str(bare).split("[")[-1].rstrip("]"), "VALUE")
    return name


def _plain_argument(param: Any) -> None:
    """Arguments read `MODEL` / `[TEXT]` / `PLAN...` in the usage line and help, as in most CLIs.

    Typer 0.29 writes required arguments as `{name}` and adds their type (`MODEL <str>`); its own
    per-parameter hooks are replaced on the instance, so nothing else of Typer changes.
    """

    def usage() -> str:
        name = param.metavar + ("..." if param.nargs != 1 else "")
        return name if param.required else f"[{name}]"

    param._usage_display_name = usage
    param.display_type_rich = lambda ctx: None


def fill_metavars(command: Any) -> None:
    for param in getattr(command, "params", []):
        if param.metavar is None:
            param.metavar = placeholder(param)
        if param.param_type_name == "argument" and param.metavar:
            _plain_argument(param)
    for sub in (getattr(command, "commands", None) or {}).values():
        fill_metavars(sub)


class ReadableGroup(TyperGroup):
    """The command group of `llmplan` and its sub-apps: placeholders filled in once, at construction."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        fill_metavars(self)
