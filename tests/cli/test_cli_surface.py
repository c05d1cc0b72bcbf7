"""The CLI's surface: --version, `python -m`, plain help, status exit codes, logs, the lock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from heliohub.providers import oplock

HELIOHUB = str(Path(sys.executable).parent / "heliohub")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HELIOHUB, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version_and_python_dash_m_are_the_same_cli() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"heliohub {version('heliohub')}"
    by_module = subprocess.run(
        [sys.executable, "-m", "heliohub", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert by_module.returncode == 0
    assert by_module.stdout == result.stdout


@pytest.mark.parametrize("command", ["up", "down", "logs", "validate", "status"])
def test_help_shows_flags_without_a_value_placeholder(command: str) -> None:
    result = _run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "<bool>" not in result.stdout
    assert "\x1b[" not in result.stdout


def test_status_of_a_stopped_deployment_exits_3(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"local: {{data_dir: {tmp_path / 'data'}, isolation: none}}\n")
    result = _run("status", "-c", str(cfg))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "stopped" in result.stdout


def test_logs_lines_and_no_colour_codes_into_a_pipe(tmp_path: Path) -> None:
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "jupyterhub.log").write_text(
        "".join(f"\x1b[32m[I line {i}]\x1b[0m hub says {i}\n" for i in range(50))
    )
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"local: {{data_dir: {tmp_path / 'data'}, isolation: none}}\n")
    result = _run("logs", "-n", "3", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"[I line {i}] hub says {i}" for i in (47, 48, 49)]


def test_logs_into_a_pipe_closed_early_is_quiet(tmp_path: Path) -> None:
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    (logs / "jupyterhub.log").write_text("".join(f"line {i}\n" for i in range(5000)))
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(f"local: {{data_dir: {tmp_path / 'data'}, isolation: none}}\n")
    result = subprocess.run(
        f"{HELIOHUB} logs -n 5000 -c {cfg} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout == "line 0\n"
    assert "Traceback" not in result.stderr
    assert "Error" not in result.stderr


def test_logs_on_aws_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "aws.yaml"
    assert _run("init", "--provider", "aws", "-o", str(cfg)).returncode == 0
    env = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_PROFILE": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }
    result = _run("logs", "-c", str(cfg), env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "NotImplementedError" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_a_second_operation_gets_a_clear_message(tmp_path: Path) -> None:
    """The lock is held by another process, as a concurrent `up` would hold it."""
    state = tmp_path / "data" / "state"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from heliohub.providers import oplock\n"
            f"with oplock.hold(Path({str(state)!r}), 'up'):\n"
            "    print('held', flush=True); time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(oplock.BusyError) as info, oplock.hold(state, "down"):
            pass
        assert f"`heliohub up` (pid {holder.pid}) is working on this deployment" in str(info.value)
        assert "then run `heliohub down` again" in str(info.value)
        cfg = tmp_path / "heliohub.yaml"
        cfg.write_text(f"local: {{data_dir: {tmp_path / 'data'}, isolation: none}}\n")
        result = _run("up", "--detach", "-c", str(cfg))
        assert result.returncode == 1
        assert "is working on this deployment" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the lock with its holder: no stale lock after a crash.
    deadline = time.monotonic() + 10
    while not oplock.wait_free(state, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    with oplock.hold(state, "down"):
        pass
