"""systemd units of a local deployment (`heliohub service install`), as `down` sees them.

`service install` records which target it wrote, where, and whether it started it, in
<data_dir>/state/systemd-units.json. `down` stops that target first: otherwise systemd would
start again what `down` stops (the units restart on failure). When it cannot, it says the exact
command to run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from heliohub.errors import UserError

RECORD_FILE = "systemd-units.json"
# `systemctl is-active`: 0 active (or activating, reloading), 3 inactive or unknown unit.
INACTIVE = 3


@dataclass(frozen=True)
class UnitsRecord:
    target: str
    unit_dir: str
    # Enabled and started by `service install` (not only written with --unit-dir).
    started: bool


def record(state_dir: Path, units: UnitsRecord) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / RECORD_FILE).write_text(json.dumps(asdict(units), indent=2) + "\n")


def recorded(state_dir: Path) -> UnitsRecord | None:
    try:
        data = json.loads((state_dir / RECORD_FILE).read_text())
        return UnitsRecord(str(data["target"]), str(data["unit_dir"]), bool(data["started"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cannot(units: UnitsRecord, why: str) -> UserError:
    return UserError(
        f"this deployment runs as the systemd units of {units.target} ({units.unit_dir}), and "
        f"{why}. Stop them with `sudo systemctl stop {units.target}` (and `sudo systemctl "
        f"disable {units.target}` so they do not start at boot), then run `heliohub down` "
        "again"
    )


def stop(units: UnitsRecord, path: str) -> str | None:
    """Stop the target (its services are PartOf it) if it is active; what was done, for the
    user, or None when nothing ran. Raises UserError naming the command to run by hand when
    systemd cannot be asked or refuses."""
    systemctl = shutil.which("systemctl", path=path)
    if systemctl is None:
        if not units.started:
            return None
        raise _cannot(units, "systemctl is not found")
    active = _is_active(systemctl, units)
    if active.returncode == INACTIVE:
        return None
    if active.returncode != 0:
        if not units.started:
            # Only written (--unit-dir) and systemd cannot be asked: nothing of ours runs there.
            return None
        detail = (active.stderr or active.stdout).strip().splitlines()
        raise _cannot(units, f"systemd cannot be asked ({detail[0] if detail else 'no answer'})")
    done = subprocess.run(
        [systemctl, "stop", units.target],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        raise _cannot(
            units, f"`systemctl stop` failed ({detail[0] if detail else done.returncode})"
        )
    return (
        f"stopped {units.target}; it starts again at boot unless you run "
        f"`sudo systemctl disable {units.target}`"
    )


def is_active(units: UnitsRecord, path: str) -> bool:
    """Whether systemd runs the target now (False when systemctl cannot be asked)."""
    systemctl = shutil.which("systemctl", path=path)
    if systemctl is None:
        return False
    return _is_active(systemctl, units).returncode == 0


def _is_active(systemctl: str, units: UnitsRecord) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemctl, "is-active", units.target],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
