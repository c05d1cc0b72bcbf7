"""A stage of the deploy engine is one CloudFormation stack: apply, check, destroy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.base import Reporter


@dataclass
class StageContext:
    """What a stage may use: clients, progress, and the outputs of the stacks before it, as
    CloudFormation gives them (stage key -> output name -> value); stages read them through
    the typed parsers of stack_outputs.py."""

    clients: AWSClients
    reporter: Reporter
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def no_parameters(ctx: StageContext) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class StackStage:
    key: str
    stack_name: str
    template: str
    # Stack parameters from the outputs of earlier stages (raises stack_outputs.MissingOutput
    # while one is unknown).
    parameters: Callable[[StageContext], dict[str, str]] = no_parameters
    # The data stage: `down` keeps it unless asked to delete data.
    keep_on_down: bool = False
    # Runs after every successful apply (also when nothing changed), with this stack's outputs.
    check: Callable[[StageContext, dict[str, str]], None] | None = None
