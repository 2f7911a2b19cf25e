"""The memory model against hand-computed cases and real file sizes."""

from __future__ import annotations

import csv

import pytest
from conftest import DATA, spec

from llmplan.core import memory as mem
from llmplan.engines.formats import FORMATS


def test_llama_31_8b_kv_bytes_per_token_bf16(catalog):
    # 32 layers x 8 KV heads x (128 + 128) x 2 bytes
    s = spec(catalog, "llama-3.1-8b-instruct")
    assert mem.kv_bytes_per_token(s, 2) == 32 * 8 * 256 * 2 == 131_072


def test_deepseek_v3_mla_cache_is_the_compressed_latent(catalog):
    s = spec(catalog, "deepseek-ai/DeepSeek-V3")
    assert mem.kv_bytes_per_token(s, 2) == 61 * (512 + 64) * 2
    # MLA keeps one latent per token on every GPU: tensor parallel does not split it
    assert mem.kv_bytes_per_sequence(s, 2, 1000, tp=8) == mem.kv_bytes_per_sequence(s, 2, 1000, tp=1)
    assert mem.kv_replicated(s, 8)


def test_gqa_kv_heads_split_then_replicate_under_tensor_parallel(catalog):
    s = spec(catalog, "llama-3.1-8b-instruct")  # 8 KV heads
    one = float(mem.kv_bytes_per_sequence(s, 2, 4096, tp=1))
    assert float(mem.kv_bytes_per_sequence(s, 2, 4096, tp=2)) == one / 2
    assert float(mem.kv_bytes_per_sequence(s, 2, 4096, tp=8)) == one / 8
    # 16 GPUs, 8 heads: each GPU keeps one head (replicated), not half a head
    assert float(mem.kv_bytes_per_sequence(s, 2, 4096, tp=16)) == one / 8


def test_gemma3_sliding_layers_stop_growing_at_their_window(catalog):
    s = spec(catalog, "google/gemma-3-27b-it")
    sliding = [g for g in s.cache_groups if g.kind == "sliding"]
    full = [g for g in s.cache_groups if g.kind == "full"]
    assert sliding and full
    window = sliding[0].window
    assert window == 1024
    # Gemma 3 27B: 62 layers, 16 KV heads of 128 dims (config.json); every 6th layer is global (10 of them),
    # the other 52 slide over 1,024 tokens. bf16: a global layer adds 16 x (128 + 128) x 2 = 8,192 B a token.
    assert sum(g.layers for g in full) == 10 and sum(g.layers for g in sliding) == 52
    a = float(mem.kv_bytes_per_sequence(s, 2, 20_000))
    b = float(mem.kv_bytes_per_sequence(s, 2, 30_000))
    # beyond the window only the 10 global layers grow: 10 x 8,192 B x 10,000 tokens
    assert b - a == 10 * 8_192 * 10_000
    # below the window all 62 layers grow: 62 x 8,192 B x 500 tokens
    assert float(mem.kv_bytes_per_sequence(s, 2, 500)) == 62 * 8_192 * 500


def test_kv_dtype_scales_cache(catalog):
    s = spec(catalog, "llama-3.1-8b-instruct")
    assert mem.kv_bytes_per_token(s, 1) == 65_536
    assert mem.kv_bytes_per_token(s, 34 / 32) == pytest.approx(131_072 * 34 / 64)


def _gguf_rows():
    with open(DATA / "calibration" / "gguf_sizes.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _gguf_rows(), ids=lambda r: f"{r['model'].split('/')[-1]}-{r['quant']}")
def test_gguf_weights_match_real_file_sizes_within_3pct(catalog, row):
    s = spec(catalog, row["model"])
    quant = "fp16" if row["quant"] == "f16" else row["quant"]
    predicted = mem.weights_bytes(s, FORMATS[quant])
    measured = int(row["file_bytes"])
    assert abs(predicted / measured - 1) <= 0.03, (predicted, measured)


def test_awq_keeps_embeddings_and_head_in_16_bit(catalog):
    s = spec(catalog, "llama-3.1-8b-instruct")
    awq = mem.weights_bytes(s, FORMATS["awq"])
    body = s.params_total - s.embed_params - s.lm_head_params
    expected = body * 4.25 / 8 + (s.embed_params + s.lm_head_params) * 2
    assert awq == pytest.approx(expected, rel=1e-6)


def test_moe_keeps_all_experts_resident(catalog):
    s = spec(catalog, "Qwen/Qwen3-30B-A3B")
    assert mem.weights_bytes(s, FORMATS["bf16"]) == pytest.approx(s.params_total * 2, rel=1e-6)


def test_tensorrt_llm_kv_pool_is_a_fraction_of_free_memory():
    from llmplan.engines.profiles import ENGINES

    total, weights, overhead = 80e9, 40e9, 2e9
    trt = float(mem.usable_bytes(total, ENGINES["tensorrt-llm"], weights, overhead))
    vllm = float(mem.usable_bytes(total, ENGINES["vllm"], weights, overhead))
    assert trt == pytest.approx(weights + overhead + 0.9 * (total - weights - overhead))
    assert vllm == pytest.approx(0.9 * total)
