"""Shared fixtures. Tests never reach the internet and need nothing beside the clone: their data is in tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# the smallest Llama-shaped config.json the tests write into model folders
TINY_CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 96,
    "max_position_embeddings": 2048,
    "torch_dtype": "bfloat16",
    "tie_word_embeddings": False,
}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep the user's catalog and Hugging Face cache out of the tests, and the hub unreachable."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("LLMPLAN_HOME", str(home / "llmplan"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: a hub that is not there
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("LLMPLAN_DATA_DIR", raising=False)
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "llmplan-cache"))
    # figures stay the analytic model's whether or not the aiconfigurator extra is installed;
    # tests of --perf-model pass the flag, which overrides this
    monkeypatch.setenv("LLMPLAN_PERF_MODEL", "analytic")


@pytest.fixture(scope="session")
def catalog():
    from llmplan.catalog.loader import Catalog

    return Catalog(include_user=False)


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def run(runner):
    """Invoke the CLI; returns the Result (stdout in .stdout, stderr in .stderr)."""
    from llmplan.cli import app

    def _run(*args: str, **kw):
        return runner.invoke(app, [str(a) for a in args], **kw)

    return _run


def spec(catalog, name: str):
    from llmplan.models.sources import spec_from_entry

    model_id, entry = catalog.model_entry(name)
    return spec_from_entry(model_id, entry)
