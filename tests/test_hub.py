"""The Hugging Face hub reader, end to end through the CLI, against a loopback hub (tests/hubserver.py).

Nothing here reaches the internet: HF_ENDPOINT points at 127.0.0.1, HF_HOME is a fresh temp dir per test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from hubserver import (
    LoopbackHub,
    awq_quantized,
    decoder_tensors,
    fp8_block_quantized,
    numel,
    safetensors_bytes,
    shard,
)

CONFIGS = Path(__file__).parent / "data" / "model-configs"
CONFIG_REPOS = sorted("/".join(p.parent.relative_to(CONFIGS).parts) for p in CONFIGS.glob("*/*/config.json"))


def _config(repo: str) -> dict:
    return json.loads((CONFIGS / repo / "config.json").read_text())


def _folder_files(repo: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (CONFIGS / repo).iterdir() if p.is_file()}


LLAMA_8B = _config("meta-llama/Meta-Llama-3.1-8B")
QWEN3_MOE = _config("Qwen/Qwen3-30B-A3B")
QWEN3_32B_FP8 = _config("Qwen/Qwen3-32B-FP8")
AWQ_CONFIG = {
    **LLAMA_8B,
    "torch_dtype": "float16",
    "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm", "zero_point": True},
}

DENSE = "testorg/Dense-8B-Sharded"
MOE = "testorg/MoE-30B-A3B"
FP8 = "testorg/Qwen3-32B-FP8-Block"
AWQ = "testorg/Llama-3.1-8B-AWQ"
GATED = "testorg/Gated-Model"
FORBIDDEN = "testorg/Forbidden-Model"
SERVER_ERROR = "testorg/Flaky-Model"
HANGING = "testorg/Hanging-Model"
HANGING_FILES = "testorg/Hanging-Files"
BROKEN_JSON = "testorg/Broken-Json"
NO_ARCH = "testorg/No-Architecture"
GGUF_ONLY = "testorg/Some-Model-GGUF"
GATED_TOKEN = "hf_loopback_valid_token"

DENSE_TENSORS = decoder_tensors(LLAMA_8B)
MOE_TENSORS = decoder_tensors(QWEN3_MOE)
MOE_FILE = safetensors_bytes(MOE_TENSORS)
FP8_BASE = decoder_tensors(QWEN3_32B_FP8)
AWQ_BASE = decoder_tensors(LLAMA_8B)


@pytest.fixture(scope="module")
def loopback():
    with LoopbackHub() as hub:
        for repo in CONFIG_REPOS:
            hub.add(repo, _folder_files(repo))
        hub.add(DENSE, {"config.json": LLAMA_8B, **shard(DENSE_TENSORS, 2), "README.md": "# dense"}, license="llama3.1")
        hub.add(MOE, {"config.json": QWEN3_MOE, "model.safetensors": MOE_FILE}, license="apache-2.0")
        hub.add(
            FP8, {"config.json": QWEN3_32B_FP8, "model.safetensors": safetensors_bytes(fp8_block_quantized(FP8_BASE))}
        )
        hub.add(AWQ, {"config.json": AWQ_CONFIG, **shard(awq_quantized(AWQ_BASE), 2)})
        hub.add(GATED, {"config.json": LLAMA_8B, **shard(DENSE_TENSORS, 2)}, fault="gated", token=GATED_TOKEN)
        hub.add(FORBIDDEN, {"config.json": LLAMA_8B}, fault="forbidden")
        hub.add(SERVER_ERROR, {"config.json": LLAMA_8B}, fault="error")
        hub.add(HANGING, {"config.json": LLAMA_8B}, fault="hang")
        hub.add(HANGING_FILES, {"config.json": LLAMA_8B}, fault="hang-files")
        hub.add(BROKEN_JSON, {"config.json": '{"model_type": "llama", "hidden_size": 4096,'})
        hub.add(NO_ARCH, {"config.json": {"model_type": "mystery", "torch_dtype": "bfloat16"}})
        hub.add(GGUF_ONLY, {"README.md": "# gguf", "some-model-Q4_K_M.gguf": b"GGUF"})
        yield hub


@pytest.fixture
def hub(loopback, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", loopback.endpoint)
    return loopback


def fit_json(run, *args: str) -> dict:
    result = run("fit", *args, "--gpu", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def assert_one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------- models that work


def test_sharded_dense_repo_counts_params_from_the_shard_headers(run, hub):
    data = fit_json(run, DENSE)
    assert data["model"]["source"] == "hub"
    assert data["model"]["params"] == numel(DENSE_TENSORS) == 8_030_261_248  # Llama 3.1 8B's published count
    assert data["quant"] == "bf16"
    # only the headers were read: every safetensors request is a ranged GET, never a whole file
    reads = [(m, h) for m, p, h in hub.requests_for(DENSE) if p.endswith(".safetensors")]
    assert reads and all(m == "GET" and h.get("range", "").startswith("bytes=") for m, h in reads)
    assert not any(p.endswith(".safetensors") and m == "HEAD" for m, p, _ in hub.requests_for(DENSE))


def test_moe_repo_with_a_header_over_100_kb(run, hub):
    assert len(MOE_FILE) > 100_000  # huggingface_hub needs a second ranged read for this header
    data = fit_json(run, MOE)
    assert data["model"]["params"] == numel(MOE_TENSORS)
    assert data["model"]["active_params"] < data["model"]["params"] / 5  # 8 of 128 experts per token
    ranges = [h.get("range") for m, p, h in hub.requests_for(MOE) if p.endswith("model.safetensors")]
    assert len(ranges) == 2 and all(ranges)


@pytest.mark.parametrize(("repo", "quant", "base"), [(FP8, "fp8", FP8_BASE), (AWQ, "awq", AWQ_BASE)])
def test_prequantized_repo_keeps_its_format_and_real_param_count(run, hub, repo, quant, base):
    data = fit_json(run, repo)
    assert data["quant"] == quant
    assert data["model"]["native_quant"] == quant
    # packed int4 weights are unpacked and scale/zero-point tensors left out: the model's own count
    assert data["model"]["params"] == numel(base)


def test_multimodal_config_nests_the_language_model(run, hub):
    data = fit_json(run, "Qwen/Qwen3-VL-8B-Instruct", "--refresh")
    assert data["model"]["source"] == "hub"
    assert data["model"]["layer_kinds"] == {"full": 36}


def test_second_run_works_offline_from_the_cache(run, hub):
    online = fit_json(run, DENSE)
    before = len(hub.requests)
    offline = fit_json(run, DENSE, "--offline")
    assert len(hub.requests) == before  # no request at all
    assert offline["model"]["source"] == "hub-cache"
    assert offline["model"]["params"] == online["model"]["params"]
    assert offline["memory"] == online["memory"]


def test_hf_hub_offline_uses_the_cache_too(run, hub, monkeypatch):
    fit_json(run, "nvidia/Llama-3.1-70B-Instruct-FP8", "--refresh")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.requests)
    data = fit_json(run, "nvidia/Llama-3.1-70B-Instruct-FP8", "--refresh")
    assert len(hub.requests) == before
    assert data["model"]["source"] == "hub-cache"
    assert data["quant"] == "fp8"  # hf_quant_config.json came from the cache as well


def test_offline_without_cache_says_so(run, hub):
    result = run("fit", DENSE, "--offline", "--format", "json")
    assert_one_line_error(result, DENSE, "not in the local cache; run once online or drop --offline")


def test_config_only_repo_falls_back_to_computed_counts(hub):
    from llmplan.models.hub import read_hub_model

    resolved = read_hub_model("Qwen/Qwen3-8B")
    assert resolved.source == "hub"
    assert resolved.spec.params_computed
    assert any("computed from config.json" in a for a in resolved.spec.approximations)


# ------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize(
    ("repo", "fragments"),
    [
        (GATED, ("is gated: accept its licence on the Hub and set HF_TOKEN",)),
        (FORBIDDEN, ("is gated", "accept its licence on the Hub and set HF_TOKEN")),
        ("testorg/No-Such-Model", ("'testorg/No-Such-Model' is not a model on the Hugging Face hub",)),
        (SERVER_ERROR, ("answered with an error", "HTTP 500", "retry", "--offline", "catalog id")),
        (BROKEN_JSON, ("config.json of testorg/Broken-Json is not valid JSON",)),
        (NO_ARCH, ("testorg/No-Architecture", "lacks")),
        (GGUF_ONLY, ("has no config.json", "GGUF")),
    ],
)
def test_faults_are_one_line_with_advice(run, hub, repo, fragments):
    assert_one_line_error(run("fit", repo, "--format", "json"), *fragments)


def test_missing_repo_suggests_catalog_ids(run, hub):
    line = assert_one_line_error(run("fit", "meta-llama/Llama-3.1-8B-Instructt"), "did you mean")
    assert "meta-llama/Llama-3.1-8B-Instruct'" in line


def test_unreachable_hub(run):
    # conftest points HF_ENDPOINT at a closed port
    started = time.monotonic()
    assert_one_line_error(run("fit", DENSE), "cannot reach the Hugging Face hub", "--offline")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("repo", [HANGING, HANGING_FILES])
def test_hanging_hub_gives_up_within_the_deadline(run, hub, monkeypatch, repo):
    """A hub that accepts connections and never answers: at the first request (model info), or at the
    file downloads, where huggingface_hub retries with a 60 s timeout and backoff. The overall deadline
    (20 s by default) is cut to 3 s here to keep the suite fast; the mechanism is the same."""
    import llmplan.models.hub

    assert llmplan.models.hub.DEADLINE_S == 20
    monkeypatch.setattr(llmplan.models.hub, "DEADLINE_S", 3)
    started = time.monotonic()
    result = run("fit", repo, "--format", "json")
    elapsed = time.monotonic() - started
    assert_one_line_error(result, "did not answer within 3 s", "--offline")
    assert elapsed < 8


def test_token_is_sent_but_never_shown(run, hub, monkeypatch):
    secret = "some-secret-value"
    monkeypatch.setenv("HF_TOKEN", secret)
    outputs = []
    for repo in (GATED, FORBIDDEN, "testorg/No-Such-Model", SERVER_ERROR, BROKEN_JSON, DENSE):
        result = run("fit", repo, "--format", "json")
        assert "Traceback" not in result.stdout + result.stderr
        outputs.append(result.stdout + result.stderr)
    added = run("models", "add", DENSE)
    outputs.append(added.stdout + added.stderr)
    assert not any(secret in out for out in outputs)
    assert "(the token set has no access to it yet)" in outputs[0]
    sent = [h.get("authorization") for _, _, h in hub.requests_for(GATED)]
    assert f"Bearer {secret}" in sent


def test_a_token_with_access_opens_a_gated_repo(run, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", GATED_TOKEN)
    data = fit_json(run, GATED)
    assert data["model"]["params"] == numel(DENSE_TENSORS)


# ------------------------------------------------------------------------------------ models add


def test_models_add_writes_the_user_catalog_and_show_finds_it(run, hub):
    from llmplan.catalog.loader import user_models_path

    result = run("models", "add", MOE)
    assert result.exit_code == 0, result.stderr
    path = user_models_path()
    assert f"saved {MOE} to {path}" in result.stdout
    entry = yaml.safe_load(path.read_text())["models"][MOE]
    assert entry["aliases"] == ["moe-30b-a3b"]
    assert entry["family"] == "qwen3_moe"
    assert entry["license"] == "apache-2.0"
    assert entry["params_total"] == numel(MOE_TENSORS)
    assert 0 < entry["params_active"] < entry["params_total"]
    assert entry["params_source"] == "safetensors header (Hugging Face hub)"
    assert entry["source"] == f"https://huggingface.co/{MOE}/blob/main/config.json"
    assert entry["config"]["num_experts"] == 128

    before = len(hub.requests)
    for name in (MOE, "moe-30b-a3b"):
        shown = run("models", "show", name, "--format", "json")
        assert shown.exit_code == 0, shown.stderr
        info = json.loads(shown.stdout)
        assert info["source"] == "catalog"
        assert info["params"] == numel(MOE_TENSORS)
        assert info["params_source"] == "safetensors header (Hugging Face hub)"
    assert len(hub.requests) == before  # the catalog entry answers without the hub


def test_models_add_merges_and_reuses_the_cache_offline(run, hub):
    from llmplan.catalog.loader import user_models_path

    assert run("models", "add", DENSE).exit_code == 0
    assert run("fit", "Qwen/Qwen3-32B-FP8", "--refresh", "--format", "json").exit_code == 0
    result = run("models", "add", "Qwen/Qwen3-32B-FP8", "--offline")
    assert result.exit_code == 0, result.stderr
    models = yaml.safe_load(user_models_path().read_text())["models"]
    assert set(models) == {DENSE, "Qwen/Qwen3-32B-FP8"}
    assert models["Qwen/Qwen3-32B-FP8"]["params_source"] == "computed from config.json"
    assert models["Qwen/Qwen3-32B-FP8"]["native_quant"] == "fp8"
    assert models["Qwen/Qwen3-32B-FP8"]["license"] == "unknown"
    # a shipped alias is never taken over by a user entry
    assert models["Qwen/Qwen3-32B-FP8"]["aliases"] in ([], ["qwen3-32b-fp8"])


def test_models_add_fault_is_one_line(run, hub):
    assert_one_line_error(run("models", "add", GATED), "is gated")


# --------------------------------------------------------------------- every shared config via the hub


@pytest.mark.parametrize("repo", CONFIG_REPOS)
def test_every_reference_config_fits_through_the_hub(run, hub, repo):
    from llmplan.models.architecture import native_format

    config = _config(repo)
    quant_file = CONFIGS / repo / "hf_quant_config.json"
    if quant_file.is_file():
        config["hf_quant_config"] = json.loads(quant_file.read_text())
    gpu = "b200" if native_format(config)[0] == "nvfp4" else "h100-sxm"  # nvfp4 needs Blackwell
    result = run("fit", repo, "--refresh", "--gpu", gpu, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"]["source"] == "hub"
    assert data["model"]["id"].lower() == repo.lower()
    assert data["model"]["params"] > 0
