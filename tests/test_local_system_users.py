"""Isolation `system-users` for real (needs root), with a real OpenID Connect login: one OS user
per hub user, created at first login; servers and Dask clusters run as that user; homes 0700;
the shared directory readable by all and writable by admins; `down` and `up` keep homes and OS
users.

OS users get a test-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import gc
import grp
import os
import pwd
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from auth.oidc import User
from local_hub import LocalHub, start_server
from security_hub import ADMIN_GROUP, USER_GROUP, Matrix, open_matrix

from heliohub.check import run_in_kernel

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    # The provider may run from a system Python (see the fixture) while the test runs here.
    pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.skipif(os.geteuid() != 0, reason="system-users isolation needs root"),
]

PREFIX = f"hht{secrets.token_hex(2)}-"
# A real login: shared-password cannot keep users apart, so the config refuses it here.
CAROL = User("carol", "carol-password-1", [USER_GROUP])
DAVE = User("dave", "dave-password-1", [USER_GROUP])
ADA = User("ada", "ada-password-1", [ADMIN_GROUP])


@pytest.fixture(scope="module")
def matrix(proxy_dir: Path) -> Iterator[Matrix]:
    with open_matrix(proxy_dir, "sysusers", PREFIX, [CAROL, DAVE, ADA], log_in=[]) as m:
        yield m


@pytest.fixture
def hub(matrix: Matrix) -> LocalHub:
    return matrix.hub


def _login(matrix: Matrix, user: User) -> requests.Session:
    page = matrix.login(user)
    assert page.status_code == 200, f"{user.username}: {page.status_code} {page.text[:300]}"
    return matrix.sessions[user.username]


def _uid(name: str) -> int:
    return pwd.getpwnam(PREFIX + name).pw_uid


def _procs_of(hub: LocalHub, needle: str, **env: str) -> list[psutil.Process]:
    out = []
    for p in hub.processes():
        try:
            penv = p.environ()
            if needle in " ".join(p.cmdline()) and all(penv.get(k) == v for k, v in env.items()):
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_users_servers_homes_clusters(matrix: Matrix, hub: LocalHub) -> None:
    carol = _login(matrix, CAROL)
    _login(matrix, DAVE)
    # Created at first login, before any server: OS user and a private home.
    for name in ("carol", "dave"):
        entry = pwd.getpwnam(PREFIX + name)
        home = hub.data_dir / "homes" / name
        assert entry.pw_dir == str(home)
        st = home.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == entry.pw_uid
    assert _uid("carol") != _uid("dave")

    start_server(carol, hub.url, "carol")
    server = _procs_of(hub, "-m heliohub_singleuser", JUPYTERHUB_USER="carol")
    assert len(server) == 1
    assert server[0].uids().real == server[0].uids().effective == _uid("carol")

    token = matrix.token(CAROL)
    code = f"""
import os
out = {{"uid": os.getuid()}}
try:
    os.listdir({str(hub.data_dir / "homes" / "dave")!r})
    out["dave"] = "readable"
except PermissionError:
    out["dave"] = "denied"
try:
    open(os.path.join("shared", "carol.txt"), "w").write("x")
    out["shared"] = "written"
except PermissionError:
    out["shared"] = "denied"
out["shared_list"] = os.listdir("shared") is not None
open("mine.txt", "w").write("carol's")
print(out)
"""
    result = run_in_kernel(hub.url, "carol", token, code)
    assert result.error is None, result.error
    out: dict[str, Any] = eval(result.stdout.strip().splitlines()[-1])  # a dict literal we print
    assert out == {
        "uid": _uid("carol"),
        "dave": "denied",
        "shared": "denied",
        "shared_list": True,
    }
    mine = hub.data_dir / "homes" / "carol" / "mine.txt"
    assert mine.stat().st_uid == _uid("carol")

    # Her Dask cluster runs as her too.
    from dask_gateway import Gateway, JupyterHubAuth

    with Gateway(
        address=f"{hub.url}/services/dask-gateway",
        proxy_address=f"gateway://127.0.0.1:{hub.gateway_port()}",
        auth=JupyterHubAuth(api_token=token),
    ) as gateway:
        cluster = gateway.new_cluster()
        try:
            cluster.scale(1)
            client = cluster.get_client()
            client.wait_for_workers(1, timeout=120)
            assert client.submit(os.getuid).result() == _uid("carol")
            client.close()
            for needle in ("dask scheduler", "dask worker"):
                procs = _procs_of(hub, needle)
                assert procs, needle
                assert {p.uids().real for p in procs} == {_uid("carol")}
        finally:
            cluster.shutdown()
    del gateway
    gc.collect()  # dask_gateway's __del__ warns; let it happen under this module's filter


def test_admin_writes_the_shared_directory(matrix: Matrix, hub: LocalHub) -> None:
    ada = _login(matrix, ADA)
    start_server(ada, hub.url, "ada")
    token = matrix.token(ADA)
    result = run_in_kernel(
        hub.url, "ada", token, "open('shared/from-ada.txt', 'w').write('hello'); print('ok')"
    )
    assert result.error is None, result.error
    shared = hub.data_dir / "shared"
    assert (shared / "from-ada.txt").read_text() == "hello"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
    writers = grp.getgrgid(shared.stat().st_gid)
    assert PREFIX + "ada" in writers.gr_mem
    assert PREFIX + "carol" not in writers.gr_mem


def test_down_and_up_keep_homes_and_users(matrix: Matrix, hub: LocalHub) -> None:
    hub.cli("down")
    assert hub.processes() == []
    assert pwd.getpwnam(PREFIX + "carol")
    assert (hub.data_dir / "homes" / "carol" / "mine.txt").exists()
    hub.cli("up", "--detach")
    assert hub.status()["state"] == "running"
    assert pwd.getpwnam(PREFIX + "carol").pw_uid == _uid("carol")
    _login(matrix, CAROL)
    assert stat.S_IMODE((hub.data_dir / "homes" / "carol").stat().st_mode) == 0o700
