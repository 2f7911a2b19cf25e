"""Local model files: GGUF files written with gguf.GGUFWriter, and folders with config.json + safetensors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CONFIG
from hubserver import awq_quantized, decoder_tensors, numel, safetensors_bytes, shard

CONFIGS = Path(__file__).parent / "data" / "model-configs"

# A tiny Llama: 2 layers, hidden 64, 4 heads of 16, 2 KV heads, ffn 128, vocab 96.
TINY = {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16, "ffn": 128, "vocab": 96, "context": 4096}


def write_gguf(
    path: Path,
    *,
    file_type: int | None = 7,
    with_output: bool = True,
    with_tokens: bool = True,
    experts: int = 0,
    sliding_window: int | None = None,
) -> dict:
    """A tiny llama-architecture GGUF: F16 embeddings, F32 norms, Q8_0 projections. Returns the figures
    written (params, bytes)."""
    import gguf
    from gguf import GGMLQuantizationType as T
    from gguf.quants import quantize

    t = TINY
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_block_count(t["layers"])
    w.add_context_length(t["context"])
    w.add_embedding_length(t["hidden"])
    w.add_feed_forward_length(t["ffn"])
    w.add_head_count(t["heads"])
    w.add_head_count_kv(t["kv_heads"])
    w.add_key_length(t["head_dim"])
    w.add_value_length(t["head_dim"])
    if experts:
        w.add_expert_count(experts)
        w.add_expert_used_count(2)
    if sliding_window:
        w.add_sliding_window(sliding_window)
    if file_type is not None:
        w.add_file_type(file_type)
    if with_tokens:
        w.add_tokenizer_model("llama")
        w.add_token_list([f"tok{i}" for i in range(t["vocab"])])
    rng = np.random.default_rng(0)
    params = 0
    nbytes = 0

    def add(name: str, array: np.ndarray, qtype=None, shape=None) -> None:
        nonlocal params, nbytes
        params += int(np.prod(shape or array.shape))
        nbytes += array.nbytes
        if qtype is None:
            w.add_tensor(name, array)
        else:
            w.add_tensor(name, array, raw_dtype=qtype)

    def q8(rows: int, cols: int) -> np.ndarray:
        return quantize(rng.standard_normal((rows, cols)).astype(np.float32), T.Q8_0)

    h, kvd, ffn = t["hidden"], t["kv_heads"] * t["head_dim"], t["ffn"]
    add("token_embd.weight", np.zeros((t["vocab"], h), np.float16))
    for i in range(t["layers"]):
        add(f"blk.{i}.attn_norm.weight", np.ones(h, np.float32))
        add(f"blk.{i}.attn_q.weight", q8(h, h), T.Q8_0, (h, h))
        add(f"blk.{i}.attn_k.weight", q8(kvd, h), T.Q8_0, (kvd, h))
        add(f"blk.{i}.attn_v.weight", q8(kvd, h), T.Q8_0, (kvd, h))
        add(f"blk.{i}.attn_output.weight", q8(h, h), T.Q8_0, (h, h))
        add(f"blk.{i}.ffn_norm.weight", np.ones(h, np.float32))
        if experts:
            add(f"blk.{i}.ffn_gate_inp.weight", np.zeros((experts, h), np.float32))
            add(f"blk.{i}.ffn_gate_exps.weight", np.zeros((experts, ffn, h), np.float16))
            add(f"blk.{i}.ffn_up_exps.weight", np.zeros((experts, ffn, h), np.float16))
            add(f"blk.{i}.ffn_down_exps.weight", np.zeros((experts, h, ffn), np.float16))
        else:
            add(f"blk.{i}.ffn_gate.weight", q8(ffn, h), T.Q8_0, (ffn, h))
            add(f"blk.{i}.ffn_up.weight", q8(ffn, h), T.Q8_0, (ffn, h))
            add(f"blk.{i}.ffn_down.weight", q8(h, ffn), T.Q8_0, (h, ffn))
    add("output_norm.weight", np.ones(h, np.float32))
    if with_output:
        add("output.weight", np.zeros((t["vocab"], h), np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return {"params": params, "bytes": nbytes}


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------ GGUF


def test_gguf_figures_are_read_back(tmp_path):
    from llmplan.models.localfiles import read_gguf

    path = tmp_path / "tiny-llama-Q8_0.gguf"
    written = write_gguf(path)
    resolved = read_gguf(path)
    spec = resolved.spec
    assert resolved.source == "gguf"
    assert spec.id == "tiny-llama-Q8_0"
    assert (spec.num_layers, spec.hidden_size, spec.num_heads, spec.num_kv_heads, spec.head_dim) == (2, 64, 4, 2, 16)
    assert spec.intermediate_size == 128
    assert spec.vocab_size == 96
    assert spec.max_context == 4096
    assert spec.tie_word_embeddings is False
    assert spec.params_total == written["params"]
    assert spec.params_computed is False
    assert resolved.gguf_quant == "q8_0"
    assert spec.exact_weights == ("q8_0", written["bytes"])
    assert spec.native_quant == "q8_0"


def test_gguf_without_file_type_or_vocab_infers_them(tmp_path):
    from llmplan.models.localfiles import read_gguf

    path = tmp_path / "bare.gguf"
    write_gguf(path, file_type=None, with_output=False, with_tokens=False)
    resolved = read_gguf(path)
    assert resolved.gguf_quant == "q8_0"  # the type holding most of the 2-D weights
    assert resolved.spec.vocab_size == 96  # from token_embd.weight
    assert resolved.spec.tie_word_embeddings is True  # no output.weight


@pytest.mark.parametrize(("ftype", "quant"), [(0, "fp32"), (1, "fp16"), (15, "q4_k_m"), (30, "iq4_xs"), (32, "bf16")])
def test_gguf_file_type_names(tmp_path, ftype, quant):
    from llmplan.models.localfiles import read_gguf

    path = tmp_path / "typed.gguf"
    written = write_gguf(path, file_type=ftype)
    resolved = read_gguf(path)
    assert resolved.gguf_quant == quant
    assert resolved.spec.exact_weights == (quant, written["bytes"])


def test_gguf_file_type_without_a_profile_is_planned_as_the_nearest(tmp_path):
    from llmplan.models.localfiles import read_gguf

    path = tmp_path / "q4_1.gguf"
    write_gguf(path, file_type=3)  # MOSTLY_Q4_1
    resolved = read_gguf(path)
    assert resolved.gguf_quant == "q4_0"
    assert any("Q4_1" in note for note in resolved.spec.approximations)


def test_gguf_moe_and_sliding_window(tmp_path):
    from llmplan.models.localfiles import read_gguf

    path = tmp_path / "tiny-moe.gguf"
    written = write_gguf(path, experts=4, sliding_window=512)
    spec = read_gguf(path).spec
    assert (spec.num_experts, spec.experts_per_token) == (4, 2)
    assert spec.params_total == written["params"]
    assert spec.params_active < spec.params_total
    assert spec.layer_kinds == {"sliding": 2}


def test_fit_a_gguf_file_through_the_cli(run, tmp_path):
    path = tmp_path / "tiny.gguf"
    written = write_gguf(path)
    result = run("fit", path, "--gpu", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"]["source"] == "gguf"
    assert data["model"]["params"] == written["params"]
    assert data["quant"] == "q8_0"
    assert data["memory"]["weights_bytes"] == written["bytes"]


def test_not_a_gguf_file(run, tmp_path):
    for name in ("model.gguf", "notes.txt"):
        path = tmp_path / name
        path.write_text("this is not a model\n")
        assert_one_line_error(run("fit", path, "--format", "json"), f"{path} is not a GGUF file")


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_gguf(run, tmp_path, keep):
    whole = tmp_path / "whole.gguf"
    write_gguf(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: int(len(data) * keep)])
    assert_one_line_error(run("fit", cut, "--format", "json"), f"{cut} is truncated or corrupt")


def test_tiny_gguf_header_only_is_truncated(run, tmp_path):
    path = tmp_path / "stub.gguf"
    path.write_bytes(b"GGUF\x03\x00")
    assert_one_line_error(run("fit", path), "is truncated or corrupt")


def test_missing_gguf_file(run, tmp_path):
    assert_one_line_error(run("fit", tmp_path / "absent.gguf"), "absent.gguf: no such file")


def test_split_gguf_reads_every_part(tmp_path):
    import gguf

    from llmplan.models.localfiles import read_gguf

    single = tmp_path / "single.gguf"
    written = write_gguf(single)
    reader = gguf.GGUFReader(single)
    for i in range(2):
        w = gguf.GGUFWriter(str(tmp_path / f"split-{i + 1:05d}-of-00002.gguf"), "llama")
        w.add_uint16("split.no", i)
        w.add_uint16("split.count", 2)
        w.add_int32("split.tensors.count", len(reader.tensors))
        if i == 0:
            for key in (
                "llama.block_count",
                "llama.context_length",
                "llama.embedding_length",
                "llama.feed_forward_length",
                "llama.attention.head_count",
                "llama.attention.head_count_kv",
                "general.file_type",
            ):
                w.add_uint32(key, int(reader.fields[key].parts[-1][0]))
        for t in reader.tensors[i::2]:
            w.add_tensor(t.name, np.array(t.data), raw_dtype=t.tensor_type)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    for start in ("split-00001-of-00002.gguf", "split-00002-of-00002.gguf"):
        resolved = read_gguf(tmp_path / start)
        assert resolved.spec.id == "split"
        assert resolved.spec.params_total == written["params"]
        assert resolved.spec.exact_weights[1] == written["bytes"]
    (tmp_path / "split-00002-of-00002.gguf").unlink()
    from llmplan.errors import ConfigError

    with pytest.raises(ConfigError, match="missing split-00002-of-00002.gguf"):
        read_gguf(tmp_path / "split-00001-of-00002.gguf")


# --------------------------------------------------------------------------------------- folders


def test_folder_with_a_local_safetensors_file_gives_exact_counts(run, tmp_path):
    from llmplan.models.localfiles import read_folder

    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY_CONFIG))
    tensors = decoder_tensors(TINY_CONFIG)
    (folder / "model.safetensors").write_bytes(safetensors_bytes(tensors, with_data=True, metadata={"format": "pt"}))
    resolved = read_folder(folder)
    assert resolved.source == "local"
    assert resolved.spec.id == "tiny-llama"
    assert resolved.spec.params_total == numel(tensors)
    assert resolved.spec.params_computed is False
    result = run("fit", folder, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"]["params"] == numel(tensors)


def test_sharded_folder_and_awq_packing(tmp_path):
    from llmplan.models.localfiles import read_folder

    folder = tmp_path / "tiny-awq"
    folder.mkdir()
    config = {**TINY_CONFIG, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 32}}
    (folder / "config.json").write_text(json.dumps(config))
    base = decoder_tensors(TINY_CONFIG)
    for name, content in shard(awq_quantized(base, group=32), 2).items():
        if name.endswith(".safetensors"):
            content = content + bytes(1 << 16)  # data past the header, as much as any tensor needs
        (folder / name).write_bytes(content)
    resolved = read_folder(folder)
    assert resolved.spec.native_quant == "awq"
    assert resolved.spec.params_total == numel(base)  # 8 values per int32, scales and zeros left out


def test_folder_without_weights_counts_from_the_config(tmp_path):
    from llmplan.models.localfiles import read_folder

    folder = tmp_path / "bare"
    shutil.copytree(CONFIGS / "Qwen" / "Qwen3-8B", folder)
    spec = read_folder(folder).spec
    assert spec.params_computed
    assert any("computed from config.json" in a for a in spec.approximations)


def test_folder_faults_name_the_file(run, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("fit", empty), f"{empty / 'config.json'}: not found")

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"hidden_size": 64,')
    assert_one_line_error(run("fit", broken), f"{broken / 'config.json'} is not valid JSON")

    bad_quant = tmp_path / "bad-quant"
    bad_quant.mkdir()
    (bad_quant / "config.json").write_text(json.dumps(TINY_CONFIG))
    (bad_quant / "hf_quant_config.json").write_text("[1, 2")
    assert_one_line_error(run("fit", bad_quant), "hf_quant_config.json is not valid JSON")

    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "config.json").write_text(json.dumps(TINY_CONFIG))
    full = safetensors_bytes(decoder_tensors(TINY_CONFIG), with_data=True)
    (cut / "model.safetensors").write_bytes(full[: len(full) // 2])
    assert_one_line_error(run("fit", cut), "model.safetensors is truncated or corrupt")

    noarch = tmp_path / "noarch"
    noarch.mkdir()
    (noarch / "config.json").write_text(json.dumps({"model_type": "mystery"}))
    assert_one_line_error(run("fit", noarch), "'noarch'", "lacks")


@pytest.mark.parametrize(
    ("repo", "quant"),
    [
        ("Qwen/Qwen3-8B", "bf16"),
        ("Qwen/Qwen3-VL-8B-Instruct", "bf16"),
        ("openai/gpt-oss-20b", "mxfp4"),
        ("nvidia/Llama-3.1-70B-Instruct-FP8", "fp8"),  # from hf_quant_config.json
        ("deepseek-ai/DeepSeek-V3", "fp8"),
        ("Qwen/Qwen3.5-35B-A3B", "bf16"),
    ],
)
def test_fit_reference_config_folders(run, repo, quant):
    result = run("fit", CONFIGS / repo, "--gpu", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"]["source"] == "local"
    assert data["model"]["id"] == repo.split("/")[-1]
    assert data["quant"] == quant


def test_packed_checkpoints_count_their_real_parameters():
    from llmplan.models.localfiles import safetensors_param_count

    out, inp = 256, 512
    nvfp4 = [
        ("layer.weight", "U8", [out, inp // 2]),
        ("layer.weight_scale", "F8_E4M3", [out, inp // 16]),
        ("layer.weight_scale_2", "F32", []),
        ("layer.input_scale", "F32", []),
        ("norm.weight", "BF16", [inp]),
    ]
    config = {"hf_quant_config": {"quantization": {"quant_algo": "NVFP4"}}}
    assert safetensors_param_count(nvfp4, config) == out * inp + inp
    mxfp4 = [
        ("experts.gate_up_proj_blocks", "U8", [4, out, inp // 32, 16]),
        ("experts.gate_up_proj_scales", "U8", [4, out, inp // 32]),
        ("experts.gate_up_proj_bias", "BF16", [4, out]),
    ]
    config = {"quantization_config": {"quant_method": "mxfp4"}}
    assert safetensors_param_count(mxfp4, config) == 4 * out * inp + 4 * out
    gptq8 = [
        ("q.qweight", "I32", [inp // 4, out]),
        ("q.qzeros", "I32", [inp // 128, out // 4]),
        ("q.scales", "F16", [inp // 128, out]),
        ("q.g_idx", "I32", [inp]),
    ]
    assert safetensors_param_count(gptq8, {"quantization_config": {"quant_method": "gptq", "bits": 8}}) == out * inp
    plain = [("w", "BF16", [out, inp]), ("fp8.weight", "F8_E4M3", [out, inp]), ("fp8.weight_scale_inv", "F32", [2, 4])]
    assert safetensors_param_count(plain, {}) == 2 * out * inp
