"""Attach the launch command to a fit report (`fit --emit`, `check --emit`)."""

from __future__ import annotations

from llmplan.core.fit import Deployment, tp_problem
from llmplan.core.reports import FitReport, LaunchInfo
from llmplan.engines.launch import launch_for


def with_launch(report: FitReport, dep: Deployment) -> FitReport:
    """The report with `launch` set; llama.cpp offloads as many layers as the plan keeps on the GPU.
    A layout the engine refuses (tensor parallel that does not split the heads) gets no command: the
    report is returned as it is, its verdict saying why."""
    if tp_problem(dep):
        return report
    layers = report.offload.gpu_layers if report.offload is not None else None
    launch = launch_for(dep, dep.engine.name, gpu_layers=layers)
    return report.model_copy(update={"launch": LaunchInfo(engine=launch.engine, command=launch.command,
                                                          argv=launch.argv, notes=launch.notes)})
