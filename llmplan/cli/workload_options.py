"""The workload and self-hosting cost options `breakeven` and `plan` share: one definition, one meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WorkloadFileOpt = Annotated[Path | None, typer.Option("--workload", help="Workload YAML file (flags override it).")]
RequestsPerDayOpt = Annotated[float | None, typer.Option("--requests-per-day", help="Requests a day.")]
InputTokensOpt = Annotated[int | None, typer.Option("--input-tokens", help="Prompt tokens per request [500].")]
OutputTokensOpt = Annotated[int | None, typer.Option("--output-tokens", help="Output tokens per request [500].")]
PeakToAverageOpt = Annotated[
    str | None, typer.Option("--peak-to-average", help="Peak over average load, e.g. 3 or 2..4 [2].")
]
HoursPerDayOpt = Annotated[
    float | None, typer.Option("--hours-per-day", help="Hours a day the traffic arrives in [24].")
]
MaxTtftOpt = Annotated[
    float | None, typer.Option("--max-ttft-s", "--max-ttft", help="Latency target: time to first token at the peak.")
]
MinTokensPerSOpt = Annotated[
    float | None, typer.Option("--min-tokens-per-s", help="Latency target: per-user decode speed at the peak.")
]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="rent (cheapest catalog provider) or own [rent].")]
RentalTierOpt = Annotated[str | None, typer.Option("--rental-tier", help="on_demand, reserved or spot [on_demand].")]
EngineeringHoursOpt = Annotated[
    str | None, typer.Option("--engineering-hours", help="Engineering hours a month, e.g. 10..20.")
]
EngineeringRateOpt = Annotated[str | None, typer.Option("--engineering-rate-usd", help="USD per engineering hour.")]
MonitoringOpt = Annotated[str | None, typer.Option("--monitoring-usd", help="Monitoring/infrastructure USD a month.")]
RedundancyOpt = Annotated[int | None, typer.Option("--redundancy", help="Spare replicas (1 = N+1).")]
MaxUtilizationOpt = Annotated[
    float | None,
    typer.Option(
        "--max-utilization", help="Size replicas so the peak uses at most this share of what they serve [1.0]."
    ),
]
YearsOpt = Annotated[float | None, typer.Option("--years", help="Amortization years when owning [3].")]
UsdPerKwhOpt = Annotated[float | None, typer.Option("--usd-per-kwh", help="Electricity price when owning [0.13].")]
