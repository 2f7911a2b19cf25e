"""Pydantic schemas of the three shipped catalogs (models, GPUs, API prices).

Each entry carries its `source` and `as_of`; loading validates strictly (unknown keys are errors), so a
typo in a hand-edited YAML file is reported with the file, the entry and the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------- models


class ModelEntry(_Strict):
    """One model of data/models.yaml, keyed by its Hugging Face repo id."""

    aliases: list[str] = Field(default_factory=list, description="short lowercase names")
    family: str = Field(description="model family, e.g. llama-3.1, qwen3.5")
    license: str
    params_total: int = Field(gt=0, description="exact total parameter count (all experts, towers, MTP)")
    params_active: int | None = Field(
        default=None, gt=0, description="parameters used per token (MoE); omitted for dense = total"
    )
    params_source: str = Field(description="where params_total/params_active come from")
    native_quant: str = Field(default="bf16", description="format the published checkpoint is stored in")
    released: dt.date | None = None
    context_tokens: int | None = Field(default=None, gt=0, description="max context if not in config")
    source: str = Field(description="where the config came from (URL)")
    as_of: dt.date
    notes: str | None = None
    quality: dict[str, Any] | None = Field(
        default=None, description="optional sourced benchmark score: {benchmark, score, source}"
    )
    config: dict[str, Any] = Field(description="architecture fields copied from the real config.json")

    @field_validator("aliases")
    @classmethod
    def _lowercase_aliases(cls, v: list[str]) -> list[str]:
        for alias in v:
            if alias != alias.lower() or " " in alias:
                raise ValueError(f"alias {alias!r} must be lowercase without spaces")
        return v

    @model_validator(mode="after")
    def _active_le_total(self) -> "ModelEntry":
        if self.params_active is not None and self.params_active > self.params_total:
            raise ValueError("params_active is larger than params_total")
        return self


class ModelsFile(_Strict):
    models: dict[str, ModelEntry]


# ----------------------------------------------------------------------------------------------- GPUs

DeviceKind = Literal["datacenter", "workstation", "consumer", "unified", "apple", "cpu"]
RentalTier = Literal["on_demand", "reserved", "spot"]


class RentalPrice(_Strict):
    provider: str
    tier: RentalTier = "on_demand"
    usd_per_gpu_hour: float = Field(gt=0, description="per GPU (instance price / GPU count)")
    instance: str | None = None
    source: str
    as_of: dt.date


class Interconnect(_Strict):
    kind: Literal["nvlink", "infinity-fabric", "pcie", "ethernet", "none", "unified"] = "pcie"
    bandwidth_bytes_per_s: float = Field(
        ge=0, description="per-GPU one-direction bandwidth to its peers (NVLink) or over PCIe"
    )


class GpuEntry(_Strict):
    """One accelerator (or box, for unified-memory machines) of data/gpu_prices.yaml."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    vendor: Literal["nvidia", "amd", "intel", "apple", "cpu"]
    kind: DeviceKind
    architecture: str = Field(description="e.g. ampere, ada, hopper, blackwell, cdna3, rdna3.5, m4")
    memory_type: Literal["hbm", "gddr", "lpddr", "ddr"] = Field(
        description="memory technology: decides how much of the datasheet bandwidth kernels reach"
    )
    compute_capability: str | None = Field(default=None, description="NVIDIA sm version, e.g. 9.0")
    memory_bytes: int = Field(
        gt=0,
        description="device (or unified) memory in bytes: the total CUDA/ROCm reports to "
        "the engines (vLLM's total_gpu_memory) where memory_source names it",
    )
    memory_source: str | None = Field(
        default=None, description="where memory_bytes (or, for unified memory, gpu_memory_fraction) comes from"
    )
    gpu_memory_fraction: float = Field(
        default=1.0, gt=0, le=1.0, description="share of memory the GPU may use (unified memory)"
    )
    memory_bandwidth_bytes_per_s: float = Field(gt=0)
    bf16_flops: float | None = Field(default=None, description="dense 16-bit tensor FLOP/s (no sparsity)")
    fp8_flops: float | None = Field(default=None, description="dense fp8 tensor FLOP/s")
    int8_ops: float | None = Field(default=None, description="dense int8 tensor OP/s")
    fp4_flops: float | None = Field(default=None, description="dense fp4 tensor FLOP/s")
    interconnect: Interconnect
    tdp_watts: float = Field(gt=0)
    purchase_usd: float | None = Field(default=None, gt=0)
    purchase_source: str | None = None
    purchase_as_of: dt.date | None = None
    rental: list[RentalPrice] = Field(default_factory=list)
    host_memory_bandwidth_bytes_per_s: float | None = Field(
        default=None, description="system RAM bandwidth for offloaded layers (CPU/unified boxes)"
    )
    source: str
    as_of: dt.date
    notes: str | None = None

    @model_validator(mode="after")
    def _purchase_has_source(self) -> "GpuEntry":
        if self.purchase_usd is not None and (self.purchase_source is None or self.purchase_as_of is None):
            raise ValueError("purchase_usd needs purchase_source and purchase_as_of")
        return self


def efficiency_class(gpu: GpuEntry) -> str:
    """Device class the engines' efficiency tables are keyed by."""
    if gpu.kind in ("apple", "unified", "cpu"):
        return gpu.kind
    if gpu.memory_type == "hbm":
        return "datacenter"
    return "consumer" if gpu.kind == "consumer" else "workstation"


class GpusFile(_Strict):
    gpus: dict[str, GpuEntry]

    @field_validator("gpus")
    @classmethod
    def _ids_are_lowercase(cls, v: dict[str, GpuEntry]) -> dict[str, GpuEntry]:
        for gpu_id in v:
            if gpu_id != gpu_id.lower() or " " in gpu_id or "_" in gpu_id:
                raise ValueError(f"GPU id {gpu_id!r} must be lowercase with hyphens")
        return v


# ------------------------------------------------------------------------------------------ API prices


class ApiEntry(_Strict):
    """One paid API offering, keyed `provider/model`."""

    provider: str
    model: str = Field(description="the provider's own API model name")
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    cached_input_usd_per_mtok: float | None = Field(default=None, ge=0)
    batch_discount: float = Field(default=0.0, ge=0, lt=1, description="share off list price in batch mode")
    context_tokens: int | None = Field(default=None, gt=0)
    open_model: str | None = Field(default=None, description="catalog id of the open model it hosts")
    tier: Literal["frontier", "mid", "small", "open"] | None = None
    quality: dict[str, Any] | None = None
    deprecation_date: dt.date | None = None
    source: str
    as_of: dt.date
    notes: str | None = None


class ApisFile(_Strict):
    apis: dict[str, ApiEntry]
