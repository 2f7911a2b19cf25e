"""Fine-tuning: memory per GPU, training FLOPs and time, for full, LoRA and QLoRA training.

Memory is itemized the way PyTorch, DeepSpeed, FSDP and PEFT hold it:
- weights: trained or frozen base weights at the compute dtype (QLoRA: NF4 with double quantization, or
  LLM.int8, for the decoder's linear layers; 16-bit for embeddings, lm_head and norms, as bitsandbytes
  leaves them);
- adapters: LoRA A and B, rank x (in + out) for every targeted projection, kept in fp32 by PEFT
  (`autocast_adapter_dtype`) unless the whole run is pure bf16;
- gradients, optimizer moments and fp32 master weights of the trained parameters: mixed precision
  (AMP / DeepSpeed) is 2 + 2 + 4 + 8 = 16 bytes per trained parameter with AdamW; the moments' dtype
  follows the optimizer (or `optimizer_state_dtype`), not the weights; DeepSpeed's ZeRO optimizers add
  an fp32 copy of the gradient partition; paged (bitsandbytes) states live in CUDA unified memory;
- activations saved for the backward pass (see `activation_bytes_per_token_layer`), all layers without
  gradient checkpointing, one layer input per layer plus one layer recomputed with it; LoRA's own
  saved tensors (`lora_activation_bytes`); the attention score matrix without flash attention;
- logits and the loss, per framework (`LOGITS_BYTES`): Hugging Face upcasts the whole logits to fp32,
  chunked-loss frameworks do not;
- FSDP with QLoRA: the all-gathered layers and the unquantized root parameters;
- the CUDA context and allocator fragmentation.
ZeRO stages / FSDP divide the sharded items by the data-parallel GPU count, tensor parallel by its size;
`offload` moves items to host memory (`TrainingMemory.host_bytes`).

Time: training FLOPs (forward 2 x N, weight gradients 2 x N and input gradients 2 x N for full
training; LoRA skips the frozen weights' gradients; gradient checkpointing repeats the forward) plus
attention FLOPs, over the GPUs' dense 16-bit peak times a model FLOPs utilization (MFU, fitted in
llmplan.plans.finetune); plus the all-gathers / reduce-scatters of sharded training and the PCIe
transfers of offloading (`communication_bytes_per_step`, `offload_bytes_per_step`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from llmplan.models.architecture import ModelSpec

Method = Literal["full", "lora", "qlora"]
Precision = Literal["bf16", "pure-bf16", "fp16", "fp32"]
Optimizer = Literal["adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit", "sgd"]
StateDtype = Literal["fp32", "bf16", "int8"]
Zero = Literal["0", "1", "2", "3", "fsdp"]
Framework = Literal["transformers", "unsloth", "torchtune", "litgpt", "torchtitan", "llm-foundry", "nemo"]
LoraTargets = Literal["q,v", "qkv", "qkvo", "attn", "mlp", "all", "all+lm_head"]
QuantBase = Literal["nf4", "int8"]
Attention = Literal["eager", "sdpa", "flash"]
Offload = Literal["optimizer", "params", "activations"]

GIB = 1 << 30
# NF4 with double quantization (QLoRA paper, section 3): 4 bits per weight, an 8-bit absmax per block of
# 64 weights, and an fp32 scale per 256 of those absmax values: 4 + 8/64 + 32/(64*256) = 4.127 bits.
NF4_DQ_BYTES_PER_PARAM = (4 + 8 / 64 + 32 / (64 * 256)) / 8
# LLM.int8 (bitsandbytes Linear8bitLt): one byte per weight; its fp32 scale per output row is left out
# (4 bytes per 4096-wide row, under 0.1%).
INT8_BYTES_PER_PARAM = 1.0
QUANT_BYTES = {"nf4": NF4_DQ_BYTES_PER_PARAM, "int8": INT8_BYTES_PER_PARAM}
# Optimizer moments per trained parameter: AdamW keeps two, SGD (torch default, no momentum) none.
MOMENTS = {"adamw": 2, "adamw-8bit": 2, "paged-adamw": 2, "paged-adamw-8bit": 2, "sgd": 0}
# Bytes per moment: 8-bit states (bitsandbytes, Dettmers et al. 2022) add an fp32 absmax per block of 2048.
STATE_BYTES = {"fp32": 4.0, "bf16": 2.0, "int8": 1.0 + 4 / 2048}
CUDA_CONTEXT_BYTES = int(0.5 * GIB)  # CUDA 12 context with lazy module loading, cuBLAS/cuDNN workspaces
FRAGMENTATION = 0.05  # PyTorch caching allocator: reserved beyond allocated at the peak
# Logits and loss bytes per token and vocabulary entry at the peak of the loss:
# - transformers: bf16 logits, the fp32 copy the model returns, the fp32 log-softmax the loss saves;
# - torchtitan: the same (the loss upcasts the whole prediction before cross-entropy);
# - torchtune and llm-foundry: the loss runs over chunks of the output, each chunk upcast and freed, only
#   each chunk's fp32 log-softmax kept for the backward pass;
# - litgpt: chunked cross-entropy on the bf16 logits, no upcast: bf16 logits + bf16 log-softmax;
# - nemo (Megatron's fused vocab-parallel cross-entropy): bf16 logits + the fp32 softmax it saves;
# - unsloth: cut cross-entropy (Apple's CCE, in Unsloth since December 2024): logits never materialized.
LOGITS_BYTES = {
    "transformers": 10.0,
    "torchtitan": 10.0,
    "torchtune": 4.0,
    "llm-foundry": 4.0,
    "litgpt": 4.0,
    "nemo": 6.0,
    "unsloth": 0.0,
}
# Eager attention keeps the softmax output of every head in fp32 and its 16-bit copy (the AV matmul's
# input): 6 bytes per head per token per key.
EAGER_SCORE_BYTES = 6.0


@dataclass(frozen=True)
class TrainingSetup:
    method: Method
    n_gpus: int = 1
    seq_len: int = 2048
    micro_batch: int = 1
    grad_accum: int = 1
    precision: Precision = "bf16"
    optimizer: Optimizer = "adamw"
    gradient_checkpointing: bool = True
    zero: Zero = "0"
    lora_rank: int = 16
    lora_targets: LoraTargets = "all"
    framework: Framework = "transformers"
    offload: frozenset[str] = field(default_factory=frozenset)
    tensor_parallel: int = 1
    quant_base: QuantBase = "nf4"
    attention: Attention = "flash"
    optimizer_state_dtype: StateDtype | None = None
    optimizer_in_backward: bool = False

    @property
    def data_parallel(self) -> int:
        return max(self.n_gpus // max(self.tensor_parallel, 1), 1)

    @property
    def tokens_per_micro_batch(self) -> int:
        return self.seq_len * self.micro_batch


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per GPU at the peak of a training step (host_bytes: what offloading keeps in host memory)."""

    weights_bytes: int
    adapter_bytes: int
    gradients_bytes: int
    fp32_gradients_bytes: int
    optimizer_bytes: int
    master_weights_bytes: int
    activations_bytes: int
    lora_activations_bytes: int
    attention_scores_bytes: int
    logits_bytes: int
    fsdp_buffers_bytes: int
    overhead_bytes: int
    paged_optimizer_bytes: int = 0
    host_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        return (
            self.weights_bytes
            + self.adapter_bytes
            + self.gradients_bytes
            + self.fp32_gradients_bytes
            + self.optimizer_bytes
            + self.master_weights_bytes
            + self.activations_bytes
            + self.lora_activations_bytes
            + self.attention_scores_bytes
            + self.logits_bytes
            + self.fsdp_buffers_bytes
            + self.overhead_bytes
        )


_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")


def _wanted(targets: LoraTargets, target: str, module: str) -> bool:
    """Whether a projection (target set, Hugging Face module name) is adapted under `targets`."""
    if targets in ("q,v", "qkv"):
        return target == "attn" and module in (("q_proj", "v_proj") if targets == "q,v" else _ATTN[:3])
    if targets in ("attn", "qkvo"):
        return target == "attn"
    if targets == "mlp":
        return target in ("mlp", "expert")
    return True  # all, all+lm_head


def lora_modules(model: ModelSpec, targets: LoraTargets) -> list[tuple[int, int, int]]:
    """(in features, out features, count) of every adapted projection; lm_head once for all+lm_head."""
    mods = [
        (n_in, n_out, count)
        for target, name, n_in, n_out, count in model.linear_modules
        if _wanted(targets, target, name)
    ]
    if targets == "all+lm_head":
        mods.append((model.hidden_size, model.vocab_size, 1))
    return mods


def lora_params(model: ModelSpec, rank: int, targets: LoraTargets) -> int:
    """LoRA A (rank x in) and B (out x rank) for every targeted projection, from the real layer shapes."""
    return sum(rank * (n_in + n_out) * count for n_in, n_out, count in lora_modules(model, targets))


def linear_params(model: ModelSpec) -> int:
    """Parameters in the decoder's projections (what bitsandbytes quantizes for QLoRA)."""
    return sum(n_in * n_out * count for _, _, n_in, n_out, count in model.linear_modules)


def loaded_params(model: ModelSpec) -> int:
    """What transformers loads for training: everything but the multi-token-prediction layers it skips."""
    return model.params_total - model.mtp_params


def trained_params(model: ModelSpec, setup: TrainingSetup) -> int:
    if setup.method == "full":
        return loaded_params(model) - model.vision_params  # the vision tower is usually frozen
    return lora_params(model, setup.lora_rank, setup.lora_targets)


def _shard(setup: TrainingSetup, item: str) -> int:
    """How many GPUs share one copy of `item`: ZeRO stage / FSDP over the data-parallel group, times TP."""
    stage = {"0": 0, "1": 1, "2": 2, "3": 3, "fsdp": 3}[setup.zero]
    needs = {"optimizer": 1, "master": 1, "gradients": 2, "weights": 3}[item]
    return (setup.data_parallel if stage >= needs else 1) * setup.tensor_parallel


def weight_bytes_total(model: ModelSpec, setup: TrainingSetup) -> float:
    """Base weights of the whole model at the compute dtype (QLoRA: quantized linears)."""
    loaded = loaded_params(model)
    if setup.method == "qlora":
        linear = min(linear_params(model), loaded)
        return linear * QUANT_BYTES[setup.quant_base] + (loaded - linear) * 2
    return loaded * (4 if setup.precision == "fp32" else 2)


def weight_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """Base weights (trained for full, frozen for LoRA/QLoRA) per GPU."""
    return weight_bytes_total(model, setup) / _shard(setup, "weights")


def _trained_bytes(setup: TrainingSetup) -> tuple[float, float, float]:
    """(parameter copy the GPU computes with, gradient, fp32 master copy) bytes per trained parameter."""
    if setup.precision == "fp32":
        return 4.0, 4.0, 0.0
    if setup.precision == "pure-bf16":
        return 2.0, 2.0, 0.0
    if setup.method == "full":
        return 2.0, 2.0, 4.0  # AMP / DeepSpeed mixed precision: 16-bit copy and gradients, fp32 master
    return 4.0, 4.0, 0.0  # PEFT keeps adapters in fp32, so their gradients are fp32 and need no master


def state_dtype(setup: TrainingSetup) -> StateDtype:
    """The optimizer moments' dtype: given, or what the optimizer implies. torch AdamW keeps them in the
    parameters' dtype (bf16 under pure bf16); bitsandbytes' 32-bit optimizers keep fp32 whatever the
    weights; its 8-bit ones int8."""
    if setup.optimizer_state_dtype:
        return setup.optimizer_state_dtype
    if setup.optimizer.endswith("8bit"):
        return "int8"
    if setup.optimizer == "adamw" and setup.precision == "pure-bf16":
        return "bf16"
    return "fp32"


def optimizer_state_bytes(setup: TrainingSetup) -> float:
    """Optimizer state bytes per trained parameter."""
    return MOMENTS[setup.optimizer] * STATE_BYTES[state_dtype(setup)]


def _is_gated(model: ModelSpec) -> bool:
    names = {name for _, name, _, _, _ in model.linear_modules}
    return "gate_proj" in names or not names


def activation_bytes_per_token_layer(model: ModelSpec) -> float:
    """Bytes one decoder layer saves per token for its backward pass, 16-bit activations.

    Korthikanti et al. 2022 ("Reducing Activation Recomputation", eq. 2) give sbh(34 + 5as/h) for GPT-3
    blocks. For today's decoders: no dropout masks, flash attention (the a*s^2 score term is not stored,
    see `attention_score_bytes`), grouped-query K/V. Kept per token: the two norm inputs and outputs (8h),
    Q, K, V and the attention output (4 q_width + 4 kv_width), and the MLP's intermediates: gate, up,
    activation and product for a gated MLP (8 I); the up projection's output and its activation for a
    plain one (4 I: GPT-2, GPT-NeoX, Phi, Falcon, MPT). MoE layers keep them for each of the k experts
    a token visits.
    """
    h = model.hidden_size
    q_width = model.num_heads * model.head_dim
    kv_width = model.num_kv_heads * model.head_dim
    mlp_width: float = model.intermediate_size
    if model.is_moe and model.moe_layers:
        expert_width = model.expert_params / max(model.num_experts * model.moe_layers * 3 * h, 1)
        moe_share = model.moe_layers / model.num_layers
        mlp_width = (1 - moe_share) * model.intermediate_size + moe_share * model.experts_per_token * expert_width
    return 8 * h + 4 * q_width + 4 * kv_width + (8 if _is_gated(model) else 4) * mlp_width


def _layers_kept(model: ModelSpec, setup: TrainingSetup) -> int:
    """Layers whose full activations are alive at once: all without checkpointing, else the recomputed one."""
    return 1 if setup.gradient_checkpointing else model.num_layers


def activation_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    tokens = setup.tokens_per_micro_batch
    per_layer = activation_bytes_per_token_layer(model) * tokens / setup.tensor_parallel
    if not setup.gradient_checkpointing:
        return per_layer * model.num_layers
    layer_inputs = layer_input_bytes(model, setup)
    if setup.framework == "unsloth" or "activations" in setup.offload:
        layer_inputs = 0.0  # offloaded to host memory (Unsloth's checkpointing does it by default)
    return layer_inputs + per_layer  # plus the one layer being recomputed


def layer_input_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """What gradient checkpointing saves: each layer's 16-bit input."""
    return 2 * model.hidden_size * setup.tokens_per_micro_batch * model.num_layers / setup.tensor_parallel


def lora_activation_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """LoRA's own saved tensors, per adapted projection and token: the (dropout) copy of the input that
    lora_A multiplies and x.A that lora_B multiplies, at the adapters' dtype."""
    if setup.method == "full":
        return 0.0
    copy_b = _trained_bytes(setup)[0]
    if setup.framework == "unsloth":  # fused LoRA kernels: the input is the layer's own, only x.A is kept
        return (
            sum(c for _, _, c in lora_modules(model, setup.lora_targets))
            * setup.lora_rank
            * 2
            * _layers_kept(model, setup)
            / model.num_layers
            * setup.tokens_per_micro_batch
        )
    layer_mods = [
        (n_in, count)
        for n_in, n_out, count in lora_modules(model, setup.lora_targets)
        if (n_in, n_out) != (model.hidden_size, model.vocab_size) or setup.lora_targets != "all+lm_head"
    ]
    per_token_all_layers = sum((n_in + setup.lora_rank) * count for n_in, count in layer_mods) * copy_b
    per_token = per_token_all_layers * _layers_kept(model, setup) / model.num_layers
    if setup.lora_targets == "all+lm_head":
        per_token += (model.hidden_size + setup.lora_rank) * copy_b
    return per_token * setup.tokens_per_micro_batch / setup.tensor_parallel


def attention_score_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """Eager attention materializes the score matrix (heads x seq x seq per sequence); SDPA's memory-
    efficient kernel and flash attention do not."""
    if setup.attention != "eager":
        return 0.0
    per_layer = EAGER_SCORE_BYTES * model.num_heads * setup.seq_len * setup.tokens_per_micro_batch
    return per_layer * _layers_kept(model, setup) / setup.tensor_parallel


def logits_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """Logits and loss buffers per the framework's loss (`LOGITS_BYTES`), split by tensor parallel."""
    per_token = LOGITS_BYTES[setup.framework]
    return setup.tokens_per_micro_batch * model.vocab_size * per_token / setup.tensor_parallel


def gathered_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """ZeRO-3 / FSDP (and parameter offload): the layers all-gathered whole, the one computing and the one
    prefetched; FSDP with QLoRA also holds its root unit's unquantized parameters (embeddings, lm_head,
    norms) whole during the step."""
    sharded = setup.zero in ("3", "fsdp") and setup.data_parallel > 1
    if not sharded and "params" not in setup.offload:
        return 0.0
    total = weight_bytes_total(model, setup)
    gathered = 2 * total / model.num_layers
    if setup.zero == "fsdp" and setup.method == "qlora" and sharded:
        loaded = loaded_params(model)
        gathered += (loaded - min(linear_params(model), loaded)) * 2
    return gathered / setup.tensor_parallel


def _state_items(model: ModelSpec, setup: TrainingSetup) -> dict[str, float]:
    """Weights, adapters, gradients and optimizer items per GPU, before offloading."""
    trained = trained_params(model, setup)
    copy_b, grad_b, master_b = _trained_bytes(setup)
    grads = trained * grad_b / _shard(setup, "gradients")
    if setup.optimizer_in_backward:
        grads /= model.num_layers  # each parameter steps as its gradient is made, which is then freed
    deepspeed = setup.zero in ("1", "2", "3") and setup.data_parallel > 1 and master_b
    return {
        "weights": weight_bytes(model, setup),
        "adapters": 0.0 if setup.method == "full" else trained * copy_b / setup.tensor_parallel,
        "gradients": grads,
        # DeepSpeed's ZeRO optimizers copy the reduced gradient partition to fp32 for the step
        "fp32_gradients": trained * 4.0 / _shard(setup, "optimizer") if deepspeed else 0.0,
        "optimizer": trained * optimizer_state_bytes(setup) / _shard(setup, "optimizer"),
        "master": trained * master_b / _shard(setup, "master"),
    }


def _offload(items: dict[str, float], setup: TrainingSetup) -> tuple[dict[str, float], float, float]:
    """Move what `offload` names (and paged optimizer states) off the GPU: (items, host bytes, paged bytes)."""
    host, paged = 0.0, 0.0
    moves = {"optimizer": ("optimizer", "master", "fp32_gradients"), "params": ("weights", "gradients")}
    for what, keys in moves.items():
        if what in setup.offload:
            for key in keys:
                host += items[key]
                items[key] = 0.0
    if setup.optimizer.startswith("paged") and items["optimizer"]:
        paged, items["optimizer"] = items["optimizer"], 0.0
    return items, host, paged


def training_memory(model: ModelSpec, setup: TrainingSetup) -> TrainingMemory:
    items, host, paged = _offload(_state_items(model, setup), setup)
    if "activations" in setup.offload and setup.gradient_checkpointing:
        host += layer_input_bytes(model, setup)
    items.update(
        {
            "activations": activation_bytes(model, setup),
            "lora_activations": lora_activation_bytes(model, setup),
            "attention_scores": attention_score_bytes(model, setup),
            "logits": logits_bytes(model, setup),
            "fsdp_buffers": gathered_bytes(model, setup),
        }
    )
    overhead = CUDA_CONTEXT_BYTES + FRAGMENTATION * sum(items.values())
    return TrainingMemory(
        weights_bytes=int(items["weights"]),
        adapter_bytes=int(items["adapters"]),
        gradients_bytes=int(items["gradients"]),
        fp32_gradients_bytes=int(items["fp32_gradients"]),
        optimizer_bytes=int(items["optimizer"]),
        master_weights_bytes=int(items["master"]),
        activations_bytes=int(items["activations"]),
        lora_activations_bytes=int(items["lora_activations"]),
        attention_scores_bytes=int(items["attention_scores"]),
        logits_bytes=int(items["logits"]),
        fsdp_buffers_bytes=int(items["fsdp_buffers"]),
        overhead_bytes=int(overhead),
        paged_optimizer_bytes=int(paged),
        host_bytes=int(host),
    )


def matmul_params_per_token(model: ModelSpec) -> float:
    """Parameters each token multiplies through: the active weights less the embedding lookup (a tied
    embedding is multiplied through once more, as the output head)."""
    lookup = 0 if model.tie_word_embeddings else model.embed_params
    return max(model.params_active - lookup, 0)


def training_flops_per_token(model: ModelSpec, setup: TrainingSetup) -> float:
    """Forward 2N, input gradients 2N, weight gradients 2N (full only), checkpointing repeats the forward;
    causal attention adds 2 x layers x q_width x seq_len per token forward (QK^T and AV, half the square)."""
    n = matmul_params_per_token(model)
    attention_fwd = 2.0 * model.num_layers * model.num_heads * model.head_dim * setup.seq_len
    passes = 3.0 if setup.method == "full" else 2.0  # LoRA: frozen weights need no weight gradients
    if setup.gradient_checkpointing:
        passes += 1.0
    return passes * 2.0 * n + (passes + 1.0) * attention_fwd  # attention backward is about twice its forward


def dequant_seconds_per_token(model: ModelSpec, setup: TrainingSetup, bandwidth_bytes_per_s: float) -> float:
    """QLoRA dequantizes every quantized weight to bf16 in each forward and backward pass: memory-bound,
    read the quantized bytes and write 2 bytes per weight per pass, shared by the micro-batch's tokens."""
    if setup.method != "qlora":
        return 0.0
    passes = 3.0 if setup.gradient_checkpointing else 2.0
    bytes_per_step = linear_params(model) * (QUANT_BYTES[setup.quant_base] + 2.0) * passes / setup.tensor_parallel
    return bytes_per_step / bandwidth_bytes_per_s / setup.tokens_per_micro_batch


def _passes(setup: TrainingSetup) -> float:
    """Times a sharded layer is all-gathered per micro-batch: forward, backward, and the recompute."""
    return 3.0 if setup.gradient_checkpointing else 2.0


def communication_bytes_per_micro_batch(model: ModelSpec, setup: TrainingSetup) -> float:
    """Bytes each GPU sends per micro-batch over its data-parallel links (ring collectives move (n-1)/n of
    the buffer): ZeRO-3 / FSDP all-gather the weights in every pass and reduce-scatter the gradients;
    ZeRO-1/2 reduce-scatter the gradients (and all-gather updated weights once per optimizer step); plain
    data parallel all-reduces them (twice the bytes). Tensor parallel's own all-reduces are left out."""
    n = setup.data_parallel
    if n == 1:
        return 0.0
    ring = (n - 1) / n
    grad_bytes = trained_params(model, setup) * _trained_bytes(setup)[1] / setup.tensor_parallel
    weights = weight_bytes_total(model, setup) / setup.tensor_parallel
    if setup.zero in ("3", "fsdp"):
        return ring * (weights * _passes(setup) + grad_bytes)
    if setup.zero in ("1", "2"):
        trained_16 = trained_params(model, setup) * 2 / setup.tensor_parallel
        return ring * (grad_bytes + trained_16 / setup.grad_accum)
    return 2 * ring * grad_bytes / setup.grad_accum  # DDP all-reduces once per optimizer step (no_sync)


def offload_bytes_per_micro_batch(model: ModelSpec, setup: TrainingSetup) -> float:
    """Bytes over PCIe per micro-batch for offloading: the 16-bit gradients down and updated weights up
    once per optimizer step (optimizer), the weights up in every pass (params), the checkpointed layer
    inputs down and back (activations)."""
    total = 0.0
    per_gpu_trained = trained_params(model, setup) / _shard(setup, "optimizer")
    if "optimizer" in setup.offload:
        total += per_gpu_trained * 4 / setup.grad_accum
    if "params" in setup.offload:
        total += weight_bytes(model, setup) * _passes(setup)
    if "activations" in setup.offload and setup.gradient_checkpointing:  # Unsloth overlaps its own
        total += 2 * layer_input_bytes(model, setup)
    return total
