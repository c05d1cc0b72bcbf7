"""What each helm release was last given by `up` (state/releases.json), for `plan`'s diff."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from heliohub.files import replace_file
from heliohub.render.helm.release_diff import ReleaseRecord

FILE = "releases.json"


def load(state_dir: Path) -> dict[str, ReleaseRecord]:
    path = state_dir / FILE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {name: ReleaseRecord(**value) for name, value in raw.items()}


def _write(state_dir: Path, records: dict[str, ReleaseRecord]) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE
    text = json.dumps({n: asdict(r) for n, r in records.items()}, indent=2, sort_keys=True)
    replace_file(path, (text + "\n").encode(), 0o600)


def record(state_dir: Path, release: ReleaseRecord) -> None:
    """After a successful `helm upgrade --install` of this release."""
    _write(state_dir, {**load(state_dir), release.name: release})


def forget(state_dir: Path, name: str) -> None:
    """After `helm uninstall`."""
    records = load(state_dir)
    if records.pop(name, None) is not None:
        _write(state_dir, records)
