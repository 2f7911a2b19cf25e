"""`compare` names a winner by a criterion that fits the question, and says which criterion it used."""

from __future__ import annotations

import json

from llmplan.plans.compare import CompareRow, best_words, default_sort, sort_rows, speed_basis


def _row(
    option: str,
    concurrency: int,
    per_user: float,
    aggregate: float,
    owned: float | None = None,
    rented: float | None = None,
) -> CompareRow:
    row = CompareRow(
        option=option,
        gpu=option,
        gpu_count=1,
        runnable=True,
        fits=True,
        concurrency=concurrency,
        decode_tokens_per_s=per_user,
        throughput_tokens_per_s=aggregate,
        usd_per_mtok_owned=owned,
        usd_per_mtok_rented=rented,
    )
    from llmplan.plans.compare import _rank_cost

    _rank_cost(row)
    return row


# the case: a small card serving 42 users at 29.4 tokens/s each (1,235 tokens/s in all) against a big
# one serving 256 users at 19.3 each (4,941 in all)
SMALL = _row("rtx-4090", 42, 29.4, 1235.0, owned=0.011, rented=0.052)
BIG = _row("h100-sxm", 256, 19.3, 4941.0, owned=0.016, rented=0.040)
APPLE = _row("apple-m3-ultra", 4, 18.0, 68.0, owned=0.444)


def test_full_load_speed_is_aggregate_when_concurrencies_differ():
    assert speed_basis([SMALL, BIG], full_load=True) == "aggregate"
    assert [r.option for r in sort_rows([SMALL, BIG], "speed", full_load=True)] == ["h100-sxm", "rtx-4090"]
    words = best_words(sort_rows([SMALL, BIG], "speed", full_load=True), "speed", full_load=True)
    assert "h100-sxm" in words and "aggregate" in words and "4,941 tokens/s over 256 sequences" in words


def test_per_user_speed_where_every_row_runs_the_same_concurrency():
    same = _row("h100-sxm", 42, 19.3, 800.0)
    assert speed_basis([SMALL, same], full_load=True) == "per-user"
    assert sort_rows([same, SMALL], "speed", full_load=True)[0].option == "rtx-4090"
    # at a fixed concurrency nothing changes: per-user speed, said as such
    assert speed_basis([SMALL, BIG], full_load=False) == "per-user"
    words = best_words(sort_rows([SMALL, BIG], "speed"), "speed")
    assert words.startswith("Best: rtx-4090, the fastest per user (29.4 tokens/s each)")


def test_usd_per_mtok_ranks_rented_else_owned():
    # rented where there is a rental price (0.040 < 0.052, though the 4090's owned 0.011 is lower), else owned
    assert BIG.usd_per_mtok == 0.040 and BIG.usd_per_mtok_basis == "rented"
    assert APPLE.usd_per_mtok == 0.444 and APPLE.usd_per_mtok_basis == "owned"
    ranked = sort_rows([APPLE, SMALL, BIG], "usd-per-mtok", full_load=True)
    assert [r.option for r in ranked] == ["h100-sxm", "rtx-4090", "apple-m3-ultra"]
    words = best_words(ranked, "usd-per-mtok", full_load=True)
    assert "h100-sxm" in words and "$0.040, rented" in words and "per million tokens" in words


def test_default_sort():
    assert default_sort("max") == "usd-per-mtok" and default_sort("MAX") == "usd-per-mtok"
    assert default_sort("1") == "speed" and default_sort("16") == "speed"


GPUS = ["--gpu", "rtx-4090", "--gpu", "a100-80gb", "--gpu", "apple-m3-ultra"]


def test_cli_full_load_rows_state_their_concurrency(run):
    r = run("compare", "llama-3.1-8b", *GPUS, "--concurrency", "max", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    counts = {row["option"]: row["concurrency"] for row in rows}
    assert len(set(counts.values())) > 1  # each its own full load
    assert all(isinstance(c, int) and c >= 1 for c in counts.values())
    # default sort at full load: usd_per_mtok ascending, rented where there is a rental price
    ranked = [row["usd_per_mtok"] for row in rows]
    assert ranked == sorted(ranked)
    for row in rows:
        basis = "rented" if row["usd_per_mtok_rented"] is not None else "owned"
        assert row["usd_per_mtok_basis"] == basis and row["usd_per_mtok"] == row[f"usd_per_mtok_{basis}"]

    table = run("compare", "llama-3.1-8b", *GPUS, "--concurrency", "max", env={"COLUMNS": "80"})
    assert "conc" in table.stdout and "conc: sequences at full load" in table.stdout
    for option, c in counts.items():
        line = next(ln for ln in table.stdout.splitlines() if ln.startswith(f"│ {option} "))
        assert f"│ {c:>4} │" in line
    assert f"Best: {rows[0]['option']}, the lowest USD per million tokens" in " ".join(table.stdout.split())


def test_cli_sort_speed_at_full_load_is_aggregate(run):
    r = run("compare", "llama-3.1-8b", *GPUS, "--concurrency", "max", "--sort", "speed", "--format", "json")
    rows = json.loads(r.stdout)
    aggregate = [row["performance"]["throughput_tokens_per_s"] for row in rows]
    assert aggregate == sorted(aggregate, reverse=True)
    table = run("compare", "llama-3.1-8b", *GPUS, "--concurrency", "max", "--sort", "speed")
    text = " ".join(table.stdout.split())
    assert f"Best: {rows[0]['option']}, the most aggregate output at full load ({aggregate[0]:,.0f} tokens/s" in text


# --gpu all: boxes of several cards, filtered as a whole, pruned by memory before any estimate


def test_all_includes_boxes_of_each_card_type(catalog):
    from llmplan.plans.compare import expand_gpus

    options = expand_gpus(catalog, ["all"], None, None)
    assert {"rtx-3090", "2xrtx-3090", "4xrtx-3090", "8xrtx-3090", "8xh100-sxm"} <= set(options)
    assert "apple-m1-max" in options and "2xapple-m1-max" not in options  # a whole machine, not a card
    assert "8xrtx-3090" not in expand_gpus(catalog, ["all"], None, None, max_gpus=4)
    import re

    alone = expand_gpus(catalog, ["all"], None, None, max_gpus=1)
    assert alone == list(catalog.gpus) and not any(re.match(r"\d+x", o) for o in alone)


def test_all_filters_apply_to_the_whole_box(catalog):
    from llmplan.plans.compare import expand_gpus

    # rtx-3090: $1,499 and 24 GiB (25.77 GB) each. Alone 25.77 GB < 48 GB; 2x: $2,998 and 51.5 GB, kept;
    # 4x: $5,996 > $5,000. apple-m1-max: 64 GiB x 0.75 = 51.5 GB for $2,599, kept.
    options = expand_gpus(catalog, ["all"], 5000, 48)
    assert "2xrtx-3090" in options and "rtx-3090" not in options and "4xrtx-3090" not in options
    assert "apple-m1-max" in options
    # rtx-3070: 8 GiB (8.59 GB) for $499: 8x = 68.7 GB for $3,992
    assert "8xrtx-3070" in options and "4xrtx-3070" not in options


def test_all_prunes_boxes_that_cannot_hold_the_weights(catalog):
    from llmplan.plans.compare import expand_gpus

    # 40 GB of weights: 2x rtx-3090 (51.5 GB) holds them, 4x rtx-3070 (34.4 GB) does not, 8x (68.7 GB) does;
    # a single card stays (it may run with partial offload)
    options = expand_gpus(catalog, ["all"], None, None, weights_bytes=40e9)
    assert "2xrtx-3090" in options and "4xrtx-3070" not in options and "8xrtx-3070" in options
    assert "rtx-3070" in options


def test_cli_all_finds_the_two_card_boxes(run):
    r = run(
        "compare",
        "llama-3.3-70b-instruct",
        "--quant",
        "q4_k_m",
        "--gpu",
        "all",
        "--max-price-usd",
        "5000",
        "--min-memory-gb",
        "48",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    rows = {row["option"]: row for row in json.loads(r.stdout)}
    assert rows["2x rtx-3090"]["purchase_usd"] == 2998 and rows["2x rtx-3090"]["fits"]
    assert "2x rtx-4090" in rows
    first = json.loads(r.stdout)[0]
    # two cards of ~1 TB/s stream the 42.5 GB of weights faster than a 400 GB/s laptop chip
    assert (
        first["option"].startswith("2x ")
        and rows["2x rtx-3090"]["performance"]["decode_tokens_per_s"]
        > 2 * rows["apple-m1-max"]["performance"]["decode_tokens_per_s"]
    )
    assert all(row["purchase_usd"] <= 5000 for row in rows.values())


def test_cli_max_gpus_must_be_positive(run):
    r = run("compare", "llama-3.1-8b", "--gpu", "all", "--max-gpus", "0")
    assert r.exit_code == 2 and "--max-gpus must be at least 1" in r.stderr
