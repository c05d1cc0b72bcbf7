"""`heliohub cost` through the CLI: the table, --json, and other providers refused clearly."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from heliohub.cli.main import app

CONFIGS = Path(__file__).parents[1] / "aws" / "configs"


def test_cost_json_matches_the_table() -> None:
    result = CliRunner().invoke(
        app, ["cost", "-c", str(CONFIGS / "aws.happy.heliocloud.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["idle_monthly"] == 233.75
    assert data["source"].startswith("shipped table of ")
    assert [h["what"] for h in data["user_hours"]] == ["small", "large", "extra-large", "gpu"]


def test_cost_table_prints_total_and_assumptions() -> None:
    result = CliRunner().invoke(
        app,
        ["cost", "-c", str(CONFIGS / "aws.happy.minimal.yaml"), "--storage-gib", "0"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    # 233.75 less the 30.00 of 100 GiB EFS; no Cognito pool with shared-password login
    assert "203.75" in result.stdout
    assert "Cognito" not in result.stdout
    assert "assumed 40% of on-demand" in result.stdout


def test_cost_on_another_provider_says_aws_only(tmp_path: Path) -> None:
    config = tmp_path / "heliohub.yaml"
    config.write_text("provider: local\n")
    result = CliRunner().invoke(app, ["cost", "-c", str(config)])
    assert result.exit_code == 1
    assert "applies to provider aws only" in result.output
    assert "Traceback" not in result.output


def test_cost_region_outside_the_table(tmp_path: Path) -> None:
    config = tmp_path / "heliohub.yaml"
    config.write_text("provider: aws\naws: {region: ap-south-2}\n")
    result = CliRunner().invoke(app, ["cost", "-c", str(config)])
    assert result.exit_code == 1
    assert "no prices for ap-south-2" in result.output
