"""Draw a FinetuneReport as a rich table or Markdown; both read the same report object."""

from __future__ import annotations

from llmplan.cli.common import console, gb, num
from llmplan.plans.finetune import FinetuneReport


def _setup_line(r: FinetuneReport) -> str:
    lora = f", rank {r.lora_rank} on {r.lora_targets}" if r.lora_rank else ""
    ckpt = "checkpointing on" if r.gradient_checkpointing else "checkpointing off"
    zero = f", ZeRO {r.zero}" if r.zero != "0" else ""
    zero += f", TP {r.tensor_parallel}" if r.tensor_parallel > 1 else ""
    zero += f", offload {'+'.join(r.offload)}" if r.offload else ""
    zero += f", {r.attention} attention" if r.attention != "flash" else ""
    return (
        f"{r.method}{lora}; {r.precision}, {r.optimizer}, {ckpt}{zero}; seq {r.seq_len} x micro-batch "
        f"{r.micro_batch} x accum {r.grad_accum}; {r.framework}"
    )


def memory_rows(r: FinetuneReport) -> list[tuple[str, str]]:
    m = r.memory
    rows = [
        ("weights", m.weights_bytes),
        ("LoRA adapters", m.adapter_bytes),
        ("gradients", m.gradients_bytes),
        ("fp32 gradient copy (DeepSpeed)", m.fp32_gradients_bytes),
        ("optimizer states", m.optimizer_bytes),
        ("fp32 master weights", m.master_weights_bytes),
        ("activations", m.activations_bytes),
        ("LoRA activations", m.lora_activations_bytes),
        ("attention scores (no flash)", m.attention_scores_bytes),
        ("logits + loss", m.logits_bytes),
        ("all-gathered layers (ZeRO-3/FSDP)", m.fsdp_buffers_bytes),
        ("CUDA context + fragmentation", m.overhead_bytes),
    ]
    out = [(label, gb(v, 2)) for label, v in rows if v]
    out += [
        (label, gb(v, 2))
        for label, v in (
            ("paged optimizer states (unified memory, not in total)", m.paged_optimizer_bytes),
            ("offloaded to host (not in total)", m.host_bytes),
        )
        if v
    ]
    out += [
        ("total per GPU", gb(m.total_bytes, 2)),
        ("GPU memory", gb(m.gpu_memory_bytes, 2)),
        ("free" if m.free_bytes >= 0 else "missing", gb(abs(m.free_bytes), 2)),
    ]
    return out


def time_cost_rows(r: FinetuneReport) -> list[tuple[str, str]]:
    t, c = r.time, r.cost
    rows = [
        ("tokens", f"{t.tokens:,}"),
        ("speed", f"{num(t.tokens_per_s, 0)} tokens/s all GPUs (MFU {t.mfu:.0%})"),
        ("time", f"{num(t.hours, 2)} h ({t.steps:,} optimizer steps)"),
        *(
            [("  communication", f"{num(t.communication_s_per_step, 3)} s per step")]
            if t.communication_s_per_step
            else []
        ),
        *([("  offload transfers", f"{num(t.offload_s_per_step, 3)} s per step")] if t.offload_s_per_step else []),
        ("GPU-hours", num(c.gpu_hours, 1)),
    ]
    if c.usd is None:
        rows.append(("cost", "- (no rental price in the catalog; pass --mode own or --prices FILE)"))
    else:
        spread = f" (providers ${c.usd_low:,.0f}-{c.usd_high:,.0f})" if c.usd_high != c.usd_low else ""
        rows.append(("cost", f"${c.usd:,.0f}{spread}"))
        rows.append(("  GPU time", f"${c.gpu_usd:,.0f} at ${c.usd_per_gpu_hour:,.2f}/GPU-h ({c.mode})"))
        if c.engineering_usd:
            rows.append(("  engineering", f"${c.engineering_usd:,.0f}"))
    return rows


def print_finetune(r: FinetuneReport, width: int | None = None) -> None:
    from rich.table import Table

    out = console(width)
    where = f"{r.gpu_count}x {r.gpu}" if r.gpu_count > 1 else r.gpu
    out.print(f"[bold]{r.model}[/] · {r.method} · {where}")
    out.print(_setup_line(r))
    out.print(f"{r.params / 1e9:,.2f}B parameters, {r.trainable_params / 1e6:,.1f}M trained")
    table = Table(show_header=True, header_style="bold")
    table.add_column("memory per GPU", overflow="fold")
    table.add_column("GB", justify="right", no_wrap=True)
    for label, value in memory_rows(r):
        table.add_row(label, value)
    out.print(table)
    tc = Table(show_header=True, header_style="bold")
    tc.add_column("time and cost", overflow="fold")
    tc.add_column("value", overflow="fold")
    for label, value in time_cost_rows(r):
        tc.add_row(label, value)
    out.print(tc)
    out.print(("[green]" if r.fits else "[red]") + r.verdict + "[/]")
    for s in r.suggestions:
        out.print(f"  - to fit: {s}")
    for w in r.warnings:
        out.print(f"  - note: {w}")


def finetune_markdown(r: FinetuneReport) -> str:
    lines = [
        f"### {r.model} · {r.method} · {r.gpu_count}x {r.gpu}",
        "",
        _setup_line(r),
        "",
        "| memory per GPU | GB |",
        "|---|---:|",
    ]
    lines += [f"| {a} | {b} |" for a, b in memory_rows(r)]
    lines += ["", "| time and cost | value |", "|---|---|"]
    lines += [f"| {a.strip()} | {b} |" for a, b in time_cost_rows(r)]
    lines += ["", f"**{r.verdict}**"]
    lines += [f"- to fit: {s}" for s in r.suggestions] + [f"- note: {w}" for w in r.warnings]
    return "\n".join(lines)
