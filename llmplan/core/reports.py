"""Report objects: JSON output is `report.model_dump(mode="json")`; tables are drawn from the same object."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ModelInfo(BaseModel):
    id: str
    params: int
    active_params: int
    source: str
    native_quant: str
    layer_kinds: dict[str, int]
    max_context: int


class GpuInfo(BaseModel):
    id: str
    name: str
    count: int
    memory_bytes: int = Field(description="memory per GPU the GPU may use")
    replicas: int = 1


class MemoryInfo(BaseModel):
    """Per GPU (each of `gpu.count` holds this much)."""

    weights_bytes: int
    kv_bytes_per_token: int = Field(description="cache bytes each context token adds, whole model")
    state_bytes_per_sequence: int
    kv_cache_bytes: int = Field(description="KV cache + state for context x concurrency, per GPU")
    overhead_bytes: int
    total_bytes: int
    usable_bytes: int
    free_bytes: int
    headroom_pct: float
    weights_bytes_all_gpus: int
    per_gpu: bool = True
    kv_pool_bytes: int = Field(
        default=0,
        description="per GPU: the KV pool the engine allocates at its memory "
        "fraction (vLLM 'Available KV cache memory')",
    )
    kv_cache_tokens: int = Field(
        default=0,
        description="token capacity of that pool in whole blocks (vLLM 'GPU KV "
        "cache size', SGLang max_total_num_tokens, llama.cpp n_ctx)",
    )
    max_concurrency_at_context: float = Field(
        default=0.0,
        description="kv_cache_tokens / context, as vLLM prints 'Maximum concurrency for N tokens per request'",
    )
    kv_cache_tokens_printed: int = Field(
        default=0,
        description="the token figure the engine release prints at "
        "start-up: vLLM V1 prints max concurrency x max_model_len, which for hybrid "
        "and sliding-window models exceeds the pool's capacity (kv_cache_tokens)",
    )


class OffloadInfo(BaseModel):
    gpu_layers: int
    total_layers: int
    host_bytes: int


class PerformanceInfo(BaseModel):
    decode_tokens_per_s: float | None = None
    throughput_tokens_per_s: float | None = None
    prefill_tokens_per_s: float | None = None
    ttft_s: float | None = None
    request_latency_s: float | None = None
    model: str = Field(
        default="analytic", description="performance model behind these figures: analytic | aiconfigurator"
    )
    model_note: str | None = Field(
        default=None,
        description="the measured kernel curves or tables the figures come from, or why the chosen model could not serve this case",
    )


class LaunchInfo(BaseModel):
    engine: str
    command: str = Field(description="one shell line")
    argv: list[str]
    notes: list[str] = []


class FitReport(BaseModel):
    model: ModelInfo
    gpu: GpuInfo
    quant: str
    kv_dtype: str
    engine: str
    engine_version: str | None = Field(
        default=None,
        description="the engine release rule set applied to memory "
        "(--engine-version), with the releases it covers; null for engines with one",
    )
    context: int
    concurrency: int
    concurrency_mode: str = "fixed"  # fixed | max
    input_tokens: int
    output_tokens: int
    memory: MemoryInfo
    fits: bool
    fits_with_offload: bool | None = None
    offload: OffloadInfo | None = None
    min_gpus: int | None
    max_context: int
    max_concurrency: int
    performance: PerformanceInfo
    verdict: str
    suggestions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    launch: LaunchInfo | None = Field(default=None, description="with --emit: the command that launches it")
