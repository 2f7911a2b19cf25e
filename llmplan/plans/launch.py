"""Attach the launch command to a fit report (`fit --emit`, `check --emit`)."""

from __future__ import annotations

from llmplan.core.fit import Deployment
from llmplan.core.reports import FitReport, LaunchInfo
from llmplan.engines.launch import launch_for


def with_launch(report: FitReport, dep: Deployment) -> FitReport:
    """The report with `launch` set; llama.cpp offloads as many layers as the plan keeps on the GPU."""
    layers = report.offload.gpu_layers if report.offload is not None else None
    launch = launch_for(dep, dep.engine.name, gpu_layers=layers)
    return report.model_copy(update={"launch": LaunchInfo(engine=launch.engine, command=launch.command,
                                                          argv=launch.argv, notes=launch.notes)})
