"""`llmplan check`: a CI gate for planned deployments."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import (
    ModelsOpt,
    PerfModelOpt,
    PricesOpt,
    console,
    emit_json,
    examples,
    fold_id,
    handle_errors,
    id_width,
    perf_model_option,
)

HELP = """Check planned deployments (YAML) against memory, speed and budget limits.

Exit code 0 when every deployment meets every limit, 1 when any does not, 2 when a plan is invalid.

""" + examples(
    "llmplan check --init > plans/llm.yaml",
    "llmplan check plans/ --format github",
    "llmplan check plans/llm.yaml --format junit > llmplan-junit.xml",
)


class CheckFormat(str, Enum):
    table = "table"
    json = "json"
    junit = "junit"
    github = "github"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    return str(v)


@app.command("check", help=HELP)
@handle_errors
def check_command(
    files: Annotated[list[Path] | None, typer.Argument(help="Plan YAML files or folders.")] = None,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table, json, junit or github.")
    ] = CheckFormat.table,
    init: Annotated[bool, typer.Option("--init", help="Print a commented example plan and exit.")] = False,
    emit: Annotated[
        bool,
        typer.Option(
            "--emit",
            help="After the table, print the command that launches each "
            "deployment on its engine (JSON always carries it under estimate.launch).",
        ),
    ] = False,
    prices: PricesOpt = None,
    models: ModelsOpt = None,
    perf_model: PerfModelOpt = "analytic",
) -> None:
    from llmplan.catalog.loader import Catalog
    from llmplan.errors import PlanError
    from llmplan.plans.check import INIT_PLAN, run_check

    if init:
        sys.stdout.write(INIT_PLAN)
        return
    if not files:
        raise PlanError("give plan files or folders (or --init for an example plan)")
    results = run_check(
        list(files), Catalog(models_files=models, gpus_files=prices), perf_model=perf_model_option(perf_model)
    )
    passed = all(r.passed for r in results)
    try:
        _render(results, passed, fmt, emit)
        sys.stdout.flush()
    except BrokenPipeError:
        # `llmplan check plans/ | head`: the reader left early, but the gate's verdict still stands
        from llmplan.cli.common import quiet_stdout

        quiet_stdout()
        raise typer.Exit(0 if passed else 1) from None
    if not passed:
        raise typer.Exit(1)


def _gh(text: str) -> str:
    """A GitHub workflow command's message: %, CR and LF escaped as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _junit(results) -> str:
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(not r.passed for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name="llmplan check" tests="{len(results)}" failures="{failures}" errors="0">',
    ]
    for r in results:
        lines.append(
            f"  <testcase classname={quoteattr(r.path)} name={quoteattr(r.name)} file={quoteattr(r.path)} "
            f'line="{r.line}">'
        )
        if r.failures:  # one <failure> per test case (JUnit readers show only the first), every reason in it
            reasons = [
                f"{x.limit}: estimate {_fmt(x.actual)}, required {_fmt(x.required)}"
                + (f" ({x.note})" if x.note else "")
                for x in r.failures
            ]
            message = "; ".join(
                f"{x.limit}: estimate {_fmt(x.actual)}, required {_fmt(x.required)}" for x in r.failures
            )
            lines.append(
                f'    <failure message={quoteattr(message)} type="limit">{escape(chr(10).join(reasons))}</failure>'
            )
        body = ["; ".join(f"{x.limit}={_fmt(x.actual)} (required {_fmt(x.required)})" for x in r.limits)]
        body += [f"warning: {w}" for w in r.warnings]
        lines.append(f"    <system-out>{escape(chr(10).join(body))}</system-out>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def _render(results, passed: bool, fmt: "CheckFormat", emit: bool) -> None:
    if fmt == CheckFormat.json:
        _render_json(results, passed)
    elif fmt == CheckFormat.junit:
        sys.stdout.write(_junit(results))
    elif fmt == CheckFormat.github:
        _render_github(results)
    else:
        _render_table(results, emit)


def _render_json(results, passed: bool) -> None:
    from llmplan.plans.outputs import CheckOutput, json_output

    deployments = [
        {
            "name": r.name,
            "file": r.path,
            "line": r.line,
            "passed": r.passed,
            "limits": [
                {"limit": x.limit, "required": x.required, "actual": x.actual, "passed": x.passed, "note": x.note}
                for x in r.limits
            ],
            "estimate": r.estimate,
            "cost": r.cost,
            "warnings": r.warnings,
        }
        for r in results
    ]
    emit_json(json_output(CheckOutput, {"passed": passed, "deployments": deployments}))


def _render_github(results) -> None:
    """GitHub Actions workflow commands: an error per broken limit and a warning per warning, at the plan line."""
    for r in results:
        for x in r.failures:
            msg = f"{r.name}: {x.limit} requires {_fmt(x.required)}, estimate is {_fmt(x.actual)}"
            if x.note:
                msg += f" ({x.note})"
            sys.stdout.write(f"::error file={r.path},line={r.line},title=llmplan check::{_gh(msg)}\n")
        for w in r.warnings:
            sys.stdout.write(f"::warning file={r.path},line={r.line},title=llmplan check::{_gh(f'{r.name}: {w}')}\n")
    ok = sum(r.passed for r in results)
    sys.stdout.write(f"llmplan check: {ok}/{len(results)} deployments pass\n")


def _render_table(results, emit: bool) -> None:
    from rich import box
    from rich.markup import escape as plain
    from rich.table import Table

    out = console()
    width = id_width(out.width, [23, 10, 10, 6], max((len(r.name) for r in results), default=10), floor=12)
    t = Table(title="llmplan check", title_justify="left", box=box.SIMPLE_HEAD)
    t.add_column("deployment", no_wrap=True, width=width)
    for col, just in (("limit", "left"), ("estimate", "right"), ("required", "right"), ("result", "left")):
        t.add_column(col, justify=just, no_wrap=True, min_width=len(col))
    for r in results:
        name = fold_id(r.name, width)
        if not r.limits:
            t.add_row(name, "(no limits)", "", "", "pass")
        for x in r.limits:
            t.add_row(name, x.limit, _fmt(x.actual), _fmt(x.required), "[green]pass[/]" if x.passed else "[red]FAIL[/]")
    out.print(t)
    for r in results:
        for x in r.failures:
            out.print(
                "[red]FAIL[/] "
                + plain(
                    f"{r.name} ({r.path}:{r.line}): {x.limit} requires "
                    f"{_fmt(x.required)}, estimate {_fmt(x.actual)}" + (f"; {x.note}" if x.note else "")
                )
            )
    for r in results:
        for w in r.warnings:  # everything the JSON carries
            out.print("[yellow]warning[/] " + plain(f"{r.name}: {w}"))
    ok = sum(r.passed for r in results)
    out.print(f"{ok}/{len(results)} deployments pass")
    if emit:
        for r in results:
            launch = (r.estimate or {}).get("launch")
            if launch:
                out.print(f"[bold]{r.name}[/] ({launch['engine']}):")
                out.print(launch["command"], soft_wrap=True, highlight=False, markup=False)
