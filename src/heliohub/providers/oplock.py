"""One operation at a time on a deployment: `up`, `down` and upgrades take this lock.

An flock on a file in the deployment's state directory: the kernel drops it when the holder
exits however it exits (kill -9 included), so a crashed `up` never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from heliohub.errors import UserError

LOCK_FILE = "operation.lock"


class BusyError(UserError):
    """Another heliohub command is working on the same deployment."""


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@contextlib.contextmanager
def hold(state_dir: Path, what: str) -> Iterator[None]:
    """Hold the deployment's operation lock while the block runs; BusyError when taken."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(path) or "another heliohub command"
            raise BusyError(
                f"{holder} is working on this deployment ({state_dir.parent}); wait for it "
                f"to finish, then run `heliohub {what}` again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"`heliohub {what}` (pid {os.getpid()})\n".encode())
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def wait_free(state_dir: Path, timeout: float) -> bool:
    """Wait until nobody holds the lock (a `down` elsewhere has finished); False on timeout."""
    import time

    path = state_dir / LOCK_FILE
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
        finally:
            os.close(fd)
        time.sleep(0.2)
