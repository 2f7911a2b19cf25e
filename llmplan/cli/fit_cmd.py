"""`llmplan fit`: will it fit, where do the bytes go, how fast."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli.common import (
    ModelsOpt,
    OfflineOpt,
    PerfModelOpt,
    PricesOpt,
    TabularFormat,
    check_plot_path,
    emit_json,
    examples,
    handle_errors,
    hub_spinner,
    perf_model_option,
)
from llmplan.cli.completion import complete_engine, complete_gpu, complete_model, complete_quant

FIT_HELP = """Will MODEL fit on the GPU(s), where does the memory go, and how fast will it run.

MODEL is a catalog id or alias (`llmplan models`), a Hugging Face repo id (org/name), a folder with
config.json, or a .gguf file.

""" + examples(
    "llmplan fit llama-3.1-8b --gpu rtx-4090 --quant q4_k_m",
    "llmplan fit meta-llama/Llama-3.1-70B-Instruct --gpu 4xh100-sxm --context 32768 --concurrency 16",
    "llmplan fit qwen3-32b --gpu h100-sxm --quant fp8 --concurrency max --format json",
    "llmplan fit llama-3.1-8b --gpu l4 --sweep concurrency --max-ttft-s 2 --format csv",
    "llmplan fit llama-3.1-70b --gpu 4xh100-sxm --quant fp8 --sweep concurrency \\\n    -e vllm -e sglang --plot curve.png",
)


class Sweep(str, Enum):
    concurrency = "concurrency"
    input_tokens = "input-tokens"
    output_tokens = "output-tokens"


def fit_command(
    model: Annotated[
        str,
        typer.Argument(autocompletion=complete_model, help="Catalog id/alias, HF repo id, model folder or .gguf file."),
    ],
    gpu: Annotated[
        str, typer.Option("--gpu", "-g", autocompletion=complete_gpu, help="GPU id, or NxID for N GPUs in one box.")
    ] = "h100-sxm",
    quant: Annotated[
        str | None,
        typer.Option("--quant", "-q", autocompletion=complete_quant, help="Weight format (default: the checkpoint's)."),
    ] = None,
    context: Annotated[
        int | None,
        typer.Option(
            "--context",
            "-c",
            "--max-model-len",
            help="Tokens per sequence the cache is sized for [default: 8192 or the model's max, at least input + output].",
        ),
    ] = None,
    concurrency: Annotated[
        str | None,
        typer.Option("--concurrency", "-n", help="Sequences at once, or 'max' for steady full load [default: 1]."),
    ] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option(
            "--engine",
            "-e",
            autocompletion=complete_engine,
            help="vllm, sglang, tgi, tensorrt-llm, llama.cpp or ollama [default: llama.cpp for GGUF/Apple/CPU, else vllm]. Repeat with --sweep for one series per engine.",
        ),
    ] = None,
    kv_dtype: Annotated[
        str | None,
        typer.Option("--kv-dtype", help="KV cache dtype: bf16, fp16, fp8, q8_0, q4_0 [default: the model's dtype]."),
    ] = None,
    input_tokens: Annotated[
        int | None, typer.Option("--input-tokens", help="Prompt tokens per request [default: 1024].")
    ] = None,
    output_tokens: Annotated[
        int | None, typer.Option("--output-tokens", help="Generated tokens per request [default: 256].")
    ] = None,
    replicas: Annotated[
        int, typer.Option("--replicas", help="Data-parallel copies counted in aggregate throughput.")
    ] = 1,
    expert_parallel: Annotated[
        bool, typer.Option("--expert-parallel", help="Spread MoE experts over the GPUs instead of tensor parallel.")
    ] = False,
    dp_attention: Annotated[
        bool,
        typer.Option(
            "--dp-attention",
            help="With --expert-parallel: each GPU runs attention for its own sequences (SGLang --enable-dp-attention, TensorRT-LLM attention DP); concurrency is divided over the GPUs.",
        ),
    ] = False,
    host_bandwidth_gbs: Annotated[
        float | None,
        typer.Option(
            "--host-bandwidth-gbs",
            help="System RAM bandwidth for offloaded layers [default: 89.6, dual-channel DDR5-5600].",
        ),
    ] = None,
    sweep: Annotated[
        Sweep | None,
        typer.Option(
            "--sweep", help="Tabulate concurrency (1 to what fits), or input-tokens / output-tokens (at full load)."
        ),
    ] = None,
    max_ttft_s: Annotated[
        float | None, typer.Option("--max-ttft-s", "--max-ttft", help="Latency target for sweeps: time to first token.")
    ] = None,
    min_tokens_per_s: Annotated[
        float | None, typer.Option("--min-tokens-per-s", help="Latency target for sweeps: per-user decode speed.")
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="With --sweep concurrency: draw output tokens/s per GPU against tokens/s per user into this PNG (needs the plot extra).",
        ),
    ] = None,
    compare_layouts: Annotated[
        bool,
        typer.Option(
            "--compare-layouts",
            help="With --sweep: one series per layout: tensor parallel over 1, 2, 4, 8 GPUs that fit, and expert parallel for MoE.",
        ),
    ] = False,
    perf_model: PerfModelOpt = "analytic",
    emit: Annotated[
        str | None,
        typer.Option(
            "--emit",
            help="Print the command that launches this plan on vllm, sglang, tensorrt-llm, llama.cpp or ollama (sets --engine).",
        ),
    ] = None,
    gpu_memory_utilization: Annotated[
        float | None,
        typer.Option(
            "--gpu-memory-utilization",
            rich_help_panel="Engine flags",
            help="vLLM: share of the GPU it budgets [default: 0.9].",
        ),
    ] = None,
    max_num_seqs: Annotated[
        int | None,
        typer.Option(
            "--max-num-seqs",
            rich_help_panel="Engine flags",
            help="vLLM/SGLang/TensorRT-LLM batch cap [default: the engine's].",
        ),
    ] = None,
    max_num_batched_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-num-batched-tokens",
            rich_help_panel="Engine flags",
            help="Tokens per step (vLLM; SGLang chunked prefill; TensorRT-LLM max_num_tokens) [default: vLLM 8192 on 70+ GiB GPUs, else 2048].",
        ),
    ] = None,
    block_size: Annotated[
        int | None,
        typer.Option("--block-size", rich_help_panel="Engine flags", help="vLLM KV block in tokens [default: 16]."),
    ] = None,
    mem_fraction_static: Annotated[
        float | None,
        typer.Option(
            "--mem-fraction-static",
            rich_help_panel="Engine flags",
            help="SGLang share for weights + KV pool [default: 0.88 at TP1 ... 0.79 at TP16].",
        ),
    ] = None,
    free_gpu_memory_fraction: Annotated[
        float | None,
        typer.Option(
            "--free-gpu-memory-fraction",
            rich_help_panel="Engine flags",
            help="TensorRT-LLM share of free memory for the KV pool [default: 0.9].",
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel", "-np", rich_help_panel="Engine flags", help="llama.cpp/Ollama slots sharing -c [default: 4]."
        ),
    ] = None,
    ubatch_size: Annotated[
        int | None,
        typer.Option(
            "--ubatch-size",
            "-ub",
            rich_help_panel="Engine flags",
            help="llama.cpp micro-batch, sizes its compute buffer [default: 512].",
        ),
    ] = None,
    flash_attn: Annotated[
        bool | None,
        typer.Option(
            "--flash-attn/--no-flash-attn",
            rich_help_panel="Engine flags",
            help="llama.cpp/Ollama flash attention [default: on].",
        ),
    ] = None,
    engine_version: Annotated[
        str | None,
        typer.Option(
            "--engine-version",
            rich_help_panel="Engine flags",
            help="Engine release whose memory rules apply: vLLM 0.6 (0.5-0.7, V0), 0.8 (0.8-0.20, V1), 0.21 (0.21-0.25); SGLang 0.4 (0.4-0.5.3), 0.5.4 (0.5.4-0.5.x); TensorRT-LLM 0.9 (C++ engine), 1.0 (PyTorch backend) [default: the newest: vLLM 0.21, SGLang 0.5.4, TensorRT-LLM 1.0].",
        ),
    ] = None,
    fmt: Annotated[
        TabularFormat, typer.Option("--format", "-f", help="table, json, markdown (csv for sweeps).")
    ] = TabularFormat.table,
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    offline: OfflineOpt = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Re-read the model from the hub even if cataloged.")
    ] = False,
) -> None:
    import math

    from llmplan.catalog.loader import Catalog
    from llmplan.core.fit import fit
    from llmplan.engines.memory_rules import EngineSettings
    from llmplan.errors import InputError
    from llmplan.models.sources import resolve_model
    from llmplan.plans.deploy import build_deployment, check_dp_attention

    for name, value in (("--max-ttft-s", max_ttft_s), ("--min-tokens-per-s", min_tokens_per_s)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number, got {value}")
    perf = perf_model_option(perf_model)
    check_dp_attention(dp_attention, expert_parallel)  # before the hub is asked for anything
    engines = _engines_with_emit(engine, emit)
    settings = EngineSettings(
        gpu_memory_utilization=gpu_memory_utilization,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
        block_size=block_size,
        mem_fraction_static=mem_fraction_static,
        free_gpu_memory_fraction=free_gpu_memory_fraction,
        parallel=parallel,
        ubatch_size=ubatch_size,
        flash_attn=flash_attn,
        engine_version=engine_version,
    )
    concurrency = _check_sweep_options(sweep, len(engines), plot, compare_layouts, concurrency)
    catalog = Catalog(models_files=models, gpus_files=prices)
    with hub_spinner(model, catalog, fmt):
        resolved = resolve_model(model, catalog, offline=offline, refresh=refresh)
    if expert_parallel and not resolved.spec.is_moe:
        # (the library keeps accepting it as a no-op: validation sets it for every multi-GPU TensorRT-LLM row)
        raise InputError(
            f"--expert-parallel spreads the experts of a mixture-of-experts model, and "
            f"{resolved.spec.id} is dense (no experts); drop --expert-parallel"
        )
    built = [
        build_deployment(
            catalog,
            resolved,
            gpu=gpu,
            quant=quant,
            engine=e,
            kv_dtype=kv_dtype,
            context=context,
            concurrency=concurrency,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            replicas=replicas,
            host_bandwidth_gbs=host_bandwidth_gbs,
            offline=offline,
            refresh=refresh,
            expert_parallel=expert_parallel,
            settings=settings,
            dp_attention=dp_attention,
        )
        for e in engines
    ]
    dep, resolved = built[0]
    config = resolved.entry.config if resolved.entry else None
    if sweep is not None:
        _sweep(
            [d for d, _ in built],
            config,
            sweep.value,
            fmt.value,
            plot,
            compare_layouts,
            perf == "aiconfigurator",
            max_ttft_s,
            min_tokens_per_s,
        )
        return
    if fmt == TabularFormat.csv:
        raise InputError("--format csv is for sweeps; use --sweep concurrency, or --format json")
    from llmplan.plans.perf_model import apply_perf_model

    _show_fit(apply_perf_model(fit(dep), dep, config, perf), dep, fmt, emit)


def _check_sweep_options(
    sweep: Sweep | None, n_engines: int, plot: Path | None, compare_layouts: bool, concurrency: str | None
) -> str:
    """The options that only make sense with (or without) --sweep; the concurrency to run at."""
    from llmplan.errors import InputError

    if sweep is None and (n_engines > 1 or plot or compare_layouts):
        raise InputError("repeated --engine, --plot and --compare-layouts need --sweep (e.g. --sweep concurrency)")
    if sweep is not None and concurrency is not None:
        what = (
            "varies the concurrency itself (1 to what fits)"
            if sweep == Sweep.concurrency
            else "runs each point at full load"
        )
        raise InputError(f"--sweep {sweep.value} {what}; drop --concurrency {concurrency}")
    if plot is not None and sweep != Sweep.concurrency:
        raise InputError("--plot draws the concurrency sweep: use --sweep concurrency")
    check_plot_path(plot)
    return concurrency or "1"


def _show_fit(report, dep, fmt: TabularFormat, emit: str | None) -> None:
    """Print the report (and the launch command with --emit); exit 1 where the engine would refuse the layout."""
    if emit:
        from llmplan.plans.launch import with_launch

        report = with_launch(report, dep)
    if fmt == TabularFormat.json:
        emit_json(report.model_dump(mode="json"))
    elif fmt == TabularFormat.markdown:
        from llmplan.cli.fit_render import fit_markdown

        typer.echo(fit_markdown(report))
    else:
        from llmplan.cli.fit_render import print_fit

        print_fit(report)
    if emit and report.launch is None:
        # the engine would not start this layout: say so, print no command, and fail the script that asked
        from llmplan.core.fit import tp_problem

        typer.echo(f"note: no launch command: {tp_problem(dep)}", err=True)
        raise typer.Exit(1)


def _engines_with_emit(engine: list[str] | None, emit: str | None) -> list[str | None]:
    """`--emit E` sets the engine when none is given, and must agree with it when one is."""
    from llmplan.engines.launch import EMIT_ENGINES
    from llmplan.engines.profiles import canonical_engine
    from llmplan.errors import InputError

    if emit is None:
        return list(engine or [None])
    key = canonical_engine(emit)
    if key not in EMIT_ENGINES:
        raise InputError(f"--emit takes one of: {', '.join(EMIT_ENGINES)}; got {emit!r}")
    if engine and any(canonical_engine(e) != key for e in engine):
        raise InputError(f"--emit {key} disagrees with --engine {', '.join(engine)}; give one engine")
    return [key]


def _sweep(
    deps,
    config,
    axis: str,
    fmt: str,
    plot: Path | None,
    compare_layouts: bool,
    use_aic: bool,
    max_ttft_s: float | None,
    min_tps: float | None,
) -> None:
    """One series per engine (and per layout with --compare-layouts), rendered together, optionally plotted."""
    from llmplan.cli.sweep_render import render_sweeps
    from llmplan.core.sweep import layout_variants, sweep_table

    series = []
    for dep in deps:
        variants = layout_variants(dep) if compare_layouts else [(None, dep)]
        for label, variant in variants:
            if len(deps) > 1:
                label = f"{variant.engine.name}, {label}" if label else variant.engine.name
            rows = sweep_table(variant, axis, max_ttft_s=max_ttft_s, min_tokens_per_s=min_tps)
            if use_aic:
                from llmplan.plans.perf_model import rescore_sweep_rows

                rows = rescore_sweep_rows(rows, variant, config, max_ttft_s, min_tps)
            series.append((label, variant, rows))
    perf = "aiconfigurator" if use_aic else "analytic"
    if plot is not None:
        from llmplan.cli.sweep_plot import plot_throughput_vs_interactivity

        title = sweep_plot_title([d for _, d, _ in series])
        plot_throughput_vs_interactivity(
            [(label or _where(d), rows) for label, d, rows in series], str(plot), title, perf
        )
    render_sweeps(series, axis, fmt, max_ttft_s, min_tps, perf_model=perf)
    if plot is not None and fmt == "table":
        typer.echo(f"plot written to {plot}", err=True)


def sweep_plot_title(deps) -> str:
    """The plot's title: model, format, the hardware every series runs on, and the request shape."""
    first = deps[0]
    counts = sorted({d.n_gpus for d in deps})
    gpus = " / ".join(dict.fromkeys(d.gpu_id for d in deps))
    if counts == [1]:
        hardware = gpus
    elif len(counts) == 1:
        hardware = f"{counts[0]}x {gpus}"
    else:
        hardware = f"{gpus} ({', '.join(map(str, counts))} GPUs)"
    return (
        f"{first.model.id} · {first.fmt.name} on {hardware} · {first.input_tokens} in / "
        f"{first.output_tokens} out tokens: throughput vs interactivity"
    )


def _where(dep) -> str:
    where = f"{dep.n_gpus}x {dep.gpu_id}" if dep.n_gpus > 1 else dep.gpu_id
    return f"{where} · {dep.engine.name}"


fit_command = handle_errors(fit_command)
fit_command.__doc__ = FIT_HELP
