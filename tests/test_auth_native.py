"""The hub's own accounts (`auth.type: native`) through a real local hub (`heliohub up
--detach`) on the installed JupyterHub: sign-up, approval by an admin, login, password change,
and what a user who is not (yet) an admin cannot do, such as taking an admin's name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from auth.hub import Hub, alert, api, password_login, signup

pytestmark = pytest.mark.integration

ADMIN = "ada"
# An admin whose account the operator has not created yet: nobody may take the name.
LATER_ADMIN = "root-admin"


def login(hub: Hub, username: str, password: str) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    return session, password_login(session, hub.url, username, password)


def login_error(page: requests.Response) -> str:
    match = re.search(r'class="login_error">\s*(.*?)\s*</p>', page.text, re.S)
    return match.group(1) if match else ""


def change_password(session: requests.Session, hub: Hub, old: str, new: str) -> str:
    page = session.post(
        f"{hub.url}/hub/change-password",
        data={
            "old_password": old,
            "new_password": new,
            "new_password_confirmation": new,
            "_xsrf": session.cookies.get("_xsrf", ""),
        },
        timeout=30,
    )
    assert page.status_code == 200, page.text[:500]
    return alert(page)


def approve(admin: requests.Session, hub: Hub, username: str) -> requests.Response:
    """The admin's "Authorize" button on /hub/authorize (a link that toggles the account)."""
    return admin.get(f"{hub.url}/hub/authorize/{username}", timeout=30)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path) -> Iterator[Hub]:
    hub = Hub(
        tmp_path_factory.mktemp("native"),
        {
            "auth": {
                "type": "native",
                "admin_users": [ADMIN, LATER_ADMIN],
                "minimum_password_length": 12,
            },
            "local": {"isolation": "none"},
        },
        proxy_dir,
    )
    try:
        hub.up()
        yield hub
    finally:
        hub.down()


@pytest.fixture(scope="module")
def admin_password(hub: Hub) -> str:
    """The operator creates the admin's account; its initial password is shown once."""
    added = json.loads(hub.cli("users", "add", ADMIN, "--json").stdout)
    return str(added["secret"])


@pytest.fixture(scope="module")
def admin(hub: Hub, admin_password: str) -> requests.Session:
    session, page = login(hub, ADMIN, admin_password)
    assert page.status_code == 200 and page.url == f"{hub.url}/hub/home", page.text[:500]
    return session


def test_signup_approval_login_and_password_change(hub: Hub, admin: requests.Session) -> None:
    name, password, new_password = "bob", "bob-native-password-1", "bob-changed-password-2"
    assert signup(hub, name, password).startswith("alert-info: Your information has been sent")

    # Before an admin approves, the right password is refused, with the reason.
    session, page = login(hub, name, password)
    assert page.status_code == 403
    assert login_error(page) == f"User {name} has not been authorized by an administrator yet."
    assert api(session, hub.url, "GET", "/user").status_code in (401, 403)

    # The admin sees the request on the authorization page and approves it.
    area = admin.get(f"{hub.url}/hub/authorize", timeout=30)
    assert area.status_code == 200 and f"/hub/authorize/{name}" in area.text
    assert approve(admin, hub, name).status_code == 200

    session, page = login(hub, name, password)
    assert page.status_code == 200 and page.url == f"{hub.url}/hub/home", page.text[:500]
    me = api(session, hub.url, "GET", "/user").json()
    assert (me["name"], me["admin"]) == (name, False)

    # A password change needs the current password, and then only the new one works.
    assert change_password(session, hub, "not-the-password-9", new_password).startswith(
        "alert-danger: Your current password was incorrect"
    )
    assert change_password(session, hub, password, new_password).startswith(
        "alert-success: Your password has been changed"
    )
    _, page = login(hub, name, password)
    assert page.status_code == 403 and login_error(page) == "Invalid username or password."
    session, page = login(hub, name, new_password)
    assert page.status_code == 200 and page.url == f"{hub.url}/hub/home"
    assert api(session, hub.url, "GET", "/user").json()["name"] == name


def test_admin_is_admin(hub: Hub, admin: requests.Session) -> None:
    me = api(admin, hub.url, "GET", "/user").json()
    assert (me["name"], me["admin"]) == (ADMIN, True)


def test_a_user_cannot_approve_anyone(hub: Hub, admin: requests.Session) -> None:
    assert signup(hub, "carl", "carl-native-password-1").startswith("alert-info")
    assert signup(hub, "dora", "dora-native-password-1").startswith("alert-info")
    assert approve(admin, hub, "carl").status_code == 200
    carl, page = login(hub, "carl", "carl-native-password-1")
    assert page.status_code == 200

    # An approved user who is no admin can neither see the requests nor approve one.
    assert carl.get(f"{hub.url}/hub/authorize", timeout=30).status_code == 403
    assert approve(carl, hub, "dora").status_code == 403
    _, page = login(hub, "dora", "dora-native-password-1")
    assert page.status_code == 403
    assert "has not been authorized" in login_error(page)


def test_nobody_signs_up_with_an_admin_name(hub: Hub, admin: requests.Session) -> None:
    """The race nativeauthenticator leaves open: the first to sign up as an admin is admin."""
    # Not yet created by the operator: refused, and no account is made.
    assert signup(hub, LATER_ADMIN, "grab-the-admin-name-1").startswith(
        f"alert-danger: The name {LATER_ADMIN} is kept for an administrator"
    )
    _, page = login(hub, LATER_ADMIN, "grab-the-admin-name-1")
    assert page.status_code == 403 and login_error(page) == "Invalid username or password."
    # Created already: taken.
    assert "already in use" in signup(hub, ADMIN, "another-password-99")
    _, page = login(hub, ADMIN, "another-password-99")
    assert page.status_code == 403


def test_signup_refuses_short_password_and_mismatch(hub: Hub) -> None:
    # minimum_password_length is 12 here.
    assert "at least 12 characters" in signup(hub, "erin", "short-pw-1")
    assert "did not match" in signup(hub, "erin", "erin-native-password-1", "something-else-1")
    _, page = login(hub, "erin", "erin-native-password-1")
    assert page.status_code == 403 and login_error(page) == "Invalid username or password."
