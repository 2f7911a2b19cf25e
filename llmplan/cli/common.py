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
        except BrokenPipeError:
            raise
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
