"""`--plot FILE.png` for concurrency sweeps: output tokens/s per GPU against tokens/s per user.

This is the view hardware vendors and benchmark publishers draw: each point is one concurrency, the
curve runs from one fast user (right) to a full, slower batch (left, high). matplotlib is imported here
only, lazily (the `plot` extra).
"""

from __future__ import annotations

from llmplan.errors import InputError


def _plain_log_ticks(ax) -> None:
    """Log axes labelled 20, 50, 100, 200... instead of 2x10^1; an axis spanning less than a decade labels
    every tick so it never shows a single number."""
    import math

    from matplotlib.ticker import FuncFormatter

    def major(v, _=None):
        return f"{v:,.0f}" if v >= 1 else f"{v:g}"

    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        leads = range(1, 10) if hi < 10 * lo else (2, 5)

        def minor(v, _=None, leads=leads):
            lead = round(v / 10 ** math.floor(math.log10(v))) if v > 0 else 0
            return major(v) if lead in leads else ""

        axis.set_major_formatter(FuncFormatter(major))
        axis.set_minor_formatter(FuncFormatter(minor))


def plot_throughput_vs_interactivity(series, path: str, title: str, perf_model: str = "analytic") -> None:
    """`series`: (label, rows) per line, rows from `sweep_table(dep, "concurrency")`."""
    from llmplan.plans.plotting import pyplot_for

    plt = pyplot_for(path)
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    for label, rows in series:
        fitting = [r for r in rows if r["fits"]]
        if not fitting:
            continue
        x = [r["decode_tokens_per_s"] for r in fitting]
        y = [r["output_tokens_per_s_per_gpu"] for r in fitting]
        (line,) = ax.plot(x, y, "o-", lw=1.8, ms=4, label=label)
        for r, xi, yi in zip(fitting, x, y):
            ax.annotate(
                str(r["concurrency"]),
                (xi, yi),
                textcoords="offset points",
                xytext=(4, 3),
                fontsize=7,
                color=line.get_color(),
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel("interactivity: output tokens/s per user")
    ax.set_ylabel("throughput: output tokens/s per GPU")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best", title="point labels = concurrent users", title_fontsize=7)
    ax.text(
        0.99,
        0.01,
        f"{perf_model} performance model",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
        color="grey",
    )
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
