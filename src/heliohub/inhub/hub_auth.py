"""OpenID Connect discovery for the hub's login. Runs inside the hub process only.

oauthenticator 17 has no discovery of its own, and render must stay free of I/O, so the hub
reads the issuer's `/.well-known/openid-configuration` itself, the first time someone logs in
(not at start: a hub whose identity provider is briefly down still starts and serves users
who are logged in). Endpoints set explicitly in the config are kept as they are.

Only the standard library, tornado and oauthenticator are imported here, so the module can
also run in a hub image that has no heliohub installed (e.g. pasted into `hub.extraConfig`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthLoginHandler
from tornado import web
from traitlets import Float, Unicode

# trait -> field of the discovery document that fills it when the config leaves it empty
DISCOVERED_TRAITS = {
    "authorize_url": "authorization_endpoint",
    "token_url": "token_endpoint",
    "userdata_url": "userinfo_endpoint",
}


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def endpoints_from(document: dict[str, Any], issuer: str) -> dict[str, str]:
    """The endpoints a discovery document names; refuses a document of another issuer."""
    claimed = str(document.get("issuer", "")).rstrip("/")
    if claimed != issuer.rstrip("/"):
        # OpenID Connect Discovery 1.0, section 4.3: the issuer must match exactly, so that a
        # document served elsewhere cannot redirect logins and tokens to another server.
        raise ValueError(f"discovery document names issuer {claimed!r}, expected {issuer!r}")
    found = {}
    for trait, key in DISCOVERED_TRAITS.items():
        value = document.get(key)
        if isinstance(value, str) and value:
            found[trait] = value
    return found


class DiscoveryLoginHandler(OAuthLoginHandler):
    async def get(self) -> None:
        await self.authenticator.discover()
        super().get()


class OIDCDiscoveryAuthenticator(GenericOAuthenticator):
    """GenericOAuthenticator whose empty endpoints come from the issuer's discovery document."""

    login_handler = DiscoveryLoginHandler

    oidc_issuer = Unicode(
        "",
        config=True,
        help="Issuer URL; its /.well-known/openid-configuration fills the endpoints left empty.",
    )
    discovery_timeout = Float(10.0, config=True, help="Seconds to wait for the discovery document.")

    _discovered = False
    _discovery_lock: asyncio.Lock | None = None

    async def discover(self) -> None:
        if self._discovered or not self.oidc_issuer:
            return
        if self._discovery_lock is None:
            self._discovery_lock = asyncio.Lock()
        async with self._discovery_lock:
            if self._discovered:
                return
            url = discovery_url(self.oidc_issuer)
            try:
                document = await self.httpfetch(
                    url,
                    label="reading the OpenID Connect discovery document",
                    method="GET",
                    headers={"Accept": "application/json"},
                    validate_cert=self.validate_server_cert,
                    request_timeout=self.discovery_timeout,
                )
                found = endpoints_from(document or {}, self.oidc_issuer)
            except Exception as exc:
                self.log.error("OpenID Connect discovery from %s failed: %s", url, exc)
                raise web.HTTPError(
                    503, "The identity provider cannot be reached; please try again later."
                ) from None
            for trait, value in found.items():
                if trait == "userdata_url" and self.userdata_from_id_token:
                    continue
                if not getattr(self, trait):
                    setattr(self, trait, value)
            missing = [t for t in ("authorize_url", "token_url") if not getattr(self, t)]
            if not self.userdata_from_id_token and not self.userdata_url:
                missing.append("userdata_url")
            if missing:
                self.log.error(
                    "OpenID Connect discovery from %s named no %s; set them in the config",
                    url,
                    ", ".join(missing),
                )
                raise web.HTTPError(503, "The hub's login is not configured completely.")
            self.log.info(
                "OpenID Connect endpoints: authorize %s, token %s, userinfo %s",
                self.authorize_url,
                self.token_url,
                self.userdata_url or "(id token)",
            )
            self._discovered = True

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> Any:
        await self.discover()
        return await super().authenticate(handler, data, **kwargs)

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        # Without auth state nothing is refreshed, so a provider outage must not block users.
        if self.enable_auth_state:
            await self.discover()
        return await super().refresh_user(user, handler, **kwargs)
