"""Fine-tuning: memory per GPU, training FLOPs and time, for full, LoRA and QLoRA training.

Memory is itemized the way PyTorch, DeepSpeed and PEFT hold it:
- weights: trained or frozen base weights at the compute dtype (QLoRA: NF4 with double quantization
  for the decoder's linear layers, 16-bit for embeddings, lm_head and norms, as bitsandbytes leaves them);
- adapters: LoRA A and B, rank x (in + out) for every targeted projection, kept in fp32 by PEFT
  (`autocast_adapter_dtype`) unless the whole run is pure bf16;
- gradients, optimizer moments and fp32 master weights of the trained parameters: mixed precision
  (AMP / DeepSpeed) is 2 + 2 + 4 + 8 = 16 bytes per trained parameter with AdamW;
- activations saved for the backward pass (see `activation_bytes_per_token_layer`), all layers without
  gradient checkpointing, one layer input per layer plus one layer recomputed with it;
- logits and the loss: bf16 logits, their fp32 copy and the saved fp32 log-softmax for the vocabulary
  (transformers upcasts logits before the cross-entropy), often the largest single buffer;
- the CUDA context and allocator fragmentation.
ZeRO stages / FSDP divide the sharded items by the GPU count.

Time: training FLOPs (forward 2 x N, weight gradients 2 x N and input gradients 2 x N for full
training; LoRA skips the frozen weights' gradients; gradient checkpointing repeats the forward) plus
attention FLOPs, over the GPUs' dense 16-bit peak times a model FLOPs utilization (MFU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from llmplan.models.architecture import ModelSpec

Method = Literal["full", "lora", "qlora"]
Precision = Literal["bf16", "pure-bf16", "fp16", "fp32"]
Optimizer = Literal["adamw", "adamw-8bit", "paged-adamw-8bit", "sgd"]
Zero = Literal["0", "1", "2", "3", "fsdp"]
Framework = Literal["transformers", "unsloth", "torchtune"]
LoraTargets = Literal["attn", "mlp", "all"]

GIB = 1 << 30
# NF4 with double quantization (QLoRA paper, section 3): 4 bits per weight, an 8-bit absmax per block of
# 64 weights, and an fp32 scale per 256 of those absmax values: 4 + 8/64 + 32/(64*256) = 4.127 bits.
NF4_DQ_BYTES_PER_PARAM = (4 + 8 / 64 + 32 / (64 * 256)) / 8
# Optimizer state bytes per trained parameter. AdamW keeps two fp32 moments; bitsandbytes' 8-bit AdamW
# keeps two uint8 moments plus an fp32 absmax per block of 2048 (Dettmers et al. 2022, 8-bit optimizers);
# torch SGD keeps nothing without momentum (its default).
OPTIMIZER_BYTES = {"adamw": 8.0, "adamw-8bit": 2.0 + 2 * 4 / 2048, "paged-adamw-8bit": 2.0 + 2 * 4 / 2048,
                   "sgd": 0.0}
CUDA_CONTEXT_BYTES = int(0.5 * GIB)  # CUDA 12 context with lazy module loading, cuBLAS/cuDNN workspaces
FRAGMENTATION = 0.05  # PyTorch caching allocator: reserved beyond allocated at the peak


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


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes per GPU at the peak of a training step."""

    weights_bytes: int
    adapter_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    master_weights_bytes: int
    activations_bytes: int
    logits_bytes: int
    overhead_bytes: int

    @property
    def total_bytes(self) -> int:
        return (self.weights_bytes + self.adapter_bytes + self.gradients_bytes + self.optimizer_bytes
                + self.master_weights_bytes + self.activations_bytes + self.logits_bytes + self.overhead_bytes)


def lora_targets_of(targets: LoraTargets) -> set[str]:
    return {"attn": {"attn"}, "mlp": {"mlp", "expert"}, "all": {"attn", "mlp", "expert"}}[targets]


def lora_params(model: ModelSpec, rank: int, targets: LoraTargets) -> int:
    """LoRA A (rank x in) and B (out x rank) for every targeted projection, from the real layer shapes."""
    wanted = lora_targets_of(targets)
    return sum(rank * (n_in + n_out) * count for target, _, n_in, n_out, count in model.linear_modules
               if target in wanted)


def linear_params(model: ModelSpec) -> int:
    """Parameters in the decoder's projections (what bitsandbytes quantizes to NF4 for QLoRA)."""
    return sum(n_in * n_out * count for _, _, n_in, n_out, count in model.linear_modules)


def loaded_params(model: ModelSpec) -> int:
    """What transformers loads for training: everything but the multi-token-prediction layers it skips."""
    return model.params_total - model.mtp_params


def trained_params(model: ModelSpec, setup: TrainingSetup) -> int:
    if setup.method == "full":
        return loaded_params(model) - model.vision_params  # the vision tower is usually frozen
    return lora_params(model, setup.lora_rank, setup.lora_targets)


def _shard(setup: TrainingSetup, item: str) -> int:
    """How many GPUs share one copy of `item` under the ZeRO stage / FSDP."""
    stage = {"0": 0, "1": 1, "2": 2, "3": 3, "fsdp": 3}[setup.zero]
    needs = {"optimizer": 1, "master": 1, "gradients": 2, "weights": 3}[item]
    return setup.n_gpus if stage >= needs else 1


def weight_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """Base weights (trained for full, frozen for LoRA/QLoRA) at the compute dtype, per GPU."""
    loaded = loaded_params(model)
    if setup.method == "qlora":
        linear = min(linear_params(model), loaded)
        total = linear * NF4_DQ_BYTES_PER_PARAM + (loaded - linear) * 2
    else:
        total = loaded * (4 if setup.precision == "fp32" else 2)
    return total / _shard(setup, "weights")


def _trained_bytes(setup: TrainingSetup) -> tuple[float, float, float]:
    """(parameter copy the GPU computes with, gradient, fp32 master copy) bytes per trained parameter."""
    if setup.precision == "fp32":
        return 4.0, 4.0, 0.0
    if setup.precision == "pure-bf16":
        return 2.0, 2.0, 0.0
    if setup.method == "full":
        return 2.0, 2.0, 4.0  # AMP / DeepSpeed mixed precision: 16-bit copy and gradients, fp32 master
    return 4.0, 4.0, 0.0  # PEFT keeps adapters in fp32, so their gradients are fp32 and need no master


def optimizer_state_bytes(setup: TrainingSetup) -> float:
    per = OPTIMIZER_BYTES[setup.optimizer]
    if setup.precision == "pure-bf16" and setup.optimizer == "adamw":
        per = 4.0  # moments in bf16 too (torchtune's default)
    return per


def activation_bytes_per_token_layer(model: ModelSpec) -> float:
    """Bytes one decoder layer saves per token for its backward pass, 16-bit activations.

    Korthikanti et al. 2022 ("Reducing Activation Recomputation", eq. 2) give sbh(34 + 5as/h) for GPT-3
    blocks. For today's decoders: no dropout masks, flash attention (the a*s^2 score term is not stored),
    gated MLPs of width I, grouped-query K/V. Kept per token: the two norm inputs and outputs (8h),
    Q, K, V and the attention output (4 q_width + 4 kv_width), and the MLP's gate, up, activation and
    product (8 I). MoE layers keep them for each of the k experts a token visits.
    """
    h = model.hidden_size
    q_width = model.num_heads * model.head_dim
    kv_width = model.num_kv_heads * model.head_dim
    mlp_width = model.intermediate_size
    if model.is_moe and model.moe_layers:
        expert_width = model.expert_params / max(model.num_experts * model.moe_layers * 3 * h, 1)
        moe_share = model.moe_layers / model.num_layers
        mlp_width = (1 - moe_share) * model.intermediate_size + moe_share * model.experts_per_token * expert_width
    return 8 * h + 4 * q_width + 4 * kv_width + 8 * mlp_width


def activation_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    tokens = setup.seq_len * setup.micro_batch
    per_layer = activation_bytes_per_token_layer(model) * tokens
    if not setup.gradient_checkpointing:
        return per_layer * model.num_layers
    layer_inputs = 2 * model.hidden_size * tokens * model.num_layers
    if setup.framework == "unsloth":
        layer_inputs = 0.0  # Unsloth's checkpointing offloads the saved layer inputs to host memory
    return layer_inputs + per_layer  # plus the one layer being recomputed


def logits_bytes(model: ModelSpec, setup: TrainingSetup) -> float:
    """bf16 logits + their fp32 copy + the fp32 log-softmax the loss saves, per token and vocabulary entry.

    torchtune computes the loss in 8 chunks and Unsloth fuses it, so only a chunk is upcast at a time.
    """
    tokens = setup.seq_len * setup.micro_batch
    per_token = {"transformers": 10.0, "torchtune": 2 + 8 / 8, "unsloth": 2 + 8 / 8}[setup.framework]
    return tokens * model.vocab_size * per_token


def training_memory(model: ModelSpec, setup: TrainingSetup) -> TrainingMemory:
    trained = trained_params(model, setup)
    copy_b, grad_b, master_b = _trained_bytes(setup)
    adapters = 0.0 if setup.method == "full" else trained * copy_b
    tensors = {
        "weights": weight_bytes(model, setup),
        "adapters": adapters,
        "gradients": trained * grad_b / _shard(setup, "gradients"),
        "optimizer": trained * optimizer_state_bytes(setup) / _shard(setup, "optimizer"),
        "master": trained * master_b / _shard(setup, "master"),
        "activations": activation_bytes(model, setup),
        "logits": logits_bytes(model, setup),
    }
    overhead = CUDA_CONTEXT_BYTES + FRAGMENTATION * sum(tensors.values())
    return TrainingMemory(
        weights_bytes=int(tensors["weights"]),
        adapter_bytes=int(tensors["adapters"]),
        gradients_bytes=int(tensors["gradients"]),
        optimizer_bytes=int(tensors["optimizer"]),
        master_weights_bytes=int(tensors["master"]),
        activations_bytes=int(tensors["activations"]),
        logits_bytes=int(tensors["logits"]),
        overhead_bytes=int(overhead),
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
    """QLoRA dequantizes every NF4 weight to bf16 in each forward and backward pass: memory-bound,
    read 0.52 bytes and write 2 bytes per weight per pass, shared by the step's tokens."""
    if setup.method != "qlora":
        return 0.0
    passes = 3.0 if setup.gradient_checkpointing else 2.0
    bytes_per_step = linear_params(model) * (NF4_DQ_BYTES_PER_PARAM + 2.0) * passes
    return bytes_per_step / bandwidth_bytes_per_s / (setup.seq_len * setup.micro_batch)
