"""The test identity provider behaves like the providers it stands in for: a plain OpenID
Connect provider (groups from userinfo) and Cognito (its routes, groups only in the id token,
HTTP Basic client authentication). Checked with a bare authorization-code client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import pytest
import requests
from auth.oidc import Client, OIDCProvider, User

pytestmark = pytest.mark.integration

REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the code is read from the redirect
SECRET = "provider-test-secret-0a1b"
ADA = User("ada", "ada-password-1", ["hub-admins", "scientists"])


def _provider(tmp: Path, flavor: str, method: str = "client_secret_basic") -> OIDCProvider:
    client = Client("app", SECRET, [REDIRECT], token_endpoint_auth_method=method)  # type: ignore[arg-type]
    return OIDCProvider(tmp, [client], [ADA], flavor=flavor).start()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    p = _provider(tmp_path_factory.mktemp("oidc"), "oidc")
    yield p
    p.stop()


@pytest.fixture(scope="module")
def cognito(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    p = _provider(tmp_path_factory.mktemp("cognito"), "cognito")
    yield p
    p.stop()


def _code(authorize_url: str, scope: str, user: User, password: str) -> tuple[str, str]:
    """Log in at the provider's form; returns (code, PKCE verifier)."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    session = requests.Session()
    url = (
        authorize_url
        + "?"
        + requests.compat.urlencode(
            {
                "client_id": "app",
                "response_type": "code",
                "scope": scope,
                "redirect_uri": REDIRECT,
                "state": "s1",
                "code_challenge": challenge.decode().rstrip("="),
                "code_challenge_method": "S256",
            }
        )
    )
    form = session.get(url, timeout=30)
    action = form.text.split('action="', 1)[1].split('"', 1)[0]
    resp = session.post(
        urljoin(form.url, action),
        data={"username": user.username, "password": password},
        allow_redirects=False,
        timeout=30,
    )
    for _ in range(5):
        location = resp.headers.get("location", "")
        if location.startswith(REDIRECT):
            query = parse_qs(urlsplit(location).query)
            assert query["state"] == ["s1"]
            return query["code"][0], verifier
        assert resp.status_code in (302, 303), resp.text[:300]
        resp = session.get(urljoin(resp.url, location), allow_redirects=False, timeout=30)
    raise AssertionError("no redirect back to the client")


def _tokens(token_url: str, code: str, verifier: str, basic: bool) -> requests.Response:
    data: dict[str, Any] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    if basic:
        return requests.post(token_url, data=data, auth=("app", SECRET), timeout=30)
    return requests.post(
        token_url, data={**data, "client_id": "app", "client_secret": SECRET}, timeout=30
    )


def _claims(id_token: str) -> dict[str, Any]:
    return jwt.decode(id_token, options={"verify_signature": False}, audience="app")


def test_oidc_discovery_and_groups_from_userinfo(oidc: OIDCProvider) -> None:
    meta = requests.get(f"{oidc.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == oidc.issuer
    assert "S256" in meta["code_challenge_methods_supported"]
    code, verifier = _code(
        meta["authorization_endpoint"], "openid profile groups", ADA, ADA.password
    )
    tokens = _tokens(meta["token_endpoint"], code, verifier, basic=True)
    assert tokens.status_code == 200, tokens.text
    info = requests.get(
        meta["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        timeout=10,
    ).json()
    assert info["preferred_username"] == "ada"
    assert info["groups"] == ADA.groups
    # A code is good for one exchange only.
    again = _tokens(meta["token_endpoint"], code, verifier, basic=True)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_cognito_routes_groups_only_in_the_id_token(cognito: OIDCProvider) -> None:
    base = cognito.issuer
    code, verifier = _code(f"{base}/oauth2/authorize", "openid email profile", ADA, ADA.password)
    tokens = _tokens(f"{base}/oauth2/token", code, verifier, basic=True)
    assert tokens.status_code == 200, tokens.text
    claims = _claims(tokens.json()["id_token"])
    assert claims["cognito:groups"] == ADA.groups
    assert claims["email"] == ADA.email
    info = requests.get(
        f"{base}/oauth2/userInfo",
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
        timeout=10,
    ).json()
    assert info["email"] == ADA.email
    assert "cognito:groups" not in info


def test_client_authentication_must_match(cognito: OIDCProvider) -> None:
    """A Basic client sending its secret in the form body is refused: `invalid_client`."""
    base = cognito.issuer
    code, verifier = _code(f"{base}/oauth2/authorize", "openid email", ADA, ADA.password)
    tokens = _tokens(f"{base}/oauth2/token", code, verifier, basic=False)
    assert tokens.status_code in (400, 401)
    assert tokens.json()["error"] == "invalid_client"


def test_wrong_password_gets_the_form_again(oidc: OIDCProvider) -> None:
    with pytest.raises(AssertionError, match=r"Wrong username or password"):
        _code(f"{oidc.issuer}/auth", "openid", ADA, "not-the-password")
    assert 'login refused for "ada"' in oidc.log()
