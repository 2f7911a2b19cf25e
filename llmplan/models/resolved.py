"""What a model name resolves to, whichever reader produced it (catalog, hub, folder, GGUF)."""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.schemas import ModelEntry
from llmplan.models.architecture import ModelSpec


@dataclass(frozen=True)
class ResolvedModel:
    spec: ModelSpec
    source: str  # catalog | hub | hub-cache | local | gguf
    entry: ModelEntry | None = None
    gguf_quant: str | None = None
