"""`heliohub users` against real local hubs (`heliohub up --detach`): shared-password and
native logins, through the CLI as an operator runs it, checked by logging in as the user."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from auth.hub import Hub, api, password_login, signup

pytestmark = pytest.mark.integration

ADMIN = ("ada", "ada-native-password-7")


def users(hub: Hub, *args: str, check: bool = True, stdin: str | None = None) -> Any:
    if stdin is None:
        return hub.cli("users", *args, check=check)
    import subprocess

    return subprocess.run(
        [hub.heliohub, "users", *args, "-c", str(hub.config_path)],
        cwd=hub.workdir,
        env=hub._env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def listed(hub: Hub) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in json.loads(users(hub, "list", "--json").stdout)}


def login(hub: Hub, name: str, password: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    return session, password_login(session, hub.url, name, password)


def logged_in_as(hub: Hub, name: str, password: str) -> dict[str, Any]:
    session, page = login(hub, name, password)
    assert page.status_code == 200 and page.url == f"{hub.url}/hub/home", page.text[:300]
    me: dict[str, Any] = api(session, hub.url, "GET", "/user").json()
    assert me["name"] == name
    return me


def _hub(tmp: Path, proxy_dir: Path, auth: dict[str, Any]) -> Iterator[Hub]:
    hub = Hub(tmp, {"auth": auth, "local": {"isolation": "none"}}, proxy_dir)
    try:
        hub.up()
        yield hub
    finally:
        hub.down()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path) -> Iterator[Hub]:
    auth = {"type": "shared-password", "admin_users": ["alice"]}
    yield from _hub(tmp_path_factory.mktemp("users-shared"), proxy_dir, auth)


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path) -> Iterator[Hub]:
    auth = {"type": "native", "admin_users": [ADMIN[0]], "minimum_password_length": 12}
    yield from _hub(tmp_path_factory.mktemp("users-native"), proxy_dir, auth)


def test_shared_password_add_login_group_admin_remove(shared: Hub) -> None:
    out = users(shared, "add", "Carol").stdout
    assert "added carol" in out and "logs in with the shared password" in out
    assert listed(shared)["carol"]["admin"] is False
    assert logged_in_as(shared, "carol", shared.password)["admin"] is False

    # Logging in with the user password always drops admin rights here, so heliohub says
    # where admins are made instead of pretending.
    refused = users(shared, "admin", "carol", check=False)
    assert refused.returncode == 1
    assert "auth.admin_users" in refused.stderr and "Traceback" not in refused.stderr
    assert listed(shared)["carol"]["admin"] is False
    # The configured admin logs in with the admin password and is admin.
    assert logged_in_as(shared, "alice", shared.admin_password)["admin"] is True

    users(shared, "groups", "add", "carol", "team")
    assert json.loads(users(shared, "groups", "list", "--json").stdout) == {"team": ["carol"]}
    assert listed(shared)["carol"]["groups"] == ["team"]
    users(shared, "groups", "remove", "carol", "team", "--yes")
    assert listed(shared)["carol"]["groups"] == []

    assert "no sign-ups to approve" in users(shared, "approve", "carol", check=False).stderr

    # Removal asks first; "no" changes nothing.
    kept = users(shared, "remove", "carol", stdin="n\n")
    assert kept.returncode == 1 and "nothing was changed" in kept.stderr
    assert "carol" in listed(shared)
    users(shared, "remove", "carol", "--yes")
    assert "carol" not in listed(shared)
    assert users(shared, "remove", "carol", "--yes", check=False).returncode == 1


def test_native_signup_approve_login_admin_remove(native: Hub) -> None:
    # The configured admin is a hub user with no password until they sign up or are added.
    assert listed(native)[ADMIN[0]]["status"] == "no password yet"
    # Someone signs up; heliohub lists the request, and approval lets them in.
    assert signup(native, "bob", "bob-native-password-1").startswith("alert-info")
    assert listed(native)["bob"]["status"] == "pending approval"
    _, page = login(native, "bob", "bob-native-password-1")
    assert page.status_code == 403
    assert "approved bob" in users(native, "approve", "bob").stdout
    assert listed(native)["bob"]["status"] == "active"
    # Known to the hub from approval on, before any login: groups can be set already.
    users(native, "groups", "add", "bob", "team")
    assert listed(native)["bob"]["groups"] == ["team"]
    assert logged_in_as(native, "bob", "bob-native-password-1")["admin"] is False
    assert "approved already" in users(native, "approve", "bob").stdout

    # An account made by the operator: approved, with an initial password shown once.
    out = users(native, "add", "erin", "--json").stdout
    added = json.loads(out)
    assert added["message"] == "added erin" and len(added["secret"]) >= 12
    assert logged_in_as(native, "erin", added["secret"])["admin"] is False

    users(native, "admin", "erin")
    assert listed(native)["erin"]["admin"] is True
    assert logged_in_as(native, "erin", added["secret"])["admin"] is True
    users(native, "unadmin", "erin", "--yes")
    assert logged_in_as(native, "erin", added["secret"])["admin"] is False
    refused = users(native, "unadmin", ADMIN[0], "--yes", check=False)
    assert refused.returncode == 1 and "auth.admin_users" in refused.stderr

    # Removing deletes the hub user and the account itself: the password no longer works.
    users(native, "remove", "bob", "--yes")
    assert "bob" not in listed(native)
    _, page = login(native, "bob", "bob-native-password-1")
    assert page.status_code == 403
    db = native.data_dir / "state" / "jupyterhub.sqlite"
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT username FROM users_info WHERE username='bob'").fetchall()
    assert rows == []
