"""`llmplan finetune`: will a full, LoRA or QLoRA run fit, how long will it take, what will it cost."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import (
    FormatOpt,
    ModelsOpt,
    OfflineOpt,
    PricesOpt,
    emit_json,
    examples,
    handle_errors,
    hub_spinner,
)

HELP = """Memory per GPU, training time and cost of fine-tuning MODEL (full, LoRA or QLoRA).

Memory is itemized as the frameworks hold it (weights, adapters, gradients, optimizer states, fp32
master weights, activations, logits, CUDA context); time is training FLOPs over the GPUs' 16-bit peak
at a utilization fitted on published runs, plus sharding collectives and offload transfers; cost is GPU-hours at the catalog's cheapest rental (or owned) plus the
engineering hours you give.

""" + examples(
    "llmplan finetune llama-3.1-8b --method lora --gpu rtx-4090 --tokens 50000000",
    "llmplan finetune llama-3.1-8b --method qlora --gpu rtx-4090 --lora-rank 64 --seq-len 4096",
    "llmplan finetune llama-3.1-8b --method full --gpu 8xh100-sxm --zero 3 --tokens 1e9 --format json",
    "llmplan finetune llama-3.3-70b --method qlora --gpu rtx-a6000 --framework unsloth \\\n    --dataset-examples 20000 --avg-tokens 800",
)


class Method(str, Enum):
    full = "full"
    lora = "lora"
    qlora = "qlora"


class Targets(str, Enum):
    qv = "q,v"
    qkv = "qkv"
    qkvo = "qkvo"
    attn = "attn"
    mlp = "mlp"
    all = "all"
    all_lm_head = "all+lm_head"


class QuantBase(str, Enum):
    nf4 = "nf4"
    int8 = "int8"


class Attention(str, Enum):
    eager = "eager"
    sdpa = "sdpa"
    flash = "flash"


class StateDtype(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"
    int8 = "int8"


class Offload(str, Enum):
    optimizer = "optimizer"
    params = "params"
    activations = "activations"


class Optim(str, Enum):
    adamw = "adamw"
    adamw_8bit = "adamw-8bit"
    paged_adamw = "paged-adamw"
    paged_adamw_8bit = "paged-adamw-8bit"
    sgd = "sgd"


class Zero(str, Enum):
    z0 = "0"
    z1 = "1"
    z2 = "2"
    z3 = "3"
    fsdp = "fsdp"


class Precision(str, Enum):
    bf16 = "bf16"
    pure_bf16 = "pure-bf16"
    fp16 = "fp16"
    fp32 = "fp32"


class Framework(str, Enum):
    transformers = "transformers"
    unsloth = "unsloth"
    torchtune = "torchtune"
    litgpt = "litgpt"
    torchtitan = "torchtitan"
    llm_foundry = "llm-foundry"
    nemo = "nemo"


class Mode(str, Enum):
    rent = "rent"
    own = "own"


def _token_count(tokens: float | None, examples: int | None, avg_tokens: float | None, epochs: float) -> int:
    from llmplan.errors import InputError, check_magnitude

    for name, value in (
        ("--tokens", tokens),
        ("--dataset-examples", examples),
        ("--avg-tokens", avg_tokens),
        ("--epochs", epochs),
    ):
        check_magnitude(name, value)
    if tokens is not None and (examples is not None or avg_tokens is not None):
        raise InputError("give --tokens, or --dataset-examples with --avg-tokens, not both")
    if tokens is None:
        if examples is None and avg_tokens is None:
            tokens = 10_000_000.0
        elif examples is None or avg_tokens is None:
            raise InputError("--dataset-examples and --avg-tokens go together (tokens = examples x average)")
        else:
            if examples < 1 or not avg_tokens > 0:
                raise InputError("--dataset-examples and --avg-tokens must be positive")
            tokens = examples * avg_tokens
    if not tokens > 0 or tokens != tokens:
        raise InputError(f"--tokens must be a positive number of tokens per epoch, got {tokens:g}")
    if not epochs > 0:
        raise InputError(f"--epochs must be positive, got {epochs:g}")
    check_magnitude("tokens x epochs", tokens * epochs)
    return int(round(tokens * epochs))


@app.command("finetune", help=HELP)
@handle_errors
def finetune_command(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="Catalog id/alias, HF repo id or model folder.")],
    method: Annotated[Method, typer.Option("--method", "-m", help="full, lora or qlora.")] = Method.lora,
    gpu: Annotated[
        str, typer.Option("--gpu", "-g", metavar="GPU", help="GPU id, or NxID for N GPUs in one box.")
    ] = "h100-sxm",
    seq_len: Annotated[int, typer.Option("--seq-len", help="Tokens per training sequence.")] = 2048,
    micro_batch: Annotated[int, typer.Option("--micro-batch", help="Sequences per GPU per step.")] = 1,
    grad_accum: Annotated[int, typer.Option("--grad-accum", help="Micro-batches accumulated per optimizer step.")] = 1,
    tokens: Annotated[
        float | None, typer.Option("--tokens", help="Training tokens per epoch [default: 10,000,000].")
    ] = None,
    dataset_examples: Annotated[
        int | None, typer.Option("--dataset-examples", help="Examples per epoch (with --avg-tokens).")
    ] = None,
    avg_tokens: Annotated[float | None, typer.Option("--avg-tokens", help="Average tokens per example.")] = None,
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the data.")] = 1.0,
    lora_rank: Annotated[
        int | None, typer.Option("--lora-rank", "-r", help="LoRA rank (lora and qlora) [default: 16].")
    ] = None,
    lora_targets: Annotated[
        Targets,
        typer.Option(
            "--lora-targets",
            help="q,v; qkv; qkvo or attn (q,k,v,o); mlp (gate,up,down, experts too); all; all+lm_head.",
        ),
    ] = Targets.all,
    quant_base: Annotated[
        QuantBase, typer.Option("--quant-base", help="QLoRA base weights: nf4 (double-quantized) or int8 (LLM.int8).")
    ] = QuantBase.nf4,
    optimizer: Annotated[
        Optim, typer.Option("--optimizer", help="adamw, adamw-8bit, paged-adamw (32-bit), paged-adamw-8bit or sgd.")
    ] = Optim.adamw,
    optimizer_state_dtype: Annotated[
        StateDtype | None,
        typer.Option(
            "--optimizer-state-dtype", help="fp32, bf16 or int8 moments [default: what the optimizer implies]."
        ),
    ] = None,
    optimizer_in_backward: Annotated[
        bool,
        typer.Option(
            "--optimizer-in-backward",
            help="Step each parameter in the backward pass and free its gradient (torchtune).",
        ),
    ] = False,
    attention: Annotated[
        Attention,
        typer.Option("--attention", help="flash, sdpa (memory-efficient kernel) or eager (stores the score matrix)."),
    ] = Attention.flash,
    offload: Annotated[
        list[Offload] | None,
        typer.Option(
            "--offload",
            metavar="WHAT",
            help="Move optimizer states, params or checkpointed activations to host memory; repeatable [default: none].",
        ),
    ] = None,
    tensor_parallel: Annotated[
        int, typer.Option("--tensor-parallel", help="GPUs splitting each layer (divides the GPU count).")
    ] = 1,
    gradient_checkpointing: Annotated[
        bool,
        typer.Option(
            "--gradient-checkpointing/--no-gradient-checkpointing", help="Recompute activations in the backward pass."
        ),
    ] = True,
    zero: Annotated[
        Zero, typer.Option("--zero", help="DeepSpeed ZeRO stage 0-3, or fsdp (shards like ZeRO-3).")
    ] = Zero.z0,
    precision: Annotated[
        Precision | None,
        typer.Option(
            "--precision",
            help="bf16 (mixed, fp32 master + Adam), pure-bf16, fp16 or fp32 [default: bf16; fp16 on GPUs without bf16].",
        ),
    ] = None,
    framework: Annotated[
        Framework,
        typer.Option(
            "--framework",
            help="transformers (+PEFT, bitsandbytes, DeepSpeed), unsloth, torchtune, litgpt, torchtitan, llm-foundry or nemo (they differ in the loss's logits memory).",
        ),
    ] = Framework.transformers,
    mode: Annotated[
        Mode, typer.Option("--mode", help="rent (cheapest catalog provider) or own (purchase amortized + power).")
    ] = Mode.rent,
    rental_tier: Annotated[
        str, typer.Option("--rental-tier", help="on_demand, reserved or spot (a tier the catalog prices for the GPU).")
    ] = "on_demand",
    engineering_hours: Annotated[float, typer.Option("--engineering-hours", help="People's hours for the run.")] = 0.0,
    engineering_rate_usd: Annotated[
        float, typer.Option("--engineering-rate-usd", help="USD per engineering hour.")
    ] = 100.0,
    fmt: FormatOpt = "table",  # type: ignore[assignment]
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    offline: OfflineOpt = False,
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.core.training import TrainingSetup
    from llmplan.errors import InputError
    from llmplan.models.sources import resolve_model
    from llmplan.plans.finetune import plan_finetune

    if engineering_hours < 0 or engineering_rate_usd < 0:
        raise InputError("--engineering-hours and --engineering-rate-usd must not be negative")
    if method == Method.full and lora_rank is not None:
        raise InputError(
            f"--lora-rank is for --method lora or qlora; --method full trains every weight: drop "
            f"--lora-rank {lora_rank} or use --method lora"
        )
    total_tokens = _token_count(tokens, dataset_examples, avg_tokens, epochs)
    catalog = Catalog(models_files=models, gpus_files=prices)
    with hub_spinner(model, catalog, fmt):
        resolved = resolve_model(model, catalog, offline=offline)
    setup = TrainingSetup(
        method=method.value,
        seq_len=seq_len,
        micro_batch=micro_batch,
        grad_accum=grad_accum,
        precision=(precision or Precision.bf16).value,
        optimizer=optimizer.value,
        gradient_checkpointing=gradient_checkpointing,
        zero=zero.value,
        lora_rank=16 if lora_rank is None else lora_rank,
        lora_targets=lora_targets.value,
        framework=framework.value,
        offload=frozenset(o.value for o in offload or []),
        tensor_parallel=tensor_parallel,
        quant_base=quant_base.value,
        attention=attention.value,
        optimizer_state_dtype=optimizer_state_dtype.value if optimizer_state_dtype else None,
        optimizer_in_backward=optimizer_in_backward,
    )
    report = plan_finetune(
        catalog,
        resolved,
        gpu,
        setup,
        total_tokens,
        mode=mode.value,
        tier=rental_tier,
        engineering_hours=engineering_hours,
        engineering_rate_usd=engineering_rate_usd,
        precision_given=precision is not None,
    )
    if str(getattr(fmt, "value", fmt)) == "json":
        emit_json(report.model_dump(mode="json"))
        return
    from llmplan.cli.finetune_render import finetune_markdown, print_finetune

    if str(getattr(fmt, "value", fmt)) == "markdown":
        typer.echo(finetune_markdown(report))
    else:
        print_finetune(report)
