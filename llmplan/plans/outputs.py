"""The `--format json` outputs that are not a report object of their own, as pydantic models.

Each command's JSON is produced through one of these (or a report model), so `llmplan schema COMMAND`
can print a JSON Schema that the real output is guaranteed to follow. Where an object embeds a whole
`fit` estimate, its fields are the FitReport's; extra keys are allowed so a report can grow.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from llmplan.catalog.schemas import ApiEntry, GpuEntry


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SweepRow(BaseModel):
    concurrency: int
    input_tokens: int
    output_tokens: int
    decode_tokens_per_s: float = Field(description="per user")
    throughput_tokens_per_s: float = Field(description="output tokens/s, all GPUs and replicas")
    output_tokens_per_s_per_gpu: float
    ttft_s: float
    request_latency_s: float
    memory_bytes: int = Field(description="per GPU")
    fits: bool
    meets_target: bool


class SweepSeries(_Open):
    model: str
    gpu: str
    gpu_count: int
    quant: str
    engine: str
    context: int
    axis: str
    performance: dict[str, Any]
    rows: list[SweepRow]
    target: str | None = None
    label: str | None = None


class SweepOutput(RootModel[SweepSeries | dict[str, list[SweepSeries]]]):
    """One series, or {"series": [...]} when several engines or layouts are swept."""


class CompareOption(_Open):
    option: str
    runnable: bool
    quant_substituted_from: str | None = Field(
        default=None, description="the asked format, where the device runs another (its estimate's `quant`)"
    )
    gpu: dict[str, Any]
    price: dict[str, Any] | None = None
    usd_per_mtok_owned: float | None = Field(default=None, description="input + output tokens, full load")
    usd_per_mtok_rented: float | None = None
    usd_per_mtok: float | None = Field(
        default=None,
        description="the figure `--sort usd-per-mtok` ranks: rented where the device has a rental price, else owned",
    )
    usd_per_mtok_basis: str | None = Field(default=None, description="rented | owned: which one usd_per_mtok is")
    concurrency: int | None = Field(
        default=None, description="sequences this option runs; with --concurrency max, its own full load"
    )
    full_load_tokens_per_s: float | None = None
    purchase_usd: float | None = None
    power_watts: float | None = None
    error: str | None = None


class CompareOutput(RootModel[list[CompareOption]]):
    """Options ranked as the table ranks them; runnable ones carry the whole `fit` estimate."""


class LimitResult(BaseModel):
    limit: str
    required: Any
    actual: Any
    passed: bool
    note: str | None = None


class DeploymentCheck(_Open):
    name: str
    file: str
    line: int
    passed: bool
    limits: list[LimitResult]
    estimate: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    warnings: list[str] = Field(
        default_factory=list, description="every warning of the estimate and the cost, as the table shows them"
    )


class CheckOutput(BaseModel):
    passed: bool
    deployments: list[DeploymentCheck]


class ModelListItem(BaseModel):
    id: str
    aliases: list[str]
    family: str | None
    params: int
    active_params: int
    native_quant: str
    license: str | None
    source: str
    as_of: str


class ModelListOutput(RootModel[list[ModelListItem]]):
    pass


class ModelDetail(_Open):
    id: str
    params: int
    active_params: int
    layers: int | None = None
    kv_bytes_per_token: int
    state_bytes_per_sequence: int
    approximations: list[str]


class GpuItem(GpuEntry):
    id: str


class GpuListOutput(RootModel[list[GpuItem]]):
    pass


class ApiItem(ApiEntry):
    id: str


class ApiListOutput(RootModel[list[ApiItem]]):
    pass


def json_output(model: type[BaseModel], data: Any) -> Any:
    """Validate `data` against its output model and return it as JSON-ready data."""
    return model.model_validate(data).model_dump(mode="json", exclude_none=False)
