"""Rendering of `llmplan plan`: a table, markdown, CSV, and the winner as a `check` plan (YAML)."""

from __future__ import annotations

import csv
import io

from llmplan.cli.common import console, fold_id, id_width
from llmplan.plans.planner import PlanOption, PlanReport, option_label

LEGEND = (
    "$/mo: GPUs, engineering and monitoring a month (730 h); $/Mtok: over input + output tokens served; "
    "TTFT and tok/s per user at the peak rate; util: average load over what is provisioned"
)


def _layout(o: PlanOption) -> str:
    if o.pools and len(o.pools) > 1:
        return f"{len(o.pools)} pools"
    inner = (
        f"DP{o.gpus_per_replica}+EP{o.layout.ep}"
        if o.layout.dp_attention
        else f"TP{o.layout.tp}" + (f"+EP{o.layout.ep}" if o.layout.ep > 1 else "")
    )
    return f"{o.layout.replicas}x {inner}"


def _rows(report: PlanReport) -> list[list[str]]:
    return [
        [
            str(i),
            option_label(o),
            _layout(o),
            f"{o.ttft_s:.2f}",
            f"{o.decode_tokens_per_s:.0f}",
            f"{o.utilization:.0%}",
            f"${o.usd_per_month:,.0f}",
            f"{o.usd_per_mtok:.3f}",
            o.bound_by,
        ]
        for i, o in enumerate(report.options, 1)
    ]


HEADERS = ["#", "option", "layout", "TTFT s", "tok/s", "util", "$/mo", "$/Mtok", "bound by"]
NARROW_DROPS = ("util", "bound by")  # below 100 columns: the least needed go first


def _fold_words(text: str, width: int) -> str:
    """Lines at word boundaries first; a word longer than the line at its id boundaries (`-`, `/`)."""
    import textwrap

    lines = textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False) or [text]
    return "\n".join(fold_id(line, width) for line in lines)


def _headline(report: PlanReport) -> str:
    t = report.targets
    want = [
        f"TTFT <= {t['max_ttft_s']:g} s" if t.get("max_ttft_s") else "",
        f">= {t['min_tokens_per_s']:g} tok/s per user" if t.get("min_tokens_per_s") else "",
        f"<= ${t['max_monthly_cost_usd']:,.0f}/month" if t.get("max_monthly_cost_usd") else "",
    ]
    targets = ", ".join(w for w in want if w) or "no latency target (full load)"
    shape = f"{report.input_tokens} in / {report.output_tokens} out tokens"
    if report.classes:
        shape = "classes " + ", ".join(
            f"{c['name']} {c['share']:.0%} ({c['input_tokens']}/{c['output_tokens']})" for c in report.classes
        )
    return (
        f"{report.model}: {report.requests_per_s:.3g} req/s average ({report.peak_requests_per_s:.3g} at peak), "
        f"{shape}; {targets}; {report.mode}"
    )


def print_plan(report: PlanReport) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out = console()
    title = _headline(report)
    if not report.options:
        out.print(escape(f"{title}\nNo option meets the targets; binding: {', '.join(report.binding)}"))
        if report.closest is not None:
            c = report.closest
            out.print(
                escape(
                    f"closest: {option_label(c)} ({_layout(c)}): TTFT {c.ttft_s:.2f} s, "
                    f"{c.decode_tokens_per_s:.0f} tok/s per user, ${c.usd_per_month:,.0f}/month"
                )
            )
        return
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    headers = [h for h in HEADERS if not (out.width < 100 and h in NARROW_DROPS)]
    rows = [[v for h, v in zip(HEADERS, row) if h in headers] for row in _rows(report)]
    others = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers) if h != "option"]
    width = id_width(out.width, others, max(len(r[1]) for r in rows), floor=14)
    for h in headers:
        table.add_column(
            h,
            justify="left" if h in ("option", "layout", "bound by") else "right",
            no_wrap=True,
            width=width if h == "option" else None,
        )
    for row in rows:
        row[1] = _fold_words(row[1], width)
        table.add_row(*row)
    out.print(table)
    win = report.options[0]
    out.print(
        escape(
            f"Cheapest: {option_label(win)} ({_layout(win)}) for ${win.usd_per_month:,.0f}/month "
            f"(${win.usd_per_mtok:.3f} per million tokens), bound by {win.bound_by}; "
            f"{win.utilization:.0%} average utilization."
        )
    )
    if win.beat:
        beat = "; ".join(f"{b.total_gpus}x {b.gpu} {b.quant} {b.engine} ${b.usd_per_month:,.0f}" for b in win.beat)
        out.print(escape(f"It beat on {win.gpu}: {beat}."))
    if report.api_reference:
        api = report.api_reference
        out.print(
            escape(
                f"For reference, the same model by API: {api['id']} ${api['usd_per_month']:,.0f}/month "
                f"(${api['usd_per_mtok']:.3f}/Mtok)."
            )
        )
    if win.quality_note:
        out.print(escape(f"Format: {win.quality_note}."))
    out.print("Reproduce one replica:", highlight=False)
    out.print(escape(win.fit_command), soft_wrap=True, highlight=False)
    out.print(escape(LEGEND) + f" ({report.candidates} candidates evaluated)", highlight=False)
    for note in report.notes:
        out.print(escape(f"note: {note}"), highlight=False)


def render_markdown(report: PlanReport) -> str:
    lines = [f"**{_headline(report)}**", ""]
    if not report.options:
        lines.append(f"No option meets the targets; binding: {', '.join(report.binding)}.")
        return "\n".join(lines)
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(report)]
    lines += ["", f"Reproduce one replica: `{report.options[0].fit_command}`", "", LEGEND]
    return "\n".join(lines)


def render_csv(report: PlanReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(
        [
            "rank",
            "total_gpus",
            "gpu",
            "gpus_per_replica",
            "replicas",
            "tp",
            "ep",
            "dp_attention",
            "engine",
            "quant",
            "ttft_s",
            "decode_tokens_per_s",
            "utilization",
            "usd_per_month",
            "usd_per_mtok",
            "bound_by",
            "fit_command",
        ]
    )
    for i, o in enumerate(report.options, 1):
        w.writerow(
            [
                i,
                o.total_gpus,
                o.gpu,
                o.gpus_per_replica,
                o.layout.replicas,
                o.layout.tp,
                o.layout.ep,
                o.layout.dp_attention,
                o.engine,
                o.quant,
                o.ttft_s,
                o.decode_tokens_per_s,
                o.utilization,
                o.usd_per_month,
                o.usd_per_mtok,
                o.bound_by,
                o.fit_command,
            ]
        )
    return buf.getvalue()


def render_yaml(report: PlanReport) -> str:
    """The winner as a `llmplan check` plan entry, so CI then guards what was planned."""
    import yaml

    from llmplan.errors import PlanError

    if not report.options:
        raise PlanError(f"no option meets the targets (binding: {', '.join(report.binding)}); nothing to write")
    o = report.options[0]
    require: dict = {"fits": True}
    if report.targets.get("max_ttft_s"):
        require["max_ttft_s"] = report.targets["max_ttft_s"]
    if report.targets.get("min_tokens_per_s"):
        require["min_decode_tokens_per_s"] = report.targets["min_tokens_per_s"]
    entry = {
        "name": f"{report.model.split('/')[-1].lower()}-{o.gpu}",
        "model": report.model,
        "gpu": f"{o.gpus_per_replica}x{o.gpu}" if o.gpus_per_replica > 1 else o.gpu,
        "quant": o.quant,
        "engine": o.engine,
        "context": report.input_tokens + report.output_tokens,
        "concurrency": o.concurrency_per_replica,
        "input_tokens": report.input_tokens,
        "output_tokens": report.output_tokens,
        "replicas": o.layout.replicas,
    }
    if o.layout.ep > 1:
        entry["expert_parallel"] = True
    if o.layout.dp_attention:
        entry["dp_attention"] = True
    entry["require"] = require
    header = (
        f"# llmplan plan: {_headline(report)}\n# cheapest of {report.candidates} candidates: "
        f"${o.usd_per_month:,.0f}/month; check it in CI with `llmplan check <this file>`\n"
    )
    return header + yaml.safe_dump({"deployments": [entry]}, sort_keys=False)
