"""Tensor-parallel sizes the engines refuse: not runnable in fit, no launch command, a failure in check."""

from __future__ import annotations

import json

import pytest

from llmplan.engines.parallel import nearest_runnable_tp, tp_refusal


def test_the_engine_rule_by_hand():
    # 32 heads, 8 KV heads (Llama 3.1 8B): 3 does not divide 32
    assert "32 attention heads do not split 3 ways" in tp_refusal("vllm", 32, 8, 3)
    assert tp_refusal("vllm", 32, 8, 4) is None and tp_refusal("vllm", 32, 8, 16) is None  # 16 % 8 == 0
    # 12 heads, 4 KV heads: 6 divides the heads, but 4 % 6 and 6 % 4 are both non-zero
    assert "4 KV heads" in tp_refusal("vllm", 12, 4, 6)
    assert tp_refusal("sglang", 12, 4, 6) and tp_refusal("tensorrt-llm", 12, 4, 6)
    assert tp_refusal("vllm", 12, 4, 12) is None  # 12 % 4 == 0: each KV head replicated on 3 GPUs
    assert tp_refusal("tgi", 12, 4, 6) is None  # TGI checks the query heads only
    for layer_split in ("llama.cpp", "ollama"):
        assert tp_refusal(layer_split, 32, 8, 3) is None
    assert nearest_runnable_tp("vllm", 32, 8, 3) == (2, 4)
    assert nearest_runnable_tp("vllm", 12, 4, 6) == (4, 12)  # 5 fails the heads, 7-11 the heads too


def _fit(run, *args):
    result = run("fit", *args, "--format", "json")
    return result, json.loads(result.stdout) if result.stdout.strip() else None


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt-llm"])
def test_8b_on_3_gpus_does_not_run_on_tensor_parallel_engines(run, engine):
    result, data = _fit(run, "llama-3.1-8b-instruct", "--gpu", "3xh100-sxm", "--engine", engine)
    assert result.exit_code == 0, result.stderr
    assert data["fits"] is False
    assert "32 attention heads do not split 3 ways" in data["verdict"]
    assert "2xh100-sxm" in data["verdict"] and "4xh100-sxm" in data["verdict"]
    assert data["performance"]["decode_tokens_per_s"] is None


def test_layer_split_engines_keep_any_gpu_count(run):
    _, data = _fit(run, "llama-3.1-8b-instruct", "--gpu", "3xrtx-4090", "--quant", "q4_k_m", "--engine", "llama.cpp")
    assert data["fits"] is True
    assert not any("refuses tensor parallel" in w for w in data["warnings"])


def test_emit_prints_no_command_for_a_refused_layout(run):
    result = run("fit", "llama-3.1-8b-instruct", "--gpu", "3xh100-sxm", "--emit", "vllm")
    assert result.exit_code == 1
    assert "vllm serve" not in result.stdout
    assert "no launch command" in result.stderr and "4xh100-sxm" in result.stderr
    ok = run("fit", "llama-3.1-8b-instruct", "--gpu", "4xh100-sxm", "--emit", "vllm")
    assert ok.exit_code == 0 and "--tensor-parallel-size 4" in ok.stdout


def test_check_fails_a_refused_tensor_parallel_size(run, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "deployments:\n  - name: tp3\n    model: llama-3.1-8b-instruct\n    gpu: 3xh100-sxm\n    engine: vllm\n"
    )
    result = run("check", str(plan), "--format", "json")
    assert result.exit_code == 1
    dep = json.loads(result.stdout)["deployments"][0]
    assert dep["passed"] is False
    assert any("do not split 3 ways" in w for w in dep["warnings"])
    assert "launch" not in dep["estimate"] or dep["estimate"]["launch"] is None
