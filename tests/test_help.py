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


@pytest.mark.parametrize("path", [p for p in PATHS if len(p) == 1 and p[0] not in ("models",)],
                         ids=lambda p: p[0])
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
