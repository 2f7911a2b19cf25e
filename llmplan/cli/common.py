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


def examples(*commands: str) -> str:
    """An `Examples:` help section the help formatter prints as written: each command its own unwrapped
    paragraph (the `\\b` marker), a long one continued with ` \\` at the end of a line, so that what is
    pasted from `--help` runs as is."""
    return "Examples:\n\n" + "\n\n".join("\b\n  " + c.replace("\n", "\n  ") for c in commands) + "\n"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output: table, json or markdown.")]
PricesOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--prices", help="GPU catalog YAML merged over the shipped data/gpu_prices.yaml (repeatable).", exists=False
    ),
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
PerfModelOpt = Annotated[
    str,
    typer.Option(
        "--perf-model",
        envvar="LLMPLAN_PERF_MODEL",
        metavar="MODEL",
        help="Performance model for every figure of the run: analytic (llmplan's step model on measured kernels) "
        "or aiconfigurator (NVIDIA's estimator; needs the aiconfigurator extra).",
    ),
]


def perf_model_option(value: str) -> str:
    """The performance model named on the command line or in LLMPLAN_PERF_MODEL (one note for `auto`)."""
    from llmplan.plans.perf_model import perf_model_name

    name, note = perf_model_name(value)
    if note:
        typer.echo(f"note: {note}", err=True)
    return name


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, no traceback."""
    first = " ".join(str(message).split("\n")[0].split())
    sys.stderr.write(f"error: {first}\n")
    raise typer.Exit(code)


def quiet_stdout() -> None:
    """Point stdout at the null device, so nothing more (not even the flush at exit) hits a closed pipe."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


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
            from llmplan.errors import describe_validation

            fail(describe_validation(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except BrokenPipeError:
            # `llmplan ... | head`: the reader left; end quietly and successfully (the CLI framework would exit 1)
            quiet_stdout()
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug: still one line, the traceback on request
            import os

            from llmplan.errors import EXIT_INTERNAL, internal_error_message

            if os.environ.get("LLMPLAN_DEBUG"):
                raise
            fail(internal_error_message(exc), EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


PLOT_FORMATS = (".png", ".svg", ".pdf")


def check_plot_path(path: Path | None) -> None:
    """`--plot FILE`: an image format matplotlib writes, said before any work is done."""
    if path is not None and path.suffix.lower() not in PLOT_FORMATS:
        from llmplan.errors import InputError

        raise InputError(
            f"--plot writes {', '.join(PLOT_FORMATS[:-1])} or {PLOT_FORMATS[-1]} files, got "
            f"{str(path)!r}; give a name such as curve.png"
        )


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def console(width: int | None = None):
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1; a reader that left (`| head`) is no failure: the error boundary ends with 0
            raise BrokenPipeError

    return _Console(width=width, soft_wrap=False)


def gb(x: float | int | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x / 1e9:,.{digits}f} GB"


def num(x: float | int | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


NARROW = 100  # below this many columns, tables drop the columns a reader needs least (JSON keeps them all)


def fold_id(text: str, width: int) -> str:
    """An id broken into lines of at most `width` at its '/', '-', '_' or '.' boundaries, never mid-word
    unless one piece alone is longer than the line (rich would otherwise cut `gpt-` | `4o-mini` anywhere)."""
    import re

    if len(text) <= width:
        return text
    lines: list[str] = []
    line = ""
    for piece in re.split(r"(?<=[/\-_.])", text):
        while len(piece) > width:  # a piece too long for any line: split it hard
            if line:
                lines.append(line)
                line = ""
            lines.append(piece[:width])
            piece = piece[width:]
        if len(line) + len(piece) > width:
            lines.append(line)
            line = piece
        else:
            line += piece
    if line:
        lines.append(line)
    return "\n".join(lines)


def id_width(console_width: int, other_widths: list[int], longest: int, floor: int = 14) -> int:
    """Width left for an id column once the other columns (and a boxed table's borders) are placed."""
    spare = console_width - sum(other_widths) - 3 * (len(other_widths) + 1) - 1
    return max(floor, min(longest, spare))


def print_bullets(out, items: list[str], marker: str = "-") -> None:
    """Bullets whose wrapped lines hang under their text, not under the marker."""
    from rich.table import Table

    if not items:
        return
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for item in items:
        grid.add_row(f"  {marker}", item)
    out.print(grid)


def verdict_points(text: str) -> list[str]:
    """A verdict paragraph as short points: split at sentences and semicolons."""
    import re

    return [p.strip().rstrip(".;") for p in re.split(r"(?<=[.;])\s+", text) if p.strip()]


def hub_spinner(model: str | None, catalog, fmt: str = "table"):
    """A spinner on stderr while `model` is read from the Hugging Face hub: only for table output on a
    terminal, and only when the name is neither a catalog entry nor a local path (nothing to wait for)."""
    import contextlib
    import os

    if (
        not model
        or str(getattr(fmt, "value", fmt)) != "table"
        or not sys.stderr.isatty()
        or os.environ.get("CI")
        or catalog.find_model(model) is not None
        or os.path.exists(model)
    ):
        return contextlib.nullcontext()
    from rich.console import Console

    return Console(stderr=True).status(f"reading {model} from the Hugging Face hub", spinner="dots")
