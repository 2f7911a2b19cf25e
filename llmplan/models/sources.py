"""Turn what the user named (catalog id or alias, Hugging Face repo, local folder, GGUF file) into a ModelSpec."""

from __future__ import annotations

import os
from pathlib import Path

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schemas import ModelEntry
from llmplan.errors import UnknownModelError
from llmplan.models.architecture import ModelSpec, model_spec_from_config
from llmplan.models.resolved import ResolvedModel


def spec_from_entry(model_id: str, entry: ModelEntry) -> ModelSpec:
    return model_spec_from_config(
        model_id,
        entry.config,
        params_total=entry.params_total,
        params_active=entry.params_active or None,
        context_tokens=entry.context_tokens,
        native_quant=entry.native_quant,
    )


def looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_model(name: str, catalog: Catalog, *, offline: bool = False, refresh: bool = False) -> ResolvedModel:
    """Local path first, then the catalog, then the Hugging Face hub (for repo ids)."""
    path = Path(os.path.expanduser(name))
    if path.suffix.lower() == ".gguf" or (path.exists() and path.is_file()):
        from llmplan.models.localfiles import read_gguf

        return read_gguf(path)
    if path.is_dir():
        from llmplan.models.localfiles import read_folder

        return read_folder(path)
    model_id = catalog.find_model(name)
    if model_id is not None and not refresh:
        entry = catalog.models[model_id]
        return ResolvedModel(spec=spec_from_entry(model_id, entry), source="catalog", entry=entry)
    if looks_like_hub_id(name):
        from llmplan.models.hub import read_hub_model

        return read_hub_model(model_id or name, offline=offline, catalog=catalog)
    suggestions = catalog.similar_models(name)
    hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    raise UnknownModelError(
        f"unknown model {name!r}{hint} (give a catalog id, a Hugging Face repo id like org/name, "
        "a folder with config.json or a .gguf file)"
    )
