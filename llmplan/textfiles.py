"""Reading the text files people hand us (catalogs, plans, workloads): checked once, parsed fast.

Every text input goes through `read_text_input`, so a binary, empty, oversized or non-UTF-8 file is the
same one-line error (exit 2) whichever command was given it. YAML is parsed with libyaml's C loader where
PyYAML was built with it (about 7x faster than the pure-Python one on the 430 KB model catalog); the
shipped catalogs are further cached as JSON keyed by their content hash (see `cached_yaml`).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from llmplan.errors import LlmplanError

MAX_TEXT_BYTES = 10 * 1000 * 1000
CACHE_FORMAT = 1  # bump when the cached representation changes

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text_input(path: Path, what: str, error: type[LlmplanError]) -> str:
    """The file's text, or `error` with one line naming the file and what is wrong with it."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise error(f"{path}: is a folder, expected a {what} file")
        if size > MAX_TEXT_BYTES:
            raise error(f"{path}: {size / 1e6:.1f} MB is too large for a {what} file (limit 10 MB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} file ({exc.strerror})") from None
    if b"\x00" in data:
        raise error(f"{path}: is a binary file, expected a {what} file in YAML text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: is not UTF-8 text (byte {exc.start}); save the {what} file as UTF-8") from None
    if not text.strip():
        raise error(f"{path}: the {what} file is empty")
    return text


def parse_yaml(text: str, path: Path, error: type[LlmplanError]) -> Any:
    """`yaml.safe_load` with the C loader; a syntax error is one line with the file and line."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise error(yaml_error_line(path, exc)) from None


def yaml_error_line(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{path}{where}: invalid YAML: {problem}"


def cache_dir() -> Path:
    """The user cache folder (`$LLMPLAN_CACHE_DIR`, else `$XDG_CACHE_HOME/llmplan`, else ~/.cache/llmplan)."""
    override = os.environ.get("LLMPLAN_CACHE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llmplan"


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot cache {type(value).__name__}")


def _string_keys_only(value: Any) -> bool:
    """JSON turns other keys into strings silently; such data must not round-trip through it."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _string_keys_only(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_string_keys_only(v) for v in value)
    return True


def cached_yaml(path: Path, what: str, error: type[LlmplanError]) -> Any:
    """Parse a YAML file, reusing a JSON copy keyed by the sha256 of its bytes.

    The YAML stays the source of truth: an edited file has a new hash, so its stale copy is never
    read. Dates come back as ISO strings (hit or miss), which the pydantic schemas parse back into
    dates; data JSON cannot hold (non-string keys) is never cached. A cache
    folder that cannot be written is no error: the file is then parsed every time.
    """
    text = read_text_input(path, what, error)
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{text}".encode()).hexdigest()[:32]
    cached = cache_dir() / f"yaml-{digest}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    data = parse_yaml(text, path, error)
    if not _string_keys_only(data):
        return data
    try:
        encoded = json.dumps(data, default=_json_default)
    except (TypeError, ValueError):
        return data  # something JSON cannot hold: parse this file every time
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(encoded, encoding="utf-8")
        os.replace(tmp, cached)
    except OSError:
        pass
    return json.loads(encoded)  # the same types on a miss as on a hit
