"""Messages: what is wrong and the fix, in the user's words; no validator text, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BOILERPLATE = (
    "Value error",
    "Extra inputs are not permitted",
    "String should match pattern",
    "^(",
    "invalid input: :",
    "Input should be",
    "Traceback",
)


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for text in BOILERPLATE:
        assert text not in lines[0], lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_breakeven_without_a_volume_says_which_flags_give_one(run):
    _one_line_error(run("breakeven", "llama-3.1-8b-instruct"), "no volume", "--requests-per-day", "--tokens-per-month")


def test_breakeven_mode_names_the_choices_not_a_pattern(run):
    _one_line_error(
        run("breakeven", "llama-3.1-8b-instruct", "--requests-per-day", "100", "--mode", "lease"),
        "--mode must be rent or own, got 'lease'",
    )


def test_workload_file_typos_name_the_key_meant(run, tmp_path):
    wl = tmp_path / "w.yaml"
    wl.write_text("model: llama-3.1-8b-instruct\nworkload:\n  requests_per_dya: 100\n")
    _one_line_error(
        run("breakeven", "--workload", wl),
        "unknown key 'workload.requests_per_dya'",
        "did you mean 'requests_per_day'?",
    )
    wl.write_text("model: llama-3.1-8b-instruct\nworklaod:\n  requests_per_day: 100\n")
    _one_line_error(run("breakeven", "--workload", wl), "unknown key 'worklaod'", "did you mean 'workload'?")


@pytest.mark.parametrize(
    "body, words",
    [
        ("    contxt: 4096\n", ("plan.yaml:4:", "unknown key 'contxt'", "did you mean 'context'?")),
        (
            "    require:\n      max_ttft: 1\n",
            ("plan.yaml:5:", "unknown key 'require.max_ttft'", "did you mean 'max_ttft_s'?"),
        ),
        ("    context: -5\n", ("plan.yaml:4:", "'context' must be greater than 0, got -5")),
        ("    concurrency: [1]\n", ("'concurrency'",)),
    ],
)
def test_plan_file_errors_name_the_key_and_the_fix(run, tmp_path, body, words):
    plan = tmp_path / "plan.yaml"
    plan.write_text("deployments:\n  - name: a\n    model: llama-3.1-8b-instruct\n" + body)
    _one_line_error(run("check", plan), *words)


def test_catalog_file_typos_name_the_field_meant(run, tmp_path):
    prices = tmp_path / "p.yaml"
    prices.write_text("gpus:\n  h100-sxm:\n    tdp_wats: 700\n")
    _one_line_error(run("gpus", "--prices", prices), "'tdp_wats'", "did you mean 'tdp_watts'?")


@pytest.mark.parametrize(
    "args",
    [
        ("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--sweep", "concurrency", "--plot", "q.txt"),
        ("breakeven", "llama-3.1-8b-instruct", "--requests-per-day", "100", "--plot", "q.txt"),
    ],
)
def test_plot_to_a_file_type_that_is_no_image_is_bad_input(run, tmp_path, args):
    _one_line_error(run(*args), "--plot writes .png, .svg or .pdf", "q.txt")
    assert not Path("q.txt").exists()


def _console_script(*args, close_stdout=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmplan", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
    )
    if close_stdout:  # the reader left before anything was written, as `| head -0` does
        proc.stdout.close()
        err = proc.stderr.read().decode()
        return proc.wait(timeout=120), "", err
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    "args",
    [
        ("gpus",),
        ("models", "list"),
        ("--help",),
        ("fit", "llama-3.1-8b-instruct", "--gpu", "l4"),
        ("check", "examples/plans/passing.yaml"),
    ],
)
def test_a_closed_pipe_ends_quietly_with_0(args):
    code, _, err = _console_script(*args, close_stdout=True)
    assert (code, err) == (0, "")


def test_bare_command_prints_its_help_and_exits_0():
    code, out, err = _console_script()
    assert (code, err) == (0, "")
    assert out.startswith("Usage:") and "Commands:" in out and not out.startswith("error")


def test_a_closed_pipe_keeps_the_gate_verdict():
    # `llmplan check plans/ | head`: the reader leaving early must not turn a failed gate into a pass
    code, _, err = _console_script("check", "examples/plans/failing.yaml", close_stdout=True)
    assert (code, err) == (1, "")
