"""`llmplan finetune`: hand-computed memory items, the QLoRA paper's headline, ZeRO sharding, bad input."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
from conftest import DATA, spec

from llmplan.core import training as T

LLAMA_8B = 8_030_261_248


@pytest.fixture(scope="module")
def llama8b(catalog):
    return spec(catalog, "llama-3.1-8b-instruct")


def test_lora_params_from_real_shapes(llama8b):
    # q 4096->4096, k/v 4096->1024, o 4096->4096; gate/up 4096->14336, down 14336->4096; 32 layers
    attn = 32 * 16 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096))
    mlp = 32 * 16 * (2 * (4096 + 14336) + (14336 + 4096))
    assert T.lora_params(llama8b, 16, "attn") == attn == 13_631_488
    assert T.lora_params(llama8b, 16, "mlp") == mlp
    assert T.lora_params(llama8b, 16, "all") == attn + mlp == 41_943_040  # PEFT prints 41,943,040 trainable


def test_moe_lora_counts_every_expert(catalog):
    qwen = spec(catalog, "qwen3-30b-a3b")  # 48 layers x 128 experts, 2048 -> 768 -> 2048
    experts = 48 * 128 * 8 * (2 * (2048 + 768) + (768 + 2048))
    assert T.lora_params(qwen, 8, "mlp") == experts


def test_full_mixed_precision_is_16_bytes_per_parameter(llama8b):
    setup = T.TrainingSetup(method="full")
    m = T.training_memory(llama8b, setup)
    assert (m.weights_bytes, m.gradients_bytes, m.master_weights_bytes, m.optimizer_bytes) == (
        2 * LLAMA_8B,
        2 * LLAMA_8B,
        4 * LLAMA_8B,
        8 * LLAMA_8B,
    )
    pure = T.training_memory(llama8b, replace(setup, precision="pure-bf16"))
    assert (pure.master_weights_bytes, pure.optimizer_bytes) == (0, 4 * LLAMA_8B)


def test_zero_stages_shard_what_they_name(llama8b):
    base = T.TrainingSetup(method="full", n_gpus=8)
    z = {stage: T.training_memory(llama8b, replace(base, zero=stage)) for stage in ("0", "1", "2", "3")}
    assert z["0"].optimizer_bytes == 8 * LLAMA_8B and z["1"].optimizer_bytes == LLAMA_8B
    assert z["1"].gradients_bytes == 2 * LLAMA_8B and z["2"].gradients_bytes == 2 * LLAMA_8B // 8
    assert z["2"].weights_bytes == 2 * LLAMA_8B and z["3"].weights_bytes == 2 * LLAMA_8B // 8
    fsdp = T.training_memory(llama8b, replace(base, zero="fsdp"))
    # DeepSpeed's ZeRO optimizer adds an fp32 copy of the gradient partition; FSDP does not
    assert z["3"].fp32_gradients_bytes == 4 * LLAMA_8B // 8 and fsdp.fp32_gradients_bytes == 0
    assert z["3"].total_bytes - fsdp.total_bytes == pytest.approx(4 * LLAMA_8B / 8 * 1.05, rel=1e-6)


def test_qlora_weights_are_nf4_with_double_quantization(llama8b):
    m = T.training_memory(llama8b, T.TrainingSetup(method="qlora"))
    linear = 6_979_321_856  # the 224 projections above
    assert T.linear_params(llama8b) == linear
    expected = linear * (4 + 8 / 64 + 32 / (64 * 256)) / 8 + (LLAMA_8B - linear) * 2
    assert m.weights_bytes == int(expected)


def test_activation_formula_by_hand(llama8b):
    # 8h + 4 q_width + 4 kv_width + 8 I, bytes per token per layer
    assert T.activation_bytes_per_token_layer(llama8b) == 8 * 4096 + 4 * 4096 + 4 * 1024 + 8 * 14336 == 167_936
    setup = T.TrainingSetup(method="lora", seq_len=1024, gradient_checkpointing=False)
    assert T.activation_bytes(llama8b, setup) == 167_936 * 1024 * 32
    ckpt = T.activation_bytes(llama8b, replace(setup, gradient_checkpointing=True))
    assert ckpt == 2 * 4096 * 1024 * 32 + 167_936 * 1024  # layer inputs + one layer recomputed


def test_logits_buffer(llama8b):
    setup = T.TrainingSetup(method="lora", seq_len=2048)
    assert T.logits_bytes(llama8b, setup) == 2048 * 128_256 * 10


def test_lora_memory_grows_with_rank_and_targets(llama8b):
    def total(rank, targets):
        return T.training_memory(
            llama8b, T.TrainingSetup(method="lora", lora_rank=rank, lora_targets=targets)
        ).total_bytes

    assert total(8, "all") < total(16, "all") < total(64, "all") < total(256, "all")
    assert total(16, "attn") < total(16, "all") and total(16, "mlp") < total(16, "all")


def test_training_flops_by_hand(llama8b):
    n = LLAMA_8B - 128_256 * 4096  # untied: the embedding lookup is no matmul
    attention = 2 * 32 * 4096 * 2048
    full = T.training_flops_per_token(llama8b, T.TrainingSetup(method="full", gradient_checkpointing=False))
    assert full == pytest.approx(6 * n + 4 * attention)
    lora = T.training_flops_per_token(llama8b, T.TrainingSetup(method="lora", gradient_checkpointing=True))
    assert lora == pytest.approx(6 * n + 4 * attention)  # fwd + input grads + recompute


def test_qlora_65b_fits_on_one_48gb_gpu(run, tmp_path):
    folder = tmp_path / "llama-65b"
    folder.mkdir()
    shutil.copy(DATA / "finetune" / "llama-65b-config.json", folder / "config.json")
    r = run(
        "finetune",
        folder,
        "--method",
        "qlora",
        "--gpu",
        "l40s",
        "--lora-rank",
        "64",
        "--seq-len",
        "512",
        "--optimizer",
        "paged-adamw-8bit",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["fits"] is True, report["memory"]
    assert 30e9 < report["memory"]["total_bytes"] < 48e9


def test_full_8b_adamw_needs_sharding_or_8bit(run):
    r = run("finetune", "llama-3.1-8b-instruct", "--method", "full", "--gpu", "a100-80gb", "--format", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["fits"] is False
    z3 = run(
        "finetune",
        "llama-3.1-8b-instruct",
        "--method",
        "full",
        "--gpu",
        "8xa100-80gb",
        "--zero",
        "3",
        "--format",
        "json",
    )
    assert json.loads(z3.stdout)["fits"] is True
    table = run("finetune", "llama-3.1-8b-instruct", "--method", "full", "--gpu", "a100-80gb")
    assert "DOES NOT FIT" in table.stdout and "to fit:" in table.stdout
    bit8 = run(
        "finetune",
        "llama-3.1-8b-instruct",
        "--method",
        "full",
        "--gpu",
        "a100-80gb",
        "--precision",
        "pure-bf16",
        "--optimizer",
        "adamw-8bit",
        "--format",
        "json",
    )
    assert json.loads(bit8.stdout)["fits"] is True


def test_json_keys_follow_conventions(run):
    r = run(
        "finetune",
        "llama-3.1-8b-instruct",
        "--method",
        "lora",
        "--gpu",
        "rtx-4090",
        "--tokens",
        "5e7",
        "--engineering-hours",
        "4",
        "--format",
        "json",
    )
    d = json.loads(r.stdout)
    assert set(d["memory"]) >= {"total_bytes", "weights_bytes", "activations_bytes", "optimizer_bytes"}
    assert d["time"]["tokens"] == 50_000_000
    assert d["time"]["hours"] == pytest.approx(50_000_000 / d["time"]["tokens_per_s"] / 3600, rel=1e-3)
    assert d["cost"]["usd"] == pytest.approx(d["cost"]["gpu_hours"] * d["cost"]["usd_per_gpu_hour"] + 400)
    assert d["cost"]["usd_low"] <= d["cost"]["usd"] <= d["cost"]["usd_high"]


def test_dataset_examples_times_average(run):
    r = run(
        "finetune",
        "qwen3-8b",
        "--dataset-examples",
        "20000",
        "--avg-tokens",
        "800",
        "--epochs",
        "3",
        "--format",
        "json",
    )
    assert json.loads(r.stdout)["time"]["tokens"] == 48_000_000


@pytest.mark.parametrize(
    "args, words",
    [
        (["--method", "lora", "--lora-rank", "0"], "lora-rank"),
        (["--tokens", "-5"], "tokens"),
        (["--seq-len", "0"], "seq-len"),
        (["--dataset-examples", "10"], "go together"),
        (["--tokens", "100", "--avg-tokens", "5"], "not both"),
    ],
)
def test_bad_input_is_one_line(run, args, words):
    r = run("finetune", "llama-3.1-8b-instruct", *args)
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith("error:") and words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_method_the_model_cannot_use(run):
    r = run("finetune", "deepseek-ai/DeepSeek-V3", "--method", "full", "--gpu", "8xh200")
    assert r.exit_code == 2 and "fp8 checkpoint" in r.stderr
    q = run("finetune", "deepseek-ai/DeepSeek-V3", "--method", "qlora", "--gpu", "8xh200")
    assert q.exit_code == 2 and "QLoRA" in q.stderr


def test_qlora_with_a_gguf_file_is_an_error(run, tmp_path):
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_context_length(256)
    writer.add_embedding_length(64)
    writer.add_feed_forward_length(128)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    import numpy as np

    writer.add_tensor("token_embd.weight", np.zeros((32, 64), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    r = run("finetune", path, "--method", "qlora", "--gpu", "rtx-4090")
    assert r.exit_code == 2 and "GGUF" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_new_memory_terms_by_hand(llama8b):
    # LoRA on q,v at rank 8, checkpointing off: per token and layer (4096 + 8) x 2 projections x 4 bytes (fp32)
    setup = T.TrainingSetup(method="lora", seq_len=1024, lora_rank=8, lora_targets="q,v", gradient_checkpointing=False)
    assert T.lora_activation_bytes(llama8b, setup) == (4096 + 8) * 2 * 4 * 32 * 1024
    # eager attention keeps 6 bytes per head per key per token: one layer with checkpointing on
    eager = replace(setup, attention="eager", gradient_checkpointing=True)
    assert T.attention_score_bytes(llama8b, eager) == 6 * 32 * 1024 * 1024
    assert T.attention_score_bytes(llama8b, replace(eager, attention="flash")) == 0
    # chunked losses: torchtune keeps 4 bytes per vocabulary entry, transformers 10
    assert T.logits_bytes(llama8b, replace(setup, framework="torchtune")) == 1024 * 128_256 * 4
    # 32-bit paged AdamW over bf16 weights keeps fp32 moments, outside the GPU total
    paged = T.training_memory(llama8b, T.TrainingSetup(method="full", precision="pure-bf16", optimizer="paged-adamw"))
    assert paged.paged_optimizer_bytes == int(8 * LLAMA_8B) and paged.optimizer_bytes == 0
    bf16_states = replace(T.TrainingSetup(method="full", precision="pure-bf16"), optimizer_state_dtype="int8")
    assert T.optimizer_state_bytes(bf16_states) == 2 * (1 + 4 / 2048)


def test_plain_mlp_keeps_four_intermediates():
    from conftest import DATA as data

    from llmplan.models.architecture import model_spec_from_config

    cfg = json.loads((data / "finetune" / "configs" / "microsoft__phi-2.json").read_text())
    phi2 = model_spec_from_config("microsoft/phi-2", cfg)  # 2560 wide, 32 heads, MLP 10240 with GELU
    assert T.activation_bytes_per_token_layer(phi2) == 8 * 2560 + 4 * 2560 + 4 * 2560 + 4 * 10240


def test_offload_and_tensor_parallel(llama8b, run):
    base = T.TrainingSetup(method="full", n_gpus=8, zero="3")
    off = T.training_memory(llama8b, replace(base, offload=frozenset({"optimizer"})))
    assert off.optimizer_bytes == 0 and off.host_bytes > 8 * LLAMA_8B // 8
    tp = T.training_memory(llama8b, replace(base, tensor_parallel=2))
    assert tp.weights_bytes == 2 * LLAMA_8B // 8  # 4 data-parallel shards x 2 tensor-parallel halves
    r = run(
        "finetune",
        "llama-3.1-8b-instruct",
        "--method",
        "full",
        "--gpu",
        "8xh100-sxm",
        "--zero",
        "3",
        "--offload",
        "optimizer",
        "--format",
        "json",
    )
    d = json.loads(r.stdout)
    assert d["offload"] == ["optimizer"] and d["time"]["offload_s_per_step"] > 0
    bad = run("finetune", "llama-3.1-8b-instruct", "--gpu", "8xh100-sxm", "--tensor-parallel", "3")
    assert bad.exit_code == 2 and "--tensor-parallel" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
