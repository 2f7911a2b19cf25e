"""Which tensor-parallel sizes each engine accepts for a model's attention heads.

Engines that split every layer across GPUs give each GPU a whole number of query heads and of KV heads
(or a whole number of GPUs per KV head, which then is replicated). A size they refuse does not start:
- vLLM: `ModelConfig.verify_with_parallel_config` raises unless num_attention_heads % tp == 0;
  `QKVParallelLinear` needs num_kv_heads % tp == 0 when tp <= num_kv_heads, else tp % num_kv_heads == 0
  (vllm/config and vllm/model_executor/layers/linear.py).
- SGLang: the same checks on its copy of vLLM's parallel linear layers (sglang/srt/layers/linear.py).
- TensorRT-LLM: attention asserts num_heads % tp_size == 0; fewer KV heads than GPUs are replicated, which
  needs tp_size % num_kv_heads == 0 (tensorrt_llm/_torch/modules/attention.py, models/modeling_utils).
- TGI: its sharded attention raises unless num_heads % world_size == 0 (text_generation_server models).
llama.cpp and Ollama split by layers (`--split-mode layer`) and accept any GPU count.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorParallelRule:
    """What an engine requires of the tensor-parallel size."""

    heads_divisible: bool  # num_attention_heads % tp == 0
    kv_heads_split_or_replicated: bool  # num_kv_heads % tp == 0 or tp % num_kv_heads == 0
    source: str


_VLLM_SOURCE = "vLLM ModelConfig.verify_with_parallel_config and QKVParallelLinear"
TP_RULES: dict[str, TensorParallelRule] = {
    "vllm": TensorParallelRule(True, True, _VLLM_SOURCE),
    "sglang": TensorParallelRule(True, True, "SGLang's parallel linear layers (as vLLM's)"),
    "tensorrt-llm": TensorParallelRule(True, True, "TensorRT-LLM attention (heads per rank, KV heads replicated)"),
    "tgi": TensorParallelRule(True, False, "TGI sharded attention (heads per shard)"),
}


def tp_refusal(engine: str, num_heads: int, num_kv_heads: int, tp: int) -> str | None:
    """Why `engine` refuses tensor parallel `tp` for these heads, or None when it runs."""
    rule = TP_RULES.get(engine)
    if rule is None or tp <= 1:
        return None
    if rule.heads_divisible and num_heads > 0 and num_heads % tp:
        return f"{num_heads} attention heads do not split {tp} ways"
    if rule.kv_heads_split_or_replicated and num_kv_heads > 0 and num_kv_heads % tp and tp % num_kv_heads:
        return (
            f"{num_kv_heads} KV heads neither split {tp} ways nor replicate evenly over {tp} GPUs "
            f"({tp} is not a multiple of {num_kv_heads})"
        )
    return None


def nearest_runnable_tp(
    engine: str, num_heads: int, num_kv_heads: int, tp: int, limit: int = 64
) -> tuple[int | None, int | None]:
    """The largest size below `tp` and the smallest above it (up to `limit`) that the engine accepts."""
    below = next((n for n in range(tp - 1, 0, -1) if tp_refusal(engine, num_heads, num_kv_heads, n) is None), None)
    above = next((n for n in range(tp + 1, limit + 1) if tp_refusal(engine, num_heads, num_kv_heads, n) is None), None)
    return below, above
