"""What `up` recorded about a running deployment: <data_dir>/state/deployment.json."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from heliohub.errors import UserError
from heliohub.files import replace_file


class Ports(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hub: int
    proxy_api: int
    gateway: int
    # The gateway's private API; 0 in state files of earlier versions.
    gateway_api: int = 0


class RunState(BaseModel):
    """One run of the deployment, written once it has been started.

    hub_pid is the supervisor's (supervisord): it runs the hub, the gateway and the culler.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment_id: str
    hub_pid: int
    ports: Ports
    url: str
    isolation: str
    started_at: float
    # The settings its users' sessions depend on (session_settings); empty in state files of
    # earlier versions.
    settings: dict[str, str] = {}


def new_deployment_id() -> str:
    return secrets.token_hex(8)


def load(path: Path) -> RunState | None:
    if not path.exists():
        return None
    try:
        return RunState.model_validate_json(path.read_text())
    except (ValidationError, ValueError, OSError) as exc:
        raise UserError(
            f"{path} is not a state file heliohub can read ({exc.__class__.__name__}); "
            "stop any leftover processes by hand, delete the file and run `heliohub up` again"
        ) from None


def save(path: Path, state: RunState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, (json.dumps(state.model_dump(), indent=2) + "\n").encode())


def clear(path: Path) -> None:
    path.unlink(missing_ok=True)


def deployment_id(state_dir: Path) -> str:
    """The id that marks every process of this data directory, kept across runs.

    Stable, so a `down` after a crash still finds processes an earlier run left behind.
    """
    path = state_dir / "deployment-id"
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = new_deployment_id()
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    return value


CREATED_DIRS_FILE = "created-dirs.json"


def created_dirs(state_dir: Path) -> set[str]:
    """Directories heliohub itself created: the only ones whose mode it may change."""
    path = state_dir / CREATED_DIRS_FILE
    try:
        return set(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return set()


def save_created_dirs(state_dir: Path, dirs: set[str]) -> None:
    (state_dir / CREATED_DIRS_FILE).write_text(json.dumps(sorted(dirs), indent=2) + "\n")


STOP_REQUEST_FILE = "stop-requested"


def request_stop(state_dir: Path) -> None:
    """`down` says it is stopping the deployment, so a foreground `up` does not call it a crash."""
    (state_dir / STOP_REQUEST_FILE).write_text(f"{os.getpid()}\n")


def stop_requested(state_dir: Path) -> bool:
    return (state_dir / STOP_REQUEST_FILE).exists()


def clear_stop_request(state_dir: Path) -> None:
    (state_dir / STOP_REQUEST_FILE).unlink(missing_ok=True)
