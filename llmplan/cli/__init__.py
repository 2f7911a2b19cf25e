"""The command-line interface: thin commands that parse options, call the core and render.

Nothing heavy is imported here: each command imports what it uses, so `llmplan --help` stays fast.
"""

from __future__ import annotations

import typer

from llmplan import __version__
from llmplan.cli.catalog_cmd import APIS_HELP, GPUS_HELP, apis_command, gpus_command, models_app
from llmplan.cli.fit_cmd import FIT_HELP, fit_command
from llmplan.cli.metavars import ReadableGroup
from llmplan.errors import EXIT_CODES_HELP

app = typer.Typer(
    cls=ReadableGroup,
    name="llmplan",
    help="Capacity and cost planner for self-hosted LLMs: will it fit, how fast, and what it costs against APIs.",
    no_args_is_help=True,
    epilog=EXIT_CODES_HELP,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmplan {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Capacity and cost planner for self-hosted LLMs."""


app.command("fit", help=FIT_HELP)(fit_command)
app.add_typer(models_app, name="models")
app.command("gpus", help=GPUS_HELP)(gpus_command)
app.command("apis", help=APIS_HELP)(apis_command)


# These modules register their commands on `app` when imported (they import only typer at the top).
from llmplan.cli import breakeven_cmd, check_cmd, compare_cmd, finetune_cmd, plan_cmd, schema_cmd  # noqa: E402,F401


def main() -> None:
    """The console script: usage errors become one line on stderr (exit 2); a closed pipe ends quietly;
    anything else is a bug: one line saying where to report it (exit 3)."""
    import os
    import sys

    from llmplan.cli.common import quiet_stdout
    from llmplan.errors import EXIT_INTERNAL, internal_error_message

    try:
        code = app(standalone_mode=False)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's own flush at exit
    except BrokenPipeError:
        # `llmplan ... | head`: the reader left; stop without a traceback
        quiet_stdout()
        sys.exit(0)
    except SystemExit:
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":  # the CLI framework met a closed pipe (--help | head)
            quiet_stdout()
            sys.exit(0)
        raise
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            # bare `llmplan` (or `llmplan models`): the help, as asked for, not an error
            sys.stdout.write(exc.ctx.get_help() + "\n")
            sys.exit(0)
        # the CLI framework's usage errors (bad option, missing argument) carry these two attributes
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            command = getattr(getattr(exc, "ctx", None), "command_path", "llmplan")
            sys.stderr.write(f"error: {exc.format_message()} (see `{command} --help`)\n")
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.stderr.write("error: aborted\n")
            sys.exit(130)
        if os.environ.get("LLMPLAN_DEBUG"):
            raise
        sys.stderr.write(f"error: {internal_error_message(exc)}\n")
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
