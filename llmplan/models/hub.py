"""Models read from the Hugging Face hub (or a compatible endpoint named by HF_ENDPOINT).

What is fetched: the repo's file list (`model_info`), its `config.json` (and `hf_quant_config.json`
where the repo has one) with `hf_hub_download`, and the JSON headers of its safetensors shards with
`HfApi.parse_safetensors_file_metadata` (a ranged read of each file's first bytes: weights are never
downloaded). The architecture comes from `model_spec_from_config`, the parameter count from the
headers; a repo without safetensors falls back to counts computed from its config.

Everything fetched stays cached: config files in the Hugging Face cache (HF_HOME), the parameter count
in a small JSON file under `$HF_HOME/llmplan/`, so a later run works with --offline (or
HF_HUB_OFFLINE=1).

Faults become one-line errors: a gated repo, a missing repo (with catalog ids that look alike), a hub
that answers with a server error, and a hub that does not answer: the whole online resolution gives up
after DEADLINE_S seconds, however huggingface_hub's own timeouts and retries are configured.

huggingface_hub is imported inside the functions, so `llmplan --help` does not pay for it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from llmplan.errors import (
    CatalogError,
    ConfigError,
    HubError,
    LlmplanError,
    UnknownModelError,
)
from llmplan.models.localfiles import (
    CONFIG_FILE,
    QUANT_CONFIG_FILE,
    SAFETENSORS_INDEX,
    build_spec,
    parse_json_config,
    pick_safetensors_files,
    safetensors_param_count,
)
from llmplan.models.resolved import ResolvedModel

if TYPE_CHECKING:
    from llmplan.catalog.loader import Catalog
    from llmplan.models.architecture import ModelSpec

DEADLINE_S = 20.0  # the whole online resolution of one repo gives up after this many seconds
HEADER_WORKERS = 8  # safetensors headers read in parallel (sharded checkpoints have up to ~200 shards)
DEFAULT_ENDPOINT = "https://huggingface.co"
PARAMS_FROM_HEADERS = "safetensors header (Hugging Face hub)"
PARAMS_FROM_CONFIG = "computed from config.json"


@dataclass
class HubModel:
    """What llmplan keeps of a hub repo."""

    repo_id: str
    config: dict[str, Any]
    params_total: int | None  # from the safetensors headers; None: computed from the config
    files: list[str] = field(default_factory=list)
    sha: str | None = None
    license: str | None = None
    from_cache: bool = False


# ------------------------------------------------------------------------------------ environment


def _env_true(name: str) -> bool:
    return (os.environ.get(name) or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hf_home() -> Path:
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(os.path.expanduser(home)))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "huggingface"


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment now (huggingface_hub reads it at import)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return Path(os.path.expandvars(os.path.expanduser(explicit)))
    return hf_home() / "hub"


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _token() -> str | None:
    """HF_TOKEN if set; None lets huggingface_hub use the token saved by `hf auth login`."""
    return (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or "").strip() or None


def _quiet_hub() -> None:
    """No progress bars or retry warnings on stderr: llmplan reports faults itself, in one line."""
    from huggingface_hub.utils import disable_progress_bars
    from huggingface_hub.utils import logging as hf_logging

    disable_progress_bars()
    hf_logging.set_verbosity_error()


# ------------------------------------------------------------------------------- parameter cache


def _cache_file(repo_id: str) -> Path:
    safe = repo_id.strip().lower().replace("/", "--")
    return hf_home() / "llmplan" / f"models--{safe}.json"


def _read_cache(repo_id: str) -> dict[str, Any] | None:
    path = _cache_file(repo_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_cache(model: HubModel) -> None:
    path = _cache_file(model.repo_id)
    record = {
        "repo_id": model.repo_id,
        "sha": model.sha,
        "files": model.files,
        "params_total": model.params_total,
        "params_source": PARAMS_FROM_HEADERS if model.params_total else PARAMS_FROM_CONFIG,
        "license": model.license,
        "fetched": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # the cache only saves a later run a download; a read-only HF_HOME must not fail this one


# ------------------------------------------------------------------------------ online fetching


def _config_from_files(repo_id: str, config_path: str, quant_path: str | None) -> dict[str, Any]:
    def read(path: str, name: str) -> dict[str, Any]:
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError(f"{name} of {repo_id} is not valid JSON: it is not UTF-8 text") from None
        except OSError as exc:
            raise ConfigError(f"{name} of {repo_id}: cannot read the cached copy ({exc.strerror or exc})") from None
        return parse_json_config(text, f"{name} of {repo_id}")

    config = read(config_path, CONFIG_FILE)
    if quant_path:
        config = {**config, "hf_quant_config": read(quant_path, QUANT_CONFIG_FILE)}
    return config


def _parallel_map(fn: Callable[[str], Any], items: list[str], workers: int) -> list[Any]:
    """fn over items in daemon threads (a stalled request must never keep the process alive)."""
    if len(items) <= 1:
        return [fn(i) for i in items]
    todo: queue.Queue[tuple[int, str]] = queue.Queue()
    for pair in enumerate(items):
        todo.put(pair)
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            try:
                idx, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[idx] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=work, daemon=True, name="llmplan-hub-header") for _ in range(min(workers, len(items)))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _fetch_online(repo_id: str, ep: str, token: str | None, cache_dir: Path, deadline_at: float) -> HubModel:
    from huggingface_hub import HfApi, hf_hub_download

    def remaining() -> float:
        return max(deadline_at - time.monotonic(), 0.5)

    api = HfApi(endpoint=ep, token=token)
    info = api.model_info(repo_id, timeout=remaining())
    canonical = str(getattr(info, "id", None) or repo_id)
    names = [s.rfilename for s in (info.siblings or [])]
    if names and CONFIG_FILE not in names:
        ggufs = [n for n in names if n.lower().endswith(".gguf")]
        hint = (
            "; it holds GGUF files: download one and pass its path"
            if ggufs
            else "; llmplan reads transformers-style repos"
        )
        raise ConfigError(f"{canonical} has no config.json{hint}")

    def download(filename: str) -> str:
        return hf_hub_download(
            canonical, filename, cache_dir=str(cache_dir), endpoint=ep, token=token, etag_timeout=remaining()
        )

    config_path = download(CONFIG_FILE)
    files = [CONFIG_FILE]
    quant_path = None
    if QUANT_CONFIG_FILE in names:
        quant_path = download(QUANT_CONFIG_FILE)
        files.append(QUANT_CONFIG_FILE)
    config = _config_from_files(canonical, config_path, quant_path)
    build_spec(canonical, config)  # a config llmplan cannot read fails here, before any header is fetched

    params: int | None = None
    index = None
    if SAFETENSORS_INDEX in names:
        index_path = download(SAFETENSORS_INDEX)
        try:
            index = json.loads(Path(index_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            index = None  # unreadable index: count from the config instead
    shards = pick_safetensors_files(names, index) if (index is not None or SAFETENSORS_INDEX not in names) else []
    if names and any(shard not in names for shard in shards):
        shards = []  # an index naming shards the repo lacks: count from the config instead
    if shards:

        def header(filename: str) -> list[tuple[str, str, list[int]]]:
            meta = api.parse_safetensors_file_metadata(canonical, filename, token=token, timeout=remaining())
            return [(name, t.dtype, list(t.shape)) for name, t in meta.tensors.items()]

        tensors = [entry for part in _parallel_map(header, shards, HEADER_WORKERS) for entry in part]
        params = safetensors_param_count(tensors, config) or None

    license_ = None
    card = getattr(info, "card_data", None)
    if card is not None:
        value = card.get("license") if hasattr(card, "get") else getattr(card, "license", None)
        license_ = str(value) if value else None
    return HubModel(
        repo_id=canonical,
        config=config,
        params_total=params,
        files=files,
        sha=getattr(info, "sha", None),
        license=license_,
    )


def _run_with_deadline(fn: Callable[[], Any], deadline_s: float, on_timeout: Callable[[], LlmplanError]) -> Any:
    """fn() in a daemon thread; gives up after deadline_s (the thread is left to die with the process)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="llmplan-hub")
    thread.start()
    thread.join(deadline_s + 0.5)
    if thread.is_alive():
        raise on_timeout()
    if "error" in box:
        raise box["error"]
    return box["result"]


# --------------------------------------------------------------------------------- fault mapping


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        cur = pending.pop(0)
        if cur is None or any(cur is seen for seen in out):
            continue
        out.append(cur)
        pending.extend([cur.__cause__, cur.__context__])
    return out


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return int(code) if isinstance(code, int) else None


def _suggestions(repo_id: str, catalog: Catalog | None) -> list[str]:
    try:
        if catalog is None:
            from llmplan.catalog.loader import Catalog

            catalog = Catalog()
        found: list[str] = []
        for query in (repo_id, repo_id.split("/")[-1]):
            for hit in catalog.similar_models(query):
                if hit not in found:
                    found.append(hit)
        return found[:3]
    except LlmplanError:
        return []


def _scrub(message: str) -> str:
    token = _token()
    return message.replace(token, "***") if token else message


_OFFLINE_HINT = "use --offline if it is cached, or a catalog id (`llmplan models`)"


class _Chain:
    """An exception with its causes and contexts, searched by type or by class name."""

    def __init__(self, exc: BaseException):
        self.items = _chain(exc)
        self.statuses = [s for s in (_status(e) for e in self.items) if s is not None]

    def find(self, kind: type | tuple[type, ...]) -> BaseException | None:
        return next((e for e in self.items if isinstance(e, kind)), None)

    def find_named(self, *names: str) -> BaseException | None:
        """By class name, so that it holds whichever HTTP client huggingface_hub uses (httpx2, requests)."""
        return next((e for e in self.items if any(c.__name__ in names for c in type(e).__mro__)), None)


def _repo_error(chain: _Chain, repo_id: str, catalog: Catalog | None) -> LlmplanError | None:
    """What the hub says about the repository itself: gated, missing, no revision or no config."""
    from huggingface_hub import errors as hf

    if chain.find(hf.GatedRepoError) is not None:
        return HubError(
            f"{repo_id} is gated: accept its licence on the Hub and set HF_TOKEN"
            + (" (the token set has no access to it yet)" if _token() else "")
        )
    missing_entry = chain.find(hf.RemoteEntryNotFoundError) is not None
    if chain.find(hf.RepositoryNotFoundError) is not None or (404 in chain.statuses and not missing_entry):
        suggestions = _suggestions(repo_id, catalog)
        hint = f"; did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        return UnknownModelError(
            f"{repo_id!r} is not a model on the Hugging Face hub (if it is private, set HF_TOKEN){hint}"
        )
    if chain.find(hf.RevisionNotFoundError) is not None:
        return HubError(f"{repo_id} has no 'main' revision on the hub")
    if missing_entry:
        return ConfigError(f"{repo_id} has no config.json on the hub; llmplan reads transformers-style repos")
    return None


def _status_error(statuses: list[int], repo_id: str) -> LlmplanError | None:
    for code in statuses:
        if code in (401, 403):
            return HubError(
                f"{repo_id} is gated (HTTP {code}, no access with the current token): accept its "
                "licence on the Hub and set HF_TOKEN"
            )
        if code == 429:
            return HubError(
                f"the Hugging Face hub is rate-limiting requests (HTTP 429) for {repo_id}; wait and "
                f"retry, set HF_TOKEN, or {_OFFLINE_HINT}"
            )
        if code >= 500:
            return HubError(
                f"the Hugging Face hub answered with an error (HTTP {code}) for {repo_id}; retry "
                f"later, or {_OFFLINE_HINT}"
            )
    return None


def _transport_error(chain: _Chain, repo_id: str, ep: str, deadline_s: float) -> LlmplanError | None:
    """Timeouts, offline mode, an unreachable or wrong endpoint."""
    from huggingface_hub import errors as hf

    if chain.find_named("TimeoutException", "Timeout", "TimeoutError") is not None:
        return HubError(
            f"the Hugging Face hub at {ep} did not answer within {deadline_s:g} s for {repo_id}; "
            f"check your network or HF_ENDPOINT, or {_OFFLINE_HINT}"
        )
    if chain.find(hf.OfflineModeIsEnabled) is not None:
        return HubError(
            f"{repo_id} is not in the local cache and HF_HUB_OFFLINE is set; run once online or unset HF_HUB_OFFLINE"
        )
    network = chain.find_named(
        "NetworkError", "RemoteProtocolError", "ProxyError", "UnsupportedProtocol", "ConnectionError", "ConnectError"
    )
    if network is not None:
        reason = str(network).splitlines()[0][:120] if str(network) else type(network).__name__
        return HubError(
            f"cannot reach the Hugging Face hub at {ep} ({_scrub(reason)}); check your network "
            f"or HF_ENDPOINT, or {_OFFLINE_HINT}"
        )
    if chain.find(hf.FileMetadataError) is not None:
        return HubError(
            f"{ep} does not answer like a Hugging Face hub (no X-Repo-Commit/ETag headers); check HF_ENDPOINT"
        )
    if chain.find(hf.LocalEntryNotFoundError) is not None:
        return HubError(
            f"cannot fetch {repo_id} from the Hugging Face hub at {ep} and it is not in the local "
            "cache; check your network, or use a catalog id"
        )
    return None


def _local_error(chain: _Chain, repo_id: str) -> LlmplanError | None:
    """A bad repo id, an unreadable header, or a cache llmplan cannot write."""
    from huggingface_hub import errors as hf

    if chain.find(hf.HFValidationError) is not None:
        return UnknownModelError(f"{repo_id!r} is not a valid Hugging Face repo id (org/name)")
    if chain.find(hf.SafetensorsParsingError) is not None:
        return ConfigError(f"a safetensors header of {repo_id} cannot be parsed")
    os_error = chain.find(OSError)
    if os_error is not None and getattr(os_error, "filename", None):
        return HubError(f"cannot write the Hugging Face cache ({os_error.filename}): {os_error.strerror or os_error}")
    return None


def translate_error(
    exc: BaseException, repo_id: str, catalog: Catalog | None, ep: str, deadline_s: float
) -> LlmplanError:
    """Any failure of a hub fetch as one short llmplan error (never the token's value)."""
    if isinstance(exc, LlmplanError):
        return exc
    chain = _Chain(exc)
    known = (
        _repo_error(chain, repo_id, catalog)
        or _status_error(chain.statuses, repo_id)
        or _transport_error(chain, repo_id, ep, deadline_s)
        or _local_error(chain, repo_id)
    )
    if known is not None:
        return known
    detail = str(exc).splitlines()[0][:160] if str(exc) else ""
    return HubError(
        _scrub(
            f"reading {repo_id} from the Hugging Face hub failed: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
        )
    )


# ------------------------------------------------------------------------------------ resolution


def _not_cached(repo_id: str) -> HubError:
    how = "unset HF_HUB_OFFLINE" if _env_true("HF_HUB_OFFLINE") else "drop --offline"
    return HubError(f"{repo_id} is not in the local cache; run once online or {how}")


def _load_cached(repo_id: str) -> HubModel:
    """A repo from the caches only: no request is made."""
    from huggingface_hub import hf_hub_download

    meta = _read_cache(repo_id) or {}
    canonical = str(meta.get("repo_id") or repo_id)
    cache_dir = str(hub_cache_dir())

    def local(filename: str) -> str | None:
        for rid in dict.fromkeys((canonical, repo_id)):
            try:
                return hf_hub_download(rid, filename, cache_dir=cache_dir, local_files_only=True)
            except Exception:  # noqa: BLE001 - any miss means "not cached"
                continue
        return None

    config_path = local(CONFIG_FILE)
    if config_path is None:
        raise _not_cached(repo_id)
    files = meta.get("files") if isinstance(meta.get("files"), list) else None
    quant_path = None
    if files is None or QUANT_CONFIG_FILE in files:
        quant_path = local(QUANT_CONFIG_FILE)
        if quant_path is None and files is not None:
            raise _not_cached(repo_id)
    params = meta.get("params_total")
    return HubModel(
        repo_id=canonical,
        config=_config_from_files(canonical, config_path, quant_path),
        params_total=int(params) if isinstance(params, int) and params > 0 else None,
        files=[CONFIG_FILE] + ([QUANT_CONFIG_FILE] if quant_path else []),
        sha=meta.get("sha"),
        license=meta.get("license"),
        from_cache=True,
    )


def load_hub_model(repo_id: str, *, offline: bool = False, catalog: Catalog | None = None) -> HubModel:
    """Config and parameter count of a hub repo: online (then cached), or from the cache when offline."""
    repo_id = repo_id.strip()
    offline = offline or _env_true("HF_HUB_OFFLINE")
    try:
        _quiet_hub()
    except ImportError:
        raise HubError(
            "reading models from the Hugging Face hub needs the huggingface_hub package (pip install huggingface-hub)"
        ) from None
    try:
        if offline:
            return _load_cached(repo_id)
    except LlmplanError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate_error(exc, repo_id, catalog, endpoint(), DEADLINE_S) from None

    ep, token, cache_dir, deadline = endpoint(), _token(), hub_cache_dir(), float(DEADLINE_S)
    deadline_at = time.monotonic() + deadline

    def timed_out() -> HubError:
        return HubError(
            f"the Hugging Face hub at {ep} did not answer within {deadline:g} s for {repo_id}; "
            "check your network or HF_ENDPOINT, or use --offline if it is cached, or a catalog id "
            "(`llmplan models`)"
        )

    try:
        model = _run_with_deadline(
            lambda: _fetch_online(repo_id, ep, token, cache_dir, deadline_at), deadline, timed_out
        )
    except LlmplanError:
        raise
    except Exception as exc:  # noqa: BLE001 - every fault becomes one line
        raise translate_error(exc, repo_id, catalog, ep, deadline) from None
    _write_cache(model)
    return model


def spec_of(model: HubModel) -> ModelSpec:
    return build_spec(model.repo_id, model.config, params_total=model.params_total)


def read_hub_model(repo_id: str, *, offline: bool = False, catalog: Catalog | None = None) -> ResolvedModel:
    """A Hugging Face repo as a ResolvedModel (source "hub", or "hub-cache" when read offline)."""
    model = load_hub_model(repo_id, offline=offline, catalog=catalog)
    return ResolvedModel(spec=spec_of(model), source="hub-cache" if model.from_cache else "hub")


# ------------------------------------------------------------------------------- user catalog


def add_to_user_catalog(repo_id: str, offline: bool = False) -> tuple[Path, str]:
    """Fetch (or reuse the cache of) a hub repo and save it into the user's catalog file."""
    import yaml
    from pydantic import ValidationError

    from llmplan.catalog.loader import Catalog, describe_validation_error, user_models_path
    from llmplan.catalog.schemas import ModelEntry, ModelsFile

    catalog = Catalog()
    model = load_hub_model(repo_id, offline=offline, catalog=catalog)
    spec = spec_of(model)
    model_id = model.repo_id

    alias = model_id.split("/")[-1].lower()
    owner = catalog.find_model(alias)
    aliases = [alias] if " " not in alias and (owner is None or owner == model_id) else []
    license_ = model.license or model.config.get("license") or "unknown"
    entry: dict[str, Any] = {
        "aliases": aliases,
        "family": str(model.config.get("model_type") or spec.model_type),
        "license": str(license_),
        "params_total": spec.params_total,
    }
    if spec.params_active != spec.params_total:
        entry["params_active"] = spec.params_active
    entry.update(
        {
            "params_source": PARAMS_FROM_HEADERS if model.params_total else PARAMS_FROM_CONFIG,
            "native_quant": spec.native_quant,
            "source": f"https://huggingface.co/{model_id}/blob/main/config.json",
            "as_of": dt.date.today(),
            "config": model.config,
        }
    )
    try:
        ModelEntry.model_validate(entry)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(model_id, exc, "models")) from None

    path = user_models_path()
    data: dict[str, Any] = {"models": {}}
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CatalogError(
                f"{path}: cannot read it to add {model_id} ({str(exc).splitlines()[0]}); fix or move the file"
            ) from None
        if loaded is not None:
            if not isinstance(loaded, dict) or not isinstance(loaded.get("models") or {}, dict):
                raise CatalogError(f"{path}: expected a mapping with a top-level 'models:' key; fix or move the file")
            data = loaded
            data["models"] = dict(loaded.get("models") or {})
    data["models"][model_id] = entry
    try:
        ModelsFile.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(describe_validation_error(path, exc, "models")) from None
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path, model_id
