"""Options that contradict each other, and figures no workload has: exit 2 with the fix, or a one-line warning."""

from __future__ import annotations

import json

import pytest


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("axis", ["concurrency", "input-tokens"])
def test_sweep_with_a_fixed_concurrency(run, axis):
    _one_line_error(
        run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--sweep", axis, "--concurrency", "8"),
        f"--sweep {axis}",
        "drop --concurrency 8",
    )


def test_sweep_alone_still_runs(run):
    assert (
        run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--sweep", "concurrency", "--format", "csv").exit_code == 0
    )


def test_expert_parallel_on_a_dense_model(run):
    _one_line_error(
        run("fit", "llama-3.1-8b-instruct", "--gpu", "2xh100-sxm", "--expert-parallel"), "--expert-parallel", "dense"
    )
    moe = run("fit", "qwen3-30b-a3b", "--gpu", "2xh100-sxm", "--expert-parallel", "--format", "json")
    assert moe.exit_code == 0, moe.stderr


def test_zero_3_on_one_gpu_is_a_warning(run):
    data = json.loads(
        run(
            "finetune",
            "llama-3.1-8b-instruct",
            "--method",
            "lora",
            "--gpu",
            "h100-sxm",
            "--zero",
            "3",
            "--format",
            "json",
        ).stdout
    )
    assert data["zero"] == "0"
    assert sum("--zero 3" in w and "one GPU" in w for w in data["warnings"]) == 1


def test_lora_rank_with_full_training(run):
    _one_line_error(
        run("finetune", "llama-3.1-8b-instruct", "--method", "full", "--lora-rank", "64"),
        "--lora-rank",
        "--method full",
    )
    assert run("finetune", "llama-3.1-8b-instruct", "--method", "lora", "--lora-rank", "64").exit_code == 0


@pytest.mark.parametrize(
    "args, words",
    [
        (("finetune", "llama-3.1-8b-instruct", "--tokens", "1e30"), ("--tokens", "1e+30", "1e+15")),
        (("finetune", "llama-3.1-8b-instruct", "--dataset-examples", "1000", "--avg-tokens", "1e20"), ("1e+20",)),
        (("breakeven", "llama-3.1-8b-instruct", "--requests-per-day", "1e30"), ("--requests-per-day", "at most 1e+15")),
        (("breakeven", "llama-3.1-8b-instruct", "--tokens-per-month", "1e16"), ("--tokens-per-month",)),
        (
            ("breakeven", "llama-3.1-8b-instruct", "--requests-per-day", "100", "--input-tokens", "10000000000000000"),
            ("--input-tokens",),
        ),
        (("fit", "llama-3.1-8b-instruct", "--input-tokens", "10000000000000000"), ("input tokens", "1e+16")),
        (("fit", "llama-3.1-8b-instruct", "--concurrency", "10000000000000000"), ("concurrency",)),
    ],
)
def test_absurd_magnitudes_are_refused(run, args, words):
    _one_line_error(run(*args), *words)


def test_absurd_figures_in_a_plan(run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "deployments:\n  - name: a\n    model: llama-3.1-8b-instruct\n    workload:\n      requests_per_day: 1e30\n"
    )
    _one_line_error(run("check", plan), "requests_per_day", "at most 1e+15")
