"""Write docs/cli.md from the commands' own `--help`, so the reference cannot drift from the code.

python -m llmplan.cli.docs            # rewrite docs/cli.md
python -m llmplan.cli.docs --check    # exit 1 if docs/cli.md is out of date (tests/test_help.py runs it)
"""

from __future__ import annotations

import sys
from pathlib import Path

WIDTH = 100
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def command_paths() -> list[list[str]]:
    """Every command and sub-command, in the order `llmplan --help` lists them."""
    import typer.main

    from llmplan.cli import app

    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    for name, cmd in root.commands.items():
        paths.append([name])
        for sub in getattr(cmd, "commands", {}) or {}:
            paths.append([name, sub])
    return paths


def help_text(path: list[str]) -> str:
    from typer.testing import CliRunner

    from llmplan.cli import app

    result = CliRunner().invoke(
        app, [*path, "--help"], env={"COLUMNS": str(WIDTH), "NO_COLOR": "1"}, terminal_width=WIDTH, prog_name="llmplan"
    )
    return result.stdout.rstrip() + "\n"


def help_examples(path: list[str]) -> list[str]:
    """The commands of a `--help` Examples section, each as one line (` \\` continuations joined): the
    paragraphs after `Examples:` that start with `llmplan `."""
    text = help_text(path)
    if "Examples:" not in text:
        return []
    block = text.split("Examples:", 1)[1]
    commands = []
    for paragraph in block.split("\n\n"):
        lines = [line.strip() for line in paragraph.strip("\n").splitlines()]
        if not lines or not lines[0]:
            continue
        if not lines[0].startswith("llmplan "):
            break
        commands.append(" ".join(line.removesuffix("\\").strip() for line in lines))
    return commands


def render() -> str:
    parts = [
        "# Command-line reference",
        "",
        "Generated from `--help` by `python -m llmplan.cli.docs`; `tests/test_help.py` keeps it in step.",
        "",
    ]
    for path in command_paths():
        title = " ".join(["llmplan", *path])
        parts += [f"## `{title}`", "", "```text", help_text(path).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
        if current != text:
            sys.stderr.write(f"{DOC} is out of date: run python -m llmplan.cli.docs\n")
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
