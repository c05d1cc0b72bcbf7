"""Attacks of a hostile hub user on a `system-users` deployment (needs root), each tried for
real and each expected to fail. Users A (alice) and B (bob), an admin (boss, by group).

- Name collisions: `jürgen` and the user who chose `jürgen`'s rewritten name; two long names
  sharing their first 25 characters, one of them searched for so that both would map to the
  same OS user. Every login gets its own account or is refused; none gets another's.
- Names with control characters (a login through the identity provider, and an admin creating
  users) are refused by the one user-name policy.
- Reaching other users' Dask processes over the network: schedulers and workers listen on
  loopback only. Secrets in the environment of a process that is not the hub, or in any
  command line: none.
- The log-directory swap: A replaces the `logs` directory of A's own Dask cluster with a link
  and scales the cluster. The gateway runs as root; nothing may be created as root where the
  link points, and no file of root's may appear anywhere A chose.

OS users get a test-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from auth.hub import api
from auth.oidc import User
from security_hub import ADMIN_GROUP, USER_GROUP, Matrix, open_matrix

from heliohub.inhub.users import os_username, safe_name
from heliohub.providers.local import processes

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
# A user with a name that must be rewritten, and one who chose the rewritten name as theirs.
JURGEN = User("jürgen", "jurgen-password-1", [USER_GROUP])
TWIN = User(safe_name("jürgen"), "twin-password-1", [USER_GROUP])


def _colliding_long_names() -> tuple[str, str]:
    """Two names sharing their first 25 characters whose shortened OS names are equal: the
    short hash lets a hostile user find such a twin of someone else's name in a moment."""
    seen: dict[str, str] = {}
    for i in itertools.count():
        name = f"a-long-name-shared-by-two-people-{i}"
        key = os_username(PREFIX, name)
        if key in seen:
            return seen[key], name
        seen[key] = name
    raise AssertionError("unreachable")


# A name the identity provider allows but the hub's user-name policy does not.
CONTROL = User("mallory\troot", "mallory-password-1", [USER_GROUP])
LONG_VICTIM, LONG_ATTACKER = (
    User(name, f"{name}-password", [USER_GROUP]) for name in _colliding_long_names()
)


@pytest.fixture(scope="module")
def attack(proxy_dir: Path) -> Iterator[Matrix]:
    users = [A, B, ADMIN, JURGEN, TWIN, LONG_VICTIM, LONG_ATTACKER, CONTROL]
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
    """Until needle is in a log of the deployment (the gateway logs to dask-gateway.log)."""
    logs = m.hub.data_dir / "logs"
    deadline = time.monotonic() + timeout
    while not any(needle in p.read_text(errors="replace") for p in logs.glob("*.log")):
        assert time.monotonic() < deadline, f"{needle!r} not in any log\n{m.hub.log_tail()}"
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
    # Root's file where the link points: removing the working directory (as root, when the
    # cluster stops) must not reach through the link either.
    canary = closed / "root-file"
    canary.write_text("root's")
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
                assert list(closed.iterdir()) == [canary]
                assert _root_owned(workdir) == []
            finally:
                await gateway.stop_cluster(name)
            deadline = time.monotonic() + 60
            while workdir.exists():
                assert time.monotonic() < deadline, "the working directory was not removed"
                await asyncio.sleep(0.3)

    try:
        asyncio.run(scenario())
        assert canary.read_text() == "root's"
    finally:
        shutil.rmtree(workroot, ignore_errors=True)


def _account_of(m: Matrix, user: User) -> dict[str, object]:
    record = json.loads((m.hub.data_dir / "state" / "os-users.json").read_text())["accounts"]
    (os_name,) = [name for name, rec in record.items() if rec["hub_user"] == user.username]
    return {"os_name": os_name, **record[os_name]}


def test_a_rewritten_name_and_its_twin_are_two_users(attack: Matrix) -> None:
    for user in (JURGEN, TWIN):
        page = attack.login(user)
        assert page.status_code == 200, f"{user.username}: {page.status_code}"
    jurgen, twin = _account_of(attack, JURGEN), _account_of(attack, TWIN)
    assert jurgen["os_name"] != twin["os_name"]
    assert jurgen["uid"] != twin["uid"]
    assert jurgen["home"] != twin["home"]
    for account in (jurgen, twin):
        entry = pwd.getpwnam(str(account["os_name"]))
        assert (entry.pw_uid, entry.pw_dir) == (account["uid"], account["home"])
        assert Path(entry.pw_dir).stat().st_uid == entry.pw_uid


def test_a_long_name_searched_to_collide_is_refused(attack: Matrix) -> None:
    assert LONG_VICTIM.username[:25] == LONG_ATTACKER.username[:25]
    assert os_username(PREFIX, LONG_VICTIM.username) == os_username(PREFIX, LONG_ATTACKER.username)
    assert attack.login(LONG_VICTIM).status_code == 200
    victim = _account_of(attack, LONG_VICTIM)
    refused = attack.login(LONG_ATTACKER)
    assert refused.status_code == 403
    assert LONG_ATTACKER.username not in attack.sessions
    # The victim keeps the account, and nobody else was recorded for it.
    assert _account_of(attack, LONG_VICTIM) == victim
    assert pwd.getpwnam(str(victim["os_name"])).pw_uid == victim["uid"]


def test_names_with_control_characters_are_refused(attack: Matrix) -> None:
    """Neither a login nor an admin can bring a name with a newline, a tab, another control
    character or too many characters onto the hub, and no OS user is made for it."""
    before = {e.pw_name for e in pwd.getpwall()}
    refused = attack.login(CONTROL)
    assert refused.status_code == 403, refused.status_code
    session = attack.sessions[ADMIN.username]
    for name in ("mallory\nroot", "mallory\troot", "mallory\x1b[2J", "m\u2028root", "x" * 65):
        resp = api(session, attack.hub.url, "POST", "/users", json={"usernames": [name]})
        assert resp.status_code == 400, (name, resp.status_code, resp.text)
    names = {u["name"] for u in api(session, attack.hub.url, "GET", "/users").json()}
    assert not [n for n in names if any(ord(ch) < 32 for ch in n)]
    assert {e.pw_name for e in pwd.getpwall()} == before


def test_workers_and_schedulers_listen_on_loopback_only(attack: Matrix) -> None:
    a = _os_user(A)
    attack.token(A)

    async def scenario() -> None:
        async with attack.gateway(A) as gateway:
            name = await gateway.submit()
            try:
                deadline = time.monotonic() + 120
                while (await gateway.get_cluster(name)).status.name != "RUNNING":
                    assert time.monotonic() < deadline, "A's cluster did not start"
                    await asyncio.sleep(0.5)
                await gateway.scale_cluster(name, 1)
                deadline = time.monotonic() + 120
                while True:
                    listening = _listening_as(attack, a.pw_uid)
                    roles = {role for role, _ in listening}
                    if {"scheduler", "worker"} <= roles:
                        break
                    assert time.monotonic() < deadline, f"only {roles} listen"
                    await asyncio.sleep(0.3)
                assert {address for _, address in listening} == {"127.0.0.1"}, listening
            finally:
                await gateway.stop_cluster(name)

    asyncio.run(scenario())


def _listening_as(m: Matrix, uid: int) -> list[tuple[str, str]]:
    """(role, address) of every listening socket of the deployment's processes run by uid."""
    found = []
    for proc in m.hub.processes():
        try:
            if proc.uids().real != uid:
                continue
            role = processes.role(proc)
            if role == "other":  # the worker process its nanny started
                role = "worker"
            found += [
                (role, conn.laddr.ip)
                for conn in proc.net_connections(kind="inet")
                if conn.status == psutil.CONN_LISTEN
            ]
        except psutil.Error:
            continue
    return found


def test_hub_files_are_private_and_children_get_no_secret(attack: Matrix) -> None:
    data = attack.hub.data_dir
    for private in (data / "logs" / "jupyterhub.log", data / "state" / "jupyterhub.sqlite"):
        st = private.stat()
        assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600), private
    secrets_by_name = {
        "OAUTH_CLIENT_SECRET": (attack.workdir / "client-secret").read_text().strip(),
        "HELIOHUB_CHECK_TOKEN": (data / "secrets" / "check-service-token").read_text().strip(),
        "HELIOHUB_USERS_TOKEN": (data / "secrets" / "users-service-token").read_text().strip(),
    }
    hub_pid = json.loads((data / "state" / "deployment.json").read_text())["hub_pid"]
    # supervisord (hub_pid) and the hub it runs hold the secrets; nothing else may.
    children = [
        p
        for p in attack.hub.processes()
        if p.pid != hub_pid and processes.role(p) not in ("supervisor", "hub")
    ]
    roles = {processes.cmdline(p) for p in children}
    assert any("configurable-http-proxy" in r for r in roles), roles
    for proc in children:
        environ = proc.environ()
        for name, value in secrets_by_name.items():
            assert name not in environ, (name, processes.cmdline(proc))
            assert value not in "\0".join(environ.values()), (name, processes.cmdline(proc))
    # Command lines are visible to every local user (without hidepid): none holds a secret.
    for proc in attack.hub.processes():
        for name, value in secrets_by_name.items():
            assert value not in processes.cmdline(proc), (name, proc.pid)
