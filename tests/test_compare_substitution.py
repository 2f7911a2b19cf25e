"""`compare` puts a device in the race in the closest format it runs; `fit` keeps refusing."""

from __future__ import annotations

import json

from llmplan.engines.formats import closest_formats


def test_closest_formats_by_bits_then_mainstream():
    assert closest_formats("fp8")[:2] == ["int8", "q8_0"]
    assert closest_formats("awq")[:2] == ["gptq-int4", "q4_k_m"]
    assert "fp8" not in closest_formats("fp8")


def test_compare_substitutes_and_marks(run):
    r = run(
        "compare",
        "llama-3.1-8b-instruct",
        "--quant",
        "fp8",
        "--gpu",
        "apple-m3-ultra",
        "--gpu",
        "l4",
        "--format",
        "json",
    )
    rows = {row["option"]: row for row in json.loads(r.stdout)}
    apple = rows["apple-m3-ultra"]
    assert apple["runnable"] and apple["quant_substituted_from"] == "fp8" and apple["quant"] == "q8_0"
    assert rows["l4"]["quant_substituted_from"] is None and rows["l4"]["quant"] == "fp8"
    table = run("compare", "llama-3.1-8b-instruct", "--quant", "fp8", "--gpu", "apple-m3-ultra", "--gpu", "l4")
    assert "(q8_0*)" in table.stdout and "cannot run fp8; compared in q8_0" in table.stdout


def test_fit_still_refuses(run):
    r = run("fit", "llama-3.1-8b-instruct", "--quant", "fp8", "--gpu", "apple-m3-ultra")
    assert r.exit_code == 2 and "cannot run fp8" in r.stderr
