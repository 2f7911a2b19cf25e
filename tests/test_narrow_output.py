"""What a person reads at 80 columns: the names they type stay, long sources wrap whole, plots name the hardware."""

from __future__ import annotations

import re


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("│")[1:-1]]


def test_models_list_keeps_the_alias_at_80_columns(run, catalog):
    r = run("models", "list", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "model" in line and "┃" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == ["model", "alias", "params", "active"]
    # the alias of every model is on its row (folded lines joined), e.g. llama-3.1-8b-instruct for Llama 3.1 8B
    text = "".join(_cells(line)[1] for line in lines if line.startswith("│"))
    for e in catalog.models.values():
        assert e.aliases[0] in text
    wide = run("models", "list", env={"COLUMNS": "160"})
    header = next(line for line in wide.stdout.splitlines() if "┃" in line)
    assert [c.strip() for c in header.split("┃")[1:-1]] == ["model", "alias", "params", "active", "format", "license"]


def test_models_show_wraps_source_urls_whole(run, catalog):
    r = run("models", "show", "llama-3.1-8b", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.stderr
    assert "…" not in r.stdout and all(len(line) <= 80 for line in r.stdout.splitlines())
    rows = [_cells(line) for line in r.stdout.splitlines() if line.startswith("│")]
    values, key = {}, None
    for k, v in rows:
        key = k or key
        values[key] = values.get(key, "") + v
    source = catalog.models["meta-llama/Llama-3.1-8B-Instruct"].source
    url = re.search(r"https://\S+", source).group(0)
    assert url in values["config source"]  # wrapped lines joined: nothing cut
    assert values["config source"].replace(" ", "") == source.replace(" ", "")


def test_sweep_plot_title_names_the_hardware(catalog):
    from llmplan.cli.fit_cmd import sweep_plot_title
    from llmplan.plans.deploy import build_deployment

    four, _ = build_deployment(catalog, "llama-3.1-8b", gpu="4xh100-sxm", quant="fp8")
    one, _ = build_deployment(catalog, "llama-3.1-8b", gpu="h100-sxm", quant="fp8")
    assert sweep_plot_title([four]) == (
        "meta-llama/Llama-3.1-8B-Instruct · fp8 on 4x h100-sxm · 1024 in / 256 out tokens: throughput vs interactivity"
    )
    assert " on h100-sxm · " in sweep_plot_title([one])
    assert " on h100-sxm (1, 4 GPUs) · " in sweep_plot_title([one, four])


def test_sweep_plot_gets_that_title(run, tmp_path, monkeypatch):
    import llmplan.cli.sweep_plot as sweep_plot

    seen = {}
    monkeypatch.setattr(
        sweep_plot,
        "plot_throughput_vs_interactivity",
        lambda series, path, title, perf="analytic": seen.setdefault("title", title),
    )
    r = run(
        "fit",
        "llama-3.1-8b",
        "--gpu",
        "2xl4",
        "--quant",
        "fp8",
        "--sweep",
        "concurrency",
        "--plot",
        str(tmp_path / "c.png"),
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    assert " on 2x l4 · " in seen["title"]
