"""`llmplan schema COMMAND`: the JSON Schema of a command's `--format json` output."""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from llmplan.cli import app
from llmplan.cli.common import emit_json, examples, handle_errors

# command -> "module:Model" of the object its --format json prints
OUTPUTS = {
    "fit": "llmplan.core.reports:FitReport",
    "sweep": "llmplan.plans.outputs:SweepOutput",  # fit --sweep
    "compare": "llmplan.plans.outputs:CompareOutput",
    "breakeven": "llmplan.plans.breakeven:BreakevenReport",
    "check": "llmplan.plans.outputs:CheckOutput",
    "plan": "llmplan.plans.planner:PlanReport",
    "finetune": "llmplan.plans.finetune:FinetuneReport",
    "models list": "llmplan.plans.outputs:ModelListOutput",
    "models show": "llmplan.plans.outputs:ModelDetail",
    "gpus": "llmplan.plans.outputs:GpuListOutput",
    "apis": "llmplan.plans.outputs:ApiListOutput",
}

HELP = (
    """Print the JSON Schema (draft 2020-12) of a command's `--format json` output.

"""
    + examples("llmplan schema fit", 'llmplan schema "models list" > models-list.schema.json')
    + """
Commands: """
    + ", ".join(OUTPUTS)
)


def output_model(command: str):
    from llmplan.errors import InputError

    key = " ".join(command.split())
    if key not in OUTPUTS:
        raise InputError(f"no JSON output named {command!r}; choose one of: {', '.join(OUTPUTS)}")
    module, name = OUTPUTS[key].split(":")
    return getattr(importlib.import_module(module), name)


@app.command("schema", help=HELP)
@handle_errors
def schema_command(
    command: Annotated[
        list[str], typer.Argument(metavar="COMMAND", help="fit, compare, breakeven, check, finetune, models list, ...")
    ],
) -> None:
    model = output_model(" ".join(command))
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema.setdefault("title", model.__name__)
    emit_json(schema)
