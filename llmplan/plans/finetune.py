"""`llmplan finetune`: memory, time and cost of full, LoRA and QLoRA fine-tuning on one GPU type.

The formulas live in `llmplan.core.training`; this module checks the request, prices the GPU-hours with
the same cost functions as `breakeven`, and says what would make a run fit.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, Field

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schemas import GpuEntry, efficiency_class
from llmplan.core import cost as C
from llmplan.core import training as T
from llmplan.core.hardware import gpu_memory_bytes
from llmplan.errors import InputError, UnsupportedError
from llmplan.models.architecture import ModelSpec
from llmplan.models.resolved import ResolvedModel
from llmplan.plans.breakeven import rentals_of_tier
from llmplan.plans.deploy import no_bf16, parse_gpu_spec

# Model FLOPs utilization of the training step (useful FLOPs over the GPUs' dense 16-bit peak):
#   mfu = base_<method> x <device class> x tokens / (tokens + tokens_half) x params / (params + params_half)
# with tokens per micro-batch (micro-batch x sequence) and the matmul parameters each token passes through;
# datacenter cards are the reference class (1.0). Fitted by benchmarks/fit_finetune_mfu.py on the published
# runs in tests/data/finetune/measurements.csv (torchtune, torchtitan, LLaMA-Factory); rerun it to refit.
MFU_FIT = {
    "base_full": 0.5006,
    "base_lora": 0.6708,
    "base_qlora": 0.7809,
    "consumer": 1.122,
    "params_half": 2914000000.0,
    "tokens_half": 341.6,
    "workstation": 1.0,
}
# Speed of each framework relative to transformers + PEFT. Uncalibrated placeholders: none is applied (all
# 1.0); the fitted MFU above averages over the frameworks of the measured runs, too few per framework to
# fit one factor each. Where frameworks differ in memory (the loss), core/training.py models it.
FRAMEWORK_SPEEDUP = {
    name: 1.0 for name in ("transformers", "torchtune", "unsloth", "litgpt", "torchtitan", "llm-foundry", "nemo")
}
# Host link when the catalog's interconnect is NVLink: PCIe Gen5 x16 on Hopper and Blackwell boards, Gen4
# x16 before (PCI-SIG: 64 and 32 GB/s per direction, the raw rate less line coding).
PCIE_BYTES_PER_S = {"gen5": 63e9, "gen4": 31.5e9}
QUANTIZED_CHECKPOINTS = ("awq", "gptq-int4", "gptq-int8", "bnb-nf4", "bnb-int8", "nvfp4", "mxfp4", "fp8", "int8")


class FinetuneMemory(BaseModel):
    weights_bytes: int = Field(description="base weights per GPU (trained for full, frozen for LoRA/QLoRA)")
    adapter_bytes: int
    gradients_bytes: int
    fp32_gradients_bytes: int = Field(description="DeepSpeed ZeRO's fp32 copy of the gradient partition")
    optimizer_bytes: int
    master_weights_bytes: int
    activations_bytes: int
    lora_activations_bytes: int = Field(description="LoRA's saved input copy and x.A per adapted projection")
    attention_scores_bytes: int = Field(description="score matrix kept by eager attention (0 with flash)")
    logits_bytes: int
    fsdp_buffers_bytes: int = Field(description="ZeRO-3/FSDP all-gathered layers; FSDP+QLoRA unquantized root")
    overhead_bytes: int = Field(description="CUDA context and allocator fragmentation")
    paged_optimizer_bytes: int = Field(description="paged optimizer states in CUDA unified memory (not in total)")
    host_bytes: int = Field(description="offloaded to host memory (not in total)")
    total_bytes: int = Field(description="per GPU at the peak of a step")
    gpu_memory_bytes: int = Field(description="memory of one GPU")
    free_bytes: int


class FinetuneTime(BaseModel):
    tokens: int = Field(description="tokens trained on, all epochs")
    flops_per_token: float
    mfu: float = Field(description="model FLOPs utilization (fitted, see MFU_FIT)")
    tokens_per_s: float = Field(description="all GPUs together")
    communication_s_per_step: float = Field(description="FSDP/ZeRO/data-parallel collectives per optimizer step")
    offload_s_per_step: float = Field(description="PCIe transfers of offloading per optimizer step")
    hours: float
    steps: int


class FinetuneCost(BaseModel):
    mode: str
    gpu_hours: float
    usd: float | None = Field(description="GPU time at the cheapest catalog provider (rent) or owned, plus engineering")
    usd_low: float | None
    usd_high: float | None
    gpu_usd: float | None
    engineering_usd: float
    usd_per_gpu_hour: float | None
    price_source: str | None


class FinetuneReport(BaseModel):
    model: str
    method: str
    gpu: str
    gpu_count: int
    framework: str
    precision: str
    optimizer: str
    zero: str
    tensor_parallel: int
    offload: list[str]
    attention: str
    optimizer_state_dtype: str
    quant_base: str | None
    seq_len: int
    micro_batch: int
    grad_accum: int
    gradient_checkpointing: bool
    lora_rank: int | None
    lora_targets: str | None
    params: int
    trainable_params: int
    fits: bool
    memory: FinetuneMemory
    time: FinetuneTime
    cost: FinetuneCost
    verdict: str
    suggestions: list[str]
    warnings: list[str]


def check_method(resolved: ResolvedModel, setup: T.TrainingSetup) -> None:
    """Refuse what no framework runs: GGUF files, full training of quantized checkpoints, rank 0."""
    spec = resolved.spec
    if resolved.source == "gguf":
        raise UnsupportedError(
            "a GGUF file is an inference format: fine-tune the Hugging Face checkpoint it was "
            "made from (org/name), then convert"
        )
    if setup.method != "full":
        if setup.lora_rank < 1:
            raise InputError(f"--lora-rank must be at least 1, got {setup.lora_rank}")
        if T.lora_params(spec, setup.lora_rank, setup.lora_targets) == 0:
            raise UnsupportedError(
                f"{spec.id} has no {setup.lora_targets} projections llmplan can count for LoRA "
                "(compressed or NAS attention); try --lora-targets all or --method full"
            )
    if setup.method == "full" and spec.native_quant in QUANTIZED_CHECKPOINTS:
        raise UnsupportedError(
            f"{spec.id} is a {spec.native_quant} checkpoint: full fine-tuning needs 16-bit "
            "weights; use the bf16 repo, or --method lora / qlora"
        )
    if setup.method == "qlora" and spec.native_quant not in ("bf16", "fp16", "fp32"):
        raise UnsupportedError(
            f"QLoRA quantizes 16-bit weights to NF4, but {spec.id} ships as "
            f"{spec.native_quant}; use the bf16 repo, or --method lora"
        )
    if setup.precision == "fp16" and setup.method == "full" and setup.optimizer == "sgd":
        raise InputError("fp16 mixed precision needs loss scaling with an adaptive optimizer; use --optimizer adamw")


def host_link_bytes_per_s(gpu: GpuEntry) -> float:
    """Bandwidth to host memory (offload): the catalog's PCIe figure, else the board's PCIe generation."""
    if gpu.interconnect.kind == "pcie" and gpu.interconnect.bandwidth_bytes_per_s:
        return gpu.interconnect.bandwidth_bytes_per_s
    return PCIE_BYTES_PER_S["gen5" if gpu.architecture in ("hopper", "blackwell") else "gen4"]


def time_terms(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry) -> dict:
    """Everything a training step's time needs but the MFU: seconds per micro-batch per GPU."""
    if not gpu.bf16_flops:
        raise UnsupportedError(f"{gpu.name} has no 16-bit tensor throughput in the catalog: cannot time training")
    tokens = setup.tokens_per_micro_batch
    link = gpu.interconnect.bandwidth_bytes_per_s or host_link_bytes_per_s(gpu)
    return {
        "method": setup.method,
        "device": efficiency_class(gpu),
        "tokens": tokens,
        "n_gpus": setup.n_gpus,
        "data_parallel": setup.data_parallel,
        "params": T.matmul_params_per_token(model),
        "ideal_s": tokens * T.training_flops_per_token(model, setup) / (setup.tensor_parallel * gpu.bf16_flops),
        "dequant_s": T.dequant_seconds_per_token(model, setup, gpu.memory_bandwidth_bytes_per_s) * tokens,
        "comm_s": T.communication_bytes_per_micro_batch(model, setup) / link,
        "comm_overlaps": gpu.interconnect.kind != "pcie",
        "offload_s": T.offload_bytes_per_micro_batch(model, setup) / host_link_bytes_per_s(gpu),
        "speedup": FRAMEWORK_SPEEDUP[setup.framework],
    }


def mfu_of(terms: dict, fit: dict) -> float:
    device = 1.0 if terms["device"] == "datacenter" else fit.get(terms["device"], 1.0)
    return (
        fit[f"base_{terms['method']}"]
        * device
        * terms["tokens"]
        / (terms["tokens"] + fit["tokens_half"])
        * terms["params"]
        / (terms["params"] + fit["params_half"])
    )


def tokens_per_s_of(terms: dict, fit: dict) -> float:
    """All GPUs' tokens per second: compute at the MFU plus dequantization, communication (hidden behind
    compute on NVLink, paid in full over PCIe, where consumer cards have no peer-to-peer path) and offload."""
    compute = terms["ideal_s"] / (mfu_of(terms, fit) * terms["speedup"]) + terms["dequant_s"]
    step = max(compute, terms["comm_s"]) if terms["comm_overlaps"] else compute + terms["comm_s"]
    step += terms["offload_s"]
    return terms["data_parallel"] * terms["tokens"] / step


def training_time(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry, tokens: int) -> FinetuneTime:
    terms = time_terms(model, setup, gpu)
    tokens_per_s = tokens_per_s_of(terms, MFU_FIT)
    tokens_per_step = setup.seq_len * setup.micro_batch * setup.grad_accum * setup.data_parallel
    return FinetuneTime(
        tokens=tokens,
        flops_per_token=T.training_flops_per_token(model, setup),
        mfu=round(mfu_of(terms, MFU_FIT), 3),
        tokens_per_s=round(tokens_per_s, 1),
        communication_s_per_step=round(terms["comm_s"] * setup.grad_accum, 4),
        offload_s_per_step=round(terms["offload_s"] * setup.grad_accum, 4),
        hours=tokens / tokens_per_s / 3600.0,
        steps=max(1, -(-tokens // tokens_per_step)),
    )


def training_cost(
    gpu: GpuEntry,
    gpu_id: str,
    n_gpus: int,
    hours: float,
    mode: str,
    tier: str,
    engineering_hours: float,
    engineering_rate_usd: float,
) -> FinetuneCost:
    gpu_hours = hours * n_gpus
    engineering = float(C.engineering_monthly_usd(engineering_hours, engineering_rate_usd))
    if mode == "own":
        if not gpu.purchase_usd:
            raise InputError(f"{gpu_id} has no purchase price in the catalog; use --mode rent or --prices FILE")
        per_hour = float(C.own_monthly_usd(1, gpu.purchase_usd, gpu.tdp_watts, C.OwnershipTerms())) / C.MONTH_HOURS
        gpu_usd = gpu_hours * per_hour
        return FinetuneCost(
            mode=mode,
            gpu_hours=gpu_hours,
            usd=gpu_usd + engineering,
            usd_low=gpu_usd + engineering,
            usd_high=gpu_usd + engineering,
            gpu_usd=gpu_usd,
            engineering_usd=engineering,
            usd_per_gpu_hour=per_hour,
            price_source=gpu.purchase_source,
        )
    rentals = rentals_of_tier(gpu_id, gpu, tier)
    if not rentals:
        return FinetuneCost(
            mode=mode,
            gpu_hours=gpu_hours,
            usd=None,
            usd_low=None,
            usd_high=None,
            gpu_usd=None,
            engineering_usd=engineering,
            usd_per_gpu_hour=None,
            price_source=None,
        )
    cheapest = min(rentals, key=lambda r: r.usd_per_gpu_hour)
    dearest = max(rentals, key=lambda r: r.usd_per_gpu_hour)
    gpu_usd = gpu_hours * cheapest.usd_per_gpu_hour
    return FinetuneCost(
        mode=mode,
        gpu_hours=gpu_hours,
        usd=gpu_usd + engineering,
        usd_low=gpu_usd + engineering,
        usd_high=gpu_hours * dearest.usd_per_gpu_hour + engineering,
        gpu_usd=gpu_usd,
        engineering_usd=engineering,
        usd_per_gpu_hour=cheapest.usd_per_gpu_hour,
        price_source=f"{cheapest.provider} ({cheapest.as_of}): {cheapest.source}",
    )


def _fits(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry) -> bool:
    return T.training_memory(model, setup).total_bytes <= gpu_memory_bytes(gpu)


def suggestions(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry, gpu_id: str) -> list[str]:
    """Single changes that make the run fit, cheapest in quality and speed first."""
    tries: list[tuple[str, T.TrainingSetup]] = []
    if not setup.gradient_checkpointing:
        tries.append(
            ("turn gradient checkpointing on (--gradient-checkpointing)", replace(setup, gradient_checkpointing=True))
        )
    if setup.micro_batch > 1:
        tries.append(
            (
                "--micro-batch 1 with more --grad-accum",
                replace(setup, micro_batch=1, grad_accum=setup.grad_accum * setup.micro_batch),
            )
        )
    if setup.optimizer == "adamw":
        tries.append(("an 8-bit optimizer (--optimizer adamw-8bit)", replace(setup, optimizer="adamw-8bit")))
        if setup.precision == "bf16":
            tries.append(
                (
                    "bf16 weights without fp32 masters and an 8-bit optimizer (--precision pure-bf16 "
                    "--optimizer adamw-8bit)",
                    replace(setup, precision="pure-bf16", optimizer="adamw-8bit"),
                )
            )
    if setup.method == "full":
        tries.append(("LoRA (--method lora)", replace(setup, method="lora")))
    if setup.method in ("full", "lora"):
        tries.append(("QLoRA (--method qlora)", replace(setup, method="qlora", optimizer="paged-adamw-8bit")))
    for n in (2, 4, 8):
        if n > setup.n_gpus:
            tries.append(
                (f"{n}x{gpu_id} with ZeRO-3 (--gpu {n}x{gpu_id} --zero 3)", replace(setup, n_gpus=n, zero="3"))
            )
    if setup.seq_len > 512:
        tries.append((f"--seq-len {setup.seq_len // 2}", replace(setup, seq_len=setup.seq_len // 2)))
    out = []
    for label, candidate in tries:
        if _fits(model, candidate, gpu):
            out.append(label)
            if len(out) == 3:
                break
    return out


def _check_tensor_parallel(spec: ModelSpec, setup: T.TrainingSetup) -> None:
    tp = setup.tensor_parallel
    if tp < 1 or setup.n_gpus % tp:
        raise InputError(
            f"--tensor-parallel {tp} must divide the GPU count ({setup.n_gpus}); use --gpu "
            f"{max(tp, 1)}x... or a divisor of {setup.n_gpus}"
        )
    if spec.num_heads % tp or spec.num_kv_heads % tp and tp % spec.num_kv_heads:
        good = [n for n in range(1, setup.n_gpus + 1) if setup.n_gpus % n == 0 and spec.num_heads % n == 0]
        raise InputError(
            f"--tensor-parallel {tp} does not divide {spec.id}'s {spec.num_heads} attention heads; "
            f"try {', '.join(map(str, good))}"
        )


def _checked_setup(
    setup: T.TrainingSetup, gpu_id: str, entry, tokens: int, precision_given: bool, notes: list[str]
) -> T.TrainingSetup:
    """The setup as it can run on the GPUs: fp16 where there is no bf16 math, no ZeRO on one GPU."""
    cc = no_bf16(entry)
    if cc is not None and setup.precision in ("bf16", "pure-bf16"):
        if precision_given:
            raise UnsupportedError(
                f"{gpu_id} (compute capability {cc:.1f}) has no bf16 math; use --precision fp16 "
                "(mixed precision with loss scaling)"
            )
        setup = replace(setup, precision="fp16")
        notes.append(f"{gpu_id} has no bf16 math (compute capability {cc:.1f}): training in fp16 mixed precision")
    for name, value in (
        ("--seq-len", setup.seq_len),
        ("--micro-batch", setup.micro_batch),
        ("--grad-accum", setup.grad_accum),
        ("tokens", tokens),
    ):
        if value < 1:
            raise InputError(f"{name} must be a positive whole number, got {value}")
    if setup.zero != "0" and setup.n_gpus == 1:
        notes.append(
            f"--zero {setup.zero} shards training state across GPUs; on one GPU there is nothing to "
            "shard, so it is planned without ZeRO (use --gpu Nx... to shard)"
        )
        setup = replace(setup, zero="0")
    return setup


def _setup_warnings(spec, setup: T.TrainingSetup) -> list[str]:
    warnings = list(spec.approximations)
    if setup.seq_len > spec.max_context:
        warnings.append(f"--seq-len {setup.seq_len} is beyond the model's {spec.max_context:,}-token context")
    if setup.method != "full" and spec.layer_kinds.get("linear", 0) + spec.layer_kinds.get("mamba", 0):
        warnings.append("LoRA on linear-attention / Mamba mixers is not counted (common target lists skip them)")
    return warnings


def _setup_fields(setup: T.TrainingSetup) -> dict:
    """The report's echo of the setup; LoRA fields only where there is LoRA."""
    lora = setup.method != "full"
    return dict(
        method=setup.method,
        framework=setup.framework,
        precision=setup.precision,
        optimizer=setup.optimizer,
        zero=setup.zero,
        seq_len=setup.seq_len,
        tensor_parallel=setup.tensor_parallel,
        offload=sorted(setup.offload),
        attention=setup.attention,
        optimizer_state_dtype=T.state_dtype(setup),
        quant_base=setup.quant_base if setup.method == "qlora" else None,
        micro_batch=setup.micro_batch,
        grad_accum=setup.grad_accum,
        gradient_checkpointing=setup.gradient_checkpointing,
        lora_rank=setup.lora_rank if lora else None,
        lora_targets=setup.lora_targets if lora else None,
    )


def _memory_report(memory, capacity: float) -> FinetuneMemory:
    return FinetuneMemory(
        **{
            k: getattr(memory, k)
            for k in FinetuneMemory.model_fields
            if k not in ("total_bytes", "gpu_memory_bytes", "free_bytes")
        },
        total_bytes=memory.total_bytes,
        gpu_memory_bytes=capacity,
        free_bytes=capacity - memory.total_bytes,
    )


def plan_finetune(
    catalog: Catalog,
    resolved: ResolvedModel,
    gpu: str,
    setup: T.TrainingSetup,
    tokens: int,
    mode: str = "rent",
    tier: str = "on_demand",
    engineering_hours: float = 0.0,
    engineering_rate_usd: float = 100.0,
    precision_given: bool = True,
) -> FinetuneReport:
    n_gpus, gpu_name = parse_gpu_spec(gpu)
    gpu_id, entry = catalog.gpu_entry(gpu_name)
    notes: list[str] = []
    setup = _checked_setup(replace(setup, n_gpus=n_gpus), gpu_id, entry, tokens, precision_given, notes)
    check_method(resolved, setup)
    spec = resolved.spec
    _check_tensor_parallel(spec, setup)
    memory = T.training_memory(spec, setup)
    capacity = gpu_memory_bytes(entry)
    fits = memory.total_bytes <= capacity
    time = training_time(spec, setup, entry, tokens)
    cost = training_cost(entry, gpu_id, n_gpus, time.hours, mode, tier, engineering_hours, engineering_rate_usd)
    verdict = (
        f"FITS: {memory.total_bytes / 1e9:.1f} of {capacity / 1e9:.1f} GB per GPU"
        if fits
        else f"DOES NOT FIT: needs {memory.total_bytes / 1e9:.1f} GB per GPU, {capacity / 1e9:.1f} GB available"
    )
    return FinetuneReport(
        model=spec.id,
        gpu=gpu_id,
        gpu_count=n_gpus,
        **_setup_fields(setup),
        params=spec.params_total,
        trainable_params=T.trained_params(spec, setup),
        fits=fits,
        memory=_memory_report(memory, capacity),
        time=time,
        cost=cost,
        verdict=verdict,
        suggestions=suggestions(spec, setup, entry, gpu_id) if not fits else [],
        warnings=notes + _setup_warnings(spec, setup),
    )
