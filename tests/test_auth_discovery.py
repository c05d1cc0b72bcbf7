"""The hub's OpenID Connect discovery against a real provider on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from auth.oidc import Client, OIDCProvider, User
from tornado import web
from traitlets.config import Config

from heliohub.inhub.hub_auth import OIDCDiscoveryAuthenticator, endpoints_from

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OIDCProvider]:
    p = OIDCProvider(
        tmp_path_factory.mktemp("oidc"),
        clients=[Client("hub", "secret-1234567890", ["http://127.0.0.1:1/hub/oauth_callback"])],
        users=[User("ada", "pw-ada-12345")],
    ).start()
    yield p
    p.stop()


def _authenticator(**traits: object) -> OIDCDiscoveryAuthenticator:
    cfg = Config()
    for name, value in traits.items():
        cfg.OIDCDiscoveryAuthenticator[name] = value
    cfg.OIDCDiscoveryAuthenticator.client_id = "hub"
    return OIDCDiscoveryAuthenticator(config=cfg)


def test_endpoints_are_discovered(provider: OIDCProvider) -> None:
    auth = _authenticator(oidc_issuer=provider.issuer + "/")
    assert auth.authorize_url == "" and auth.token_url == ""
    asyncio.run(auth.discover())
    assert auth.authorize_url == f"{provider.issuer}/auth"
    assert auth.token_url == f"{provider.issuer}/token"
    assert auth.userdata_url == f"{provider.issuer}/me"


def test_explicit_endpoints_win_over_discovery(provider: OIDCProvider) -> None:
    auth = _authenticator(
        oidc_issuer=provider.issuer, token_url="http://127.0.0.1:1/explicit-token"
    )
    asyncio.run(auth.discover())
    assert auth.token_url == "http://127.0.0.1:1/explicit-token"
    assert auth.authorize_url == f"{provider.issuer}/auth"


def test_id_token_mode_never_sets_userdata_url(provider: OIDCProvider) -> None:
    auth = _authenticator(oidc_issuer=provider.issuer, userdata_from_id_token=True)
    asyncio.run(auth.discover())
    assert auth.userdata_url == ""
    assert auth.token_url == f"{provider.issuer}/token"


def test_a_document_of_another_issuer_is_refused(provider: OIDCProvider) -> None:
    # The provider serves its document under its own issuer; claiming another one must fail.
    assert endpoints_from({"issuer": provider.issuer, "token_endpoint": "t"}, provider.issuer)
    with pytest.raises(ValueError, match="expected"):
        endpoints_from({"issuer": "https://evil.example.org"}, provider.issuer)
    auth = _authenticator(oidc_issuer=provider.issuer + "/realms/other")
    with pytest.raises(web.HTTPError) as info:
        asyncio.run(auth.discover())
    assert info.value.status_code == 503
    assert auth.authorize_url == ""


def test_an_unreachable_issuer_is_a_503_not_a_crash(tmp_path: Path) -> None:
    from auth.oidc import free_port

    auth = _authenticator(oidc_issuer=f"http://127.0.0.1:{free_port()}", discovery_timeout=3.0)
    with pytest.raises(web.HTTPError) as info:
        asyncio.run(auth.discover())
    assert info.value.status_code == 503
