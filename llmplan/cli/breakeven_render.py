"""Draw a BreakevenReport as a rich table or a Markdown report a manager can paste."""

from __future__ import annotations

from llmplan.cli.common import NARROW, console, fold_id, id_width, print_bullets, verdict_points
from llmplan.plans.breakeven import BreakevenReport


def _usd(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def _be(x: float | None) -> str:
    return "never" if x is None else f"{x:,.0f}/day"


def print_breakeven(r: BreakevenReport, width: int | None = None) -> None:
    from rich.table import Table

    out = console(width)
    w, s = r.workload, r.self_hosted
    out.print(
        f"[bold]{r.model}[/]: {w.requests_per_day:,.0f} requests/day x ({w.input_tokens} in + "
        f"{w.output_tokens} out) tokens = {w.monthly_input_tokens / 1e9:,.2f} B in + "
        f"{w.monthly_output_tokens / 1e9:,.2f} B out a {w.month_hours:g}-hour month; peak "
        f"{w.peak_requests_per_s:,.2f} req/s ({w.peak_to_average:g}x average)"
    )
    wide = out.width >= NARROW  # narrow terminals drop the price dates and the scenario share
    columns = [("monthly", 9), ("$/Mtok", 7), ("breakeven", 15)] + (
        [("self-host wins", 14), ("as of", 10)] if wide else []
    )
    labels = [f"self-hosted {s.gpus}x {s.gpu}"] + [a.id for a in r.apis]
    width = id_width(out.width, [w_ for _, w_ in columns], max(len(x) for x in labels))
    t = Table(title="Monthly cost, USD (730-hour month); $/Mtok over input + output tokens", title_justify="left")
    t.add_column("option", no_wrap=True, width=width)
    for name, _ in columns:
        t.add_column(name, justify="left" if name == "as of" else "right", no_wrap=True)
    price_date = s.gpu_price.as_of if s.gpu_price else "-"
    rows = [(labels[0], _usd(s.monthly_cost_usd), f"{s.usd_per_mtok:,.3f}", "-", "-", price_date)]
    rows += [
        (
            a.id,
            _usd(a.monthly_cost_usd),
            f"{a.usd_per_mtok:,.3f}",
            _be(a.breakeven_requests_per_day),
            f"{a.self_hosted_wins_share:.0%}",
            a.as_of,
        )
        for a in r.apis
    ]
    for i, row in enumerate(rows):
        t.add_row(fold_id(row[0], width), *row[1 : 1 + len(columns)], style="bold" if i == 0 else None)
    out.print(t)
    rate = f"${s.gpu_hourly_usd:,.2f}/GPU-hour" if s.gpu_hourly_usd is not None else "owned"
    out.print(
        f"self-hosted range over the inputs' ranges: {_usd(s.monthly_cost_low_usd)} to "
        f"{_usd(s.monthly_cost_high_usd)} a month"
    )
    out.print(
        f"self-hosted = {s.replicas} replica(s) of {s.gpus_per_replica}x {s.gpu} ({s.quant}, {s.engine}): "
        f"GPUs {_usd(s.gpu_monthly_usd)} ({rate}) + engineering "
        f"{_usd(s.engineering_monthly_usd)} + monitoring {_usd(s.monitoring_monthly_usd)}; one replica "
        f"serves {s.replica_requests_per_s:,.2f} req/s ({s.replica_output_tokens_per_s:,.0f} output tok/s, "
        f"sized at {s.sized_at}); utilization {s.utilization:.0%}"
    )
    out.print("[bold]verdict:[/]")
    print_bullets(out, verdict_points(r.verdict))
    out.print("[bold]why:[/]")
    print_bullets(out, r.reasons)
    for w_ in r.warnings:
        out.print(f"[yellow]warning:[/] {w_}")


def breakeven_markdown(r: BreakevenReport) -> str:
    w, s = r.workload, r.self_hosted
    lines = [
        f"# Self-hosting {r.model} vs APIs",
        "",
        f"**Verdict.** {r.verdict}",
        "",
        f"Workload: {w.requests_per_day:,.0f} requests/day of {w.input_tokens} input + {w.output_tokens} output "
        f"tokens: {w.monthly_input_tokens / 1e9:,.2f} B input and {w.monthly_output_tokens / 1e9:,.2f} B output "
        f"tokens in a {w.month_hours:g}-hour month; peak {w.peak_to_average:g}x the average.",
        "",
        "| option | monthly cost | range | USD per million tokens (in+out) | breakeven volume | self-hosting wins in | price as of |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| self-hosted: {s.gpus}x {s.gpu}, {s.quant}, {s.engine} | {_usd(s.monthly_cost_usd)} | "
        f"{_usd(s.monthly_cost_low_usd)}-{_usd(s.monthly_cost_high_usd)} | {s.usd_per_mtok:,.3f} | - | - | "
        f"{s.gpu_price.as_of if s.gpu_price else '-'} |",
    ]
    for a in r.apis:
        lines.append(
            f"| {a.id} | {_usd(a.monthly_cost_usd)} | | {a.usd_per_mtok:,.3f} | "
            f"{_be(a.breakeven_requests_per_day)} | {a.self_hosted_wins_share:.0%} of scenarios | {a.as_of} |"
        )
    lines += [
        "",
        "Self-hosted cost: GPUs "
        + _usd(s.gpu_monthly_usd)
        + (f" at ${s.gpu_hourly_usd:,.2f} per GPU-hour" if s.gpu_hourly_usd is not None else " (owned)")
        + f", engineering {_usd(s.engineering_monthly_usd)}, monitoring {_usd(s.monitoring_monthly_usd)}. "
        f"One replica sustains {s.replica_requests_per_s:,.2f} requests/s (sized at {s.sized_at}); "
        f"average utilization {s.utilization:.0%}.",
        "",
        "Why:",
    ]
    lines += [f"- {x}" for x in r.reasons]
    if r.warnings:
        lines += ["", "Warnings:"] + [f"- {x}" for x in r.warnings]
    lines += ["", "Sources: " + "; ".join(f"{a.id}: {a.source} (as of {a.as_of})" for a in r.apis)]
    return "\n".join(lines)
