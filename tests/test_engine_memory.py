"""Engine-true memory (vLLM, SGLang, TensorRT-LLM, llama.cpp rules), weight-only formats, and `--emit`."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from conftest import DATA

FLAGS = DATA / "engine_flags"


def fit_json(run, *args):
    r = run("fit", *args, "--format", "json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_llama_70b_fp8_on_one_h100_and_one_a100_at_4k(run):
    # llm-d's start of Llama-3.3-70B fp8 on one H100 (vLLM 0.11, gmu 0.9) printed -1.44 GiB of KV cache: the V1
    # profile run of 8192 tokens does not leave room (tests/data/engine_logs/engine_logs_extra.csv row 25)
    args = ("meta-llama/Llama-3.1-70B-Instruct", "--quant", "fp8", "--context", "4096")
    h100 = fit_json(run, *args, "--gpu", "h100-sxm")
    assert h100["fits"] is False
    # a 2048-token profile (V1 before 0.21, which counted CUDA graphs outside the budget) leaves room
    small = ("--max-num-batched-tokens", "2048", "--engine-version", "0.8")
    assert fit_json(run, *args, "--gpu", "h100-sxm", *small)["fits"] is True
    a100 = fit_json(run, *args, "--gpu", "a100-80gb", *small)
    assert a100["fits"] is True
    assert any("weight-only" in w and "Marlin FP8" in w for w in a100["warnings"])


def test_vllm_budget_by_hand(run):
    from llmplan.catalog.loader import Catalog
    from llmplan.core import memory as mem
    from llmplan.engines import memory_rules as R
    from llmplan.plans.deploy import build_deployment

    d = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--context", "8192")
    dep, _ = build_deployment(Catalog(include_user=False), "llama-3.1-8b-instruct", gpu="h100-sxm")
    assert dep.engine.batch_tokens == 8192  # vLLM's default on a GPU of 70 GiB or more
    spec = dep.model
    # V1 profile of 8192 tokens: fitted 0.085 x (3 x 14336 + 4 x 4096) x 2 bytes a token, and fp32 logits and the
    # sampler's copies for every token, fitted 4.786 bytes per vocab entry (benchmarks/fit_engine_memory.py)
    activation = int(0.085 * 8192 * (3 * 14336 + 4 * 4096) * 2 + 8192 * 128_256 * 4.786)
    assert mem.activation_bytes(spec, dep.engine) == pytest.approx(activation, abs=2)
    gpu_bytes = d["gpu"]["memory_bytes"]
    graphs = 256 * 32 * 4096 * 24.3  # vLLM >= 0.21 reserves the CUDA graphs (256 rows, 32 layers, 4096 wide)
    pool = 0.9 * gpu_bytes - d["memory"]["weights_bytes"] - activation - R.VLLM_NON_TORCH_BYTES - graphs
    assert d["memory"]["kv_pool_bytes"] == pytest.approx(pool, abs=4)
    tokens = d["memory"]["kv_cache_tokens"]
    assert tokens % 16 == 0 and tokens == int(pool // (131_072 * 16)) * 16
    assert d["memory"]["max_concurrency_at_context"] == round(tokens / 8192, 2)


def test_gpu_memory_utilization_moves_the_pool(run):
    base = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "l4")
    lower = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "l4", "--gpu-memory-utilization", "0.8")
    assert base["memory"]["kv_pool_bytes"] - lower["memory"]["kv_pool_bytes"] == pytest.approx(
        0.1 * base["gpu"]["memory_bytes"], abs=2
    )


def test_sglang_fraction_by_tensor_parallel():
    from llmplan.engines.memory_rules import sglang_default_fraction

    assert [sglang_default_fraction(tp) for tp in (1, 2, 4, 8, 16)] == [0.88, 0.87, 0.85, 0.81, 0.79]


def test_flag_of_another_engine_is_an_error(run):
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--engine", "vllm", "--mem-fraction-static", "0.8")
    assert r.exit_code == 2 and "sglang flag" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--gpu-memory-utilization", "1.5")
    assert r.exit_code == 2 and "(0, 1]" in r.stderr


def test_nvfp4_on_hopper_weight_only_in_vllm_refused_by_tensorrt_llm(run):
    v = fit_json(run, "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--quant", "nvfp4")
    assert v["fits"] is True and any("Marlin FP4" in w for w in v["warnings"])
    t = run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--quant", "nvfp4", "--engine", "tensorrt-llm")
    assert t.exit_code == 2 and "vllm or sglang" in t.stderr and "fp8" in t.stderr


def test_max_context_at_the_stated_concurrency(run):
    from llmplan.catalog.loader import Catalog
    from llmplan.core.fit import kv_per_seq_per_gpu, memory_plan
    from llmplan.plans.deploy import build_deployment

    d = fit_json(run, "deepseek-ai/DeepSeek-V3", "--gpu", "16xh100-sxm", "--concurrency", "max")
    conc, ctx = d["concurrency"], d["max_context"]
    dep, _ = build_deployment(
        Catalog(include_user=False), "deepseek-ai/DeepSeek-V3", gpu="16xh100-sxm", concurrency="max"
    )
    free = memory_plan(dep).kv_free
    assert float(kv_per_seq_per_gpu(dep, 16, ctx)) * conc <= free
    assert float(kv_per_seq_per_gpu(dep, 16, ctx + 16)) * conc > free  # one vLLM block more does not fit
    assert any("2 boxes of 8" in w for w in d["warnings"])


def _allowed(engine: str) -> set[str]:
    lines = (FLAGS / f"{engine}.txt").read_text().splitlines()
    assert lines[0].startswith("# source: https://") and "version:" in lines[0]
    return {x.strip() for x in lines if x.strip() and not x.startswith("#")}


def _flags(engine: str, argv: list[str]) -> list[str]:
    if engine == "ollama":
        return [a.split("=")[0] for a in argv if a.startswith("OLLAMA_")]
    if engine == "sglang":
        argv = argv[3:]  # past `python -m sglang.launch_server`
    return [a for a in argv if a.startswith("-")]


@pytest.mark.parametrize(
    "engine, quant",
    [("vllm", "fp8"), ("sglang", "fp8"), ("tensorrt-llm", "fp8"), ("llama.cpp", "q4_k_m"), ("ollama", "q4_k_m")],
)
def test_emit_uses_only_the_engines_own_flags_and_matches_the_plan(run, engine, quant):
    d = fit_json(
        run,
        "llama-3.1-8b-instruct",
        "--gpu",
        "2xrtx-4090",
        "--quant",
        quant,
        "--context",
        "16384",
        "--concurrency",
        "4",
        "--emit",
        engine,
    )
    assert d["engine"] == engine
    argv = d["launch"]["argv"]
    assert shlex.split(d["launch"]["command"]) == argv
    unknown = set(_flags(engine, argv)) - _allowed(engine)
    assert not unknown, unknown
    text = " ".join(argv)
    if engine == "vllm":
        assert "--tensor-parallel-size 2" in text and "--max-model-len 16384" in text
        assert "--gpu-memory-utilization 0.9" in text
    if engine == "sglang":
        assert "--tp-size 2" in text and "--context-length 16384" in text and "--mem-fraction-static 0.87" in text
    if engine == "tensorrt-llm":
        assert "--tp_size 2" in text and "--max_seq_len 16384" in text
    if engine == "llama.cpp":
        assert "-c 65536" in text and "-np 4" in text  # -c is shared by the slots
    if engine == "ollama":
        assert "OLLAMA_NUM_PARALLEL=4" in text and "OLLAMA_CONTEXT_LENGTH=16384" in text


def test_emit_disagreeing_with_engine_is_an_error(run):
    r = run("fit", "llama-3.1-8b-instruct", "--engine", "sglang", "--emit", "vllm")
    assert r.exit_code == 2 and "disagrees" in r.stderr


def test_emit_in_table_and_in_check(run):
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--emit", "vllm")
    assert "vllm serve meta-llama/Llama-3.1-8B-Instruct" in r.stdout
    c = run("check", Path(__file__).parents[1] / "examples" / "plans" / "passing.yaml", "--emit")
    assert c.exit_code == 0 and c.stdout.count("vllm serve") == 2


@pytest.mark.parametrize("engine, slot_flag", [("ollama", "OLLAMA_NUM_PARALLEL=4"), ("llama.cpp", "-np 4")])
def test_emitted_slots_are_the_planned_slots_and_the_rest_queue(run, engine, slot_flag):
    """--concurrency 8 on an engine with 4 slots: 4 are served (and hold cache), 4 queue; the command agrees."""
    d = fit_json(run, "llama-3.1-8b", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--concurrency", "8", "--emit", engine)
    assert slot_flag in d["launch"]["command"]
    assert any("other 4 of 8" in n and "queue" in n for n in d["launch"]["notes"])
    assert any("the other 4 wait" in w for w in d["warnings"])
    # cache for 4 slots of 8,192 tokens at 131,072 bytes per token, not 8
    assert d["memory"]["kv_cache_bytes"] == 4 * 8192 * 131_072
    assert d["memory"]["kv_pool_bytes"] == 4 * 8192 * 131_072
    if engine == "llama.cpp":
        assert "-c 32768" in d["launch"]["command"]  # -c is the 4 slots' context
    more = fit_json(
        run,
        "llama-3.1-8b",
        "--gpu",
        "rtx-4090",
        "--quant",
        "q4_k_m",
        "--concurrency",
        "8",
        "--parallel",
        "8",
        "--emit",
        engine,
    )
    assert slot_flag.replace("4", "8") in more["launch"]["command"]
    assert more["memory"]["kv_cache_bytes"] == 8 * 8192 * 131_072


def test_engines_do_not_import_the_core():
    """Layers: engines sit below core; the launch builders take plain values (no Deployment, not even for typing)."""
    import ast

    root = Path(__file__).parents[1] / "llmplan" / "engines"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                assert not name.startswith(("llmplan.core", "llmplan.plans", "llmplan.cli")), (path.name, name)


def test_launch_builders_take_plain_values():
    from llmplan.engines.launch import LaunchPlan, launch_for

    plan = LaunchPlan(
        model_id="org/m",
        model_source="catalog",
        native_quant="bf16",
        is_moe=False,
        quant="fp8",
        kv_dtype="fp8",
        context=4096,
        concurrency=8,
        n_gpus=2,
        expert_parallel=False,
        memory_fraction=0.9,
        max_batch=256,
        batch_tokens=8192,
    )
    argv = launch_for(plan, "vllm").argv
    assert argv[:3] == ["vllm", "serve", "org/m"]
    text = " ".join(argv)
    assert "--tensor-parallel-size 2" in text and "--max-model-len 4096" in text
    assert "--kv-cache-dtype fp8" in text and "--quantization fp8" in text  # fp8 made on the fly from bf16
