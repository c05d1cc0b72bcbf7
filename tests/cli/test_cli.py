"""The CLI: exit codes, one line per problem, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from heliohub.cli.main import app
from heliohub.config import HubConfig, parse

runner = CliRunner()


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "heliohub"
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=60, check=False
    )


def test_validate_reports_three_problems_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "provider: gcp\nlocal:\n  data_dri: x\ndask:\n"
        "  worker_memory_gib: {min: -1, max: 8, default: 2}\n"
    )
    result = _run("validate", "-c", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line.strip() for line in result.stderr.splitlines()[1:] if line.strip()]
    assert len(lines) == 3, result.stderr
    assert lines[0].startswith("provider: 'gcp' is not allowed; allowed:")
    assert lines[1].startswith("dask.worker_memory_gib.min: must be > 0")
    assert lines[2].startswith("local.data_dri: unknown key; allowed keys here: bind, data_dir")


def test_validate_valid_file_exits_0(tmp_path: Path) -> None:
    good = tmp_path / "heliohub.yaml"
    good.write_text("name: demo\n")
    result = runner.invoke(app, ["validate", "-c", str(good)])
    assert result.exit_code == 0, result.output


def test_validate_uses_env_then_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "heliohub.yaml").write_text("name: in-cwd\nbogus: 1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HELIOHUB_CONFIG", raising=False)
    assert runner.invoke(app, ["validate"]).exit_code == 2
    other = tmp_path / "other.yaml"
    other.write_text("name: from-env\n")
    monkeypatch.setenv("HELIOHUB_CONFIG", str(other))
    assert runner.invoke(app, ["validate"]).exit_code == 0


@pytest.mark.parametrize("provider", ["local", "aws", "kubernetes"])
def test_init_writes_a_valid_commented_starter(tmp_path: Path, provider: str) -> None:
    out = tmp_path / f"{provider}.yaml"
    result = runner.invoke(app, ["init", "--provider", provider, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.count("#") >= 5
    config = parse(yaml.safe_load(text))
    assert config.provider == provider
    assert runner.invoke(app, ["validate", "-c", str(out)]).exit_code == 0


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "heliohub.yaml"
    out.write_text("name: mine\n")
    result = runner.invoke(app, ["init", "-o", str(out)])
    assert result.exit_code == 1
    assert "--force" in result.output
    assert out.read_text() == "name: mine\n"


def test_init_rejects_unknown_provider(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", "--provider", "gcp", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1
    assert "allowed: local, aws, kubernetes" in result.output
    assert not (tmp_path / "x.yaml").exists()


def test_schema_is_the_models_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema == json.loads(json.dumps(HubConfig.model_json_schema()))
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) >= {"name", "provider", "auth", "profiles", "dask", "local"}


def test_down_delete_data_needs_the_name(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"name: keepme\nlocal: {{data_dir: {tmp_path / 'data'}}}\n")
    result = runner.invoke(app, ["down", "-c", str(cfg), "--delete-data"], input="wrong\n")
    assert result.exit_code == 1
    assert "nothing was deleted" in result.output


def test_unreadable_yaml_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    result = _run("validate", "-c", str(bad))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "line 2" in result.stderr


def test_plan_shows_upgrade_steps_numbered_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    from heliohub.cli.lifecycle_commands import show_plan
    from heliohub.providers.base import Plan

    show_plan(Plan(steps=["control plane 1.32 -> 1.33", "the charts"], notes=["n"]))
    out = capsys.readouterr().out
    assert "upgrade in 2 steps" in out
    assert out.index(" 1. control plane 1.32 -> 1.33") < out.index(" 2. the charts")


def test_up_offers_the_upgrade_options() -> None:
    result = runner.invoke(app, ["up", "--help"])
    assert result.exit_code == 0
    assert "--during-maintenance" in result.output and "--ignore-insights" in result.output
