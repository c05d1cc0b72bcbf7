"""Full authorization-code logins through a real local hub (`heliohub up --detach`) and a real
OpenID Connect provider on loopback: the `oidc` type (client_secret_basic and _post) and the
`cognito` preset pointed at a provider that serves Cognito's routes and id-token groups."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from auth.hub import Hub, api, oauth_login
from auth.oidc import Client, OIDCProvider, User

from heliohub.hubspec.login import cognito_sign_out_url

pytestmark = pytest.mark.integration

CLIENT_ID = "heliohub"
CLIENT_SECRET = "login-test-client-secret-4b8e0c"

ADMIN = User("ada", "ada-password-1", ["hub-admins", "scientists"])
MEMBER = User("bob", "bob-password-1", ["scientists"])
BY_NAME = User("carol", "carol-password-1", [])
OUTSIDER = User("eve", "eve-password-1", ["visitors"])
USERS = [ADMIN, MEMBER, BY_NAME, OUTSIDER]


@dataclass
class Deployment:
    variant: str
    hub: Hub
    provider: OIDCProvider

    def name(self, user: User) -> str:
        """The hub user name: cognito names users by email, the oidc setup by username."""
        return user.email if self.variant == "cognito" else user.username


def _auth(variant: str, issuer: str) -> dict[str, Any]:
    common = {
        "client_id": CLIENT_ID,
        "client_secret": {"file": "../client-secret"},
        "admin_groups": ["hub-admins"],
        "allowed_groups": ["scientists"],
    }
    if variant == "cognito":
        return {
            "type": "cognito",
            "endpoint_base": issuer,
            "allowed_users": [BY_NAME.email],
            **common,
        }
    return {
        "type": "oidc",
        "issuer": issuer,
        "scopes": ["openid", "profile", "email", "groups"],
        "basic_auth": variant == "oidc-basic",
        "allowed_users": [BY_NAME.username],
        **common,
    }


@pytest.fixture(scope="module", params=["oidc-basic", "oidc-post", "cognito"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path
) -> Iterator[Deployment]:
    variant: str = request.param
    root = tmp_path_factory.mktemp(variant)
    (root / "client-secret").write_text(CLIENT_SECRET + "\n")
    (root / "client-secret").chmod(0o600)
    hub = Hub(root / "hub", {"auth": {}, "local": {"isolation": "none"}}, proxy_dir)
    method = "client_secret_post" if variant == "oidc-post" else "client_secret_basic"
    provider = OIDCProvider(
        root / "idp",
        clients=[
            Client(
                CLIENT_ID,
                CLIENT_SECRET,
                redirect_uris=[f"{hub.url}/hub/oauth_callback"],
                # What the cluster stack registers as the app client's sign-out URL.
                post_logout_redirect_uris=[cognito_sign_out_url(hub.url)],
                token_endpoint_auth_method=method,
            )
        ],
        users=USERS,
        flavor="cognito" if variant == "cognito" else "oidc",
    ).start()
    try:
        hub.config["auth"] = _auth(variant, provider.issuer)
        hub.write_config()
        hub.up()
        yield Deployment(variant, hub, provider)
    finally:
        hub.down()
        provider.stop()


def _login(d: Deployment, user: User) -> tuple[requests.Session, requests.Response]:
    session = requests.Session()
    return session, oauth_login(session, d.hub.url, user.username, user.password)


def test_admin_group_member_is_admin(deployment: Deployment) -> None:
    session, page = _login(deployment, ADMIN)
    assert page.status_code == 200, page.text[:500]
    assert page.url == f"{deployment.hub.url}/hub/home"
    me = api(session, deployment.hub.url, "GET", "/user").json()
    assert me["name"] == deployment.name(ADMIN)
    assert me["admin"] is True
    assert set(me["groups"]) == {"hub-admins", "scientists"}
    users = api(session, deployment.hub.url, "GET", "/users")
    assert users.status_code == 200
    assert deployment.name(ADMIN) in {u["name"] for u in users.json()}


def test_plain_member_is_not_admin(deployment: Deployment) -> None:
    session, page = _login(deployment, MEMBER)
    assert page.status_code == 200, page.text[:500]
    me = api(session, deployment.hub.url, "GET", "/user").json()
    assert me["name"] == deployment.name(MEMBER)
    assert me["admin"] is False
    assert me["groups"] == ["scientists"]
    assert api(session, deployment.hub.url, "GET", "/users").status_code == 403


def test_allowed_user_without_groups_gets_in(deployment: Deployment) -> None:
    session, page = _login(deployment, BY_NAME)
    assert page.status_code == 200, page.text[:500]
    me = api(session, deployment.hub.url, "GET", "/user").json()
    assert (me["name"], me["admin"]) == (deployment.name(BY_NAME), False)


def test_user_outside_allowed_users_and_groups_is_refused(deployment: Deployment) -> None:
    session, page = _login(deployment, OUTSIDER)
    # The provider authenticated eve (the hub received a code), and the hub said no.
    assert "/hub/oauth_callback" in page.url
    assert page.status_code == 403
    assert api(session, deployment.hub.url, "GET", "/user").status_code in (401, 403)
    # No hub user was created for the refused login.
    admin, _ = _login(deployment, ADMIN)
    names = {u["name"] for u in api(admin, deployment.hub.url, "GET", "/users").json()}
    assert deployment.name(OUTSIDER) not in names
    assert f"login ok for {OUTSIDER.username}" in deployment.provider.log()


def test_wrong_password_never_reaches_the_hub(deployment: Deployment) -> None:
    session = requests.Session()
    page = oauth_login(session, deployment.hub.url, ADMIN.username, "not-the-password")
    assert page.url.startswith(deployment.provider.issuer)
    assert "Wrong username or password" in page.text
    assert api(session, deployment.hub.url, "GET", "/user").status_code in (401, 403)


def test_logout(deployment: Deployment) -> None:
    session, _ = _login(deployment, MEMBER)
    out = session.get(f"{deployment.hub.url}/hub/logout", allow_redirects=False, timeout=30)
    assert out.status_code == 302
    target = out.headers["location"]
    if deployment.variant == "cognito":
        # Cognito's logout endpoint, with the client and where to come back to.
        parts = urlsplit(target)
        assert (
            f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{deployment.provider.issuer}/logout"
        )
        assert parse_qs(parts.query) == {
            "client_id": [CLIENT_ID],
            "logout_uri": [f"{deployment.hub.url}/"],
        }
        # The provider accepts it (the URL is a registered sign-out URL) and sends us back.
        back = session.get(target, allow_redirects=False, timeout=30)
        assert back.status_code == 302 and back.headers["location"] == f"{deployment.hub.url}/"
    else:
        assert target.endswith("/hub/login")
    assert api(session, deployment.hub.url, "GET", "/user").status_code in (401, 403)


def test_client_secret_is_in_no_log_and_not_rendered(deployment: Deployment) -> None:
    logs = deployment.hub.log_files()
    assert logs, "the hub wrote no log files under its data dir"
    for path in logs:
        assert CLIENT_SECRET not in path.read_text(errors="replace"), path
    out = deployment.hub.workdir / "rendered"
    proc = deployment.hub.cli("render", "-o", str(out))
    files = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert CLIENT_SECRET not in proc.stdout + proc.stderr + files
    # The hub's data file names where the secret comes from instead.
    login = json.loads((out / "local" / "hub.json").read_text())["login"]
    assert login["traits_from_env"]["GenericOAuthenticator.client_secret"] == "OAUTH_CLIENT_SECRET"
