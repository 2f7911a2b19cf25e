"""`llmplan models`, `llmplan gpus`, `llmplan apis`: list and show the catalogs."""

from __future__ import annotations

from typing import Annotated

import typer

from llmplan.cli.common import (
    ApiPricesOpt,
    Format,
    FormatOpt,
    ModelsOpt,
    OfflineOpt,
    PricesOpt,
    console,
    emit_json,
    examples,
    fold_id,
    gb,
    handle_errors,
    hub_spinner,
    id_width,
)

models_app = typer.Typer(
    help="List, show and add models. `llmplan models` lists; `llmplan models list SEARCH` filters.\n\n"
    + examples("llmplan models list qwen", "llmplan models show qwen3.5-27b"),
    invoke_without_command=True,
    no_args_is_help=False,
)


def _matches(search: str | None, *fields: str) -> bool:
    if not search:
        return True
    s = search.lower()
    return any(s in (f or "").lower() for f in fields)


@models_app.callback()
def models_root(
    ctx: typer.Context,
    fmt: FormatOpt = Format.table,
    models: ModelsOpt = None,
) -> None:
    """List the model catalog (shipped + your own)."""
    if ctx.invoked_subcommand is None:
        _list_models(None, fmt, models)


@models_app.command("list", help="List models, optionally filtered.\n\n" + examples("llmplan models list llama"))
@handle_errors
def models_list(
    search: Annotated[str | None, typer.Argument(help="Filter by id, alias or family.")] = None,
    fmt: FormatOpt = Format.table,
    models: ModelsOpt = None,
) -> None:
    _list_models(search, fmt, models)


@handle_errors
def _list_models(search: str | None, fmt: Format, models) -> None:
    from llmplan.catalog.loader import Catalog

    catalog = Catalog(models_files=models)
    rows = [(mid, e) for mid, e in catalog.models.items() if _matches(search, mid, e.family, *e.aliases)]
    if fmt == Format.json:
        from llmplan.plans.outputs import ModelListOutput, json_output

        emit_json(
            json_output(
                ModelListOutput,
                [
                    {
                        "id": mid,
                        "aliases": e.aliases,
                        "family": e.family,
                        "params": e.params_total,
                        "active_params": e.params_active or e.params_total,
                        "native_quant": e.native_quant,
                        "license": e.license,
                        "source": e.source,
                        "as_of": str(e.as_of),
                    }
                    for mid, e in rows
                ],
            )
        )
        return
    if fmt == Format.markdown:
        typer.echo("| model | params | active | format | license |\n|---|---:|---:|---|---|")
        for mid, e in rows:
            typer.echo(
                f"| {mid} | {e.params_total / 1e9:.1f}B | {(e.params_active or e.params_total) / 1e9:.1f}B "
                f"| {e.native_quant} | {e.license} |"
            )
        return
    from rich.table import Table

    out = console()
    t = Table(title=f"{len(rows)} models" + (f" matching {search!r}" if search else ""), title_justify="left")
    widths = _model_list_widths(rows, out.width)
    for col, w in widths.items():
        t.add_column(
            col,
            justify="right" if col in ("params", "active") else "left",
            no_wrap=True,
            width=w if col in ("model", "alias") else None,
            min_width=w,
        )
    for mid, e in sorted(rows):
        cells = {
            "model": fold_id(mid, widths["model"]),
            "alias": fold_id(e.aliases[0], widths["alias"]) if e.aliases else "",
            "params": f"{e.params_total / 1e9:,.1f}B",
            "active": f"{(e.params_active or e.params_total) / 1e9:,.1f}B",
            "format": e.native_quant,
            "license": e.license or "",
        }
        t.add_row(*[cells[c] for c in widths])
    out.print(t)


MODEL_ID_MIN = 24  # the model id's width before less-needed columns go
ALIAS_MAX = 22


def _model_list_widths(rows, console_width: int) -> dict[str, int]:
    """Columns of `models list` and their widths: the alias (the name people type) stays; license, then the
    format, then the active parameters go first when the model id would get narrower than MODEL_ID_MIN."""
    widths = {
        "alias": min(ALIAS_MAX, max((len(e.aliases[0]) for _, e in rows if e.aliases), default=5)),
        "params": 8,
        "active": 7,
        "format": 8,
        "license": min(25, max((len(e.license or "") for _, e in rows), default=7)),
    }
    longest = max((len(mid) for mid, _ in rows), default=10)
    for optional in ("license", "format", "active", None):
        model = id_width(console_width, list(widths.values()), longest, floor=10)
        if model >= min(MODEL_ID_MIN, longest) or optional is None:
            break
        del widths[optional]
    return {"model": model, **widths}


@models_app.command(
    "show", help="Show one model's architecture as llmplan reads it.\n\n" + examples("llmplan models show qwen3.5-27b")
)
@handle_errors
def models_show(
    model: Annotated[str, typer.Argument(help="Catalog id or alias, HF repo id, folder or .gguf file.")],
    fmt: FormatOpt = Format.table,
    models: ModelsOpt = None,
    offline: OfflineOpt = False,
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.core import memory as mem
    from llmplan.models.sources import resolve_model

    catalog = Catalog(models_files=models)
    with hub_spinner(model, catalog, fmt):
        resolved = resolve_model(model, catalog, offline=offline)
    spec = resolved.spec
    info = {
        "id": spec.id,
        "source": resolved.source,
        "model_type": spec.model_type,
        "params": spec.params_total,
        "active_params": spec.params_active,
        "layers": spec.num_layers,
        "layer_kinds": spec.layer_kinds,
        "hidden_size": spec.hidden_size,
        "attention_heads": spec.num_heads,
        "kv_heads": spec.num_kv_heads,
        "head_dim": spec.head_dim,
        "vocab_size": spec.vocab_size,
        "max_context": spec.max_context,
        "experts": spec.num_experts,
        "experts_per_token": spec.experts_per_token,
        "native_quant": spec.native_quant,
        "dtype": spec.dtype,
        "kv_bytes_per_token": int(round(mem.kv_bytes_per_token(spec, spec.dtype_bytes))),
        "state_bytes_per_sequence": mem.state_bytes_per_sequence(spec),
        "approximations": list(spec.approximations),
    }
    if resolved.entry is not None:
        e = resolved.entry
        info.update(
            {
                "aliases": e.aliases,
                "license": e.license,
                "params_source": e.params_source,
                "config_source": e.source,
                "as_of": str(e.as_of),
            }
        )
    if fmt == Format.json:
        from llmplan.plans.outputs import ModelDetail, json_output

        emit_json(json_output(ModelDetail, info))
        return
    _print_model_table(info, spec.id, spec.dtype)


def _print_model_table(info: dict, title: str, dtype: str) -> None:
    """`models show` as a two-column table; long words (URLs, paths) fold at their separators."""
    from rich.table import Table

    out = console()
    key_width = max(len(k) for k in info)
    value_width = max(20, out.width - key_width - 7)  # a boxed two-column table: 7 characters of borders
    t = Table(title=title, title_justify="left", show_header=False)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    for k, v in info.items():
        if isinstance(v, (list, dict)):
            v = ", ".join(f"{a}: {b}" for a, b in v.items()) if isinstance(v, dict) else "; ".join(map(str, v))
        elif isinstance(v, int) and k in ("params", "active_params"):
            v = f"{v:,} ({v / 1e9:.2f}B)"
        elif isinstance(v, int) and k.endswith("bytes_per_token"):
            v = f"{v:,} bytes ({dtype})"
        elif isinstance(v, int) and k.endswith("_per_sequence"):
            v = f"{v:,} bytes"
        t.add_row(k.replace("_", " "), _fold_long_words(str(v), value_width))
    out.print(t)


def _fold_long_words(text: str, width: int) -> str:
    """Words longer than the column (URLs, repository paths) broken at '/', '-', '_' or '.', so that the
    table wraps them whole instead of cutting them with an ellipsis."""
    return " ".join(fold_id(word, width) if len(word) > width else word for word in text.split(" "))


@models_app.command(
    "add",
    help="Fetch a model from the Hugging Face hub and save it into your catalog file.\n\n"
    + examples("llmplan models add mistralai/Mistral-7B-Instruct-v0.3"),
)
@handle_errors
def models_add(
    model: Annotated[str, typer.Argument(help="Hugging Face repo id (org/name) to fetch and save.")],
    offline: OfflineOpt = False,
) -> None:
    from llmplan.models.hub import add_to_user_catalog

    path, model_id = add_to_user_catalog(model, offline=offline)
    typer.echo(f"saved {model_id} to {path}")


GPUS_HELP = "List the GPU catalog with memory, bandwidth, throughput and prices.\n\n" + examples("llmplan gpus h100")
APIS_HELP = "List API offerings and their prices per million tokens.\n\n" + examples("llmplan apis openai")


@handle_errors
def gpus_command(
    search: Annotated[str | None, typer.Argument(help="Filter by id, name or vendor.")] = None,
    fmt: FormatOpt = Format.table,
    prices: PricesOpt = None,
) -> None:
    from llmplan.catalog.loader import Catalog

    catalog = Catalog(gpus_files=prices)
    rows = [(gid, g) for gid, g in catalog.gpus.items() if _matches(search, gid, g.name, g.vendor, *g.aliases)]
    if fmt == Format.json:
        from llmplan.plans.outputs import GpuListOutput, json_output

        emit_json(json_output(GpuListOutput, [{"id": gid, **g.model_dump()} for gid, g in rows]))
        return

    if fmt == Format.markdown:
        _gpus_markdown(rows)
    else:
        _gpus_table(rows)


def _on_demand_hourly(g) -> str:
    od = [p.usd_per_gpu_hour for p in g.rental if p.tier == "on_demand"]
    return f"${min(od):.2f}" if od else "-"


def _gpus_markdown(rows) -> None:
    typer.echo(
        "| id | name | memory | bandwidth | bf16 TFLOP/s | TDP | price | $/h |\n|---|---|---:|---:|---:|---:|---:|---:|"
    )
    for gid, g in rows:
        typer.echo(
            f"| {gid} | {g.name} | {gb(g.memory_bytes, 0)} | {g.memory_bandwidth_bytes_per_s / 1e9:,.0f} GB/s "
            f"| {(g.bf16_flops or 0) / 1e12:,.0f} | {g.tdp_watts:.0f} W "
            f"| {'$' + format(g.purchase_usd, ',.0f') if g.purchase_usd else '-'} | {_on_demand_hourly(g)} |"
        )


def _gpus_table(rows) -> None:
    from rich import box
    from rich.table import Table

    out = console()
    cols = ["id", "GB", "TB/s", "bf16", "fp8", "fp4", "W", "buy", "from $/h"]
    keep = [c for c in cols if out.width >= 100 or c not in ("fp4", "W")]
    t = Table(
        title=f"{len(rows)} accelerators: memory the GPU may use (GB), bandwidth, dense tensor TFLOP/s",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for col in keep:
        t.add_column(col, justify="left" if col == "id" else "right", no_wrap=True)
    for gid, g in sorted(rows, key=lambda x: -x[1].memory_bandwidth_bytes_per_s):
        tf = [f"{v / 1e12:,.0f}" if v else "-" for v in (g.bf16_flops, g.fp8_flops, g.fp4_flops)]
        values = [
            gid,
            f"{g.memory_bytes * g.gpu_memory_fraction / 1e9:,.0f}",
            f"{g.memory_bandwidth_bytes_per_s / 1e12:,.2f}",
            *tf,
            f"{g.tdp_watts:,.0f}",
            f"${g.purchase_usd:,.0f}" if g.purchase_usd else "-",
            _on_demand_hourly(g),
        ]
        cells = dict(zip(cols, values))
        t.add_row(*[cells[c] for c in keep])
    out.print(t)


@handle_errors
def apis_command(
    search: Annotated[str | None, typer.Argument(help="Filter by id or provider.")] = None,
    fmt: FormatOpt = Format.table,
    api_prices: ApiPricesOpt = None,
) -> None:
    from llmplan.catalog.loader import Catalog

    catalog = Catalog(apis_files=api_prices)
    rows = [(aid, a) for aid, a in catalog.apis.items() if _matches(search, aid, a.provider, a.open_model or "")]
    if fmt == Format.json:
        from llmplan.plans.outputs import ApiListOutput, json_output

        emit_json(json_output(ApiListOutput, [{"id": aid, **a.model_dump()} for aid, a in rows]))
        return
    if fmt == Format.markdown:
        typer.echo("| id | input $/Mtok | output $/Mtok | cached | as of |\n|---|---:|---:|---:|---|")
        for aid, a in rows:
            typer.echo(
                f"| {aid} | {a.input_usd_per_mtok:.3f} | {a.output_usd_per_mtok:.3f} | "
                f"{a.cached_input_usd_per_mtok if a.cached_input_usd_per_mtok is not None else '-'} | {a.as_of} |"
            )
        return
    from rich.table import Table

    out = console()
    width = id_width(out.width, [6, 7, 9, 10], max((len(aid) for aid, _ in rows), default=10))
    t = Table(title=f"{len(rows)} API offerings (USD per million tokens)", title_justify="left")
    t.add_column("id", no_wrap=True, width=width)
    for col in ("input", "output", "cached in", "as of"):
        t.add_column(col, justify="left" if col == "as of" else "right", no_wrap=True)
    for aid, a in sorted(rows):
        t.add_row(
            fold_id(aid, width),
            f"{a.input_usd_per_mtok:.3f}",
            f"{a.output_usd_per_mtok:.3f}",
            f"{a.cached_input_usd_per_mtok:.3f}" if a.cached_input_usd_per_mtok is not None else "-",
            str(a.as_of),
        )
    out.print(t)
