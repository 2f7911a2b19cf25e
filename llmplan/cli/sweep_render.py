"""Render a sweep as a table, JSON, Markdown or CSV (CSV through pandas)."""

from __future__ import annotations

import sys

from llmplan.cli.common import console, emit_json

COLUMNS = [
    ("concurrency", "users"),
    ("input_tokens", "in"),
    ("output_tokens", "out"),
    ("decode_tokens_per_s", "tok/s"),
    ("throughput_tokens_per_s", "total/s"),
    ("ttft_s", "TTFT s"),
    ("request_latency_s", "lat s"),
    ("memory_bytes", "GB/GPU"),
    ("fits", "fits"),
    ("meets_target", "target"),
]
LEGEND = "tok/s: per user; total/s: aggregate output tokens/s; lat s: TTFT + output / tok/s"


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
    return (f"target ({', '.join(parts)}) holds up to concurrency {last['concurrency']} "
            f"({last['throughput_tokens_per_s']:,.0f} tokens/s aggregate)")


def render_sweep(rows, dep, axis: str, fmt: str, max_ttft_s=None, min_tps=None) -> None:
    note = _target_note(max_ttft_s, min_tps, rows)
    if axis != "concurrency":
        full = "token sweeps run at full load: each row holds as many sequences as memory and the engine allow"
        note = f"{note}; {full}" if note else full
    if fmt == "json":
        emit_json({"model": dep.model.id, "gpu": dep.gpu_id, "gpu_count": dep.n_gpus, "quant": dep.fmt.name,
                   "engine": dep.engine.name, "context": dep.context, "axis": axis, "rows": rows,
                   "target": note or None})
        return
    if fmt == "csv":
        import pandas as pd

        pd.DataFrame(rows).to_csv(sys.stdout, index=False)
        return
    if fmt == "markdown":
        print("| " + " | ".join(label for _, label in COLUMNS) + " |")
        print("|" + "---:|" * len(COLUMNS))
        for r in rows:
            print("| " + " | ".join(_cell(k, r[k]) for k, _ in COLUMNS) + " |")
        if note:
            print(f"\n{note}")
        return
    from rich.table import Table

    where = f"{dep.n_gpus}x {dep.gpu_id}" if dep.n_gpus > 1 else dep.gpu_id
    # columns that stay constant along the axis are said once in the title
    fixed = {"concurrency": ("input_tokens", "output_tokens"), "input-tokens": ("output_tokens",),
             "output-tokens": ("input_tokens",)}[axis]
    cols = [(k, label) for k, label in COLUMNS if k not in fixed]
    shape = ", ".join(f"{k.split('_')[0]} {rows[0][k]} tokens" for k in fixed) if rows else ""
    t = Table(title=f"{dep.model.id} · {dep.fmt.name} · {where} · {dep.engine.name}: sweep of {axis} ({shape})",
              title_justify="left")
    for _, label in cols:
        t.add_column(label, justify="right", no_wrap=True)
    for r in rows:
        style = None if r["meets_target"] else ("dim" if not r["fits"] else "red")
        t.add_row(*[_cell(k, r[k]) for k, _ in cols], style=style)
    out = console()
    out.print(t)
    out.print(LEGEND)
    if note:
        out.print(note)
