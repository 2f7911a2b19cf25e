"""What every command shares: option types, output, and the single error boundary."""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

import typer

from llmplan.errors import LlmplanError

F = TypeVar("F", bound=Callable[..., Any])


class Format(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class TabularFormat(str, Enum):
    """Outputs of commands whose rows someone may want to keep (sweeps, comparisons)."""

    table = "table"
    json = "json"
    markdown = "markdown"
    csv = "csv"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output: table, json or markdown.")]
PricesOpt = Annotated[
    list[Path] | None,
    typer.Option("--prices", help="GPU catalog YAML merged over the shipped data/gpu_prices.yaml (repeatable).",
                 exists=False),
]
ModelsOpt = Annotated[
    list[Path] | None,
    typer.Option("--models", help="Model catalog YAML merged over the shipped data/models.yaml (repeatable)."),
]
ApiPricesOpt = Annotated[
    list[Path] | None,
    typer.Option("--api-prices", help="API price YAML merged over the shipped data/api_prices.yaml."),
]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Never contact the Hugging Face hub; use the cache.")]


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, no traceback."""
    first = " ".join(str(message).split("\n")[0].split())
    sys.stderr.write(f"error: {first}\n")
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """The error boundary: project errors and validation errors become one line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except LlmplanError as exc:
            fail(str(exc), exc.exit_code)
        except ValidationError as exc:
            errs = exc.errors()
            parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in errs[:3]]
            fail("invalid input: " + "; ".join(parts))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # a bug: still one line, the traceback on request
            import os

            if os.environ.get("LLMPLAN_DEBUG"):
                raise
            fail(f"internal error ({type(exc).__name__}: {exc}); rerun with LLMPLAN_DEBUG=1 for the traceback "
                 "and report it", 1)

    return wrapper  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def console(width: int | None = None):
    from rich.console import Console

    return Console(width=width, soft_wrap=False)


def gb(x: float | int | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x / 1e9:,.{digits}f} GB"


def num(x: float | int | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def parse_gpu(value: str) -> tuple[int, str]:
    """`h100-sxm`, `8xh100-sxm` or `8x h100-sxm` -> (count, id)."""
    text = value.strip().lower().replace(" ", "")
    head, sep, tail = text.partition("x")
    if sep and head.isdigit() and tail:
        n = int(head)
        if n < 1 or n > 1024:
            raise typer.BadParameter(f"GPU count must be 1-1024, got {n}")
        return n, tail
    if text.startswith("-") or text[:1].isdigit() and "x" not in text:
        raise typer.BadParameter(f"cannot read GPU {value!r}; use ID or NxID, e.g. h100-sxm or 4xh100-sxm")
    return 1, text


def positive_int(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise LlmplanError(f"{name} must be a positive whole number, got {value}")
    return value


def parse_range(name: str, value: str | float | None) -> tuple[float, float] | None:
    """`10..20` -> (10, 20); `15` -> (15, 15)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        if ".." in text:
            lo, hi = (float(p) for p in text.split("..", 1))
        else:
            lo = hi = float(text)
    except ValueError:
        raise LlmplanError(f"{name} must be a number or a range LOW..HIGH, got {value!r}") from None
    if lo < 0 or hi < lo:
        raise LlmplanError(f"{name} range must satisfy 0 <= LOW <= HIGH, got {value!r}")
    return lo, hi
