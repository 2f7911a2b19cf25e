"""`plan --plot`: the Pareto front of monthly cost against tokens/s per user, the chosen option marked."""

from __future__ import annotations

from llmplan.plans.planner import PlanReport


def plot_pareto(report: PlanReport, path: str) -> None:
    from llmplan.plans.plotting import pyplot_for

    plt = pyplot_for(path)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    _draw_front(ax, report)
    _draw_options(ax, report)
    _label_axes(ax, report)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_front(ax, report: PlanReport) -> None:
    front = report.pareto
    if not front:
        return
    ax.plot(
        [p.usd_per_month for p in front],
        [p.decode_tokens_per_s for p in front],
        "-o",
        color="#1f77b4",
        label="Pareto front (no option is both cheaper and faster)",
        zorder=2,
    )
    for p in front:
        ax.annotate(
            p.option,
            (p.usd_per_month, p.decode_tokens_per_s),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=7,
            color="#444444",
        )


def _draw_options(ax, report: PlanReport) -> None:
    """The runners-up in grey, the chosen option as a star, and the speed target as a dashed line."""
    others = report.options[1:]
    if others:
        ax.scatter(
            [o.usd_per_month for o in others],
            [o.decode_tokens_per_s for o in others],
            color="#999999",
            s=18,
            label=f"next {len(others)} cheapest",
            zorder=3,
        )
    if report.options:
        win = report.options[0]
        ax.scatter(
            [win.usd_per_month],
            [win.decode_tokens_per_s],
            marker="*",
            s=220,
            color="#d62728",
            label=f"chosen: {win.total_gpus}x {win.gpu} {win.quant} ${win.usd_per_month:,.0f}/month",
            zorder=4,
        )
    if report.targets.get("min_tokens_per_s"):
        ax.axhline(
            report.targets["min_tokens_per_s"],
            color="#d62728",
            lw=0.8,
            ls="--",
            label=f"target {report.targets['min_tokens_per_s']:g} tok/s per user",
        )


def _label_axes(ax, report: PlanReport) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from llmplan.core.cost import MONTH_HOURS

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"${x:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(f"monthly cost, USD (GPUs, engineering, monitoring; {MONTH_HOURS:g} h)")
    ax.set_ylabel("tokens/s per user at the peak rate")
    ax.set_title(
        f"{report.model}: {report.requests_per_s:g} req/s, {report.input_tokens} in / "
        f"{report.output_tokens} out tokens ({report.mode})",
        fontsize=10,
    )
    ax.grid(True, which="both", alpha=0.3)
