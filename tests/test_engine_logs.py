"""Published engine start-up logs (tests/data/engine_logs/) read back and recomputed with llmplan's rules."""

from __future__ import annotations

import csv

import pytest
from conftest import DATA

LOGS = DATA / "engine_logs"


@pytest.fixture(scope="module")
def cases():
    from llmplan.catalog.loader import Catalog
    from llmplan.plans.engine_logs import evaluate_all

    return evaluate_all(Catalog(include_user=False), LOGS)


def test_both_tables_are_read_with_their_sources():
    from llmplan.plans.engine_logs import load_rows

    rows = load_rows(LOGS)
    # 30 rows copied from ../shared/calibration/engine_logs.csv + 33 collected for this repository
    assert len(rows) == 63
    assert all(r.text("source").startswith("https://") for r in rows)


def test_at_most_six_rows_left_out_each_with_its_reason(cases):
    left = [c for c in cases if not c.evaluated]
    assert len(cases) - len(left) >= 45
    assert len(left) <= 6, [(c.row.key, c.reason) for c in left]
    assert all(c.reason for c in left)


def test_log_gpus_map_to_catalog_entries(cases, catalog):
    from llmplan.plans.engine_logs import GPU_IDS

    for gpu_id in GPU_IDS.values():
        catalog.gpu_entry(gpu_id)  # raises for a device the catalog lacks
    h100 = [c for c in cases if c.row.text("gpu").startswith("h100-80gb") and c.evaluated]
    assert h100 and all(c.gpu == "h100-sxm" for c in h100)  # no row says PCIe


def test_a_row_becomes_the_deployment_it_describes(cases):
    # vllm#10517: Llama-3.1-8B on an RTX 3090, max_model_len 29000, gpu_memory_utilization 0.9
    case = next(c for c in cases if c.row.key == "engine_logs_extra:7")
    dep = case.deployment
    assert (dep.model.id, dep.gpu_id, dep.n_gpus, dep.context) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        "rtx-3090",
        1,
        29000,
    )
    assert dep.engine.name == "vllm" and dep.engine.memory_fraction == 0.9
    assert case.printed["weights"] == pytest.approx(14.9888 * 2**30)
    # llama.cpp: -c 32768 shared by 4 slots is 4 sequences of 8192
    cpp = next(c for c in cases if c.row.key == "engine_logs:23").deployment
    assert (cpp.context, cpp.concurrency, cpp.engine.max_batch) == (8192, 4, 4)


def test_rows_with_an_unnamed_gpu_keep_the_figures_that_need_none(cases):
    # SGLang Qwen2.5-7B-AWQ on a GPU the log does not name: weights and the pool's token count are checked
    case = next(c for c in cases if c.row.key == "engine_logs_extra:3")
    assert "kv_pool" in case.skipped and "kv_pool" not in case.computed
    # 28 layers x 4 KV heads x 128 x 2 (K, V) x 2 bytes = 57,344 bytes a token; 7.10 GiB / 57,344 = 132,944.9, whole tokens 132,944
    assert case.computed["kv_tokens"] == 132_944


# Rows llmplan's rules do not bring within the target, each with what the log shows (kept failing on purpose:
# the assertion below fails if one of them comes within the target, so the list cannot go stale).
OFF_TARGET = {
    "engine_logs:3": "V1 0.8.5 on L40S prints 158,656 tokens (19.4 GiB): 5.6 GiB of overhead, far above a 2048-token "
    "profile; the launch (LLM class, 8192 tokens?) is not in the excerpt",
    "engine_logs:4": "V0 0.7 TP2 over PCIe at gmu 0.98: tokens are the whole TP group's, 12% above the pool's share",
    "engine_logs:5": "gpt-oss-120b on one H100 at gmu 0.95 with max_num_batched_tokens 1024 leaves 1.71 GiB; "
    "llmplan's weights (-5.7% on the llm-d row) and activation leave 13.5",
    "engine_logs:7": "Unsloth V0 phi-4 bnb-4bit on T4 at gmu 0.7: pool 1.24 GiB printed, llmplan 1.10 (-11.6%): a "
    "0.14 GiB difference on a small pool",
    "engine_logs:14": "Qwen2.5-3B bnb-4bit weights 2.22 GiB printed, llmplan 1.91 (bnb keeps more in 16-bit)",
    "engine_logs:17": "gemma-4 26B AWQ: llmplan's weights 12.6% low (its MoE experts' AWQ packing); pool -5.6%",
    "engine_logs:18": "gemma-4 26B NVFP4 on GB10: pool -7.3% (graph estimate and non-torch on unified memory)",
    "engine_logs:19": "SGLang 0.4 on 4x L4 over PCIe: pool +10.2% (its CUDA context + NCCL take 0.53 GiB, fit 0.53)",
    "engine_logs:23": "llama.cpp keeps the token embeddings on the host (CPU_Mapped 418 MiB); llmplan counts them",
    "engine_logs:24": "llama.cpp keeps the token embeddings on the host (CUDA_Host 552 MiB); llmplan counts them",
    "engine_logs:29": "TensorRT-LLM counts every gpt-oss layer as full attention in its pool; llmplan caps the "
    "sliding layers at their window",
    "engine_logs_extra:1": "vLLM with the LMCache connector on 4x H100: pool 8.11 GiB, llmplan 10.15",
    "engine_logs_extra:7": "V0 at max_model_len 29000: pool 2.89 GiB printed, llmplan 3.29 (+13.7%); the V0 fit "
    "(Unsloth rows dominate) gives this 29,000-token profile 0.4 GiB less than printed",
    "engine_logs_extra:8": "gpt-oss-120b mxfp4 TP4 on A100 over Ray: weights 17.2 GiB printed, llmplan 15.2 (Marlin "
    "repacking); printed tokens are the sliding layers' concurrency",
    "engine_logs_extra:9": "vLLM 0.10.1 Qwen2-7B at gmu 0.25: 0.53 GiB left beside weights and KV, where the V1 fit "
    "(from llm-d's 0.11 rows) puts a 5 GiB activation peak",
    "engine_logs_extra:10": "as extra:9 at gmu 0.5",
    "engine_logs_extra:12": "as extra:9 at TP2",
    "engine_logs_extra:13": "as extra:9 at TP2, gmu 0.5",
    "engine_logs_extra:14": "Ollama sizes gemma-3's sliding layers at window + batch (1024 + 512 cells)",
    "engine_logs_extra:16": "Nemotron-3-Nano-Omni GGUF (UD-Q4_K_XL) is not the catalog's BF16 model's mix; its "
    "llama.cpp recurrent-state buffer is smaller than llmplan's",
    "engine_logs_extra:17": "llama.cpp's hybrid Qwen3.5 keeps recurrent state for 4 slots separately from KV cells",
    "engine_logs_extra:18": "V1 0.11 on L4 at mnbt 2048: 0.65 GiB beside weights and KV; the V1 fit puts 1.1 GiB",
    "engine_logs_extra:31": "V0 TP16 over PCIe on 3090s with an AWQ MLA model: pool 1.57 GiB, llmplan 0.45",
    "engine_logs_extra:32": "SGLang DP-attention on 8x B200: the printed token count is the 8 ranks' sum",
    "engine_logs_extra:33": "DeepSeek-V4-Pro fp8 weights on H200: 125.65 GiB printed, llmplan 18.8% low",
}


def _tolerance(case) -> float:
    """5% where the row's release is covered by the engine's current (newest) rule set; 10% for older releases
    run with their --engine-version."""
    from llmplan.engines.memory_rules import RULE_SETS

    sets = RULE_SETS.get(case.row.engine)
    return 0.05 if not sets or case.engine_version == sets[-1].name else 0.10


def _misses(case) -> dict[str, float]:
    tol = _tolerance(case)
    return {
        k: case.error(k)
        for k in ("weights", "kv_pool", "kv_tokens")
        if case.error(k) is not None and abs(case.error(k)) > tol
    }


def _keys():
    from llmplan.catalog.loader import Catalog
    from llmplan.plans.engine_logs import evaluate_all

    return [c.row.key for c in evaluate_all(Catalog(include_user=False), LOGS) if c.evaluated]


@pytest.mark.parametrize("key", _keys())
def test_each_row_within_target(cases, key):
    case = next(c for c in cases if c.row.key == key)
    misses = _misses(case)
    if key in OFF_TARGET:
        assert misses, f"{key} is now within target: drop it from OFF_TARGET ({OFF_TARGET[key]})"
        return
    assert not misses, (case.row.label, {k: f"{v:+.1%}" for k, v in misses.items()})


def test_vllm_v0_and_default_on_a_24_gb_gpu_between_16k_and_32k(run):
    """vllm#10517: Llama-3.1-8B on an RTX 3090 (vLLM 0.6.4, V0) printed kv_cache_size 3.81 GiB at max_model_len
    20000 and 2.89 GiB at 29000 (the V0 profile run holds max_model_len tokens); vLLM 0.11 (V1) on a 24 GB-class L4
    at 32000, gmu 0.92, max_num_batched_tokens 2048 printed 4.75 GiB."""
    import json

    def pool(*args):
        r = run("fit", "llama-3.1-8b-instruct", *args, "--format", "json")
        assert r.exit_code == 0, r.stderr
        d = json.loads(r.stdout)
        return d["memory"]["kv_pool_bytes"] / 2**30, d["engine_version"]

    # 20000: 4.00 GiB (+5%); 29000: 3.29 GiB (+13.7%, NOT within the 10% target: see OFF_TARGET extra:7)
    for ctx, printed, rel in ((20000, 3.81, 0.10), (29000, 2.89, 0.15)):
        v0, version = pool("--gpu", "rtx-3090", "--context", str(ctx), "--engine-version", "0.6")
        assert version.startswith("0.6") and v0 == pytest.approx(printed, rel=rel)
    default, version = pool("--gpu", "rtx-3090", "--context", "20000")
    assert version.startswith("0.21") and default > 3.81 * 1.1  # V1 profiles 2048 tokens, not 20000
    args = (
        "--gpu",
        "l4",
        "--context",
        "32000",
        "--gpu-memory-utilization",
        "0.92",
        "--max-num-batched-tokens",
        "2048",
        "--max-num-seqs",
        "128",
    )
    v1, _ = pool(*args, "--engine-version", "0.11")
    # NOT within 10%: 4.14 GiB against 4.75 (-13%): the V1 activation fit (dominated by llm-d's H100 rows) puts
    # 1.1 GiB where this log leaves 0.65 GiB beside weights and KV
    assert v1 == pytest.approx(4.75, rel=0.15)
    newest, _ = pool(*args)  # 0.21+ also reserves the CUDA graphs (128 rows x 32 layers x 4096 x 24.3 B = 0.38 GiB)
    assert v1 - newest == pytest.approx(128 * 32 * 4096 * 24.3 / 2**30, rel=0.01)


def test_engine_version_selects_rules_and_refuses_unknown(run):
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--engine-version", "0.3")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "0.6 (0.5-0.7.x)" in r.stderr and "0.21 (0.21-0.25.x)" in r.stderr
    r = run(
        "fit",
        "llama-3.1-8b-instruct",
        "--gpu",
        "l4",
        "--engine",
        "llama.cpp",
        "--quant",
        "q4_k_m",
        "--engine-version",
        "b7000",
    )
    assert r.exit_code == 2 and "one rule set" in r.stderr


def test_printed_tokens_of_a_sliding_window_model_exceed_the_capacity(run):
    import json

    # gemma-4 26B-A4B interleaves sliding-window layers: a 262,144-token sequence costs the window on those layers,
    # so vLLM V1's printed figure (concurrency x max_model_len) is above capacity in full-size tokens
    r = run("fit", "gemma-4-26b-a4b", "--gpu", "dgx-spark", "--context", "262144", "--format", "json")
    m = json.loads(r.stdout)["memory"]
    assert m["kv_cache_tokens_printed"] > m["kv_cache_tokens"]
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--format", "json")
    m = json.loads(r.stdout)["memory"]
    assert abs(m["kv_cache_tokens_printed"] - m["kv_cache_tokens"]) <= 16  # all layers full: the same, to a block


def test_device_memory_is_what_cuda_reports(catalog):
    """Catalog memory_bytes against tests/data/engine_logs/device_memory.csv: CUDA/torch totals within 1%, and
    never above nvidia-smi's total."""
    from llmplan.plans.engine_logs import GPU_IDS

    with (LOGS / "device_memory.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    checked = 0
    for r in rows:
        gpu = GPU_IDS.get(r["gpu"].split(" ")[0], r["gpu"].split(" ")[0])
        if gpu not in catalog.gpus or "ECC-on" in r["notes"] or catalog.gpus[gpu].kind == "unified":
            continue
        have, total = catalog.gpus[gpu].memory_bytes, float(r["total_bytes"])
        if "nvidia-smi" in r["how_reported"]:
            assert have <= total, gpu
        else:
            assert have == pytest.approx(total, rel=0.01), (gpu, r["how_reported"])
            checked += 1
    assert checked >= 12
    spark = catalog.gpus["dgx-spark"]
    assert spark.memory_bytes * spark.gpu_memory_fraction == pytest.approx(130_595_569_664, rel=0.001)


def test_gpus_json_gives_the_cuda_totals(run):
    import json

    d = {g["id"]: g for g in json.loads(run("gpus", "--format", "json").stdout)}
    assert d["h200"]["memory_bytes"] >= 150e9 and d["mi355x"]["memory_bytes"] >= 309e9


def test_tensorrt_llm_runs_mxfp4_on_hopper_through_triton(run):
    import json

    r = run(
        "fit", "gpt-oss-120b", "--gpu", "h100-sxm", "--quant", "mxfp4", "--engine", "tensorrt-llm", "--format", "json"
    )
    assert r.exit_code == 0, r.stderr
    assert any("Triton MoE kernels" in w for w in json.loads(r.stdout)["warnings"])


def test_fitted_constants_match_the_fit_script():
    import importlib.util
    from pathlib import Path

    from llmplan.engines import memory_rules as R

    path = Path(__file__).parents[1] / "benchmarks" / "fit_engine_memory.py"
    spec = importlib.util.spec_from_file_location("fit_engine_memory", path)
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    rows = fit.samples()
    act = fit.fit_activation(rows)
    assert act["V0"][0] == pytest.approx(R.ACTIVATION_WIDTH_FACTOR["0.6"], abs=0.002)
    assert act["V0"][1] == pytest.approx(R.ACTIVATION_LOGIT_BYTES["0.6"], abs=0.002)
    assert act["V1"][0] == pytest.approx(R.ACTIVATION_WIDTH_FACTOR["0.8"], abs=0.002)
    assert act["V1"][1] == pytest.approx(R.ACTIVATION_LOGIT_BYTES["0.8"], abs=0.002)
    nt = fit.fit_non_torch(rows)
    assert nt[("vllm", "1")] == pytest.approx(R.non_torch_bytes("vllm", 1), rel=0.01)
    assert nt[("vllm", "2+")] == pytest.approx(R.non_torch_bytes("vllm", 2), rel=0.01)
    assert fit.fit_graphs(rows) == pytest.approx(R.VLLM_GRAPH_BYTES_PER_ELEMENT, rel=0.01)
