"""Attach the launch command to a fit report (`fit --emit`, `check --emit`).

The launch builders (llmplan.engines.launch) take plain values; this is where a Deployment becomes them.
"""

from __future__ import annotations

from llmplan.core.fit import Deployment, tp_problem
from llmplan.core.reports import FitReport, LaunchInfo
from llmplan.engines.launch import LaunchPlan, launch_for


def launch_plan(dep: Deployment) -> LaunchPlan:
    """The values of `dep` a launch line is made of."""
    return LaunchPlan(
        model_id=dep.model.id,
        model_source=dep.model_source,
        native_quant=dep.model.native_quant,
        is_moe=dep.model.is_moe,
        quant=dep.fmt.name,
        kv_dtype=dep.kv_dtype,
        context=dep.context,
        concurrency=dep.concurrency,
        n_gpus=dep.n_gpus,
        expert_parallel=dep.expert_parallel,
        memory_fraction=dep.engine.memory_fraction,
        max_batch=dep.engine.max_batch,
        batch_tokens=dep.engine.batch_tokens,
        block_size=dep.settings.block_size,
        mem_fraction_static=dep.settings.mem_fraction_static,
        flash_attn=dep.settings.flash_attn,
    )


def with_launch(report: FitReport, dep: Deployment) -> FitReport:
    """The report with `launch` set; llama.cpp offloads as many layers as the plan keeps on the GPU.
    A layout the engine refuses (tensor parallel that does not split the heads) gets no command: the
    report is returned as it is, its verdict saying why."""
    if tp_problem(dep):
        return report
    layers = report.offload.gpu_layers if report.offload is not None else None
    launch = launch_for(launch_plan(dep), dep.engine.name, gpu_layers=layers)
    return report.model_copy(
        update={
            "launch": LaunchInfo(engine=launch.engine, command=launch.command, argv=launch.argv, notes=launch.notes)
        }
    )
