"""Side-by-side options for one model: fit, speed, and what each costs to buy, run and rent.

Cost per million tokens is at full load for the request shape, over input + output tokens (there is no
workload here); the owned figure amortizes the purchase over `years` and pays power at `usd_per_kwh`.
Both come from llmplan.core.cost, the formulas `breakeven` and `check` use.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from llmplan.catalog.loader import Catalog
from llmplan.core import cost as C
from llmplan.core.fit import fit
from llmplan.engines.formats import canonical_quant, closest_formats
from llmplan.errors import InputError, LlmplanError, UnsupportedError
from llmplan.models.resolved import ResolvedModel
from llmplan.plans.breakeven import PriceRef, gpu_price
from llmplan.plans.deploy import build_deployment, parse_gpu_spec
from llmplan.plans.perf_model import apply_perf_model, capacity_with

SORT_KEYS = ("speed", "price", "usd-per-mtok")


class OptionPrice(BaseModel):
    purchase_usd: PriceRef | None
    hourly_usd: PriceRef | None


class CompareRow(BaseModel):
    option: str
    gpu: str
    gpu_count: int
    runnable: bool
    quant: str | None = None
    quant_substituted_from: str | None = None  # the asked format, where the device runs another
    reason: str | None = None
    fits: bool = False
    fits_with_offload: bool | None = None
    offload_gpu_layers: int | None = None
    concurrency: int | None = None  # sequences this row runs (at full load, its own)
    decode_tokens_per_s: float | None = None
    throughput_tokens_per_s: float | None = None
    ttft_s: float | None = None
    full_load_tokens_per_s: float | None = None
    purchase_usd: float | None = None
    power_watts: float | None = None
    usd_per_mtok_owned: float | None = None
    usd_per_mtok_rented: float | None = None
    usd_per_mtok: float | None = None  # the figure ranked: rented where the device has a rental price, else owned
    usd_per_mtok_basis: str | None = None  # rented | owned
    price: OptionPrice | None = None
    estimate: dict | None = None


BOX_SIZES = (1, 2, 4, 8)
BOXABLE_KINDS = ("datacenter", "workstation", "consumer")  # cards that go several to a box; not whole machines


def expand_gpus(
    catalog: Catalog,
    gpus: list[str],
    max_price_usd: float | None,
    min_memory_gb: float | None,
    max_gpus: int = 8,
    weights_bytes: float = 0.0,
) -> list[str]:
    """The options to estimate: `all` is every catalog device alone plus boxes of 2, 4 and 8 cards of each
    type (up to `max_gpus`). Filters apply to the whole box (price of all its cards, their total memory);
    a box of several cards that cannot hold `weights_bytes` is pruned before any estimate is made."""
    if max_gpus < 1:
        raise InputError(f"--max-gpus must be at least 1, got {max_gpus}")
    out: list[str] = []
    for g in gpus:
        if g.strip().lower() != "all":
            out.append(g)
            continue
        for gid, entry in catalog.gpus.items():
            sizes = [n for n in BOX_SIZES if n <= max_gpus] if entry.kind in BOXABLE_KINDS else [1]
            out += [
                gid if n == 1 else f"{n}x{gid}" for n in sizes if n == 1 or _box_memory_bytes(entry, n) >= weights_bytes
            ]
    kept = [g for g in out if _within(catalog, g, max_price_usd, min_memory_gb)]
    return list(dict.fromkeys(kept))


def _box_memory_bytes(entry, n: int) -> float:
    return entry.memory_bytes * entry.gpu_memory_fraction * n


def _within(catalog: Catalog, option: str, max_price_usd: float | None, min_memory_gb: float | None) -> bool:
    """Whether a box passes --max-price-usd (all its cards) and --min-memory-gb (their total memory)."""
    if max_price_usd is None and min_memory_gb is None:
        return True
    n, gid = parse_gpu_spec(option)
    _, entry = catalog.gpu_entry(gid)
    if max_price_usd is not None and (entry.purchase_usd is None or entry.purchase_usd * n > max_price_usd):
        return False
    return min_memory_gb is None or _box_memory_bytes(entry, n) >= min_memory_gb * 1e9


def weights_floor_bytes(model: ResolvedModel, quant: str | None) -> float:
    """The model's weights at the asked format (else its own), to prune boxes that cannot hold them; 0 where
    the format is unknown (nothing is pruned, and the estimate says why)."""
    from llmplan.core.memory import weights_bytes
    from llmplan.engines.formats import FORMATS

    key = canonical_quant(quant or model.gguf_quant or model.spec.native_quant)
    return float(weights_bytes(model.spec, FORMATS[key])) if key in FORMATS else 0.0


def _option_row(option: str, n: int, dep, report, asked: str | None, price) -> CompareRow:
    return CompareRow(
        option=option,
        gpu=dep.gpu_id,
        gpu_count=n,
        runnable=True,
        quant=dep.fmt.name,
        quant_substituted_from=asked,
        fits=report.fits,
        fits_with_offload=report.fits_with_offload,
        offload_gpu_layers=report.offload.gpu_layers if report.offload else None,
        concurrency=report.concurrency,
        decode_tokens_per_s=report.performance.decode_tokens_per_s,
        throughput_tokens_per_s=report.performance.throughput_tokens_per_s,
        ttft_s=report.performance.ttft_s,
        purchase_usd=price.purchase_usd * n if price.purchase_usd else None,
        power_watts=dep.gpu.tdp_watts * n,
        price=OptionPrice(purchase_usd=price.purchase_ref, hourly_usd=price.hourly_ref),
        estimate=report.model_dump(mode="json"),
    )


def _full_load_costs(row: CompareRow, dep, n: int, price, config, perf_model: str, terms: C.OwnershipTerms) -> None:
    """Tokens/s at full load and what a million tokens costs there, owned and rented."""
    cap = capacity_with(replace(dep, concurrency=None), config, perf_model)
    row.full_load_tokens_per_s = round(cap.output_tokens_per_s, 1)
    if cap.output_tokens_per_s <= 0:
        return

    def usd_per_mtok(hourly_usd: float) -> float:
        return round(
            float(C.full_load_usd_per_mtok(hourly_usd, cap.output_tokens_per_s, dep.input_tokens, dep.output_tokens)),
            6,
        )

    if price.purchase_usd:
        owned_hourly = float(C.own_monthly_usd(n, price.purchase_usd, dep.gpu.tdp_watts, terms)) / C.MONTH_HOURS
        row.usd_per_mtok_owned = usd_per_mtok(owned_hourly)
    if price.hourly_usd:
        row.usd_per_mtok_rented = usd_per_mtok(price.hourly_usd * n)


def compare_options(
    catalog: Catalog,
    model: ResolvedModel,
    gpus: list[str],
    *,
    quant: str | None,
    engine: str | None,
    context: int | None,
    concurrency: str,
    input_tokens: int | None,
    output_tokens: int | None,
    kv_dtype: str | None = None,
    years: float = 3.0,
    usd_per_kwh: float = 0.13,
    pue: float = 1.4,
    perf_model: str = "analytic",
) -> list[CompareRow]:
    config = model.entry.config if model.entry else None
    rows = []
    terms = C.OwnershipTerms(years=years, usd_per_kwh=usd_per_kwh, pue=pue)
    for g in gpus:
        n, gid = parse_gpu_spec(g)
        option = f"{n}x {gid}" if n > 1 else gid
        try:
            dep, report, asked = _deploy(
                catalog,
                model,
                g,
                quant,
                engine=engine,
                kv_dtype=kv_dtype,
                context=context,
                concurrency=concurrency,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            report = fit_with_model(report, dep, config, perf_model)
        except LlmplanError as exc:
            real = catalog.gpu_entry(gid)[0] if gid else gid
            rows.append(CompareRow(option=option, gpu=real, gpu_count=n, runnable=False, reason=str(exc)))
            continue
        price = gpu_price(dep)
        row = _option_row(option, n, dep, report, asked, price)
        if report.fits:
            _full_load_costs(row, dep, n, price, config, perf_model, terms)
            _rank_cost(row)
        rows.append(row)
    return rows


def _rank_cost(row: CompareRow) -> None:
    """The $/Mtok a row is ranked by: rented where the device has a rental price, else owned."""
    if row.usd_per_mtok_rented is not None:
        row.usd_per_mtok, row.usd_per_mtok_basis = row.usd_per_mtok_rented, "rented"
    elif row.usd_per_mtok_owned is not None:
        row.usd_per_mtok, row.usd_per_mtok_basis = row.usd_per_mtok_owned, "owned"


def fit_with_model(report, dep, config, perf_model: str):
    """A row's figures from the run's performance model; where aiconfigurator cannot serve, analytic, marked."""
    if perf_model == "analytic":
        return report
    return apply_perf_model(report, dep, config, perf_model, strict=False)


def _deploy(catalog: Catalog, model: ResolvedModel, gpu: str, quant: str | None, **options):
    """(deployment, fit report, the asked format if another one was substituted, else None).

    A device that cannot run the asked format joins the comparison in the closest format it does run,
    with its own default engine unless one was named; `fit` itself keeps refusing (conventions)."""
    try:
        dep, _ = build_deployment(catalog, model, gpu=gpu, quant=quant, **options)
        return dep, fit(dep), None
    except UnsupportedError:
        asked = canonical_quant(quant) if quant else None
        if asked is None:
            raise
        for candidate in closest_formats(asked):
            try:
                dep, _ = build_deployment(catalog, model, gpu=gpu, quant=candidate, **options)
                return dep, fit(dep), asked
            except UnsupportedError:
                continue
        raise


def default_sort(concurrency: str) -> str:
    """At full load the question is what a token costs; at a fixed concurrency, how fast each user is served."""
    return "usd-per-mtok" if is_full_load(concurrency) else "speed"


def is_full_load(concurrency: str) -> bool:
    return str(concurrency).strip().lower() == "max"


def speed_basis(rows: list[CompareRow], full_load: bool) -> str:
    """What `--sort speed` ranks by: per-user tokens/s where every row runs the same concurrency, else aggregate.

    At full load each row runs the concurrency its own memory holds (256 sequences on one GPU, 42 on another),
    so per-user speed would reward the option that serves fewer users."""
    if not full_load:
        return "per-user"
    counts = {r.concurrency for r in rows if r.runnable and r.concurrency is not None}
    return "per-user" if len(counts) <= 1 else "aggregate"


def sort_rows(rows: list[CompareRow], key: str, full_load: bool = False) -> list[CompareRow]:
    """Options that fit first, then those that need offload, then the rest; within each, by `key`."""
    basis = speed_basis(rows, full_load)

    def rank(r: CompareRow) -> int:
        if r.runnable and r.fits:
            return 0
        if r.runnable and r.fits_with_offload:
            return 1
        return 2 if r.runnable else 3

    def value(r: CompareRow) -> float:
        if key == "speed":
            speed = r.throughput_tokens_per_s if basis == "aggregate" else r.decode_tokens_per_s
            return -(speed or 0.0)
        if key == "price":
            return r.purchase_usd if r.purchase_usd is not None else float("inf")
        return r.usd_per_mtok if r.usd_per_mtok is not None else float("inf")

    return sorted(rows, key=lambda r: (rank(r), value(r)))


def best_words(rows: list[CompareRow], key: str, full_load: bool = False) -> str:
    """The closing sentence: the winner and the criterion that chose it."""
    fitting = [r for r in rows if r.runnable and r.fits]
    if not fitting:
        offload = [r for r in rows if r.runnable and r.fits_with_offload]
        if offload:
            return (
                f"Nothing holds the model in GPU memory; {offload[0].option} runs it with partial offload "
                f"at {offload[0].decode_tokens_per_s or 0:,.1f} tokens/s."
            )
        return "None of these options holds the model; try more GPUs or a smaller format."
    top = fitting[0]
    return (
        f"Best: {top.option}, {_criterion(top, key, speed_basis(rows, full_load))}, among the "
        f"{len(fitting)} options that fit."
    )


def _criterion(top: CompareRow, key: str, basis: str) -> str:
    if key == "speed" and basis == "aggregate":
        return (
            f"the most aggregate output at full load ({top.throughput_tokens_per_s or 0:,.0f} tokens/s "
            f"over {top.concurrency} sequences)"
        )
    if key == "speed":
        return f"the fastest per user ({top.decode_tokens_per_s or 0:,.1f} tokens/s each)"
    if key == "price":
        return f"the cheapest to buy ({'$' + format(top.purchase_usd, ',.0f') if top.purchase_usd else 'n/a'})"
    if top.usd_per_mtok is None:
        return "ranked by USD per million tokens, though none of them has a price"
    return (
        f"the lowest USD per million tokens at full load (${top.usd_per_mtok:,.3f}, {top.usd_per_mtok_basis}; "
        "ranked on rent where the device has a rental price, else on ownership)"
    )
