"""Properties the performance model must obey, hand-checked roofline cases, sweeps and capacity."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplan.core.capacity import replica_capacity, replicas_needed
from llmplan.core.fit import full_load_concurrency
from llmplan.core.hardware import hardware_for
from llmplan.core.performance import decode_step_seconds, model_cost, serve
from llmplan.plans.deploy import build_deployment


def dep_for(catalog, model="llama-3.1-8b-instruct", gpu="h100-sxm", quant="bf16", engine=None, **kw):
    dep, _ = build_deployment(catalog, model, gpu=gpu, quant=quant, engine=engine, **kw)
    return dep


def serve_for(dep, concurrency, inp=None, out=None):
    cost = model_cost(dep.model, dep.fmt)
    hw = hardware_for(dep.gpu, dep.fmt, dep.n_gpus, dep.host_bandwidth, dep.expert_parallel)
    return serve(cost, dep.model, dep.kv_elem_bytes, dep.engine, hw, concurrency,
                 inp or dep.input_tokens, out or dep.output_tokens)


def test_batch1_decode_is_bandwidth_bound_by_hand(catalog):
    # llama.cpp on an RTX 4090, f16 8B, cache of 256 tokens: weights 16.06 GB streamed at 90% of 1008 GB/s,
    # cache 256 x 131072 B at 30% of that, plus 32 layers x 40 us of launches and 0.3 ms per step.
    dep = dep_for(catalog, gpu="rtx-4090", quant="fp16", engine="llama.cpp")
    cost = model_cost(dep.model, dep.fmt)
    hw = hardware_for(dep.gpu, dep.fmt, 1)
    step = float(decode_step_seconds(cost, dep.model, 2, dep.engine, hw, 1, 256))
    weights = cost.dense_read_bytes
    expected = weights / (1.008e12 * 0.9) + 256 * 131072 / (1.008e12 * 0.9 * 0.3) + 32 * 40e-6 + 3e-4
    assert step == pytest.approx(expected, rel=1e-6)
    assert 50 < 1 / step < 60  # measured 54.8 tokens/s (llama-bench tg512, calibration set)


@settings(max_examples=40, deadline=None)
@given(bw=st.floats(1e11, 8e12), extra=st.floats(1.01, 4.0), ctx=st.integers(16, 100_000))
def test_more_bandwidth_never_slows_decode(catalog, bw, extra, ctx):
    dep = dep_for(catalog, gpu="h100-sxm", quant="bf16")
    cost = model_cost(dep.model, dep.fmt)
    slow = replace(hardware_for(dep.gpu, dep.fmt, 1), bandwidth=bw)
    fast = replace(slow, bandwidth=bw * extra)
    t_slow = decode_step_seconds(cost, dep.model, 2, dep.engine, slow, 1, ctx)
    t_fast = decode_step_seconds(cost, dep.model, 2, dep.engine, fast, 1, ctx)
    assert t_fast <= t_slow


@settings(max_examples=40, deadline=None)
@given(ctx=st.integers(1, 60_000), more=st.integers(1, 60_000), batch=st.integers(1, 256))
def test_longer_context_never_speeds_decode(catalog, ctx, more, batch):
    for model in ("llama-3.1-8b-instruct", "google/gemma-3-27b-it", "qwen3.5-35b-a3b"):
        dep = dep_for(catalog, model=model)
        cost = model_cost(dep.model, dep.fmt)
        hw = hardware_for(dep.gpu, dep.fmt, 1)
        a = decode_step_seconds(cost, dep.model, 2, dep.engine, hw, batch, ctx)
        b = decode_step_seconds(cost, dep.model, 2, dep.engine, hw, batch, ctx + more)
        assert b >= a


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tgi", "tensorrt-llm"])
def test_throughput_never_falls_as_concurrency_rises_until_memory_runs_out(catalog, engine):
    dep = dep_for(catalog, quant="fp8", engine=engine, input_tokens=512, output_tokens=256, context=1024)
    top = full_load_concurrency(replace(dep, concurrency=None))
    conc = np.arange(1, top + 1)
    tps = serve_for(dep, conc).throughput_tokens_per_s
    assert np.all(np.diff(tps) >= -1e-9)


def test_llama_cpp_throughput_flattens_under_concurrent_load(catalog):
    dep = dep_for(catalog, gpu="rtx-4090", quant="q4_k_m", engine="ollama")
    tps = serve_for(dep, np.array([1, 4, 16, 64])).throughput_tokens_per_s
    per_user = serve_for(dep, np.array([1, 4, 16, 64])).decode_tokens_per_s
    assert tps[2] == pytest.approx(tps[1]) and tps[3] == pytest.approx(tps[1])  # slots are full: flat
    assert per_user[3] < per_user[1] / 10  # queued users wait
    vllm = serve_for(dep_for(catalog, gpu="rtx-4090", quant="awq"), np.array([64])).throughput_tokens_per_s
    assert vllm[0] > 3 * tps[3]


def test_bigger_model_never_decodes_faster_on_same_gpu(catalog):
    sizes = ["qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b", "qwen3-32b"]
    speeds = []
    for m in sizes:
        dep = dep_for(catalog, model=m, gpu="h100-sxm", quant="bf16")
        speeds.append(float(serve_for(dep, 1).decode_tokens_per_s))
    assert speeds == sorted(speeds, reverse=True)


def test_moe_reads_only_active_experts_at_batch_one(catalog):
    moe = dep_for(catalog, model="Qwen/Qwen3-30B-A3B", gpu="h100-sxm")
    dense = dep_for(catalog, model="qwen3-32b", gpu="h100-sxm")
    assert float(serve_for(moe, 1).decode_tokens_per_s) > 4 * float(serve_for(dense, 1).decode_tokens_per_s)
    cost = model_cost(moe.model, moe.fmt)
    from llmplan.core.performance import weights_read_per_step

    one, many = float(weights_read_per_step(cost, 1)), float(weights_read_per_step(cost, 512))
    assert one < 0.2 * many  # 8 of 128 experts at batch 1, nearly all at 512


def test_pcie_tensor_parallel_is_slower_than_nvlink(catalog):
    nv = dep_for(catalog, model="meta-llama/Llama-3.3-70B-Instruct", gpu="2xh100-sxm", quant="fp8")
    pcie = dep_for(catalog, model="meta-llama/Llama-3.3-70B-Instruct", gpu="2xh100-pcie", quant="fp8")
    pcie_on_nvlink_bw = replace(pcie, gpu=pcie.gpu.model_copy(update={"interconnect": nv.gpu.interconnect}))
    assert float(serve_for(pcie, 1).decode_tokens_per_s) < float(serve_for(pcie_on_nvlink_bw, 1).decode_tokens_per_s)


def test_full_load_properties(catalog):
    base = dep_for(catalog, quant="fp8", engine="tensorrt-llm", concurrency="max", output_tokens=256, context=40000)
    prev = None
    for inp in (128, 1024, 4096, 16384):
        d = replace(base, input_tokens=inp)
        tps = float(serve_for(d, full_load_concurrency(d)).throughput_tokens_per_s)
        assert prev is None or tps < prev  # more input per request, same output: less output throughput
        prev = tps
        assert tps >= float(serve_for(d, 1).throughput_tokens_per_s)
    small = dep_for(catalog, gpu="h100-sxm", quant="fp8", concurrency="max", input_tokens=2000, output_tokens=2000)
    big = dep_for(catalog, gpu="h200", quant="fp8", concurrency="max", input_tokens=2000, output_tokens=2000)
    assert full_load_concurrency(big) >= full_load_concurrency(small)


def test_fp8_on_ampere_warns_weight_only(run):
    r = run("fit", "qwen3-8b", "--gpu", "a100-80gb", "--quant", "fp8", "--format", "json")
    assert r.exit_code == 0
    assert any("weight-only" in w for w in json.loads(r.stdout)["warnings"])


def test_partial_offload_on_llama_cpp(run):
    r = run("fit", "meta-llama/Llama-3.3-70B-Instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--format", "json")
    data = json.loads(r.stdout)
    assert data["fits"] is False and data["fits_with_offload"] is True
    off = data["offload"]
    assert 0 < off["gpu_layers"] < off["total_layers"] == 80 and off["host_bytes"] > 0
    slower = run("fit", "meta-llama/Llama-3.3-70B-Instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m",
                 "--host-bandwidth-gbs", "40", "--format", "json")
    assert json.loads(slower.stdout)["performance"]["decode_tokens_per_s"] < data["performance"]["decode_tokens_per_s"]


def test_latency_is_ttft_plus_output_over_decode(run):
    data = json.loads(run("fit", "qwen3-8b", "--gpu", "l40s", "--format", "json", "--concurrency", "4").stdout)
    p = data["performance"]
    assert p["request_latency_s"] == pytest.approx(p["ttft_s"] + data["output_tokens"] / p["decode_tokens_per_s"],
                                                   rel=2e-3)


def test_replicas_count_in_aggregate_throughput(run):
    one = json.loads(run("fit", "qwen3-8b", "--gpu", "l4", "--quant", "fp8", "--format", "json").stdout)
    three = json.loads(run("fit", "qwen3-8b", "--gpu", "l4", "--quant", "fp8", "--replicas", "3",
                           "--format", "json").stdout)
    assert three["performance"]["throughput_tokens_per_s"] == pytest.approx(
        3 * one["performance"]["throughput_tokens_per_s"], rel=1e-3)


def test_sweep_concurrency_csv_and_target(run):
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8", "--sweep", "concurrency",
            "--max-ttft-s", "0.5", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["concurrency"] == "1" and len(rows) >= 4
    tps = [float(x["throughput_tokens_per_s"]) for x in rows]
    assert tps == sorted(tps)
    table = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8", "--sweep", "concurrency",
                "--min-tokens-per-s", "15")
    assert "target" in table.stdout
    j = json.loads(run("fit", "llama-3.1-8b-instruct", "--gpu", "h100-sxm", "--sweep", "input-tokens",
                       "--format", "json").stdout)
    outs = [row["throughput_tokens_per_s"] for row in j["rows"]]
    assert outs == sorted(outs, reverse=True)


def test_capacity_function(catalog):
    dep = dep_for(catalog, quant="fp8", input_tokens=500, output_tokens=500, context=1000)
    full = replica_capacity(dep)
    tight = replica_capacity(dep, max_ttft_s=0.2, min_tokens_per_s=60)
    assert full.sized_at == "full load" and tight.sized_at == "latency target"
    assert tight.requests_per_s <= full.requests_per_s
    assert tight.decode_tokens_per_s >= 60 and tight.ttft_s <= 0.2
    assert full.requests_per_s == pytest.approx(full.output_tokens_per_s / 500)
    assert list(replicas_needed([0.1, full.requests_per_s, full.requests_per_s * 2.5], full.requests_per_s)) == [1, 1, 3]
