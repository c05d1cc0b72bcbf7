"""The hub database across JupyterHub versions: backed up, then migrated with
`jupyterhub upgrade-db`, before a hub of another version starts on it.

A JupyterHub whose database schema is older than its own refuses to start. heliohub records the
JupyterHub version that last ran on the database (state/hub-db.json); when the installed one
differs (or nothing was recorded and a database exists), `up` copies the database into
state/backups/ and runs `jupyterhub upgrade-db`. If the migration fails, the copy is put back,
so the database is as the earlier version left it, and `up` stops with the reason.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from heliohub.errors import UserError
from heliohub.files import replace_file
from heliohub.inhub.layout import Layout
from heliohub.providers.base import Reporter

RECORD_FILE = "hub-db.json"
BACKUPS_DIR = "backups"
UPGRADE_TIMEOUT_S = 600.0

Runner = Callable[..., subprocess.CompletedProcess[str]]


@dataclass(frozen=True)
class Migration:
    from_version: str | None
    to_version: str
    backup: Path


def db_file(layout: Layout) -> Path:
    """Where the local hub keeps its database (heliohub.inhub.hub_config)."""
    return layout.state_dir / "jupyterhub.sqlite"


def recorded_version(layout: Layout) -> str | None:
    path = layout.state_dir / RECORD_FILE
    try:
        return str(json.loads(path.read_text())["jupyterhub_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_version(layout: Layout, version: str) -> None:
    path = layout.state_dir / RECORD_FILE
    replace_file(path, (json.dumps({"jupyterhub_version": version}) + "\n").encode())


def _recorded_in_venv(bin_dir: Path) -> str | None:
    """The version pip recorded in the virtualenv bin_dir belongs to (its dist-info), or None
    when that is not one plain virtualenv with one JupyterHub."""
    found = list(bin_dir.parent.glob("lib/python3*/site-packages/jupyterhub-*.dist-info"))
    if len(found) != 1:
        return None
    version = found[0].name.removeprefix("jupyterhub-").removesuffix(".dist-info")
    return version or None


def installed_version(bin_dir: Path, env: Mapping[str, str], run: Runner = subprocess.run) -> str:
    # Read from disk: `jupyterhub --version` imports JupyterHub, 1-3 s of every `up`
    # (docs/BENCHMARKS.md).
    recorded = _recorded_in_venv(bin_dir)
    if recorded is not None:
        return recorded
    done = run(
        [str(bin_dir / "jupyterhub"), "--version"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    version = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    if not version:
        raise UserError(
            f"`{bin_dir / 'jupyterhub'} --version` failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-300:]}"
        )
    return version[0].strip()


def backup(db: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API, readable by root only."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def restore(copy: Path, db: Path) -> None:
    tmp = db.with_name(db.name + ".restoring")
    tmp.write_bytes(copy.read_bytes())
    os.chmod(tmp, 0o600)
    os.replace(tmp, db)
    for suffix in ("-journal", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def ensure_current(
    layout: Layout,
    bin_dir: Path,
    env: Mapping[str, str],
    reporter: Reporter,
    run: Runner = subprocess.run,
) -> Migration | None:
    """Migrate the hub database to the installed JupyterHub, backing it up first.

    Returns what was done (None: nothing to do). Call it while no hub runs on the database.
    """
    db = db_file(layout)
    current = installed_version(bin_dir, env, run)
    previous = recorded_version(layout)
    if not db.exists():
        record_version(layout, current)
        return None
    if previous == current:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    copy = layout.state_dir / BACKUPS_DIR / f"jupyterhub.sqlite.{previous or 'unknown'}.{stamp}"
    with reporter.stage(f"back up the hub database to {copy}"):
        backup(db, copy)
    what = f"JupyterHub {previous or '(version not recorded)'} -> {current}"
    with reporter.stage(f"jupyterhub upgrade-db ({what})"):
        done = run(
            [str(bin_dir / "jupyterhub"), "upgrade-db", f"--db=sqlite:///{db}"],
            env=dict(env),
            cwd=layout.state_dir,
            capture_output=True,
            text=True,
            timeout=UPGRADE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            restore(copy, db)
            lines = [line.strip() for line in (done.stdout + done.stderr).splitlines()]
            # Its output is nested tracebacks; the lines naming an error say why.
            errors = [line for line in lines if "Error" in line or "FAILED" in line] or lines
            tail = "\n  ".join(dict.fromkeys(errors[-4:]))
            earlier = previous or "the one that last ran"
            raise UserError(
                f"migrating the hub database ({what}) failed, so it was restored from the "
                f"backup {copy}; the hub was not started. `jupyterhub upgrade-db` said:\n  "
                f"{tail}\nInstall JupyterHub {earlier} again to keep going, or fix the "
                "cause and run `heliohub up` again"
            )
    record_version(layout, current)
    reporter.info(f"hub database migrated ({what}); the copy from before is {copy}")
    return Migration(previous, current, copy)
