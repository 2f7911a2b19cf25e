"""Shell completion offers the catalog's names, loads the catalog only when asked, and is wired to the options."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmplan.cli.completion import complete_engine, complete_gpu, complete_gpu_or_all, complete_model, complete_quant


def test_models_by_alias_and_repo_id():
    got = complete_model("llama-3.1-8")
    assert "llama-3.1-8b-instruct" in got and "llama-3.1-8b" in got
    assert not any(g.startswith("qwen") for g in got)
    assert "meta-llama/Llama-3.1-8B-Instruct" in complete_model("meta-llama/llama-3.1-8")  # case-insensitive
    assert complete_model("no-such-model-") == []


def test_gpus_with_and_without_a_count():
    assert complete_gpu("h100-s") == ["h100-sxm"]
    assert complete_gpu("4xh100-s") == ["4xh100-sxm"]
    assert "rtx-4090" in complete_gpu("rtx-40") and "rtx-3090" not in complete_gpu("rtx-40")
    assert complete_gpu_or_all("a")[0] == "all" and "a100-80gb" in complete_gpu_or_all("a")
    assert "all" not in complete_gpu_or_all("h")


def test_formats_and_engines():
    assert {"q4_k_m", "q4_0"} <= set(complete_quant("q4")) and "fp8" not in complete_quant("q4")
    assert complete_quant("nvf") == ["nvfp4"]
    assert complete_engine("tens") == ["tensorrt-llm"]
    assert complete_engine("") == ["vllm", "sglang", "tgi", "tensorrt-llm", "llama.cpp", "ollama"]


@pytest.mark.parametrize("command", ["fit", "compare", "plan", "breakeven"])
def test_wired_to_model_gpu_quant_and_engine(runner, command):
    from llmplan.cli import app

    def complete(words: str, cword: int) -> list[str]:
        env = {"_LLMPLAN_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        result = runner.invoke(app, [], prog_name="llmplan", env=env)
        return result.stdout.split()

    assert "llama-3.1-8b-instruct" in complete(f"llmplan {command} llama-3.1-8", 2)
    assert "2xrtx-4090" in complete(f"llmplan {command} x --gpu 2xrtx-40", 4)
    assert "q4_k_m" in complete(f"llmplan {command} x --quant q4_k", 4)
    assert complete(f"llmplan {command} x --engine sgl", 4) == ["sglang"]


def test_completion_module_loads_no_catalog_at_import():
    code = (
        "import sys, llmplan.cli; "
        "assert 'llmplan.catalog.loader' not in sys.modules, 'catalog loaded at import'; "
        "assert 'llmplan.cli.completion' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
