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

# Model FLOPs utilization of the training step (useful FLOPs over the GPUs' dense 16-bit peak), per
# method and device class. Uncalibrated placeholders: round figures, the same for every device class, not
# fitted to any measurement. The published runs in tests/data/finetune/measurements.csv are there to fit
# them against; until that is done, training times carry this assumption.
MFU = {
    ("full", "datacenter"): 0.38, ("lora", "datacenter"): 0.33, ("qlora", "datacenter"): 0.30,
    ("full", "workstation"): 0.38, ("lora", "workstation"): 0.33, ("qlora", "workstation"): 0.30,
    ("full", "consumer"): 0.38, ("lora", "consumer"): 0.33, ("qlora", "consumer"): 0.30,
}
# Speed of each framework relative to transformers + PEFT: none is applied yet. Unsloth (fused Triton
# kernels) and torchtune (compiled recipes) claim faster training, but llmplan has not measured by how much,
# so every framework times the same (1.0); where they differ in memory (chunked loss) core/training.py
# models it.
FRAMEWORK_SPEEDUP = {"transformers": 1.0, "torchtune": 1.0, "unsloth": 1.0}
QUANTIZED_CHECKPOINTS = ("awq", "gptq-int4", "gptq-int8", "bnb-nf4", "bnb-int8", "nvfp4", "mxfp4", "fp8", "int8")


class FinetuneMemory(BaseModel):
    weights_bytes: int = Field(description="base weights per GPU (trained for full, frozen for LoRA/QLoRA)")
    adapter_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    master_weights_bytes: int
    activations_bytes: int
    logits_bytes: int
    overhead_bytes: int = Field(description="CUDA context and allocator fragmentation")
    total_bytes: int = Field(description="per GPU at the peak of a step")
    gpu_memory_bytes: int = Field(description="memory of one GPU")
    free_bytes: int


class FinetuneTime(BaseModel):
    tokens: int = Field(description="tokens trained on, all epochs")
    flops_per_token: float
    mfu: float = Field(description="model FLOPs utilization assumed")
    tokens_per_s: float = Field(description="all GPUs together")
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
        raise UnsupportedError("a GGUF file is an inference format: fine-tune the Hugging Face checkpoint it was "
                               "made from (org/name), then convert")
    if setup.method != "full":
        if setup.lora_rank < 1:
            raise InputError(f"--lora-rank must be at least 1, got {setup.lora_rank}")
        if T.lora_params(spec, setup.lora_rank, setup.lora_targets) == 0:
            raise UnsupportedError(f"{spec.id} has no {setup.lora_targets} projections llmplan can count for LoRA "
                                   "(compressed or NAS attention); try --lora-targets all or --method full")
    if setup.method == "full" and spec.native_quant in QUANTIZED_CHECKPOINTS:
        raise UnsupportedError(f"{spec.id} is a {spec.native_quant} checkpoint: full fine-tuning needs 16-bit "
                               "weights; use the bf16 repo, or --method lora / qlora")
    if setup.method == "qlora" and spec.native_quant not in ("bf16", "fp16", "fp32"):
        raise UnsupportedError(f"QLoRA quantizes 16-bit weights to NF4, but {spec.id} ships as "
                               f"{spec.native_quant}; use the bf16 repo, or --method lora")
    if setup.precision == "fp16" and setup.method == "full" and setup.optimizer == "sgd":
        raise InputError("fp16 mixed precision needs loss scaling with an adaptive optimizer; use --optimizer adamw")


def _mfu(setup: T.TrainingSetup, gpu: GpuEntry) -> float:
    device = efficiency_class(gpu)
    base = MFU.get((setup.method, device)) or MFU[(setup.method, "datacenter")]
    return base * FRAMEWORK_SPEEDUP[setup.framework]


def training_time(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry, tokens: int) -> FinetuneTime:
    if not gpu.bf16_flops:
        raise UnsupportedError(f"{gpu.name} has no 16-bit tensor throughput in the catalog: cannot time training")
    flops = T.training_flops_per_token(model, setup)
    mfu = _mfu(setup, gpu)
    compute_s = flops / (gpu.bf16_flops * mfu)
    dequant_s = T.dequant_seconds_per_token(model, setup, gpu.memory_bandwidth_bytes_per_s)
    per_gpu_tokens_per_s = 1.0 / (compute_s + dequant_s)
    tokens_per_s = per_gpu_tokens_per_s * setup.n_gpus
    tokens_per_step = setup.seq_len * setup.micro_batch * setup.grad_accum * setup.n_gpus
    return FinetuneTime(tokens=tokens, flops_per_token=flops, mfu=round(mfu, 3),
                        tokens_per_s=round(tokens_per_s, 1), hours=tokens / tokens_per_s / 3600.0,
                        steps=max(1, -(-tokens // tokens_per_step)))


def training_cost(gpu: GpuEntry, gpu_id: str, n_gpus: int, hours: float, mode: str, tier: str,
                  engineering_hours: float, engineering_rate_usd: float) -> FinetuneCost:
    gpu_hours = hours * n_gpus
    engineering = float(C.engineering_monthly_usd(engineering_hours, engineering_rate_usd))
    if mode == "own":
        if not gpu.purchase_usd:
            raise InputError(f"{gpu_id} has no purchase price in the catalog; use --mode rent or --prices FILE")
        per_hour = float(C.own_monthly_usd(1, gpu.purchase_usd, gpu.tdp_watts, C.OwnershipTerms())) / C.MONTH_HOURS
        gpu_usd = gpu_hours * per_hour
        return FinetuneCost(mode=mode, gpu_hours=gpu_hours, usd=gpu_usd + engineering, usd_low=gpu_usd + engineering,
                            usd_high=gpu_usd + engineering, gpu_usd=gpu_usd, engineering_usd=engineering,
                            usd_per_gpu_hour=per_hour, price_source=gpu.purchase_source)
    rentals = rentals_of_tier(gpu_id, gpu, tier)
    if not rentals:
        return FinetuneCost(mode=mode, gpu_hours=gpu_hours, usd=None, usd_low=None, usd_high=None, gpu_usd=None,
                            engineering_usd=engineering, usd_per_gpu_hour=None, price_source=None)
    cheapest = min(rentals, key=lambda r: r.usd_per_gpu_hour)
    dearest = max(rentals, key=lambda r: r.usd_per_gpu_hour)
    gpu_usd = gpu_hours * cheapest.usd_per_gpu_hour
    return FinetuneCost(mode=mode, gpu_hours=gpu_hours, usd=gpu_usd + engineering, usd_low=gpu_usd + engineering,
                        usd_high=gpu_hours * dearest.usd_per_gpu_hour + engineering, gpu_usd=gpu_usd,
                        engineering_usd=engineering, usd_per_gpu_hour=cheapest.usd_per_gpu_hour,
                        price_source=f"{cheapest.provider} ({cheapest.as_of}): {cheapest.source}")


def _fits(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry) -> bool:
    return T.training_memory(model, setup).total_bytes <= gpu_memory_bytes(gpu)


def suggestions(model: ModelSpec, setup: T.TrainingSetup, gpu: GpuEntry, gpu_id: str) -> list[str]:
    """Single changes that make the run fit, cheapest in quality and speed first."""
    tries: list[tuple[str, T.TrainingSetup]] = []
    if not setup.gradient_checkpointing:
        tries.append(("turn gradient checkpointing on (--gradient-checkpointing)",
                      replace(setup, gradient_checkpointing=True)))
    if setup.micro_batch > 1:
        tries.append(("--micro-batch 1 with more --grad-accum", replace(setup, micro_batch=1,
                                                                       grad_accum=setup.grad_accum * setup.micro_batch)))
    if setup.optimizer == "adamw":
        tries.append(("an 8-bit optimizer (--optimizer adamw-8bit)", replace(setup, optimizer="adamw-8bit")))
        if setup.precision == "bf16":
            tries.append(("bf16 weights without fp32 masters and an 8-bit optimizer (--precision pure-bf16 "
                          "--optimizer adamw-8bit)", replace(setup, precision="pure-bf16", optimizer="adamw-8bit")))
    if setup.method == "full":
        tries.append(("LoRA (--method lora)", replace(setup, method="lora")))
    if setup.method in ("full", "lora"):
        tries.append(("QLoRA (--method qlora)", replace(setup, method="qlora", optimizer="paged-adamw-8bit")))
    for n in (2, 4, 8):
        if n > setup.n_gpus:
            tries.append((f"{n}x{gpu_id} with ZeRO-3 (--gpu {n}x{gpu_id} --zero 3)", replace(setup, n_gpus=n, zero="3")))
    if setup.seq_len > 512:
        tries.append((f"--seq-len {setup.seq_len // 2}", replace(setup, seq_len=setup.seq_len // 2)))
    out = []
    for label, candidate in tries:
        if _fits(model, candidate, gpu):
            out.append(label)
            if len(out) == 3:
                break
    return out


def plan_finetune(catalog: Catalog, resolved: ResolvedModel, gpu: str, setup: T.TrainingSetup, tokens: int,
                  mode: str = "rent", tier: str = "on_demand", engineering_hours: float = 0.0,
                  engineering_rate_usd: float = 100.0, precision_given: bool = True) -> FinetuneReport:
    n_gpus, gpu_name = parse_gpu_spec(gpu)
    gpu_id, entry = catalog.gpu_entry(gpu_name)
    setup = replace(setup, n_gpus=n_gpus)
    notes: list[str] = []
    cc = no_bf16(entry)
    if cc is not None and setup.precision in ("bf16", "pure-bf16"):
        if precision_given:
            raise UnsupportedError(f"{gpu_id} (compute capability {cc:.1f}) has no bf16 math; use --precision fp16 "
                                   "(mixed precision with loss scaling)")
        setup = replace(setup, precision="fp16")
        notes.append(f"{gpu_id} has no bf16 math (compute capability {cc:.1f}): training in fp16 mixed precision")
    for name, value in (("--seq-len", setup.seq_len), ("--micro-batch", setup.micro_batch),
                        ("--grad-accum", setup.grad_accum), ("tokens", tokens)):
        if value < 1:
            raise InputError(f"{name} must be a positive whole number, got {value}")
    if setup.zero != "0" and n_gpus == 1:
        notes.append(f"--zero {setup.zero} shards training state across GPUs; on one GPU there is nothing to "
                     "shard, so it is planned without ZeRO (use --gpu Nx... to shard)")
        setup = replace(setup, zero="0")
    check_method(resolved, setup)
    spec = resolved.spec
    memory = T.training_memory(spec, setup)
    capacity = gpu_memory_bytes(entry)
    fits = memory.total_bytes <= capacity
    time = training_time(spec, setup, entry, tokens)
    cost = training_cost(entry, gpu_id, n_gpus, time.hours, mode, tier, engineering_hours, engineering_rate_usd)
    warnings = notes + list(spec.approximations)
    if setup.seq_len > spec.max_context:
        warnings.append(f"--seq-len {setup.seq_len} is beyond the model's {spec.max_context:,}-token context")
    if setup.method != "full" and spec.layer_kinds.get("linear", 0) + spec.layer_kinds.get("mamba", 0):
        warnings.append("LoRA on linear-attention / Mamba mixers is not counted (common target lists skip them)")
    hint = suggestions(spec, setup, entry, gpu_id) if not fits else []
    verdict = (f"FITS: {memory.total_bytes / 1e9:.1f} of {capacity / 1e9:.1f} GB per GPU" if fits else
               f"DOES NOT FIT: needs {memory.total_bytes / 1e9:.1f} GB per GPU, {capacity / 1e9:.1f} GB available")
    lora = setup.method != "full"
    return FinetuneReport(
        model=spec.id, method=setup.method, gpu=gpu_id, gpu_count=n_gpus, framework=setup.framework,
        precision=setup.precision, optimizer=setup.optimizer, zero=setup.zero, seq_len=setup.seq_len,
        micro_batch=setup.micro_batch, grad_accum=setup.grad_accum,
        gradient_checkpointing=setup.gradient_checkpointing,
        lora_rank=setup.lora_rank if lora else None, lora_targets=setup.lora_targets if lora else None,
        params=spec.params_total, trainable_params=T.trained_params(spec, setup), fits=fits,
        memory=FinetuneMemory(**{k: getattr(memory, k) for k in FinetuneMemory.model_fields
                                 if k not in ("total_bytes", "gpu_memory_bytes", "free_bytes")},
                              total_bytes=memory.total_bytes, gpu_memory_bytes=capacity,
                              free_bytes=capacity - memory.total_bytes),
        time=time, cost=cost, verdict=verdict, suggestions=hint, warnings=warnings,
    )
