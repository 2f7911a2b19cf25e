"""`llmplan check`: plans read the same from any directory, and a deployment that cannot run never passes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"

TINY_CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
               "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128,
               "vocab_size": 96, "max_position_embeddings": 2048, "torch_dtype": "bfloat16",
               "tie_word_embeddings": False}


def _check_json(run, *args):
    result = run("check", *args, "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return result, json.loads(result.stdout)


@pytest.mark.parametrize("written", ["../models/tiny", "./../models/tiny"])
def test_relative_model_path_is_read_from_the_plan_folder(run, tmp_path, monkeypatch, written):
    models = tmp_path / "repo" / "models" / "tiny"
    models.mkdir(parents=True)
    (models / "config.json").write_text(json.dumps(TINY_CONFIG))
    plans = tmp_path / "repo" / "plans"
    plans.mkdir()
    plan = plans / "plan.yaml"
    plan.write_text("deployments:\n  - name: tiny\n"
                    f"    model: {written}\n    gpu: l4\n    context: 1024\n    input_tokens: 100\n"
                    "    output_tokens: 100\n    require:\n      fits: true\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the repository root nor the plan's folder
    result, data = _check_json(run, str(plan))
    assert result.exit_code == 0, result.stdout
    estimate = data["deployments"][0]["estimate"]
    assert estimate["model"]["id"] == "tiny" and estimate["model"]["source"] == "local"
    # the same plan given by a relative path from another folder
    monkeypatch.chdir(tmp_path)
    result = run("check", "repo/plans/plan.yaml")
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_missing_relative_model_names_the_path_it_looked_at(run, tmp_path):
    plan = tmp_path / "sub" / "plan.yaml"
    plan.parent.mkdir()
    plan.write_text("deployments:\n  - name: gone\n    model: ./no-such-folder/model.gguf\n    gpu: l4\n")
    result = run("check", str(plan))
    assert result.exit_code == 2
    assert str(tmp_path / "sub" / "no-such-folder") in result.stderr


def test_catalog_and_hub_ids_are_not_taken_for_paths(tmp_path):
    from llmplan.plans.check import PlanDeployment, resolve_relative_paths

    for model in ("llama-3.1-8b-instruct", "meta-llama/Llama-3.3-70B-Instruct"):
        plan = PlanDeployment(name="x", model=model)
        assert resolve_relative_paths(plan, tmp_path / "plan.yaml").model == model
