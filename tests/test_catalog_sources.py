"""Every catalog `source` cites a public URL or a file inside this repository, never a path beside it.

A fresh clone has nothing beside it: a source such as "../shared/..." or "shared/reference/..." (the
project's working notes outside the repository) cannot be followed by anyone who reads the catalog.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CATALOGS = sorted((ROOT / "data").glob("*.yaml"))
URL = re.compile(r"https?://\S+")
# paths that point outside the repository: up a level, the sibling shared/ folder, absolute or home paths
OUTSIDE = re.compile(r"\.\./|(?<![\w/.@:-])shared/|(?<![\w/.@:-])(?:/(?:work|home|tmp|Users|mnt)/|~/)")
# the price research notes live in docs/research/prices.md: cite that path, not the bare name
BARE_NOTES = re.compile(r"(?<![\w/.-])prices\.md")
# paths of this repository's own folders: they must exist
IN_REPO = re.compile(r"(?<![\w/.@:-])((?:tests/data|docs/research|data|examples|benchmarks)/[\w./+-]*\w)")


def _sources(node, where=""):
    """(where, text) for every string field whose name says it is a source (source, purchase_source, ...)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and "source" in str(key):
                yield f"{where}.{key}", value
            else:
                yield from _sources(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _sources(value, f"{where}[{i}]")


def problems(text: str) -> list[str]:
    bare = URL.sub(" ", text)
    found = [m.group(0) for m in OUTSIDE.finditer(bare)] + [m.group(0) for m in BARE_NOTES.finditer(bare)]
    found += [f"missing {p}" for p in IN_REPO.findall(bare) if not (ROOT / p).exists()]
    return found


def test_the_rule_itself():
    assert problems("https://huggingface.co/x/blob/main/config.json (copy in ../shared/reference/x.json)")
    assert problems("x (copy in shared/reference/model-configs/Qwen/Qwen3-8B/config.json)")
    assert problems("llmplan price research notes (prices.md, compiled 2026-11-24)")
    assert problems("copy in tests/data/model-configs/no-such/config.json")
    assert problems("/work/shared/calibration/rows.csv")
    assert not problems("https://github.com/org/repo/blob/main/shared/x.json")  # a URL may say anything
    assert not problems("copy in tests/data/model-configs/Qwen/Qwen3-8B/config.json")
    assert not problems("notes (docs/research/prices.md, compiled 2026-11-24) section 2.3")
    assert not problems("skypilot-org/skypilot-catalog@0f40703:catalogs/v8/lambda/vms.csv")


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: p.name)
def test_sources_are_public_or_in_the_repository(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    bad = [f"{where}: {found}" for where, text in _sources(data) for found in problems(text)]
    assert not bad, f"{path.name}: " + "; ".join(bad[:5])
    assert sum(1 for _ in _sources(data)) > 10  # the walk finds the fields it checks
