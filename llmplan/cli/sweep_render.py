"""Render a sweep as a table, JSON, Markdown or CSV (CSV through pandas)."""

from __future__ import annotations

import sys

from llmplan.cli.common import console, emit_json

COLUMNS = [
    ("concurrency", "users"),
    ("input_tokens", "in"),
    ("output_tokens", "out"),
    ("decode_tokens_per_s", "tok/s\nper user"),
    ("throughput_tokens_per_s", "total\ntok/s"),
    ("output_tokens_per_s_per_gpu", "tok/s\nper GPU"),
    ("ttft_s", "TTFT\ns"),
    ("request_latency_s", "lat\ns"),
    ("memory_bytes", "GB\n/GPU"),
    ("fits", "fits"),
    ("meets_target", "target"),
]
LEGEND = (
    "tok/s per user: decode speed each user sees; total tok/s: aggregate output tokens/s; tok/s per GPU: "
    "total over all GPUs (replicas included); lat s: TTFT + output / tok/s per user"
)


def _cell(key: str, value) -> str:
    if key == "memory_bytes":
        return f"{value / 1e9:,.1f}"
    if key == "meets_target":
        return "ok" if value else "MISSED"
    if key == "fits":
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if key == "ttft_s" else f"{value:,.1f}"
    return f"{value:,}"


def _target_note(max_ttft_s, min_tps, rows) -> str:
    if max_ttft_s is None and min_tps is None:
        return ""
    parts = []
    if max_ttft_s is not None:
        parts.append(f"TTFT <= {max_ttft_s} s")
    if min_tps is not None:
        parts.append(f">= {min_tps} tokens/s per user")
    ok = [r for r in rows if r["meets_target"]]
    if not ok:
        return f"target ({', '.join(parts)}) is missed at every point that fits"
    last = ok[-1]
    return (
        f"target ({', '.join(parts)}) holds up to concurrency {last['concurrency']} "
        f"({last['throughput_tokens_per_s']:,.0f} tokens/s aggregate)"
    )


def _sweep_object(rows, dep, axis: str, note: str, label: str | None, perf_model: str) -> dict:
    data = {
        "model": dep.model.id,
        "gpu": dep.gpu_id,
        "gpu_count": dep.n_gpus,
        "quant": dep.fmt.name,
        "engine": dep.engine.name,
        "expert_parallel": dep.expert_parallel,
        "context": dep.context,
        "axis": axis,
        "performance": {"model": perf_model},
        "rows": rows,
        "target": note or None,
    }
    if label is not None:
        data["label"] = label
    return data


def render_sweeps(series, axis: str, fmt: str, max_ttft_s=None, min_tps=None, perf_model: str = "analytic") -> None:
    """`series`: (label or None, Deployment, rows) per line; one series renders as one table. Sweeps use the
    analytic model unless aiconfigurator was asked for by name (`perf_model` says which)."""
    notes = []
    for _, _, rows in series:
        note = _target_note(max_ttft_s, min_tps, rows)
        if axis != "concurrency":
            full = "token sweeps run at full load: each row holds as many sequences as memory and the engine allow"
            note = f"{note}; {full}" if note else full
        notes.append(note)
    if fmt == "json":
        objects = [
            _sweep_object(rows, dep, axis, note, label, perf_model) for (label, dep, rows), note in zip(series, notes)
        ]
        from llmplan.plans.outputs import SweepOutput, json_output

        emit_json(json_output(SweepOutput, objects[0] if len(objects) == 1 else {"series": objects}))
        return
    if fmt == "csv":
        import pandas as pd

        frames = [pd.DataFrame(rows).assign(**({"series": label} if label else {})) for label, _, rows in series]
        pd.concat(frames).to_csv(sys.stdout, index=False)
        return
    for (label, dep, rows), note in zip(series, notes):
        if fmt == "markdown":
            _markdown(rows, label, note, perf_model)
        else:
            _table(rows, dep, axis, label, note, perf_model)


def _markdown(rows, label, note, perf_model: str) -> None:
    if label:
        print(f"\n**{label}**\n")
    print("| " + " | ".join(lab.replace("\n", " ") for _, lab in COLUMNS) + " |")
    print("|" + "---:|" * len(COLUMNS))
    for r in rows:
        print("| " + " | ".join(_cell(k, r[k]) for k, _ in COLUMNS) + " |")
    if note:
        print(f"\n{note}")
    print(f"\n{LEGEND}; figures from the {perf_model} performance model")


def _table(rows, dep, axis, label, note, perf_model: str) -> None:
    from rich.table import Table

    where = f"{dep.n_gpus}x {dep.gpu_id}" if dep.n_gpus > 1 else dep.gpu_id
    layout = " EP" if dep.expert_parallel else ""
    # columns that stay constant along the axis are said once in the title
    fixed = {
        "concurrency": ("input_tokens", "output_tokens"),
        "input-tokens": ("output_tokens",),
        "output-tokens": ("input_tokens",),
    }[axis]
    cols = [(k, lab) for k, lab in COLUMNS if k not in fixed]
    shape = ", ".join(f"{k.split('_')[0]} {rows[0][k]} tokens" for k in fixed) if rows else ""
    t = Table(
        title=f"{dep.model.id} · {dep.fmt.name} · {where}{layout} · {dep.engine.name}: sweep of {axis} ({shape})",
        title_justify="left",
    )
    for _, lab in cols:
        t.add_column(lab, justify="right", no_wrap=True)
    for r in rows:
        style = None if r["meets_target"] else ("dim" if not r["fits"] else "red")
        t.add_row(*[_cell(k, r[k]) for k, _ in cols], style=style)
    out = console()
    out.print(t)
    out.print(f"{LEGEND}; figures from the {perf_model} performance model")
    if note:
        out.print(note)
