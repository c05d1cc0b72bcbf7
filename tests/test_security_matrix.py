"""The security matrix in `system-users` mode (needs root), with a real OpenID Connect login:
users A (alice) and B (bob), an admin (boss, by group) and an outsider (eve).

- A cannot read B's home (as A's uid);
- A gets 403 on B's server through the proxy and through the hub API;
- A cannot list, connect to, scale or stop B's Dask clusters (dask_gateway client, A's token);
- a non-admin cannot use admin API endpoints, the admin can;
- no secret appears in any log file under the data dir, nor in `heliohub render` output;
- the outsider gets no hub user and no OS user.

OS users get a test-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from auth.hub import api, oauth_login
from auth.oidc import User
from security_hub import Matrix, open_matrix

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="system-users isolation needs root"),
]

PREFIX = f"hsm{secrets.token_hex(2)}-"
A = User("alice", "alice-password-1", ["scientists"])
B = User("bob", "bob-password-1", ["scientists"])
ADMIN = User("boss", "boss-password-1", ["hub-admins"])
OUTSIDER = User("eve", "eve-password-1", ["visitors"])


def _os_user(user: User) -> pwd.struct_passwd:
    return pwd.getpwnam(PREFIX + user.username)


@pytest.fixture(scope="module")
def matrix(proxy_dir: Path) -> Iterator[Matrix]:
    users = [A, B, ADMIN, OUTSIDER]
    with open_matrix(proxy_dir, "matrix", PREFIX, users, log_in=[A, B, ADMIN]) as m:
        yield m


def _start_server(m: Matrix, user: User, timeout: float = 180) -> None:
    session = m.sessions[user.username]
    resp = api(session, m.hub.url, "POST", f"/users/{user.username}/server")
    assert resp.status_code in (201, 202, 400), resp.text  # 400: already running
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server = api(session, m.hub.url, "GET", f"/users/{user.username}").json()["servers"].get("")
        if server and server.get("ready"):
            return
        time.sleep(0.3)
    raise AssertionError(f"{user.username}'s server not ready\n{m.hub.log_tail()}")


def _server_running(m: Matrix, user: User) -> bool:
    me = api(m.sessions[user.username], m.hub.url, "GET", "/user").json()
    return bool(me["servers"].get("", {}).get("ready"))


def test_only_allowed_logins_get_os_users(matrix: Matrix) -> None:
    for user in (A, B, ADMIN):
        entry = _os_user(user)
        assert entry.pw_uid != 0
    assert len({_os_user(u).pw_uid for u in (A, B, ADMIN)}) == 3
    session = requests.Session()
    refused = oauth_login(session, matrix.hub.url, OUTSIDER.username, OUTSIDER.password)
    assert refused.status_code == 403
    with pytest.raises(KeyError):
        pwd.getpwnam(PREFIX + OUTSIDER.username)
    me = api(matrix.sessions[ADMIN.username], matrix.hub.url, "GET", "/user").json()
    assert me["admin"] is True


def test_a_cannot_read_b_home(matrix: Matrix) -> None:
    _start_server(matrix, B)
    # B writes a file through B's own server, so it is B's file in B's home.
    resp = requests.put(
        f"{matrix.hub.url}/user/{B.username}/api/contents/private.txt",
        headers={"Authorization": f"token {matrix.token(B)}"},
        json={"type": "file", "format": "text", "content": "bob's notes"},
        timeout=30,
    )
    assert resp.status_code in (200, 201), resp.text
    home = Path(_os_user(B).pw_dir)
    secret_file = home / "private.txt"
    assert secret_file.read_text() == "bob's notes"
    assert secret_file.stat().st_uid == _os_user(B).pw_uid

    a = _os_user(A)
    for argv in (["cat", str(secret_file)], ["ls", str(home)], ["touch", str(home / "from-a")]):
        proc = subprocess.run(
            argv,
            user=a.pw_uid,
            group=a.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode != 0, argv
        assert "Permission denied" in proc.stderr, proc.stderr
    assert not (home / "from-a").exists()


def test_a_gets_403_on_b_server_through_the_proxy(matrix: Matrix) -> None:
    _start_server(matrix, B)
    url = f"{matrix.hub.url}/user/{B.username}/api/contents"
    # B's own token works: the server is there.
    own = requests.get(url, headers={"Authorization": f"token {matrix.token(B)}"}, timeout=30)
    assert own.status_code == 200
    # A's token on B's server.
    other = requests.get(url, headers={"Authorization": f"token {matrix.token(A)}"}, timeout=30)
    assert other.status_code == 403
    # A's browser session: the server sends A to the hub for authorization, which refuses.
    page = matrix.sessions[A.username].get(f"{matrix.hub.url}/user/{B.username}/lab", timeout=60)
    assert page.status_code == 403
    assert "bob's notes" not in page.text


def test_a_is_refused_b_server_through_the_api(matrix: Matrix) -> None:
    """JupyterHub answers 404 where A may not even know that B exists (the same answer as for a
    user that does not exist), and 403 where the request is refused outright."""
    _start_server(matrix, B)
    session = matrix.sessions[A.username]
    expected = {
        ("GET", f"/users/{B.username}"): 404,
        ("POST", f"/users/{B.username}/server"): 404,
        ("DELETE", f"/users/{B.username}/server"): 404,
        ("GET", f"/users/{B.username}/server/progress"): 404,
        ("GET", f"/users/{B.username}/tokens"): 404,
        ("POST", f"/users/{B.username}/tokens"): 403,
    }
    for (method, path), code in expected.items():
        by_cookie = api(session, matrix.hub.url, method, path)
        by_token = requests.request(
            method,
            f"{matrix.hub.url}/hub/api{path}",
            headers={"Authorization": f"token {matrix.token(A)}"},
            timeout=30,
        )
        assert (by_cookie.status_code, by_token.status_code) == (code, code), (method, path)
    # A 404 tells A nothing: a user that does not exist gets the same.
    assert api(session, matrix.hub.url, "GET", "/users/nobody-here").status_code == 404
    assert _server_running(matrix, B)


def test_a_cannot_list_connect_scale_or_stop_b_clusters(matrix: Matrix) -> None:
    from aiohttp import ClientResponseError

    # The tokens are made here: the hub API calls are synchronous.
    matrix.token(A), matrix.token(B)

    async def scenario() -> None:
        async with matrix.gateway(A) as gateway_a, matrix.gateway(B) as gateway_b:
            name = await gateway_b.submit()
            try:
                deadline = time.monotonic() + 120
                while (await gateway_b.get_cluster(name)).status.name != "RUNNING":
                    assert time.monotonic() < deadline, "B's cluster did not start"
                    await asyncio.sleep(0.5)
                assert [c.name for c in await gateway_b.list_clusters()] == [name]

                assert name not in [c.name for c in await gateway_a.list_clusters()]
                for method, args in (
                    ("get_cluster", (name,)),
                    ("connect", (name,)),
                    ("scale_cluster", (name, 2)),
                    ("stop_cluster", (name,)),
                ):
                    with pytest.raises(ClientResponseError) as info:
                        await getattr(gateway_a, method)(*args)
                    assert info.value.status == 403, method
                # B's cluster is untouched.
                assert (await gateway_b.get_cluster(name)).status.name == "RUNNING"
            finally:
                await gateway_b.stop_cluster(name)

    asyncio.run(scenario())


def test_non_admin_cannot_use_admin_endpoints(matrix: Matrix) -> None:
    session = matrix.sessions[A.username]
    calls = [
        ("GET", "/users", None),
        ("POST", "/users/mallory", None),
        ("DELETE", f"/users/{B.username}", None),
        ("PATCH", f"/users/{A.username}", {"admin": True}),
        ("GET", "/proxy", None),
        ("GET", "/groups", None),
        ("POST", "/groups/hub-admins/users", {"users": [A.username]}),
    ]
    for method, path, body in calls:
        resp = api(session, matrix.hub.url, method, path, json=body)
        assert resp.status_code == 403, (method, path, resp.status_code)
    me = api(session, matrix.hub.url, "GET", "/user").json()
    assert me["admin"] is False
    assert "hub-admins" not in me["groups"]


def test_admin_can(matrix: Matrix) -> None:
    _start_server(matrix, B)
    session = matrix.sessions[ADMIN.username]
    users = api(session, matrix.hub.url, "GET", "/users")
    assert users.status_code == 200
    assert {A.username, B.username, ADMIN.username} <= {u["name"] for u in users.json()}
    assert api(session, matrix.hub.url, "GET", "/proxy").status_code == 200
    stop = api(session, matrix.hub.url, "DELETE", f"/users/{B.username}/server")
    assert stop.status_code in (202, 204)
    deadline = time.monotonic() + 60
    while _server_running(matrix, B) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _server_running(matrix, B)


def test_no_secret_in_logs_or_render(matrix: Matrix) -> None:
    hub = matrix.hub
    values = {
        "client secret": (matrix.workdir / "client-secret").read_text().strip(),
        "cookie secret": (hub.data_dir / "secrets" / "jupyterhub_cookie_secret")
        .read_text()
        .strip(),
        **{f"{name}'s API token": token for name, token in matrix.tokens.items()},
    }
    check_token = hub.data_dir / "secrets" / "check-service-token"
    if check_token.exists():
        values["check service token"] = check_token.read_text().strip()
    users_token = hub.data_dir / "secrets" / "users-service-token"
    if users_token.exists():
        values["users service token"] = users_token.read_text().strip()
    assert len(matrix.tokens) >= 2, "the earlier tests created API tokens"
    logs = hub.log_files()
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        for what, value in values.items():
            assert value not in text, f"{what} in {path}"
    out = hub.workdir / "rendered"
    proc = hub.cli("render", "-o", str(out))
    rendered = proc.stdout + proc.stderr
    rendered += "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    for what, value in values.items():
        assert value not in rendered, f"{what} in render output"
