"""The one reading of config.json (llmplan.models.architecture) against the real configs of 2026 models.

Every figure below is computed by hand from the config.json in tests/data/model-configs/<org>/<name>/,
with the arithmetic in a comment beside it. KV figures are bytes at a 2-byte (bf16) cache unless said.
"""

from __future__ import annotations

import copy
import json

import pytest
from conftest import DATA

from llmplan.core import memory as mem
from llmplan.errors import ConfigError
from llmplan.models.architecture import ModelSpec, model_spec_from_config

CONFIGS = DATA / "model-configs"
REPOS = sorted(str(p.parent.relative_to(CONFIGS)) for p in CONFIGS.glob("*/*/config.json"))


def load(repo: str) -> dict:
    folder = CONFIGS / repo
    config = json.loads((folder / "config.json").read_text())
    quant = folder / "hf_quant_config.json"
    if quant.exists():
        config["hf_quant_config"] = json.loads(quant.read_text())
    return config


def spec(repo: str, config: dict | None = None) -> ModelSpec:
    return model_spec_from_config(repo, config if config is not None else load(repo))


def fit_json(run, *args) -> dict:
    result = run("fit", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_reference_configs_are_here():
    assert len(REPOS) >= 80
    assert "Qwen/Qwen3.5-35B-A3B" in REPOS and "deepseek-ai/DeepSeek-V4-Flash" in REPOS


# ------------------------------------------------------------------------ KV cache and recurrent state


def test_qwen35_35b_a3b_gated_deltanet_hybrid():
    s = spec("Qwen/Qwen3.5-35B-A3B")
    # layer_types: 30 linear_attention (Gated DeltaNet) + 10 full_attention (every 4th layer)
    assert s.layer_kinds == {"full": 10, "linear": 30}
    # per token, only the 10 full-attention layers: 2 KV heads x (256 K + 256 V) x 2 bytes = 2,048 per layer
    #   10 x 2,048 = 20,480 (all 40 layers as attention would be 81,920)
    assert mem.kv_bytes_per_token(s, 2) == 10 * 2 * (256 + 256) * 2 == 20_480
    # per sequence, the 30 Gated DeltaNet layers (mamba_ssm_dtype float32):
    #   recurrent state linear_num_value_heads x key_head_dim x value_head_dim x 4 = 32 x 128 x 128 x 4 = 2,097,152
    #   conv state (2 x 16 x 128 (q, k) + 32 x 128 (v)) x (kernel 4 - 1) x 2 bytes = 8,192 x 3 x 2 = 49,152
    #   30 x (2,097,152 + 49,152) = 64,389,120
    assert mem.state_bytes_per_sequence(s) == 30 * (32 * 128 * 128 * 4 + 8_192 * 3 * 2) == 64_389_120
    # a sequence of 10,000 tokens: 20,480 x 10,000 + 64,389,120 = 269,189,120
    assert float(mem.kv_bytes_per_sequence(s, 2, 10_000)) == 269_189_120


def test_qwen35_27b_dense_hybrid():
    s = spec("Qwen/Qwen3.5-27B")
    # 16 full layers x 4 KV heads x (256 + 256) x 2 = 65,536
    assert mem.kv_bytes_per_token(s, 2) == 16 * 4 * 512 * 2 == 65_536
    # 48 GDN layers x (48 x 128 x 128 x 4 + (2 x 16 x 128 + 48 x 128) x 3 x 2)
    #   = 48 x (3,145,728 + 10,240 x 6) = 48 x 3,207,168 = 153,944,064
    assert mem.state_bytes_per_sequence(s) == 153_944_064


def test_nemotron3_nano_mamba_hybrid():
    s = spec("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # hybrid_override_pattern MEMEM*E...: 23 M (Mamba-2), 23 E (MoE), 6 * (attention) blocks
    assert s.layer_kinds == {"full": 6, "mamba": 23}
    # 6 attention blocks x 2 KV heads x (128 + 128) x 2 bytes = 6,144
    assert mem.kv_bytes_per_token(s, 2) == 6 * 2 * 256 * 2 == 6_144
    # 23 Mamba-2 blocks (mamba_ssm_cache_dtype float32), inner = 64 heads x 64 = 4,096:
    #   SSM state 4,096 x ssm_state_size 128 x 4 bytes = 2,097,152
    #   conv state (4,096 + 2 x n_groups 8 x 128) x (conv_kernel 4 - 1) x 2 bytes = 6,144 x 6 = 36,864
    #   23 x 2,134,016 = 49,082,368
    assert mem.state_bytes_per_sequence(s) == 23 * (4_096 * 128 * 4 + 6_144 * 3 * 2) == 49_082_368


def test_nemotron3_ultra_reads_without_num_hidden_layers():
    s = spec("nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16")
    # no num_hidden_layers: the 108 entries of layers_block_type are the blocks (48 mamba, 48 moe, 12 attention)
    assert s.num_layers == 108 and s.layer_kinds == {"full": 12, "mamba": 48}
    # 12 x 2 KV heads x 256 x 2 = 12,288
    assert mem.kv_bytes_per_token(s, 2) == 12_288
    # 48 x (256 heads x 64 x 128 x 4 + (16,384 + 2 x 8 x 128) x 3 x 2) = 48 x (8,388,608 + 110,592) = 407,961,600
    assert mem.state_bytes_per_sequence(s) == 407_961_600


def test_gemma4_26b_a4b_sliding_and_global_layers():
    s = spec("google/gemma-4-26B-A4B")
    assert s.layer_kinds == {"full": 5, "sliding": 25}
    # sliding: 25 layers x 8 KV heads x (256 + 256) x 2 = 204,800
    # global (attention_k_eq_v): num_global_key_value_heads 2, global_head_dim 512; V comes from the key
    #   projection but is cached apart from K (K gets RoPE and k_norm, V v_norm): 5 x 2 x (512 + 512) x 2 = 20,480
    assert mem.kv_bytes_per_token(s, 2) == 204_800 + 20_480 == 225_280
    assert mem.state_bytes_per_sequence(s) == 0
    # 4,096 tokens: sliding layers stop at their 1,024 window
    #   25 x 8,192 x 1,024 + 5 x 4,096 x 4,096 = 209,715,200 + 83,886,080 = 293,601,280
    assert float(mem.kv_bytes_per_sequence(s, 2, 4_096)) == 293_601_280


def test_deepseek_v32_mla_latent_and_indexer_keys():
    s = spec("deepseek-ai/DeepSeek-V3.2")
    assert s.layer_kinds == {"mla": 61}
    # 61 MLA layers x ((kv_lora_rank 512 + qk_rope_head_dim 64) x 2 bytes + indexer key index_head_dim 128 fp8
    #   + one fp32 scale 4) = 61 x (1,152 + 132) = 61 x 1,284 = 78,324
    assert mem.kv_bytes_per_token(s, 2) == 61 * (576 * 2 + 132) == 78_324
    # an fp8 latent: 61 x (576 + 132) = 43,188 (the indexer keys are fp8 either way)
    assert mem.kv_bytes_per_token(s, 1) == 43_188
    assert mem.state_bytes_per_sequence(s) == 0
    assert any("indexer" in a for a in s.approximations)


def test_gpt_oss_sliding_window_128():
    s = spec("openai/gpt-oss-120b")
    assert s.layer_kinds == {"full": 18, "sliding": 18}
    # 36 layers x 8 KV heads x (64 + 64) x 2 = 73,728 per token before the window caps the sliding half
    assert mem.kv_bytes_per_token(s, 2) == 36 * 8 * 128 * 2 == 73_728
    # 4,096 tokens: 18 x 2,048 x 4,096 + 18 x 2,048 x 128 (window) = 150,994,944 + 4,718,592 = 155,713,536
    assert float(mem.kv_bytes_per_sequence(s, 2, 4_096)) == 155_713_536
    small = spec("openai/gpt-oss-20b")
    # 24 layers x 8 x 128 x 2 = 49,152
    assert mem.kv_bytes_per_token(small, 2) == 49_152


def test_more_2026_caches():
    # GLM-5.2: indexer_types 'shared' layers reuse an earlier layer's indexer: 21 'full' ones keep keys
    #   78 x 576 x 2 + 21 x 132 = 89,856 + 2,772 = 92,628
    assert mem.kv_bytes_per_token(spec("zai-org/GLM-5.2"), 2) == 92_628
    # Kimi K3: 24 MLA layers x 576 x 2 = 27,648; 69 KDA layers x (96 heads x 128 x 128 x 4
    #   + 3 convs (q, k, v) x 96 x 128 x 3 x 2) = 69 x (6,291,456 + 221,184) = 449,372,160
    k3 = spec("moonshotai/Kimi-K3")
    assert k3.layer_kinds == {"mla": 24, "linear": 69}
    assert mem.kv_bytes_per_token(k3, 2) == 27_648
    assert mem.state_bytes_per_sequence(k3) == 449_372_160
    # MiniMax M3 block-sparse attention: 60 x 4 KV heads x 256 x 2 = 122,880, plus indexer keys on the 57
    #   sparse layers: 57 x sparse_index_dim 128 x 4 index heads x 2 = 58,368 -> 181,248 (60 layers, not 117)
    m3 = spec("MiniMaxAI/MiniMax-M3")
    assert m3.layer_kinds == {"full": 60}
    assert mem.kv_bytes_per_token(m3, 2) == 181_248
    # MiMo-V2-Flash: 9 full x 4 KV x (192 + 128) x 2 + 39 SWA x 8 KV x (192 + 128) x 2 = 23,040 + 199,680
    assert mem.kv_bytes_per_token(spec("XiaomiMiMo/MiMo-V2-Flash"), 2) == 222_720
    # Llama 4 Scout: no no_rope_layers in config, so transformers' default: every 4th layer NoPE/global,
    #   the other 36 chunked at attention_chunk_size 8,192
    scout = spec("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert scout.layer_kinds == {"full": 12, "sliding": 36}
    assert {g.window for g in scout.cache_groups if g.kind == "sliding"} == {8192}


def test_deepseek_v4_compressed_attention():
    s = spec("deepseek-ai/DeepSeek-V4-Flash")
    # compress_ratios (first 43 of 44; the last is the MTP layer): 2 x 0, 21 x 4, 20 x 128
    assert s.layer_kinds == {"sliding": 2, "compressed": 41}
    # per token: every layer's 128-token window of one 512-wide K=V entry: 43 x 512 x 2 = 44,032
    #   ratio-4 layers: (512 x 2 + indexer 128 fp8 + 4 scale) / 4 = 1,156 / 4 = 289 each, x 21 = 6,069
    #   ratio-128 layers: 1,024 / 128 = 8 each, x 20 = 160          -> 50,261
    assert mem.kv_bytes_per_token(s, 2) == 44_032 + 6_069 + 160 == 50_261
    # 131,072 tokens: windows 43 x 1,024 x 128 = 5,636,096; ratio 4: 21 x 1,156 x 32,768 = 795,475,968;
    #   ratio 128: 20 x 1,024 x 1,024 = 20,971,520 -> 822,083,584
    assert float(mem.kv_bytes_per_sequence(s, 2, 131_072)) == 822_083_584
    # the compressors' fp32 buffers are not counted, and the spec says how much that is:
    #   ratio 4: 2 (kv, score) x 8 x 1,024 x 4 = 65,536 + indexer 2 x 8 x 256 x 4 = 16,384; ratio 128: 2 x 128 x 512
    #   x 4 = 524,288 -> 21 x 81,920 + 20 x 524,288 = 12,206,080 bytes = 12.2 MB
    assert any("12.2 MB per sequence" in a for a in s.approximations)


# ------------------------------------------------------------------------------ parameter counts

# (repo, total basis, card total, active basis, card active, card source)
#   total bases:  "all" = everything in the checkpoint; "no_mtp" = without the multi-token-prediction layers;
#                 "text" = without the vision tower; "text_no_mtp" = neither
#   active bases: "with_embeddings" = spec.params_active (embedding table and lm_head included);
#                 "no_input_embedding" = less the embedding lookup table (gpt-oss / DeepSeek style);
#                 "non_embedding" = less the embedding table and the lm_head
CARDS = [
    # Qwen3.5-27B (hidden 5120, 48 Gated DeltaNet + 16 full layers, dense MLP 17,408):
    #   embed = lm_head = 248,320 x 5,120 = 1,271,398,400
    #   full attention: q+gate 5,120 x 24 x 256 x 2 + k, v 2 x 5,120 x 4 x 256 + o 6,144 x 5,120 + norms = 104,858,112
    #   GDN: in_proj 5,120 x (2 x 2,048 + 2 x 6,144) = 83,886,080, ba 5,120 x 96 = 491,520, conv 10,240 x 4 = 40,960,
    #        A_log + dt_bias 96, norm 128, out_proj 6,144 x 5,120 = 31,457,280 -> 115,876,064
    #   MLP 3 x 5,120 x 17,408 = 267,386,880
    #   16 x 104.9M + 48 x 115.9M + 64 x 267.4M + 2 x 1,271.4M + norms = 26,895,998,464 (the language model, all active)
    #   + vision tower 460,728,944 = 27,356,727,408 without the MTP layer (424,699,392)
    (
        "Qwen/Qwen3.5-27B",
        "no_mtp",
        27e9,
        "with_embeddings",
        27e9,
        "model card: 'Number of Parameters: 27B' (dense: the whole language model is active)",
    ),
    # Qwen3.5-122B-A10B (hidden 3072, 36 Gated DeltaNet + 12 full layers, 256 experts top-8 of width 1024):
    #   embed = lm_head = 248,320 x 3,072 = 762,839,040
    #   experts 48 x 256 x 3 x 3,072 x 1,024 = 48 x 256 x 9,437,184 = 115,964,116,992
    #   shared expert 3 x 3,072 x 1,024 + gate 3,072 = 9,440,256, router 3,072 x 256 = 786,432 (x 48)
    #   full attention: q+gate 3,072 x 32 x 256 x 2 + k, v 2 x 3,072 x 2 x 256 + o 8,192 x 3,072 + norms = 78,643,712
    #   GDN: in_proj 3,072 x (2 x 2,048 + 2 x 8,192) + ba 3,072 x 128 + conv 12,288 x 4 + out 8,192 x 3,072
    #        + A, dt, norm = 88,523,008
    #   12 x 78,643,712 + 36 x 88,523,008 + 48 x (116,142,528 MoE + norms) + embeddings = 122,562,816,624
    #   (+ MTP layer 2,523,679,232 + vision 451,289,712 = 125,086,495,856 in the checkpoint)
    #   active: 12 x 78.6M + 36 x 88.5M + 48 x (8 x 9,437,184 + 9,440,256 + 786,432) + 2 x 762.8M = 9,771,288,576
    (
        "Qwen/Qwen3.5-122B-A10B",
        "no_mtp",
        122e9,
        "with_embeddings",
        10e9,
        "model card: 122B total, 10B activated (language model with vision encoder, MTP layer not counted)",
    ),
    # Qwen3.5-397B-A17B (hidden 4096, 45 GDN + 15 full, 512 experts top-10 of width 1024):
    #   experts 60 x 512 x 3 x 4,096 x 1,024 = 386,547,056,640; embed = lm_head = 248,320 x 4,096 = 1,017,118,720
    #   full attention 104,858,112, GDN 118,014,208, shared 12,587,008, router 2,097,152 per layer
    #   total without MTP (6,595,568,128) = 396,802,359,664; active 17,349,040,896
    (
        "nvidia/Qwen3.5-397B-A17B-NVFP4",
        "no_mtp",
        397e9,
        "with_embeddings",
        17e9,
        "model card of Qwen/Qwen3.5-397B-A17B: 397B total, 17B activated",
    ),
    # Nemotron 3 Nano (hidden 2688): 23 Mamba-2 blocks of in_proj 2,688 x (2 x 4,096 + 2 x 8 x 128 + 64)
    #   + out_proj 4,096 x 2,688 + conv/A/D/dt/norm = 38,742,208; 6 attention blocks 2,688 x (4,096 + 2 x 256)
    #   + 4,096 x 2,688 = 23,396,352; 23 MoE blocks of 128 relu2 experts 2 x 2,688 x 1,856 = 9,977,856 each,
    #   shared 2 x 2,688 x 3,712 = 19,955,712, router 2,688 x 128 = 344,064; embed = lm_head = 131,072 x 2,688
    #   total = 891.1M + 140.4M + 23 x 1,297.5M + 704.6M + norms = 31,577,937,344
    #   active = 891.1M + 140.4M + 23 x (6 x 9.98M + 19.96M + 0.34M) + 704.6M = 3,580,073,408
    (
        "nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
        "all",
        31.6e9,
        "with_embeddings",
        3.6e9,
        "Nemotron 3 Nano technical report: 31.6B total, 3.2B active (3.6B including embeddings)",
    ),
    # Nemotron 3 Ultra (hidden 8192, latent MoE 2048): 48 Mamba-2 x 421,636,864 + 12 attention x 138,412,032
    #   + 48 MoE x (512 x 2 x 2,048 x 5,120 = 10,737,418,240 + shared 2 x 8,192 x 10,240 = 167,772,160
    #   + latent projections 2 x 8,192 x 2,048 + router 8,192 x 512 = 37,748,736) + 2 x 131,072 x 8,192
    #   = 549,308,968,960 without the MTP layer (attention + MoE, 11,215,609,856)
    #   active: experts 22 of 512 -> 56,058,818,560
    (
        "nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16",
        "no_mtp",
        550e9,
        "with_embeddings",
        55e9,
        "model card: 550B total, 55B active",
    ),
    # Gemma 4 26B-A4B (hidden 2816), every layer a dense GeGLU MLP 3 x 2,816 x 2,112 = 17,842,176 beside
    #   128 experts of 3 x 2,816 x 704 = 5,947,392 (x 128 = 761,266,176) + router 363,392;
    #   25 sliding layers q 2,816 x 4,096 + k, v 2 x 2,816 x 2,048 + o 4,096 x 2,816 + norms = 34,603,520;
    #   5 global layers q 2,816 x 8,192 + k 2,816 x 1,024 (no v_proj: K=V) + o 8,192 x 2,816 + norms = 49,021,952;
    #   tied embedding 262,144 x 2,816 = 738,197,504 -> language model 25,232,888,320 (vision tower 572,916,096
    #   more); active: 8 experts -> 30 x (17.8M + 47.6M + 0.36M) + attention + embedding = 3,822,277,120
    (
        "google/gemma-4-26B-A4B",
        "text",
        25.2e9,
        "with_embeddings",
        3.8e9,
        "Gemma 4 model card: 25.2B total, 3.8B active, ~550M vision encoder listed apart",
    ),
    # DeepSeek-V3.2 (hidden 7168): 61 MLA layers of q 7,168 x 1,536 + 1,536 x 128 x 192, kv_a 7,168 x 576,
    #   kv_b 512 x 128 x 256, o 16,384 x 7,168 = 187,107,328, + indexer 1,536 x 64 x 128 + 7,168 x (128 + 64)
    #   = 13,959,424; 3 dense MLPs 3 x 7,168 x 18,432 = 396,361,728; 58 MoE layers of 256 experts
    #   3 x 7,168 x 2,048 = 44,040,192 + 1 shared + router; embed = lm_head = 129,280 x 7,168 = 926,679,040;
    #   MTP layer (MoE layer + eh_proj + its own embedding and head copy) 13,477,385,728 -> 685,355,329,792
    #   active without the embedding lookup: 38,403,822,336 - 926,679,040 = 37,477,143,296
    (
        "deepseek-ai/DeepSeek-V3.2",
        "all",
        685e9,
        "no_input_embedding",
        37e9,
        "Hugging Face size 685B (incl. the MTP module); 37B activated per token (DeepSeek-V3 report)",
    ),
    # GLM-5 (hidden 6144): 78 MLA layers (q_lora 2,048, 64 heads x (192 + 64), v 256) 165,022,208 + indexer
    #   (32 heads x 128) 9,371,904; 3 dense MLPs 3 x 6,144 x 12,288 = 226,492,416; 75 MoE layers of 256 experts
    #   3 x 6,144 x 2,048 = 37,748,736 + 1 shared + router; embed = lm_head = 154,880 x 6,144 = 951,582,720
    #   -> 743,911,218,432 without the MTP layer (9,952,920,576); active less the embedding 40,833,146,112
    (
        "zai-org/GLM-5",
        "no_mtp",
        744e9,
        "no_input_embedding",
        40e9,
        "GLM-5 model card / technical report: 744B total (MTP layer excluded), 40B activated",
    ),
    # MiniMax-M2.5 (hidden 3072): 62 layers of attention 3,072 x (6,144 + 2 x 1,024) + 6,144 x 3,072
    #   + per-layer q/k norms 7,168 = 44,047,360; 256 experts x 3 x 3,072 x 1,536 = 3,623,878,656 + router
    #   786,688; embed = lm_head = 200,064 x 3,072 = 614,596,608 -> 228,689,764,864
    #   active without embeddings: 62 x (44.0M + 8 x 14.2M + 0.8M) = 9,801,359,872
    (
        "MiniMaxAI/MiniMax-M2.5",
        "all",
        230e9,
        "non_embedding",
        10e9,
        "MiniMax M2-series model card: 230B total, 10B active",
    ),
    # MiniMax-M3 (hidden 6144): 60 x attention 106,955,008; 3 dense 3 x 6,144 x 12,288 = 226,492,416;
    #   57 MoE of 128 x 3 x 6,144 x 3,072 = 7,247,757,312 + shared 56,623,104 + router; 2 x 200,064 x 6,144
    #   -> 425,950,425,216 without the MTP layer (7,487,650,176); active without embeddings:
    #   60 x 107.0M + 3 x 226.5M + 57 x (4 x 56.6M + 56.6M + 0.8M) = 23,279,939,712
    ("MiniMaxAI/MiniMax-M3", "no_mtp", 428e9, "non_embedding", 23e9, "model card: ~428B total, ~23B activated"),
    # Kimi K2.5 (DeepSeek-V3 shape, hidden 7168, 64 heads, 384 experts, first layer dense, no MTP):
    #   61 MLA layers 101,124,096; dense 396,361,728; 60 MoE layers of 384 x 44,040,192 + shared + router;
    #   embed = lm_head = 163,840 x 7,168 = 1,174,405,120; MoonViT 27 x 1,152-wide + patch merger = 466,146,432
    #   -> 1,026,874,378,880; active 32,861,500,928
    ("moonshotai/Kimi-K2.5", "all", 1000e9, "with_embeddings", 32e9, "model card: 1T total, 32B activated"),
    # Step-3.7-Flash (hidden 4096): 45 attention layers 4,096 x (8,192 + 2 x 1,024) + 8,192 x 4,096
    #   = 75,497,728; 3 dense 3 x 4,096 x 11,264 = 138,412,032; 42 MoE of 288 x 3 x 4,096 x 1,280 = 15,728,640
    #   + shared 15,728,640 + router; 2 x 128,896 x 4,096 -> 195,832,712,256 without the 3 MTP layers
    #   (13,967,488,608); active 45 x 75.5M + 3 x 138.4M + 42 x (9 x 15.7M + 1.2M) + 1,055.9M = 10,863,905,856
    (
        "stepfun-ai/Step-3.7-Flash",
        "no_mtp",
        196e9,
        "with_embeddings",
        11e9,
        "model card: 196B language backbone (198B with the 1.8B vision encoder not in this config), 11B active",
    ),
    # MiMo-V2-Flash (hidden 4096): 9 full layers q 4,096 x 64 x 192, k 4,096 x 4 x 192, v 4,096 x 4 x 128,
    #   o 8,192 x 4,096 = 89,128,960; 39 SWA layers (8 KV heads, + sinks) 94,371,904; layer 0 dense
    #   3 x 4,096 x 16,384 = 201,326,592; 47 MoE of 256 x 3 x 4,096 x 2,048 = 6,442,450,944 + router;
    #   2 x 152,576 x 4,096 -> 308,778,780,864; active less the embedding 14,820,985,024
    ("XiaomiMiMo/MiMo-V2-Flash", "all", 309e9, "no_input_embedding", 15e9, "model card: 309B total, 15B active"),
    # DeepSeek-V4-Flash (hidden 4096): attention wq_a 4,096 x 1,024, wq_b 1,024 x 64 x 512, wkv 4,096 x 512,
    #   grouped output 64 x 512 x 1,024 + 8 x 1,024 x 4,096 = 106,956,352; + compressor (ratio 4: 2 x 4,096 x
    #   1,024 + indexer) 126,098,624 or (ratio 128: 2 x 4,096 x 512) 111,216,704; 43 MoE layers of 256 x 3 x 4,096
    #   x 2,048 = 6,442,450,944 + shared + router; hyper-connections; 2 x 129,280 x 4,096
    #   -> 284,332,241,239 without the MTP layer (6,609,196,864); active less the embedding 13,270,102,359
    (
        "deepseek-ai/DeepSeek-V4-Flash",
        "no_mtp",
        284e9,
        "no_input_embedding",
        13e9,
        "model card: 284B total, 13B activated",
    ),
    # DeepSeek-V4-Pro (hidden 7168, 61 layers, 384 experts of 3 x 7,168 x 3,072 = 66,060,288):
    #   1,572,997,202,915 without the MTP layer; active less the embedding 48,852,403,171
    (
        "deepseek-ai/DeepSeek-V4-Pro",
        "no_mtp",
        1600e9,
        "no_input_embedding",
        49e9,
        "model card: 1.6T total, 49B activated",
    ),
]


def _total(s: ModelSpec, basis: str) -> int:
    return {
        "all": s.params_total,
        "no_mtp": s.params_total - s.mtp_params,
        "text": s.params_total - s.vision_params,
        "text_no_mtp": s.params_total - s.vision_params - s.mtp_params,
    }[basis]


def _active(s: ModelSpec, basis: str) -> int:
    return {
        "with_embeddings": s.params_active,
        "no_input_embedding": s.params_active - s.embed_params,
        "non_embedding": s.params_active - s.embed_params - s.lm_head_params,
    }[basis]


@pytest.mark.parametrize(
    ("repo", "total_basis", "card_total", "active_basis", "card_active", "source"),
    CARDS,
    ids=[c[0].split("/")[1] for c in CARDS],
)
def test_parameters_from_config_match_the_model_card(repo, total_basis, card_total, active_basis, card_active, source):
    s = spec(repo)
    assert s.params_computed
    total, active = _total(s, total_basis), _active(s, active_basis)
    assert abs(total / card_total - 1) <= 0.03, (repo, total, card_total, source)
    assert abs(active / card_active - 1) <= 0.03, (repo, active, card_active, source)


def test_qwen35_35b_a3b_total_and_its_nominal_active_count():
    s = spec("Qwen/Qwen3.5-35B-A3B")
    # 40 layers x 256 experts x 3 x 2,048 x 512 = 32,212,254,720 routed; without the MTP layer (844,640,768):
    #   35,951,821,552 - 844,640,768 = 35,107,180,784, the card's 35B (+0.3%)
    assert abs((s.params_total - s.mtp_params) / 35e9 - 1) <= 0.03
    # active: 10 x 27,263,488 full attention + 30 x 33,718,464 GDN
    #   + 40 x (8 x 3,145,728 + 3,147,776 shared + 524,288 router)
    #   + norms + 2 x 248,320 x 2,048 embeddings = 3,454,988,928. The card's "3B" is the name's round figure: the
    #   embeddings alone are 1.02B of a model this small (2.95B without the input table, 2.44B without both)
    assert s.params_active == 3_454_988_928
    assert s.params_active - s.embed_params == 2_946_429_568


def test_at_least_eight_2026_models_match_their_cards():
    assert len({c[0] for c in CARDS}) >= 8


def test_exact_figures_where_the_checkpoint_count_is_known():
    # DeepSeek-V3 safetensors: 671,026,419,200 main model + 13,463,426,304 MTP module = 684,489,845,504
    v3 = spec("deepseek-ai/DeepSeek-V3")
    assert v3.params_total == 684_489_845_504 and v3.mtp_params == 13_463_426_304
    assert v3.params_active == 37_552_297_472
    # gpt-oss-120b model card 116.83B total, 5.13B active (unembedding counted, embedding not): exact checkpoint
    #   counts with expert and attention biases and attention sinks
    oss = spec("openai/gpt-oss-120b")
    assert oss.params_total == 116_829_156_672
    assert oss.params_active - oss.embed_params == 5_132_849_472
    # Mixtral-8x7B: 46,702,792,704 total, 12,879,925,248 with 2 of 8 experts
    mix = spec("mistralai/Mixtral-8x7B-v0.1")
    assert (mix.params_total, mix.params_active) == (46_702_792_704, 12_879_925_248)
    # Llama 4 Scout text decoder: 107,769,861,120 (16 experts + a shared expert in every layer), 17,172,894,720 active
    scout = spec("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert (scout.params_total, scout.params_active) == (107_769_861_120, 17_172_894_720)


def test_published_counts_win_but_the_config_splits_them():
    config = load("Qwen/Qwen3.5-35B-A3B")
    s = model_spec_from_config("Qwen/Qwen3.5-35B-A3B", config, params_total=35_000_000_000, params_active=3_000_000_000)
    assert (s.params_total, s.params_active) == (35_000_000_000, 3_000_000_000)
    assert not s.params_computed
    # 40 MoE layers x 256 experts x 3 x 2,048 x 512 = 32,212,254,720 computed, scaled by 35e9 / 35,951,821,552
    assert s.expert_params == pytest.approx(32_212_254_720 * 35e9 / 35_951_821_552, rel=1e-6)
    assert s.vision_params > 0 and s.mtp_params > 0


# --------------------------------------------------------------------------- a hybrid model's fit


def _fit(run, context: int, *extra) -> dict:
    return fit_json(run, "qwen3.5-35b-a3b", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--context", context, *extra)


def test_hybrid_fit_grows_by_the_attention_layers_only(run):
    a = _fit(run, 8_192)
    b = _fit(run, 16_384)
    # per token: the 10 full-attention layers only (10 x 2 x 512 x 2); per sequence: the 30 GDN layers' state
    assert a["memory"]["kv_bytes_per_token"] == 20_480
    assert a["memory"]["state_bytes_per_sequence"] == 64_389_120
    assert a["model"]["layer_kinds"] == {"full": 10, "linear": 30}
    # one sequence of N tokens holds 20,480 x N + 64,389,120
    assert a["memory"]["kv_cache_bytes"] == 20_480 * 8_192 + 64_389_120 == 232_161_280
    # 8,192 more tokens add exactly 8,192 x 20,480 bytes; the state does not grow
    assert b["memory"]["kv_cache_bytes"] - a["memory"]["kv_cache_bytes"] == 8_192 * 20_480
    assert b["memory"]["weights_bytes"] == a["memory"]["weights_bytes"]
    # three sequences: three states, three token caches
    c = _fit(run, 8_192, "--concurrency", "3")
    assert c["memory"]["kv_cache_bytes"] == 3 * (20_480 * 8_192 + 64_389_120)


def test_hybrid_fit_stops_fitting_where_max_context_says(run):
    small = _fit(run, 32_768)
    assert small["fits"]
    m = small["memory"]
    room = m["usable_bytes"] - m["weights_bytes"] - m["overhead_bytes"]
    # the largest context: (room - state) / 20,480 tokens (within a token of the integer rounding of the report)
    limit = small["max_context"]
    assert abs(limit - (room - 64_389_120) / 20_480) <= 1
    assert 32_768 < limit < 262_144
    assert _fit(run, limit)["fits"]
    over = _fit(run, limit + 1)
    assert not over["fits"]
    assert over["max_context"] == limit
    assert any("shorten the context" in s and str(limit) in s for s in over["suggestions"])
    # the whole 262,144-token window does not fit on one RTX 4090
    assert not _fit(run, 262_144)["fits"]


def test_hybrid_fit_table_names_the_layer_kinds(run):
    result = run("fit", "qwen3.5-35b-a3b", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--context", "32768")
    assert result.exit_code == 0, result.stderr
    assert "10 full, 30 linear" in result.stdout
    assert "20,480 bytes per token" in result.stdout and "64,389,120 bytes per sequence" in result.stdout


# --------------------------------------------------------------------------- configs it cannot read


def _expect_error(config: dict, *words: str) -> None:
    with pytest.raises(ConfigError) as err:
        model_spec_from_config("broken/model", config)
    message = str(err.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_unknown_layer_type_names_the_field():
    config = copy.deepcopy(load("Qwen/Qwen3.5-35B-A3B"))
    config["text_config"]["layer_types"][3] = "hyper_attention"
    _expect_error(config, "layer_types", "hyper_attention")


def test_mamba_layers_without_mamba_fields():
    config = load("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    del config["mamba_num_heads"]
    _expect_error(config, "mamba_num_heads")


def test_unknown_block_in_a_hybrid_pattern():
    config = load("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    config["hybrid_override_pattern"] = "X" + config["hybrid_override_pattern"][1:]
    _expect_error(config, "hybrid_override_pattern", "'X'")


def test_mamba_fields_without_a_layer_pattern_are_not_read_as_attention():
    config = load("nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    del config["hybrid_override_pattern"]
    _expect_error(config, "ssm_state_size")


def test_gated_deltanet_without_its_fields():
    config = copy.deepcopy(load("Qwen/Qwen3.5-27B"))
    del config["text_config"]["linear_num_value_heads"]
    _expect_error(config, "linear_num_value_heads")


@pytest.mark.parametrize(
    ("repo", "path", "value", "word"),
    [
        ("moonshotai/Kimi-K3", ("text_config", "linear_attn_config"), {"head_dim": 128}, "kda_layers"),
        ("zai-org/GLM-5.3", ("indexer_types",), ["full"] * 77 + ["sometimes"], "indexer_types"),
        ("deepseek-ai/DeepSeek-V4-Flash", ("compress_ratios",), [0, 4], "compress_ratios"),
        ("XiaomiMiMo/MiMo-V2-Flash", ("hybrid_layer_pattern",), [2] * 48, "hybrid_layer_pattern"),
        ("MiniMaxAI/MiniMax-M3", ("moe_layer_freq",), ["x"] * 60, "moe_layer_freq"),
        ("meta-llama/Meta-Llama-3.1-8B", ("attn_layer_period",), 8, "attn_layer_period"),
    ],
)
def test_malformed_architecture_fields_name_the_field(repo, path, value, word):
    config = copy.deepcopy(load(repo))
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _expect_error(config, word)


def test_malformed_local_folder_is_a_one_line_error(run, tmp_path):
    config = load("Qwen/Qwen3.5-35B-A3B")
    config["text_config"]["layer_types"][0] = "mystery"
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run("fit", str(tmp_path), "--gpu", "b200")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "layer_types" in lines[0] and "mystery" in lines[0]


# ------------------------------------------------------------------------ every reference config


@pytest.mark.parametrize("repo", REPOS)
def test_every_reference_config_gives_a_spec(repo):
    s = spec(repo)
    assert s.params_total > 0 and 0 < s.params_active <= s.params_total
    assert mem.kv_bytes_per_token(s, 2) > 0
    # each decoder layer counted once, under one kind
    assert 0 < sum(s.layer_kinds.values()) <= s.num_layers
    assert set(s.layer_kinds) <= {"full", "sliding", "mla", "compressed", "linear", "mamba"}
    if "linear" in s.layer_kinds or "mamba" in s.layer_kinds:
        assert mem.state_bytes_per_sequence(s) > 0
    else:
        assert mem.state_bytes_per_sequence(s) == 0


@pytest.mark.parametrize("repo", REPOS)
def test_every_reference_config_fits_through_a_local_folder(run, repo):
    data = fit_json(run, str(CONFIGS / repo), "--gpu", "b200")
    assert data["model"]["source"] == "local"
    s = spec(repo)
    assert data["model"]["layer_kinds"] == s.layer_kinds
    assert data["memory"]["state_bytes_per_sequence"] == mem.state_bytes_per_sequence(s)
    assert data["memory"]["kv_bytes_per_token"] > 0
    assert isinstance(data["fits"], bool)
