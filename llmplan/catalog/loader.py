"""Load, validate and merge the shipped catalogs and the user's override files.

`data/` lives at the repository root. An installed wheel carries it as `llmplan/_data` (hatch
force-include); a checkout (plain or editable install) finds it one level above the package.
"""

from __future__ import annotations

import difflib
import functools
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from llmplan.catalog.schemas import (
    ApiEntry,
    ApisFile,
    GpuEntry,
    GpusFile,
    ModelEntry,
    ModelsFile,
)
from llmplan.errors import CatalogError, UnknownGpuError, UnknownModelError
from llmplan.textfiles import cached_yaml

MODELS_FILE = "models.yaml"
GPUS_FILE = "gpu_prices.yaml"
APIS_FILE = "api_prices.yaml"

T = TypeVar("T", bound=BaseModel)


def data_dir() -> Path:
    """The folder holding the shipped catalogs, from a wheel or a checkout (or `$LLMPLAN_DATA_DIR`)."""
    override = os.environ.get("LLMPLAN_DATA_DIR")
    if override:
        return Path(override)
    return shipped_data_dir()


def shipped_data_dir() -> Path:
    """The data shipped with llmplan itself: catalogs and the measured kernel curves the model is built on."""
    package = Path(__file__).resolve().parents[1]  # llmplan/
    for candidate in (package / "_data", package.parent / "data"):
        if (candidate / MODELS_FILE).is_file():
            return candidate
    raise CatalogError(
        f"cannot find the shipped catalogs (looked in {package / '_data'} and {package.parent / 'data'}); "
        "reinstall llmplan"
    )


def user_models_path() -> Path:
    """The user's own catalog (`llmplan models add` writes here)."""
    base = os.environ.get("LLMPLAN_HOME") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "llmplan"
    )
    return Path(base) / MODELS_FILE


def describe_validation_error(path: Path | str, exc: ValidationError, top_key: str, schema=None) -> str:
    """One line per problem: file, entry, field, what is wrong (an unknown field names the closest valid one)."""
    from llmplan.errors import clean_loc, explain_error

    parts = []
    for err in exc.errors()[:5]:
        loc = [str(x) for x in clean_loc(err["loc"])]
        phrase = explain_error(err, schema)
        if loc and loc[0] == top_key and len(loc) >= 2:
            entry, field = loc[1], ".".join(loc[2:]) or "(entry)"
            parts.append(f"entry {entry!r} field {field!r}: {phrase}")
        else:
            parts.append(f"{'.'.join(loc) or '(file)'}: {phrase}")
    more = f" (+{len(exc.errors()) - 5} more)" if len(exc.errors()) > 5 else ""
    return f"{path}: " + "; ".join(parts) + more


def _load(path: Path, schema: type[T], top_key: str) -> dict[str, Any]:
    return _load_data(path, cached_yaml(path, "catalog", CatalogError), schema, top_key)


def _load_data(path: Path, raw: Any, schema: type[T], top_key: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or top_key not in raw:
        raise CatalogError(f"{path}: expected a mapping with a top-level '{top_key}:' key")
    if raw[top_key] is None:
        raw[top_key] = {}
    try:
        parsed = schema.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc, top_key, schema)) from None
    return dict(getattr(parsed, top_key))


def _shipped(kind: str) -> dict[str, Any]:
    return _shipped_from(data_dir(), kind)


@functools.lru_cache(maxsize=16)
def _shipped_from(folder: Path, kind: str) -> dict[str, Any]:
    """One parse per folder and table per process (the folder is part of the key: LLMPLAN_DATA_DIR may move)."""
    spec = {
        "models": (MODELS_FILE, ModelsFile),
        "gpus": (GPUS_FILE, GpusFile),
        "apis": (APIS_FILE, ApisFile),
    }[kind]
    return _load(folder / spec[0], spec[1], kind)


class Catalog:
    """The merged tables: shipped entries, then the user's catalog, then files given on the command line."""

    def __init__(
        self,
        models_files: list[Path] | None = None,
        gpus_files: list[Path] | None = None,
        apis_files: list[Path] | None = None,
        include_user: bool = True,
    ) -> None:
        self._models_files = list(models_files or [])
        self._gpus_files = list(gpus_files or [])
        self._apis_files = list(apis_files or [])
        self._include_user = include_user

    @functools.cached_property
    def models(self) -> dict[str, ModelEntry]:
        merged = dict(_shipped("models"))
        files = list(self._models_files)
        user = user_models_path()
        if self._include_user and user.is_file():
            files.insert(0, user)
        for path in files:
            merged.update(_load(Path(path), ModelsFile, "models"))
        return merged

    @functools.cached_property
    def gpus(self) -> dict[str, GpuEntry]:
        merged = dict(_shipped("gpus"))
        for path in self._gpus_files:
            merged.update(_load_gpu_overrides(Path(path), merged))
        return merged

    @functools.cached_property
    def apis(self) -> dict[str, ApiEntry]:
        merged = dict(_shipped("apis"))
        for path in self._apis_files:
            merged.update(_load(Path(path), ApisFile, "apis"))
        return merged

    # ----------------------------------------------------------------------------------- lookups

    @functools.cached_property
    def _model_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for model_id, entry in self.models.items():
            index[model_id.lower()] = model_id
            index[model_id.split("/")[-1].lower()] = model_id
            for alias in entry.aliases:
                index[alias] = model_id
        return index

    def find_model(self, name: str) -> str | None:
        return self._model_index.get(name.strip().lower())

    def model_entry(self, name: str) -> tuple[str, ModelEntry]:
        model_id = self.find_model(name)
        if model_id is None:
            raise UnknownModelError(f"unknown model {name!r}" + did_you_mean(name, self._model_index))
        return model_id, self.models[model_id]

    def similar_models(self, name: str) -> list[str]:
        return close_matches(name, self._model_index)

    @functools.cached_property
    def _gpu_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for gpu_id, entry in self.gpus.items():
            index[gpu_id] = gpu_id
            for alias in entry.aliases:
                index[alias.lower()] = gpu_id
        return index

    def gpu_entry(self, name: str) -> tuple[str, GpuEntry]:
        gpu_id = self._gpu_index.get(name.strip().lower())
        if gpu_id is None:
            raise UnknownGpuError(
                f"unknown GPU {name!r}" + did_you_mean(name, self._gpu_index) + "; `llmplan gpus` lists them"
            )
        return gpu_id, self.gpus[gpu_id]

    def api_entry(self, name: str) -> tuple[str, ApiEntry]:
        key = name.strip()
        if key in self.apis:
            return key, self.apis[key]
        lowered = {k.lower(): k for k in self.apis}
        for candidate in (key.lower(), *(f"{p}/{key.lower()}" for p in ("openai", "anthropic", "google"))):
            if candidate in lowered:
                real = lowered[candidate]
                return real, self.apis[real]
        suffix = [k for k in self.apis if k.lower().endswith("/" + key.lower())]
        if len(suffix) == 1:
            return suffix[0], self.apis[suffix[0]]
        index = {k.lower(): k for k in self.apis}
        raise CatalogError(f"unknown API offering {name!r}" + did_you_mean(name, index) + "; `llmplan apis` lists them")


# a price changed without its own source and date is sourced to the override file, dated the day it is read
_PRICE_SOURCES = {"purchase_usd": ("purchase_source", "purchase_as_of")}


def _load_gpu_overrides(path: Path, base: dict[str, GpuEntry]) -> dict[str, GpuEntry]:
    """A `--prices FILE`: entries for GPUs the catalog knows (by id or alias) merge field by field over them
    (`gpus: {h100-sxm: {purchase_usd: 25000}}`); new GPUs must be complete entries."""
    import datetime as dt

    raw = cached_yaml(path, "catalog", CatalogError)
    if not isinstance(raw, dict) or "gpus" not in raw:
        raise CatalogError(f"{path}: expected a mapping with a top-level 'gpus:' key")
    entries = raw["gpus"] or {}
    if not isinstance(entries, dict):
        raise CatalogError(f"{path}: 'gpus:' must map GPU ids to entries")
    index = {gpu_id: gpu_id for gpu_id in base}
    index.update({alias.lower(): gpu_id for gpu_id, entry in base.items() for alias in entry.aliases})
    new = {k: v for k, v in entries.items() if str(k).lower() not in index}
    out = _load_data(path, {**{k: v for k, v in raw.items() if k != "gpus"}, "gpus": new}, GpusFile, "gpus")
    for key, fields in entries.items():
        gpu_id = index.get(str(key).lower())
        if gpu_id is None:
            continue
        if not isinstance(fields, dict):
            raise CatalogError(f"{path}: entry {key!r}: expected a mapping of fields to merge over the catalog's")
        update = dict(fields)
        for price, (source, as_of) in _PRICE_SOURCES.items():
            if price in update:
                update.setdefault(source, f"{path} (override)")
                update.setdefault(as_of, dt.date.today())
        try:
            out[gpu_id] = GpuEntry.model_validate({**base[gpu_id].model_dump(), **update})
        except ValidationError as exc:
            from llmplan.errors import explain_error

            raise CatalogError(
                f"{path}: "
                + "; ".join(
                    f"entry {key!r} field {'.'.join(str(x) for x in err['loc']) or '(entry)'!r}: "
                    f"{explain_error(err, GpuEntry)}"
                    for err in exc.errors()[:5]
                )
            ) from None
    return out


def close_matches(name: str, index: dict[str, str], n: int = 3) -> list[str]:
    hits = difflib.get_close_matches(name.strip().lower(), list(index), n=n * 3, cutoff=0.5)
    seen: list[str] = []
    for hit in hits:
        real = index[hit]
        if real not in seen:
            seen.append(real)
    return seen[:n]


def did_you_mean(name: str, index: dict[str, str]) -> str:
    matches = close_matches(name, index)
    return f"; did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""
