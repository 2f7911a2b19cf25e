"""One exception family; the CLI maps every one of them to a one-line message and exit code 2.

Exit codes, the same in every command: 0 success; 1 a limit or target not met (`check`); 2 bad input;
3 an internal error (a bug in llmplan: one line saying where to report it).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
# the largest count or rate llmplan takes (tokens, requests, sequences): beyond it a figure is a typo
# (1e30 tokens is more text than exists), and float arithmetic on it would print nonsense
MAX_COUNT = 1e15

REPORT_TO = "the llmplan maintainers with the command you ran"

# `\b` keeps the help formatter from re-wrapping the lines (and cutting the address in two)
EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  a limit or target not met (check)\n"
    "  2  bad input: a one-line error saying what is wrong and how to fix it\n"
    f"  3  internal error: a bug in llmplan; please report it to\n     {REPORT_TO}"
)


def internal_error_message(exc: BaseException) -> str:
    """The one line a bug is shown as: what broke, how to see more, where to report it."""
    detail = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return (
        f"internal error ({what}); this is a bug in llmplan: please report it to {REPORT_TO} "
        "(rerun with LLMPLAN_DEBUG=1 for the traceback)"
    )


class LlmplanError(Exception):
    """Base class of every error llmplan reports to a user (exit code 2)."""

    exit_code = EXIT_INPUT


class CatalogError(LlmplanError):
    """A catalog file (shipped or user-supplied) is missing, unreadable or invalid."""


class UnknownModelError(LlmplanError):
    """A model id that no catalog, hub or local file knows."""


class UnknownGpuError(LlmplanError):
    """A GPU id that the catalog does not know."""


class UnsupportedError(LlmplanError):
    """A combination that cannot run (a format the engine cannot execute, ...)."""


class ConfigError(LlmplanError):
    """A model config.json / GGUF header that cannot be read into an architecture."""


class HubError(LlmplanError):
    """The Hugging Face hub could not be reached or refused the request."""


class PlanError(LlmplanError):
    """A deployment plan (llmplan check) is invalid."""


class InputError(LlmplanError):
    """A command-line value that is out of range or malformed."""


def _model_in(annotation):
    """The pydantic model inside a field's type (`X | None`, `dict[str, X]`, `list[X]`), or None."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(model, loc: tuple) -> list[str]:
    """The field names valid where `loc` points, walking nested models (dict keys and list indexes skipped)."""
    current = model
    for part in loc[:-1]:
        if current is None:
            return []
        if isinstance(part, str) and part in current.model_fields:
            current = _model_in(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def closest_key(key: str, valid: list[str]) -> str | None:
    import difflib

    hits = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    return hits[0] if hits else None


_UNION_TAGS = {"int", "float", "str", "bool", "list", "dict", "none", "date", "datetime"}


def clean_loc(loc) -> tuple:
    """An error location as the user wrote it: without the type tags pydantic adds for `int | str` fields."""
    return tuple(p for p in (loc or ()) if not (isinstance(p, str) and (p in _UNION_TAGS or "[" in p)))


def explain_error(err: dict, model=None) -> str:
    """One pydantic error as a phrase without its location: "must be at least 1, got 0", "unknown key; did
    you mean 'context'?". `model` (the validated class) lets an unknown key name the closest valid one."""
    import re

    loc = clean_loc(err.get("loc"))
    kind = err.get("type", "")
    given = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        valid = _fields_at(model, loc) if model is not None and loc else []
        best = closest_key(str(loc[-1]), valid) if valid else None
        if best:
            return f"unknown key; did you mean {best!r}?"
        return f"unknown key; valid keys: {', '.join(valid)}" if valid else "unknown key"
    if kind == "missing":
        return "is required"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or err.get("msg", "")).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        m = re.fullmatch(r"\^\(([\w|.-]+)\)\$", str(ctx.get("pattern", "")))
        return f"must be {' or '.join(m.group(1).split('|')) if m else 'a valid value'}, got {given!r}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected', 'one of the listed values')}, got {given!r}"
    bounds = {
        "greater_than": "greater than",
        "greater_than_equal": "at least",
        "less_than": "less than",
        "less_than_equal": "at most",
    }
    if kind in bounds:
        bound = next(iter(ctx.values()), "?")
        shown = f"{bound:g}" if isinstance(bound, float) else str(bound)
        got = f"{given:g}" if isinstance(given, float) else repr(given)
        return f"must be {bounds[kind]} {shown}, got {got}"
    if kind.endswith(("_parsing", "_type")):
        wanted = {
            "int": "a whole number",
            "float": "a number",
            "bool": "true or false",
            "string": "text",
            "dict": "a mapping",
            "list": "a list",
            "date": "a date (YYYY-MM-DD)",
            "model": "a mapping",
        }
        what = next((v for k, v in wanted.items() if kind.startswith(k)), "another kind of value")
        return f"must be {what}, got {given!r}"
    return str(err.get("msg", "invalid value"))


def describe_validation(exc, model=None, name=None, limit: int = 3) -> str:
    """A pydantic ValidationError in the user's words, one phrase per problem: which key or flag (`name(loc)`,
    by default the dotted path), what is wrong, how to fix it. No validator boilerplate ("Value error, ",
    "Extra inputs are not permitted", regular expressions) reaches the user."""
    name = name or (lambda loc: ".".join(str(x) for x in loc))
    parts = []
    for err in exc.errors()[:limit]:
        loc = clean_loc(err.get("loc"))
        where = name(loc) if loc else ""
        phrase = explain_error(err, model)
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown key {where!r}" + phrase.removeprefix("unknown key"))
        elif not where:
            parts.append(phrase)
        elif phrase.startswith(("must ", "is required")):
            parts.append(f"{where} {phrase}")
        else:
            parts.append(f"{where}: {phrase}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def check_magnitude(name: str, value: float | int | None) -> None:
    """Bad input when a count or rate is not a finite number up to MAX_COUNT (1e15)."""
    import math

    if value is None:
        return
    if not math.isfinite(float(value)) or abs(float(value)) > MAX_COUNT:
        raise InputError(
            f"{name} {float(value):g} is beyond {MAX_COUNT:g}, more than any real workload; "
            "check the figure (e.g. 1e9, not 1e30)"
        )
