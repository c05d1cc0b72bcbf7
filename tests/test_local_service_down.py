"""`heliohub down` (and `up`) on a deployment installed as systemd units (`heliohub service
install`).

This machine runs no systemd, so these tests put a fake `systemctl` first on PATH: a script
that records every command line it is given and answers as told. They check what `down`
detects and which systemctl commands it issues, not systemd itself. `service install` can only
write units here (`--unit-dir`); the record an install that also starts them leaves is written
with the same function install uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from local_hub import LocalHub

from heliohub.providers.local.units import UnitsRecord, record

TARGET = "heliohub-sd.target"
FAKE_SYSTEMCTL = """\
#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/calls.log"
case "$1" in
  is-active) cat "$here/is-active.out"; exit "$(cat "$here/is-active.rc")" ;;
  stop) cat "$here/stop.err" >&2; exit "$(cat "$here/stop.rc")" ;;
esac
exit 0
"""


class FakeSystemctl:
    def __init__(self, bin_dir: Path) -> None:
        bin_dir.mkdir(parents=True)
        self.bin_dir = bin_dir
        script = bin_dir / "systemctl"
        script.write_text(FAKE_SYSTEMCTL)
        script.chmod(0o755)
        self.answer(is_active=("active", 0), stop=("", 0))

    def answer(self, is_active: tuple[str, int], stop: tuple[str, int]) -> None:
        (self.bin_dir / "is-active.out").write_text(is_active[0] + "\n")
        (self.bin_dir / "is-active.rc").write_text(str(is_active[1]))
        (self.bin_dir / "stop.err").write_text(stop[0])
        (self.bin_dir / "stop.rc").write_text(str(stop[1]))

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}

    def calls(self) -> list[str]:
        log = self.bin_dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def hub(tmp_path: Path) -> LocalHub:
    return LocalHub(tmp_path / "sd", {"name": "sd"})


def _installed_and_started(hub: LocalHub) -> None:
    record(hub.data_dir / "state", UnitsRecord(TARGET, "/etc/systemd/system", started=True))


def test_down_stops_the_active_target_first(hub: LocalHub, tmp_path: Path) -> None:
    fake = FakeSystemctl(tmp_path / "bin")
    _installed_and_started(hub)
    result = hub.cli("down", env=fake.env)
    assert fake.calls() == [f"is-active {TARGET}", f"stop {TARGET}"]
    assert f"stopped {TARGET}" in result.stderr
    assert f"systemctl disable {TARGET}" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("is_active", "stop", "why"),
    [
        # systemctl present, systemd not PID 1 (a container): what this machine answers.
        (
            ("System has not been booted with systemd as init system (PID 1).", 1),
            ("", 0),
            "cannot be asked",
        ),
        (("active", 0), ("Failed to stop heliohub-sd.target: Access denied", 1), "Access denied"),
    ],
)
def test_down_says_the_command_to_run_when_it_cannot_stop_them(
    hub: LocalHub, tmp_path: Path, is_active: tuple[str, int], stop: tuple[str, int], why: str
) -> None:
    fake = FakeSystemctl(tmp_path / "bin")
    fake.answer(is_active=is_active, stop=stop)
    _installed_and_started(hub)
    result = hub.cli("down", env=fake.env, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert f"`sudo systemctl stop {TARGET}`" in message
    assert "then run `heliohub down` again" in message
    assert why in message
    # Nothing was stopped or cleared behind systemd's back.
    assert (hub.data_dir / "state" / "systemd-units.json").exists()


def test_units_only_written_and_not_active_are_left_alone(
    hub: LocalHub, tmp_path: Path, proxy_dir: Path
) -> None:
    hub.share_proxy(proxy_dir)
    hub.cli("service", "install", "--unit-dir", str(tmp_path / "units"))
    fake = FakeSystemctl(tmp_path / "bin")
    fake.answer(is_active=("inactive", 3), stop=("", 0))
    result = hub.cli("down", env=fake.env)
    assert fake.calls() == [f"is-active {TARGET}"]
    assert "Traceback" not in result.stderr


def test_up_refuses_while_systemd_runs_the_deployment(hub: LocalHub, tmp_path: Path) -> None:
    """A second copy under supervisord would fight systemd's for the same ports."""
    fake = FakeSystemctl(tmp_path / "bin")
    _installed_and_started(hub)
    result = hub.cli("up", "--detach", env=fake.env, check=False)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert f"runs as the systemd units of {TARGET}" in message
    assert f"sudo systemctl restart {TARGET}" in message
    assert fake.calls() == [f"is-active {TARGET}"]
    # Nothing was started: no run recorded, and no deployment id to mark processes with.
    assert not (hub.data_dir / "state" / "deployment.json").exists()
    assert not (hub.data_dir / "state" / "deployment-id").exists()
