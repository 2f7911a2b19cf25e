"""bf16 on GPUs without bf16 math (V100 7.0, T4 7.5): asked for, an error naming fp16; by default, fp16 and a note."""

from __future__ import annotations

import json

import pytest


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("gpu, cc", [("v100", "7.0"), ("t4", "7.5")])
def test_fit_refuses_an_explicit_bf16(run, gpu, cc):
    _one_line_error(run("fit", "llama-3.1-8b-instruct", "--gpu", gpu, "--quant", "bf16"), "no bf16", cc, "--quant fp16")
    _one_line_error(
        run("fit", "llama-3.1-8b-instruct", "--gpu", gpu, "--quant", "fp16", "--kv-dtype", "bf16"), "--kv-dtype fp16"
    )


def test_fit_runs_the_bf16_checkpoint_as_fp16_with_a_note(run):
    default = json.loads(run("fit", "llama-3.1-8b-instruct", "--gpu", "t4", "--format", "json").stdout)
    fp16 = json.loads(run("fit", "llama-3.1-8b-instruct", "--gpu", "t4", "--quant", "fp16", "--format", "json").stdout)
    assert (default["quant"], default["kv_dtype"]) == ("fp16", "fp16")
    assert default["memory"] == fp16["memory"]  # the same bytes
    notes = [w for w in default["warnings"] if "no bf16" in w]
    assert len(notes) == 1 and "runs as fp16" in notes[0]
    ampere = json.loads(run("fit", "llama-3.1-8b-instruct", "--gpu", "a100-80gb", "--format", "json").stdout)
    assert ampere["quant"] == "bf16" and not any("no bf16" in w for w in ampere["warnings"])


def test_check_applies_the_same_rule(run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text("deployments:\n  - name: asked\n    model: llama-3.1-8b-instruct\n    gpu: t4\n    quant: bf16\n")
    r = run("check", str(plan))
    _one_line_error(r, f"{plan}:5:", "'quant'", "fp16")
    plan.write_text(
        "deployments:\n  - name: default\n    model: llama-3.1-8b-instruct\n    gpu: v100\n    context: 2048\n"
    )
    r = run("check", str(plan), "--format", "json")
    dep = json.loads(r.stdout)["deployments"][0]
    assert dep["estimate"]["quant"] == "fp16" and any("no bf16" in w for w in dep["warnings"])


def test_compare_puts_the_device_in_the_race_in_fp16(run):
    r = run("compare", "llama-3.1-8b-instruct", "--quant", "bf16", "--gpu", "t4", "--gpu", "l4", "--format", "json")
    rows = {x["option"]: x for x in json.loads(r.stdout)}
    assert (rows["t4"]["quant"], rows["t4"]["quant_substituted_from"]) == ("fp16", "bf16")
    assert (rows["l4"]["quant"], rows["l4"]["quant_substituted_from"]) == ("bf16", None)


def test_finetune_precision(run):
    _one_line_error(
        run("finetune", "llama-3.1-8b-instruct", "--gpu", "v100", "--precision", "bf16"), "no bf16", "--precision fp16"
    )
    _one_line_error(
        run("finetune", "llama-3.1-8b-instruct", "--gpu", "v100", "--precision", "pure-bf16"), "--precision fp16"
    )
    data = json.loads(run("finetune", "llama-3.1-8b-instruct", "--gpu", "v100", "--format", "json").stdout)
    assert data["precision"] == "fp16" and any("no bf16" in w for w in data["warnings"])
    ampere = json.loads(run("finetune", "llama-3.1-8b-instruct", "--gpu", "a100-80gb", "--format", "json").stdout)
    assert ampere["precision"] == "bf16"
