"""`llmplan schema COMMAND` describes what `--format json` really prints: real outputs validate against it."""

from __future__ import annotations

import json

import pytest

jsonschema = pytest.importorskip("jsonschema")

RUNS = {
    "fit": ["fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8"],
    "sweep": ["fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8", "--sweep", "concurrency"],
    "compare": ["compare", "llama-3.1-8b-instruct", "--gpu", "l4", "--gpu", "apple-m3-ultra", "--gpu", "h100-sxm"],
    "breakeven": ["breakeven", "--workload", "examples/seed-breakeven.yaml"],
    "check": ["check", "examples/plans/passing.yaml"],
    "plan": ["plan", "llama-3.1-8b-instruct", "--requests-per-s", "2", "--gpu", "l4", "--gpu", "h100-sxm"],
    "finetune": ["finetune", "llama-3.1-8b-instruct", "--method", "qlora", "--gpu", "rtx-4090"],
    "models list": ["models", "list", "llama"],
    "models show": ["models", "show", "qwen3.5-35b-a3b"],
    "gpus": ["gpus", "h100"],
    "apis": ["apis", "openai"],
}


@pytest.mark.parametrize("command", sorted(RUNS))
def test_real_output_validates_against_its_schema(run, command, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parents[1])
    schema = run("schema", *command.split())
    assert schema.exit_code == 0, schema.stderr
    document = json.loads(schema.stdout)
    jsonschema.Draft202012Validator.check_schema(document)
    out = run(*RUNS[command], "--format", "json")
    assert out.exit_code == 0, out.stderr
    jsonschema.validate(json.loads(out.stdout), document, cls=jsonschema.Draft202012Validator)


def test_a_wrong_output_fails_validation(run):
    document = json.loads(run("schema", "finetune").stdout)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"fits": "maybe"}, document, cls=jsonschema.Draft202012Validator)


def test_every_json_command_has_a_schema():
    from llmplan.cli.schema_cmd import OUTPUTS

    assert set(RUNS) == set(OUTPUTS)


def test_unknown_command_is_one_line(run):
    r = run("schema", "fly")
    assert r.exit_code == 2 and r.stderr.startswith("error:") and "choose one of" in r.stderr
