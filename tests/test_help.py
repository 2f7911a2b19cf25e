"""`--help` reads as people expect: named placeholders, examples, and a reference page kept in step."""

from __future__ import annotations

import re

import pytest

from llmplan.cli import docs

PATHS = docs.command_paths()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "llmplan")
def test_help_has_no_type_placeholders(path):
    text = docs.help_text(path)
    assert text.startswith("Usage: llmplan"), text[:200]
    assert not re.search(r"<(str|int|float|list\[|path|Path)", text), text
    assert not re.search(r"\{[a-z_]+\}", text), text


@pytest.mark.parametrize("path", [p for p in PATHS if len(p) == 1 and p[0] not in ("models",)], ids=lambda p: p[0])
def test_each_command_has_an_example(path):
    body = docs.help_text(path).split("\n", 1)[1]  # past the usage line
    assert "Example" in body and f"llmplan {path[0]} " in body, body[:400]


def test_reference_page_is_current():
    assert docs.DOC.is_file(), "run python -m llmplan.cli.docs"
    assert docs.DOC.read_text(encoding="utf-8") == docs.render(), "docs/cli.md is stale: python -m llmplan.cli.docs"


def test_spinner_only_on_a_terminal_for_hub_models(monkeypatch, catalog):
    import contextlib
    import sys

    from llmplan.cli.common import hub_spinner

    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            return len(s)

        def flush(self):
            pass

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", Tty())
    assert not isinstance(hub_spinner("org/not-in-catalog", catalog, "table"), contextlib.nullcontext)
    assert isinstance(hub_spinner("org/not-in-catalog", catalog, "json"), contextlib.nullcontext)
    assert isinstance(hub_spinner("llama-3.1-8b-instruct", catalog, "table"), contextlib.nullcontext)
    monkeypatch.setenv("CI", "true")
    assert isinstance(hub_spinner("org/not-in-catalog", catalog, "table"), contextlib.nullcontext)


def _example_paragraphs(text: str) -> list[list[str]]:
    """The paragraphs of a --help text's Examples section that hold commands, as their raw lines."""
    block = text.split("Examples:", 1)[1]
    out = []
    for paragraph in block.split("\n\n"):
        lines = paragraph.strip("\n").splitlines()
        if not lines or not lines[0].strip():
            continue
        if not lines[0].strip().startswith("llmplan "):
            break
        out.append(lines)
    return out


@pytest.mark.parametrize("path", [p for p in PATHS if p], ids=lambda p: " ".join(p))
def test_help_examples_paste_cleanly(path):
    """What is pasted from an Examples block runs as is: one command per paragraph, every line but the last
    continued with ` \\`, no option split across lines, no runs of spaces inside a command."""
    text = docs.help_text(path)
    assert "Examples:" in text, f"llmplan {' '.join(path)} --help has no Examples section"
    paragraphs = _example_paragraphs(text)
    assert paragraphs, text
    for lines in paragraphs:
        for i, line in enumerate(lines):
            body = line.strip()
            assert len(line) <= docs.WIDTH, line
            assert "  " not in body, f"run of spaces in {line!r}"
            assert not body.endswith("-"), f"option split across lines: {line!r}"
            last = i == len(lines) - 1
            assert body.endswith(" \\") != last, f"line {i + 1} of {lines!r}: continue with ' \\' or end"


def test_help_examples_are_whole_commands():
    # the joined command names only options the command has (a split option would not be one of them)
    for path in [p for p in PATHS if p]:
        text = docs.help_text(path)
        for command in docs.help_examples(path):
            assert command.startswith("llmplan " + " ".join(path)), command
            for word in command.split():
                if word.startswith("--"):
                    assert f"{word.split('=')[0]}" in text, (command, word)
