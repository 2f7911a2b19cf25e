"""Exit codes are one scheme in every command: 0 success, 1 a limit not met, 2 bad input, 3 a bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplan.errors import REPORT_TO

EXAMPLES = Path(__file__).parents[1] / "examples" / "plans"


def test_success_is_0(run):
    result = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.stderr


def test_a_broken_limit_is_1(run):
    result = run("check", str(EXAMPLES / "failing.yaml"))
    assert result.exit_code == 1, result.stderr


def test_bad_input_is_2_with_one_line(run):
    result = run("fit", "no-such-model-anywhere", "--gpu", "h100-sxm", "--offline")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr


def _boom(*args, **kwargs):
    raise ZeroDivisionError("a bug")


def test_a_bug_in_a_command_is_3_with_where_to_report_it(run, monkeypatch):
    import llmplan.core.fit

    monkeypatch.setattr(llmplan.core.fit, "fit", _boom)
    result = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: internal error (ZeroDivisionError: a bug)")
    assert REPORT_TO in lines[0]
    assert "Traceback" not in result.stderr


def test_check_telling_a_bug_from_a_broken_limit(run, monkeypatch):
    """check's failed gate (1) and a crash inside check (3) are no longer the same code."""
    import llmplan.plans.check

    monkeypatch.setattr(llmplan.plans.check, "check_deployment", _boom)
    result = run("check", str(EXAMPLES / "passing.yaml"))
    assert result.exit_code == 3, result.stderr


def test_a_bug_outside_any_command_is_3_in_the_console_script(monkeypatch, capsys):
    import llmplan.cli as cli

    monkeypatch.delenv("LLMPLAN_DEBUG", raising=False)
    monkeypatch.setattr(cli, "app", _boom)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and REPORT_TO in err and "Traceback" not in err


def test_top_level_help_lists_the_codes(run):
    text = run("--help").stdout
    assert "Exit codes:" in text
    for line in ("0  success", "1  a limit or target not met", "2  bad input", "3  internal error"):
        assert line in text
    assert REPORT_TO in text


def test_readme_documents_the_codes():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in section
