"""Text inputs (catalogs, plans, workloads): bad files are one-line exit-2 errors; the catalog cache follows edits."""

from __future__ import annotations

import json

import pytest

from llmplan.errors import CatalogError
from llmplan.textfiles import MAX_TEXT_BYTES, cached_yaml

BAD_FILES = {
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "empty": b"",
    "blank": b"   \n\n",
    "latin-1": "gpus:\n  caf\xe9: {}\n".encode("latin-1"),
}
EXPECTED = {"binary": "binary file", "empty": "empty", "blank": "empty", "latin-1": "not UTF-8"}


def _write(tmp_path, kind: str):
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(BAD_FILES[kind])
    return path


def _one_line_exit_2(result, path, words: str):
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and str(path) in lines[0] and words in lines[0], lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_plan_file(run, tmp_path, kind):
    path = _write(tmp_path, kind)
    _one_line_exit_2(run("check", path), path, EXPECTED[kind])


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_workload_file(run, tmp_path, kind):
    path = _write(tmp_path, kind)
    _one_line_exit_2(run("breakeven", "--workload", path), path, EXPECTED[kind])


@pytest.mark.parametrize("option", ["--models", "--prices"])
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_catalog_file(run, tmp_path, kind, option):
    path = _write(tmp_path, kind)
    r = run("fit", "llama-3.1-8b-instruct", "--gpu", "l4", option, path)
    _one_line_exit_2(r, path, EXPECTED[kind])


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_api_price_file(run, tmp_path, kind):
    path = _write(tmp_path, kind)
    r = run("breakeven", "qwen3-8b", "--gpu", "l4", "--requests-per-day", "1000", "--api-prices", path)
    _one_line_exit_2(r, path, EXPECTED[kind])


def test_oversized_plan_file(run, tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(MAX_TEXT_BYTES + 1)  # sparse: no 10 MB written
    _one_line_exit_2(run("check", path), path, "too large")


def test_folder_given_as_plan_file_is_an_error(run, tmp_path):
    r = run("breakeven", "--workload", tmp_path)
    _one_line_exit_2(r, tmp_path, "folder")


def test_cache_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "gpus.yaml"
    path.write_text("gpus:\n  a: {as_of: 2026-01-02}\n", encoding="utf-8")
    first = cached_yaml(path, "catalog", CatalogError)
    assert first == {"gpus": {"a": {"as_of": "2026-01-02"}}}  # dates as ISO strings on a miss too
    files = list((tmp_path / "cache").glob("yaml-*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text()) == {"gpus": {"a": {"as_of": "2026-01-02"}}}
    assert cached_yaml(path, "catalog", CatalogError) == {"gpus": {"a": {"as_of": "2026-01-02"}}}  # from the cache
    path.write_text("gpus:\n  b: {}\n", encoding="utf-8")  # an edit is read, not the stale copy
    assert cached_yaml(path, "catalog", CatalogError) == {"gpus": {"b": {}}}
    assert len(list((tmp_path / "cache").glob("yaml-*.json"))) == 2


def test_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(blocker / "cache"))
    path = tmp_path / "m.yaml"
    path.write_text("models: {}\n", encoding="utf-8")
    assert cached_yaml(path, "catalog", CatalogError) == {"models": {}}


def test_shipped_catalog_same_through_cache(tmp_path, monkeypatch):
    from llmplan.catalog import loader

    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path / "cache"))
    loader._shipped_from.cache_clear()
    parsed = {k: loader._shipped(k) for k in ("models", "gpus", "apis")}
    loader._shipped_from.cache_clear()
    cached = {k: loader._shipped(k) for k in ("models", "gpus", "apis")}
    loader._shipped_from.cache_clear()
    assert len(list((tmp_path / "cache").glob("yaml-*.json"))) == 3
    assert parsed == cached


def test_non_string_keys_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "m.yaml"
    path.write_text("models:\n  x: {ratios: {0: 4}}\n", encoding="utf-8")
    assert cached_yaml(path, "catalog", CatalogError) == {"models": {"x": {"ratios": {0: 4}}}}
    assert not list((tmp_path / "cache").glob("yaml-*.json"))
