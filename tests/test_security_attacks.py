"""Attacks of a hostile hub user on a `system-users` deployment (needs root), each tried for
real and each expected to fail. Users A (alice) and B (bob), an admin (boss, by group).

- The log-directory swap: A replaces the `logs` directory of A's own Dask cluster with a link
  and scales the cluster. The gateway runs as root; nothing may be created as root where the
  link points, and no file of root's may appear anywhere A chose.

OS users get a test-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth.oidc import User
from security_hub import ADMIN_GROUP, USER_GROUP, Matrix, open_matrix

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.skipif(os.geteuid() != 0, reason="system-users isolation needs root"),
]

PREFIX = f"hsa{secrets.token_hex(2)}-"
A = User("alice", "alice-password-1", [USER_GROUP])
B = User("bob", "bob-password-1", [USER_GROUP])
ADMIN = User("boss", "boss-password-1", [ADMIN_GROUP])


@pytest.fixture(scope="module")
def attack(proxy_dir: Path) -> Iterator[Matrix]:
    users = [A, B, ADMIN]
    with open_matrix(proxy_dir, "attacks", PREFIX, users, log_in=[A, B, ADMIN]) as m:
        yield m


def _os_user(user: User) -> pwd.struct_passwd:
    return pwd.getpwnam(PREFIX + user.username)


def _as_user(entry: pwd.struct_passwd, script: str, cwd: Path) -> None:
    """A shell command run as the OS user, as from a terminal in that user's JupyterLab."""
    proc = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=cwd,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{script}: {proc.stderr}"


def _wait_for_log(m: Matrix, needle: str, timeout: float = 120) -> None:
    log = m.hub.data_dir / "logs" / "jupyterhub.log"
    deadline = time.monotonic() + timeout
    while needle not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{needle!r} not in the hub's log\n{m.hub.log_tail()}"
        time.sleep(0.3)


def _root_owned(top: Path) -> list[Path]:
    """Everything under top (top included) that belongs to root, links not followed."""
    found = [top] if top.lstat().st_uid == 0 else []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if path.lstat().st_uid == 0:
                found.append(path)
    return found


def test_log_directory_swap_makes_root_create_nothing(attack: Matrix) -> None:
    a = _os_user(A)
    workroot = Path(tempfile.mkdtemp(prefix="heliohub-attack-"))
    # A may enter both targets; only the first may A write (like /tmp).
    writable = workroot / "writable"
    closed = workroot / "closed"
    writable.mkdir(mode=0o1777)
    writable.chmod(0o1777)
    closed.mkdir(mode=0o755)
    workroot.chmod(0o755)
    attack.token(A)

    async def scenario() -> None:
        async with attack.gateway(A) as gateway:
            name = await gateway.submit()
            try:
                deadline = time.monotonic() + 120
                while (await gateway.get_cluster(name)).status.name != "RUNNING":
                    assert time.monotonic() < deadline, "A's cluster did not start"
                    await asyncio.sleep(0.5)
                workdir = attack.hub.data_dir / "dask-clusters" / name
                assert workdir.lstat().st_uid == a.pw_uid
                assert _root_owned(workdir) == []

                # A points logs/ at a directory A may write: the worker's log appears there,
                # but as A's file, not root's.
                _as_user(a, f"mv logs logs.orig && ln -s {writable} logs", workdir)
                await gateway.scale_cluster(name, 1)
                deadline = time.monotonic() + 120
                while not list(writable.glob("worker-*.log")):
                    assert time.monotonic() < deadline, f"no worker log\n{attack.hub.log_tail()}"
                    await asyncio.sleep(0.3)
                for log in writable.iterdir():
                    assert log.lstat().st_uid == a.pw_uid, log

                # A points logs/ at a directory only root may write: the next worker cannot
                # start, and nothing is created there.
                _as_user(a, f"rm logs && ln -s {closed} logs", workdir)
                await gateway.scale_cluster(name, 2)
                _wait_for_log(attack, "Failed to submit worker")
                assert list(closed.iterdir()) == []
                assert _root_owned(workdir) == []
            finally:
                await gateway.stop_cluster(name)

    try:
        asyncio.run(scenario())
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
