"""`heliohub logs`: the log files under <data_dir>/logs, like tail (-f)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

TAIL_LINES = 200


def _files(logs_dir: Path) -> list[Path]:
    return sorted(p for p in logs_dir.glob("*.log") if p.is_file())


def read_logs(
    logs_dir: Path, follow: bool, poll_s: float = 0.5, lines: int = TAIL_LINES
) -> Iterator[str]:
    """The last `lines` lines of each log file; with follow, then every new line as written."""
    positions: dict[Path, int] = {}
    several = len(_files(logs_dir)) > 1
    for path in _files(logs_dir):
        data = path.read_bytes()
        positions[path] = len(data)
        if several:
            yield f"==> {path.name} <=="
        if lines > 0:
            yield from data.decode(errors="replace").splitlines()[-lines:]
    if not follow:
        return
    partial: dict[Path, str] = {}
    while True:
        for path in _files(logs_dir):
            size = path.stat().st_size
            start = positions.get(path, 0)
            if size < start:  # truncated or replaced: start over
                start = 0
            if size == start:
                continue
            with path.open("rb") as f:
                f.seek(start)
                chunk = f.read(size - start)
            positions[path] = size
            text = partial.pop(path, "") + chunk.decode(errors="replace")
            new = text.split("\n")
            if new[-1]:
                partial[path] = new[-1]
            yield from new[:-1]
        time.sleep(poll_s)
