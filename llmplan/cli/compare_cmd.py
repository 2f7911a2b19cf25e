"""`llmplan compare`: one model on several hardware options, side by side."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import (
    ModelsOpt,
    OfflineOpt,
    PerfModelOpt,
    PricesOpt,
    TabularFormat,
    console,
    emit_json,
    examples,
    handle_errors,
    hub_spinner,
    perf_model_option,
)
from llmplan.cli.completion import complete_engine, complete_gpu_or_all, complete_model, complete_quant

HELP = """Compare hardware options for one model: fit, speed, purchase, power and cost per million tokens.

$/Mtok is at full load for the request shape, over input + output tokens; owned = purchase amortized
over --years plus power at --usd-per-kwh; rented = the catalog's cheapest on-demand rate.

With --concurrency max each option runs the concurrency its own memory holds (the `conc` column):
--sort speed then ranks by aggregate tokens/s (per-user tokens/s only where every row runs the same
concurrency), and the default sort is usd-per-mtok (rented where the device has a rental price, else owned).

""" + examples(
    "llmplan compare llama-3.3-70b-instruct --quant q4_k_m --gpu rtx-5090 --gpu 2xrtx-5090 \\\n    --gpu rtx-pro-6000 --gpu dgx-spark --gpu strix-halo --gpu apple-m3-ultra",
    "llmplan compare llama-3.1-8b --gpu l4 --gpu h100-sxm --gpu rtx-4090 --concurrency max",
    "llmplan compare qwen3-32b --quant fp8 --gpu all --max-price-usd 10000 --sort usd-per-mtok \\\n    --format csv",
)


class SortKey(str, Enum):
    speed = "speed"
    price = "price"
    usd_per_mtok = "usd-per-mtok"


COLUMNS = [
    ("option", "option"),
    ("fit", "fits"),
    ("concurrency", "conc"),
    ("decode_tokens_per_s", "tok/s"),
    ("throughput_tokens_per_s", "tok/s all"),
    ("ttft_s", "TTFT s"),
    ("purchase_usd", "buy"),
    ("power_watts", "W"),
    ("usd_per_mtok_owned", "own $/Mt"),
    ("usd_per_mtok_rented", "rent $/Mt"),
]


def _cells(r) -> list[str]:
    if not r.runnable:
        return [r.option, "cannot run"] + ["-"] * (len(COLUMNS) - 2)
    total = (r.estimate or {}).get("offload", {}) or {}
    fit = (
        "yes"
        if r.fits
        else (f"{r.offload_gpu_layers}/{total.get('total_layers', '?')} on GPU" if r.fits_with_offload else "no")
    )

    def f(x, d=1, money=False):
        if x is None:
            return "-"
        return f"${x:,.0f}" if money else f"{x:,.{d}f}"

    option = f"{r.option} ({r.quant}*)" if r.quant_substituted_from else r.option
    return [
        option,
        fit,
        f(r.concurrency, 0),
        f(r.decode_tokens_per_s),
        f(r.throughput_tokens_per_s, 0),
        f(r.ttft_s, 2),
        f(r.purchase_usd, money=True),
        f(r.power_watts, 0),
        f(r.usd_per_mtok_owned, 3),
        f(r.usd_per_mtok_rented, 3),
    ]


@app.command("compare", help=HELP)
@handle_errors
def compare_command(
    model: Annotated[
        str,
        typer.Argument(autocompletion=complete_model, help="Catalog id/alias, HF repo id, model folder or .gguf file."),
    ],
    gpu: Annotated[
        list[str],
        typer.Option(
            "--gpu", "-g", autocompletion=complete_gpu_or_all, help="GPU id or NxID, repeatable; `all` for the catalog."
        ),
    ],
    quant: Annotated[
        str | None,
        typer.Option("--quant", "-q", autocompletion=complete_quant, help="Weight format [default: the checkpoint's]."),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            "-e",
            autocompletion=complete_engine,
            help="Engine [default per GPU: llama.cpp for GGUF/Apple/CPU, else vllm].",
        ),
    ] = None,
    context: Annotated[int | None, typer.Option("--context", "-c", help="Tokens per sequence [8192].")] = None,
    concurrency: Annotated[str, typer.Option("--concurrency", "-n", help="Sequences at once, or max.")] = "1",
    input_tokens: Annotated[
        int | None, typer.Option("--input-tokens", help="Prompt tokens per request [1024].")
    ] = None,
    output_tokens: Annotated[
        int | None, typer.Option("--output-tokens", help="Output tokens per request [256].")
    ] = None,
    kv_dtype: Annotated[str | None, typer.Option("--kv-dtype", help="KV cache dtype.")] = None,
    max_price_usd: Annotated[
        float | None, typer.Option("--max-price-usd", help="Keep options whose whole box costs at most this to buy.")
    ] = None,
    min_memory_gb: Annotated[
        float | None,
        typer.Option(
            "--min-memory-gb", help="Keep options with at least this much GPU memory in the box (all its GPUs)."
        ),
    ] = None,
    max_gpus: Annotated[
        int,
        typer.Option("--max-gpus", help="With --gpu all: boxes of 1, 2, 4 and 8 cards of each type, up to this many."),
    ] = 8,
    years: Annotated[float, typer.Option("--years", help="Amortization period for owned cost.")] = 3.0,
    usd_per_kwh: Annotated[float, typer.Option("--usd-per-kwh", help="Electricity price for owned cost.")] = 0.13,
    sort: Annotated[
        SortKey | None,
        typer.Option(
            "--sort",
            help="speed, price or usd-per-mtok [default: speed; usd-per-mtok with --concurrency max].",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        TabularFormat, typer.Option("--format", "-f", help="table, json, csv or markdown.")
    ] = TabularFormat.table,
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    offline: OfflineOpt = False,
    perf_model: PerfModelOpt = "analytic",
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.errors import InputError
    from llmplan.models.sources import resolve_model
    from llmplan.plans.compare import (
        compare_options,
        default_sort,
        expand_gpus,
        is_full_load,
        sort_rows,
        weights_floor_bytes,
    )

    if years <= 0 or usd_per_kwh < 0:
        raise InputError("--years must be positive and --usd-per-kwh not negative")
    catalog = Catalog(models_files=models, gpus_files=prices)
    with hub_spinner(model, catalog, fmt):
        resolved = resolve_model(model, catalog, offline=offline)
    options = expand_gpus(catalog, gpu, max_price_usd, min_memory_gb, max_gpus, weights_floor_bytes(resolved, quant))
    if not options:
        raise InputError("no GPU option left after the filters")
    rows = compare_options(
        catalog,
        resolved,
        options,
        quant=quant,
        engine=engine,
        context=context,
        concurrency=concurrency,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        kv_dtype=kv_dtype,
        years=years,
        usd_per_kwh=usd_per_kwh,
        perf_model=perf_model_option(perf_model),
    )
    key = sort.value if sort else default_sort(concurrency)
    _render(sort_rows(rows, key, is_full_load(concurrency)), key, is_full_load(concurrency), fmt, resolved.spec.id)


def _render(rows, key: str, full_load: bool, fmt: TabularFormat, model_id: str) -> None:
    from llmplan.plans.compare import best_words

    words = best_words(rows, key, full_load)
    if fmt == TabularFormat.json:
        _print_json(rows)
    elif fmt == TabularFormat.csv:
        import pandas as pd

        pd.DataFrame(
            [{k: v for k, v in r.model_dump().items() if k not in ("estimate", "price")} for r in rows]
        ).to_csv(sys.stdout, index=False)
    elif fmt == TabularFormat.markdown:
        _print_markdown(rows, words, full_load)
    else:
        _print_table(rows, words, model_id, full_load)


def _print_json(rows) -> None:
    from llmplan.plans.outputs import CompareOutput, json_output

    out = []
    for r in rows:
        obj = dict(r.estimate or {"gpu": {"id": r.gpu, "count": r.gpu_count}, "error": r.reason})
        obj.update(
            {
                "option": r.option,
                "runnable": r.runnable,
                "quant_substituted_from": r.quant_substituted_from,
                "concurrency": r.concurrency,
                "price": r.price.model_dump(mode="json") if r.price else None,
                "usd_per_mtok_owned": r.usd_per_mtok_owned,
                "usd_per_mtok_rented": r.usd_per_mtok_rented,
                "usd_per_mtok": r.usd_per_mtok,
                "usd_per_mtok_basis": r.usd_per_mtok_basis,
                "full_load_tokens_per_s": r.full_load_tokens_per_s,
                "purchase_usd": r.purchase_usd,
                "power_watts": r.power_watts,
            }
        )
        out.append(obj)
    emit_json(json_output(CompareOutput, out))


def _columns(full_load: bool, width: int) -> list[int]:
    """Column indexes to show: `conc` only at full load (each row's own), where the aggregate column stays too;
    narrow terminals drop the columns a buyer reads last."""
    drop = set() if full_load else {"concurrency"}
    if width < 110:  # at full load the purchase is inside own $/Mt; the aggregate is what ranks
        drop |= {"ttft_s", "power_watts"} | ({"purchase_usd"} if full_load else {"throughput_tokens_per_s"})
    return [i for i, (key, _) in enumerate(COLUMNS) if key not in drop]


def _print_markdown(rows, words: str, full_load: bool) -> None:
    keep = _columns(full_load, 200)
    print("| " + " | ".join(COLUMNS[i][1] for i in keep) + " |")
    print("|---|---|" + "---:|" * (len(keep) - 2))
    for r in rows:
        cells = _cells(r)
        print("| " + " | ".join(cells[i] for i in keep) + " |")
    print(f"\n{words} $/Mtok at full load for the request shape, over input + output tokens.")


def _title(model_id: str, rows, full_load: bool) -> str:
    first = next((r for r in rows if r.estimate), None)
    if not first:
        return model_id
    e = first.estimate
    counts = {r.concurrency for r in rows if r.estimate}
    conc = f"concurrency {e['concurrency']}" if len(counts) == 1 else "full load"
    if full_load and len(counts) == 1:
        conc += " (full load)"
    return f"{model_id} · {e['quant']} · context {e['context']} · {conc}"


def _print_table(rows, words: str, model_id: str, full_load: bool) -> None:
    from rich.table import Table

    out = console()
    keep = _columns(full_load, out.width)
    t = Table(title=_title(model_id, rows, full_load), title_justify="left")
    for i in keep:
        label = COLUMNS[i][1]
        t.add_column(label, justify="left" if label in ("option", "fits") else "right", no_wrap=True)
    for r in rows:
        cells = _cells(r)
        t.add_row(*[cells[i] for i in keep], style=None if r.runnable and r.fits else "dim")
    out.print(t)
    all_words = "conc: sequences at full load; tok/s all: aggregate output; " if full_load else ""
    out.print(
        f"[bold]{words}[/] tok/s is per user; {all_words}$/Mt is USD per million tokens at full load for "
        "the request shape, over input + output tokens; 'n/m on GPU' is a partial offload."
    )
    for r in rows:
        if not r.runnable:
            out.print(f"[yellow]{r.option}:[/] {r.reason}")
        elif r.quant_substituted_from:
            out.print(
                f"* {r.option} cannot run {r.quant_substituted_from}; compared in {r.quant}, the closest format it runs"
            )
