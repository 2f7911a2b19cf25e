"""What a person sees at 80 columns, pinned: every rich table of every command, on a small fixed catalog.

Width and colour are forced (COLUMNS=80, no terminal, NO_COLOR), and the catalog is tests/data/golden_catalog,
so neither a new rich release's terminal guessing nor a catalog edit moves these files. After an intended
change to a table or an estimate, regenerate them and read the diff:

    LLMPLAN_REGEN_GOLDEN=1 python -m pytest tests/test_golden_80.py
"""

from __future__ import annotations

import os
import re

import pytest
from conftest import DATA

GOLDEN = DATA / "golden"
COMMANDS = {
    "fit": ["fit", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m"],
    "fit-offload": ["fit", "qwen3-30b-a3b", "--gpu", "l4", "--quant", "fp8"],
    "sweep": ["fit", "llama-3.1-8b-instruct", "--gpu", "l4", "--quant", "fp8", "--sweep", "concurrency"],
    "compare": [
        "compare",
        "llama-3.1-8b-instruct",
        "--quant",
        "fp8",
        "--gpu",
        "l4",
        "--gpu",
        "rtx-4090",
        "--gpu",
        "h100-sxm",
        "--gpu",
        "apple-m3-ultra",
    ],
    "breakeven": ["breakeven", "--workload", str(GOLDEN / "workload.yaml")],
    "check": ["check", str(GOLDEN / "plan.yaml")],
    "gpus": ["gpus"],
    "apis": ["apis"],
    "models-list": ["models", "list"],
    "finetune": ["finetune", "llama-3.1-8b-instruct", "--method", "qlora", "--gpu", "rtx-4090"],
}


@pytest.fixture
def golden_env(monkeypatch):
    monkeypatch.setenv("LLMPLAN_DATA_DIR", str(DATA / "golden_catalog"))
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def _normalize(text: str) -> str:
    text = text.replace(str(GOLDEN) + os.sep, "tests/data/golden/")
    return re.sub(r"[ \t]+\n", "\n", text)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_80_columns(run, golden_env, name):
    result = run(*COMMANDS[name])
    assert result.exit_code in (0, 1), result.stderr
    text = _normalize(result.stdout)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("LLMPLAN_REGEN_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with LLMPLAN_REGEN_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_line_wider_than_80_and_no_word_cut(name):
    text = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert all(len(line) <= 80 for line in text.splitlines()), name
    assert "…" not in text  # nothing shortened to an ellipsis
    # a wrapped cell (the row below has text only where the row above continues) must have broken after
    # '/', '-', '_', '.' or a space, never between two letters or digits of one word
    lines = text.splitlines()
    for above, below in zip(lines, lines[1:]):
        cells_a, cells_b = above.split("│")[1:-1], below.split("│")[1:-1]
        if len(cells_a) < 2 or len(cells_a) != len(cells_b):
            continue
        filled = [i for i, c in enumerate(cells_b) if c.strip()]
        continued = [i for i in filled if cells_a[i].strip()]
        if len(filled) < len(cells_b) and continued == filled:
            for i in filled:
                a, b = cells_a[i].rstrip(), cells_b[i].strip()
                assert not (a[-1].isalnum() and b[0].isalnum()), (name, above, below)
