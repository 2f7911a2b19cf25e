"""Published engine start-up logs (tests/data/engine_logs/) read back and recomputed with llmplan's rules."""

from __future__ import annotations

import csv

import pytest

from conftest import DATA

LOGS = DATA / "engine_logs"


@pytest.fixture(scope="module")
def cases():
    from llmplan.catalog.loader import Catalog
    from llmplan.plans.engine_logs import evaluate_all

    return evaluate_all(Catalog(include_user=False), LOGS)


def test_both_tables_are_read_with_their_sources():
    from llmplan.plans.engine_logs import load_rows

    rows = load_rows(LOGS)
    # 30 rows copied from ../shared/calibration/engine_logs.csv + 33 collected for this repository
    assert len(rows) == 63
    assert all(r.text("source").startswith("https://") for r in rows)


def test_at_most_six_rows_left_out_each_with_its_reason(cases):
    left = [c for c in cases if not c.evaluated]
    assert len(cases) - len(left) >= 45
    assert len(left) <= 6, [(c.row.key, c.reason) for c in left]
    assert all(c.reason for c in left)


def test_log_gpus_map_to_catalog_entries(cases, catalog):
    from llmplan.plans.engine_logs import GPU_IDS

    for gpu_id in GPU_IDS.values():
        catalog.gpu_entry(gpu_id)  # raises for a device the catalog lacks
    h100 = [c for c in cases if c.row.text("gpu").startswith("h100-80gb") and c.evaluated]
    assert h100 and all(c.gpu == "h100-sxm" for c in h100)  # no row says PCIe


def test_a_row_becomes_the_deployment_it_describes(cases):
    # vllm#10517: Llama-3.1-8B on an RTX 3090, max_model_len 29000, gpu_memory_utilization 0.9
    case = next(c for c in cases if c.row.key == "engine_logs_extra:7")
    dep = case.deployment
    assert (dep.model.id, dep.gpu_id, dep.n_gpus, dep.context) == ("meta-llama/Llama-3.1-8B-Instruct", "rtx-3090", 1,
                                                                   29000)
    assert dep.engine.name == "vllm" and dep.engine.memory_fraction == 0.9
    assert case.printed["weights"] == pytest.approx(14.9888 * 2**30)
    # llama.cpp: -c 32768 shared by 4 slots is 4 sequences of 8192
    cpp = next(c for c in cases if c.row.key == "engine_logs:23").deployment
    assert (cpp.context, cpp.concurrency, cpp.engine.max_batch) == (8192, 4, 4)


def test_rows_with_an_unnamed_gpu_keep_the_figures_that_need_none(cases):
    # SGLang Qwen2.5-7B-AWQ on a GPU the log does not name: weights and the pool's token count are checked
    case = next(c for c in cases if c.row.key == "engine_logs_extra:3")
    assert "kv_pool" in case.skipped and "kv_pool" not in case.computed
    # 28 layers x 4 KV heads x 128 x 2 (K, V) x 2 bytes = 57,344 bytes a token; 7.10 GiB / 57,344 = 132,944.9, whole tokens 132,944
    assert case.computed["kv_tokens"] == 132_944
