"""`plan` prints the idle monthly cost now and after the plan, from what is deployed."""

from __future__ import annotations

from pathlib import Path

import aws_test_stacks as ts

from heliohub.config import HubConfig, LoadedConfig
from heliohub.providers.aws import AWSProvider
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.costs import idle_change_note
from heliohub.providers.base import SilentReporter, UpOptions


def _provider(aws: AWSClients, tmp_path: Path, with_fs: bool = True) -> AWSProvider:
    data = {"name": ts.NAME, "provider": "aws", "local": {"data_dir": str(tmp_path / "data")}}
    loaded = LoadedConfig(HubConfig.model_validate(data), tmp_path / "heliohub.yaml", tmp_path)
    return AWSProvider(
        loaded,
        SilentReporter(),
        clients=aws,
        stages=ts.stages(data=ts.data_template(with_fs=with_fs)),
        kubernetes_layer=None,
        poll_seconds=0.02,
    )


def _cost_note(notes: list[str]) -> str:
    (note,) = [n for n in notes if n.startswith("idle cost:")]
    return note


def test_plan_shows_the_idle_cost_change(aws: AWSClients, tmp_path: Path) -> None:
    """Emulator: before `up` nothing costs; the emulated data stack holds a KMS key ($1.00)
    and an EFS file system (100 GiB x $0.30 = $30.00). After `up` the same plan changes
    nothing; a plan that drops the file system saves its $30.00."""
    provider = _provider(aws, tmp_path)
    assert _cost_note(provider.plan().notes).startswith(
        "idle cost: $0.00/month now, $31.00/month after this plan (+$31.00;"
    )
    provider.up(UpOptions())
    assert _cost_note(_provider(aws, tmp_path).plan().notes).startswith(
        "idle cost: $31.00/month now, $31.00/month after this plan (+$0.00;"
    )
    assert _cost_note(_provider(aws, tmp_path, with_fs=False).plan().notes).startswith(
        "idle cost: $31.00/month now, $1.00/month after this plan (-$30.00;"
    )


def test_plan_cost_note_outside_the_table_does_not_fail() -> None:
    note = idle_change_note("ap-south-2", {}, {})
    assert note.startswith("idle cost: not estimated (")
    assert "ap-south-2" in note
