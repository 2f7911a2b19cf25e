"""Draw a FitReport as a rich table or Markdown; both read the same report object."""

from __future__ import annotations

from llmplan.cli.common import console, gb, num, print_bullets, verdict_points
from llmplan.core.reports import FitReport


def _perf_rows(r: FitReport) -> list[tuple[str, str]]:
    p = r.performance
    if p.decode_tokens_per_s is None:
        return [("performance", "- (does not fit)")]
    per = "per user" if r.concurrency > 1 else "single stream"
    return [
        ("decode speed", f"{num(p.decode_tokens_per_s)} tokens/s {per}"),
        (
            "throughput",
            f"{num(p.throughput_tokens_per_s, 0)} output tokens/s aggregate"
            + (f" ({r.gpu.replicas} replicas)" if r.gpu.replicas > 1 else ""),
        ),
        ("prefill", f"{num(p.prefill_tokens_per_s, 0)} tokens/s"),
        ("time to first token", f"{num(p.ttft_s, 3)} s for {r.input_tokens} input tokens"),
        (
            "request latency",
            f"{num(p.request_latency_s, 2)} s for {r.output_tokens} output tokens "
            "(streaming shows the first token sooner; completion time is the same)",
        ),
        ("performance model", p.model + (f" ({p.model_note})" if p.model_note else "")),
    ]


def _memory_rows(r: FitReport) -> list[tuple[str, str, str]]:
    m = r.memory
    usable = max(m.usable_bytes, 1)

    def pct(x: int) -> str:
        return f"{100 * x / usable:5.1f}%"

    state = f" + {gb(m.state_bytes_per_sequence, 3)} state/seq" if m.state_bytes_per_sequence else ""
    kv_label = f"KV cache ({r.context if r.concurrency_mode == 'fixed' else 'avg'} tok x {r.concurrency}{state})"
    return [
        ("weights", gb(m.weights_bytes), pct(m.weights_bytes)),
        (kv_label, gb(m.kv_cache_bytes), pct(m.kv_cache_bytes)),
        ("engine overhead", gb(m.overhead_bytes), pct(m.overhead_bytes)),
        ("total", gb(m.total_bytes), pct(m.total_bytes)),
        (f"usable ({r.engine})", gb(m.usable_bytes), "100.0%"),
        ("free" if m.free_bytes >= 0 else "missing", gb(abs(m.free_bytes)), pct(abs(m.free_bytes))),
    ]


def print_fit(r: FitReport, width: int | None = None) -> None:
    out = console(width)
    _print_header(out, r)
    _print_memory(out, r)
    verdict_style = "bold green" if r.fits else ("bold yellow" if r.fits_with_offload else "bold red")
    out.print(f"[{verdict_style}]{'FITS' if r.fits else 'DOES NOT FIT'}[/]")
    print_bullets(out, verdict_points(r.verdict))
    _print_limits(out, r)
    if r.suggestions:
        out.print("[cyan]to fit:[/]")
        print_bullets(out, r.suggestions)
    if r.warnings:
        out.print("[yellow]warnings:[/]")
        print_bullets(out, r.warnings)
    if r.launch is not None:
        out.print(f"[bold]launch ({r.launch.engine}):[/]")
        out.print(r.launch.command, soft_wrap=True, highlight=False, markup=False)
        print_bullets(out, r.launch.notes)


def _print_header(out, r: FitReport) -> None:
    from rich.panel import Panel
    from rich.table import Table

    where = f"{r.gpu.count}x {r.gpu.id}" if r.gpu.count > 1 else r.gpu.id
    title = f"{r.model.id} · {r.quant} · {where} · {r.engine}"
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    kinds = ", ".join(f"{v} {k}" for k, v in r.model.layer_kinds.items())
    head.add_row(
        "model",
        f"{r.model.params / 1e9:,.1f}B params ({r.model.active_params / 1e9:,.1f}B active), "
        f"{r.model.source}; layers: {kinds}",
    )
    head.add_row("GPU", f"{r.gpu.name}, {gb(r.gpu.memory_bytes)} each")
    head.add_row(
        "request",
        f"context {r.context} tokens, concurrency {r.concurrency}"
        f"{' (full load)' if r.concurrency_mode == 'max' else ''}, "
        f"{r.input_tokens} in / {r.output_tokens} out, KV {r.kv_dtype}",
    )
    out.print(Panel(head, title=title, expand=False))


def _print_memory(out, r: FitReport) -> None:
    from rich.table import Table

    t = Table(title="Memory per GPU" if r.gpu.count > 1 else "Memory", title_justify="left")
    t.add_column("where it goes")
    t.add_column("size", justify="right")
    t.add_column("of usable", justify="right")
    for row in _memory_rows(r):
        t.add_row(*row)
    out.print(t)
    state = r.memory.state_bytes_per_sequence
    out.print(
        f"KV cache: {r.memory.kv_bytes_per_token:,} bytes per token"
        + (f"; state {state:,} bytes per sequence" if state else "")
    )
    if r.memory.kv_cache_tokens:
        out.print(
            f"as {r.engine} prints it: KV pool {gb(r.memory.kv_pool_bytes)} per GPU = "
            f"{r.memory.kv_cache_tokens:,} tokens; maximum concurrency for {r.context:,} tokens per request: "
            f"{r.memory.max_concurrency_at_context:.2f}x"
        )


def _print_limits(out, r: FitReport) -> None:
    from rich.table import Table

    lim = Table.grid(padding=(0, 2))
    lim.add_column(style="bold")
    lim.add_column()
    lim.add_row("smallest GPU count", f"{r.min_gpus}x {r.gpu.id}" if r.min_gpus else "none up to 64")
    lim.add_row("largest context", f"{r.max_context:,} tokens at concurrency {max(r.concurrency, 1)}")
    lim.add_row("largest concurrency", f"{r.max_concurrency:,} sequences at {r.context:,} tokens")
    for label, value in _perf_rows(r):
        lim.add_row(label, value)
    out.print(lim)


def fit_markdown(r: FitReport) -> str:
    lines = [
        f"## {r.model.id} on {r.gpu.count}x {r.gpu.id} ({r.quant}, {r.engine})",
        "",
        f"**{'Fits' if r.fits else 'Does not fit'}.** {r.verdict}",
        "",
        "| memory (per GPU) | size | of usable |",
        "|---|---:|---:|",
    ]
    lines += [f"| {a} | {b} | {c.strip()} |" for a, b, c in _memory_rows(r)]
    lines += [
        "",
        "| figure | value |",
        "|---|---|",
        f"| smallest GPU count | {r.min_gpus or 'none up to 64'} |",
        f"| largest context | {r.max_context:,} tokens |",
        f"| largest concurrency | {r.max_concurrency:,} |",
    ]
    lines += [f"| {a} | {b} |" for a, b in _perf_rows(r)]
    if r.suggestions:
        lines += ["", "To fit: " + "; ".join(r.suggestions)]
    if r.warnings:
        lines += [""] + [f"- warning: {w}" for w in r.warnings]
    return "\n".join(lines)
