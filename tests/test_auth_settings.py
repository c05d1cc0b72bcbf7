"""auth_settings for every login type: the traitlets the hub gets, loaded into the real
authenticator classes, and no secret value anywhere in them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from traitlets.config import Config

from heliohub.config import HubConfig, parse
from heliohub.errors import ConfigError
from heliohub.hubspec.login import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    LOGOUT_URL_ENV,
    AuthSettings,
    EnvValue,
    auth_settings,
)
from heliohub.platform import EksPlatform

HUB = "https://hub.example.org/"
SECRET = "not-in-any-output-7f3a"


def _oidc(**extra: Any) -> HubConfig:
    auth = {
        "type": "oidc",
        "issuer": "https://login.example.org/realms/science",
        "client_id": "heliohub",
        "client_secret": {"env": "HUB_OIDC_SECRET"},
        "admin_groups": ["hub-admins"],
        **extra,
    }
    return parse({"auth": auth})


def _cognito(provider: str = "local", **extra: Any) -> HubConfig:
    auth: dict[str, Any] = {"type": "cognito", "admin_groups": ["admins"], **extra}
    data: dict[str, Any] = {"provider": provider, "auth": auth}
    if provider == "aws":
        data["domain"] = "hub.example.org"
        # Cognito accepts only https callbacks.
        data["https"] = {"mode": "letsencrypt", "contact_email": "ops@example.org"}
    return parse(data)


def _load(settings: AuthSettings, env: dict[str, str]) -> Any:
    """Build the configured authenticator the way the hub does, with env values filled in."""
    from importlib import import_module

    cfg = Config()
    for cls, traits in settings.traitlets.items():
        for name, value in traits.items():
            cfg[cls][name] = env[value.name] if isinstance(value, EnvValue) else value
    module, _, name = settings.traitlets["JupyterHub"]["authenticator_class"].rpartition(".")
    return getattr(import_module(module), name)(config=cfg)


def _dump(settings: AuthSettings) -> str:
    return json.dumps(
        {
            "traitlets": settings.traitlets,
            "secrets": {k: v.model_dump() if v else None for k, v in settings.secrets.items()},
            "generated": settings.generated,
        },
        default=repr,
    )


def test_oidc_traits_with_discovery_and_groups() -> None:
    settings = auth_settings(_oidc(allowed_groups=["scientists"]), HUB)
    assert settings.traitlets["JupyterHub"]["authenticator_class"] == (
        "heliohub.inhub.hub_auth.OIDCDiscoveryAuthenticator"
    )
    generic = settings.traitlets["GenericOAuthenticator"]
    # Endpoints are left to discovery when the config sets none.
    assert not {"authorize_url", "token_url", "userdata_url"} & set(generic)
    assert settings.traitlets["OIDCDiscoveryAuthenticator"] == {
        "oidc_issuer": "https://login.example.org/realms/science"
    }
    assert generic["client_secret"] == EnvValue(CLIENT_SECRET_ENV)
    assert settings.secrets[CLIENT_SECRET_ENV].env == "HUB_OIDC_SECRET"
    assert generic["oauth_callback_url"] == "https://hub.example.org/hub/oauth_callback"

    auth = _load(settings, {CLIENT_SECRET_ENV: SECRET})
    assert auth.client_id == "heliohub"
    assert auth.client_secret == SECRET
    assert auth.scope == ["openid", "profile", "email"]
    assert auth.username_claim == "preferred_username"
    assert auth.manage_groups is True
    assert auth.auth_state_groups_key == "oauth_user.groups"
    assert auth.admin_groups == {"hub-admins"}
    assert auth.allowed_groups == {"scientists"}
    assert auth.allow_all is False
    assert auth.basic_auth is False
    assert auth.logout_redirect_url == ""
    assert auth.oidc_issuer == "https://login.example.org/realms/science"


def test_oidc_explicit_endpoints_and_options_win() -> None:
    config = _oidc(
        authorize_url="https://login.example.org/authorize",
        token_url="https://login.example.org/token",
        scopes=["openid", "email", "groups"],
        username_claim="email",
        groups_claim="roles",
        basic_auth=True,
        logout_redirect_url="https://login.example.org/logout",
        admin_users=["ada@example.org"],
    )
    auth = _load(auth_settings(config, HUB), {CLIENT_SECRET_ENV: SECRET})
    assert auth.authorize_url == "https://login.example.org/authorize"
    assert auth.token_url == "https://login.example.org/token"
    assert auth.userdata_url == ""  # still to be discovered
    assert auth.scope == ["openid", "email", "groups"]
    assert auth.username_claim == "email"
    assert auth.auth_state_groups_key == "oauth_user.roles"
    assert auth.basic_auth is True
    assert auth.logout_redirect_url == "https://login.example.org/logout"
    assert auth.admin_users == {"ada@example.org"}


def test_oidc_userdata_from_id_token() -> None:
    auth = _load(
        auth_settings(_oidc(userdata_from_id_token=True), HUB), {CLIENT_SECRET_ENV: SECRET}
    )
    assert auth.userdata_from_id_token is True
    assert auth.userdata_url == ""


def test_oidc_allow_all_is_explicit() -> None:
    auth = _load(
        auth_settings(_oidc(admin_groups=[], allow_all=True), HUB), {CLIENT_SECRET_ENV: SECRET}
    )
    assert auth.allow_all is True


def test_cognito_endpoints_from_prefix_and_region() -> None:
    config = _cognito(
        domain_prefix="helio",
        region="us-west-2",
        client_id="abc123",
        client_secret={"file": "secrets/cognito"},
    )
    settings = auth_settings(config, HUB)
    assert settings.traitlets["JupyterHub"]["authenticator_class"] == (
        "oauthenticator.generic.GenericOAuthenticator"
    )
    auth = _load(settings, {CLIENT_SECRET_ENV: SECRET})
    base = "https://helio.auth.us-west-2.amazoncognito.com"
    assert auth.authorize_url == f"{base}/oauth2/authorize"
    assert auth.token_url == f"{base}/oauth2/token"
    # Groups are only in Cognito's id token: never both userdata_url and the id token.
    assert auth.userdata_from_id_token is True
    assert auth.userdata_url == ""
    assert auth.basic_auth is True
    assert auth.username_claim == "email"
    assert auth.manage_groups is True
    assert auth.auth_state_groups_key == "oauth_user.cognito:groups"
    assert auth.oauth_callback_url == "https://hub.example.org/hub/oauth_callback"
    assert auth.logout_redirect_url == (
        f"{base}/logout?client_id=abc123&logout_uri=https%3A%2F%2Fhub.example.org%2F"
    )
    assert "openid" in auth.scope
    assert settings.secrets[CLIENT_SECRET_ENV].file == "secrets/cognito"
    assert settings.generated == {}


def test_cognito_endpoint_base_override_for_a_local_provider() -> None:
    config = _cognito(
        endpoint_base="http://127.0.0.1:9400",
        client_id="hub",
        client_secret={"env": "COGNITO_SECRET"},
    )
    generic = auth_settings(config, "http://127.0.0.1:8000/").traitlets["GenericOAuthenticator"]
    assert generic["authorize_url"] == "http://127.0.0.1:9400/oauth2/authorize"
    assert generic["token_url"] == "http://127.0.0.1:9400/oauth2/token"
    assert generic["logout_redirect_url"] == (
        "http://127.0.0.1:9400/logout?client_id=hub&logout_uri=http%3A%2F%2F127.0.0.1%3A8000%2F"
    )
    assert generic["oauth_callback_url"] == "http://127.0.0.1:8000/hub/oauth_callback"


def test_cognito_on_aws_from_stack_outputs() -> None:
    eks = EksPlatform(
        region="eu-west-1", user_pool_client_id="client-from-stack", user_pool_domain="helio-prod"
    )
    settings = auth_settings(_cognito("aws"), HUB, platform=eks)
    generic = settings.traitlets["GenericOAuthenticator"]
    assert generic["client_id"] == "client-from-stack"
    assert generic["authorize_url"] == (
        "https://helio-prod.auth.eu-west-1.amazoncognito.com/oauth2/authorize"
    )
    assert "client_id=client-from-stack" in generic["logout_redirect_url"]
    # The app client's secret is read from the user pool by the aws provider, never rendered.
    assert generic["client_secret"] == EnvValue(CLIENT_SECRET_ENV)
    assert settings.secrets == {CLIENT_SECRET_ENV: None}
    assert CLIENT_SECRET_ENV in settings.generated


def test_cognito_on_aws_before_the_stacks_exist() -> None:
    settings = auth_settings(_cognito("aws"), HUB)
    generic = settings.traitlets["GenericOAuthenticator"]
    # The domain prefix defaults to the name plus a hash of the domain (prefixes are unique
    # across accounts), the same one the stack creates; the region to aws.region.
    config = _cognito("aws")
    prefix = config.cognito_domain_prefix()
    assert prefix is not None and prefix.startswith("heliohub-") and prefix != "heliohub"
    assert generic["token_url"] == f"https://{prefix}.auth.us-east-1.amazoncognito.com/oauth2/token"
    assert generic["client_id"] == EnvValue(CLIENT_ID_ENV)
    assert generic["logout_redirect_url"] == EnvValue(LOGOUT_URL_ENV)
    assert set(settings.generated) == {CLIENT_ID_ENV, CLIENT_SECRET_ENV, LOGOUT_URL_ENV}
    # The existing two-argument call keeps working.
    assert auth_settings(_cognito("aws"), HUB) == settings


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"client_secret": {"env": "S"}}, "auth: cognito on provider local needs client_id;"),
        ({"client_id": "x"}, "auth: cognito on provider local needs client_secret;"),
        (
            {"client_id": "x", "client_secret": {"env": "S"}},
            "auth: cognito on provider local needs domain_prefix and region (or endpoint_base);",
        ),
    ],
)
def test_cognito_on_local_needs_client_and_domain(extra: dict[str, Any], problem: str) -> None:
    """Caught by `heliohub validate`, before anything renders."""
    if "domain_prefix" not in problem:
        extra = {**extra, "domain_prefix": "helio", "region": "us-east-1"}
    with pytest.raises(ConfigError) as info:
        _cognito(**extra)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(problem)


def test_github_organizations() -> None:
    config = parse(
        {
            "auth": {
                "type": "github",
                "client_id": "gh-app",
                "client_secret": {"file": "secrets/github"},
                "allowed_organizations": ["heliocloud", "nasa:helio-team"],
                "admin_users": ["octocat"],
            }
        }
    )
    settings = auth_settings(config, HUB)
    assert settings.traitlets["JupyterHub"]["authenticator_class"] == (
        "oauthenticator.github.GitHubOAuthenticator"
    )
    auth = _load(settings, {CLIENT_SECRET_ENV: SECRET})
    assert auth.allowed_organizations == {"heliocloud", "nasa:helio-team"}
    assert auth.admin_users == {"octocat"}
    assert "read:org" in auth.scope
    assert auth.client_secret == SECRET
    assert auth.allow_all is False


@pytest.mark.parametrize(
    "config",
    [
        _oidc(),
        _cognito(domain_prefix="p", region="us-east-1", client_id="c", client_secret={"env": "S"}),
        _cognito("aws"),
        parse({"auth": {"type": "shared-password", "password": {"file": "pw"}}}),
        parse({"auth": {"type": "shared-password"}}),
        parse(
            {
                "auth": {
                    "type": "github",
                    "client_id": "c",
                    "client_secret": {"env": "S"},
                    "allow_all": True,
                }
            }
        ),
    ],
    ids=["oidc", "cognito-local", "cognito-aws", "shared-password", "shared-generated", "github"],
)
def test_no_secret_value_in_settings(config: HubConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings name where a secret is; even with the secret in the environment, its value
    never appears."""
    for name in ("S", "HUB_OIDC_SECRET", CLIENT_SECRET_ENV, "HELIOHUB_SHARED_PASSWORD"):
        monkeypatch.setenv(name, SECRET)
    text = _dump(auth_settings(config, HUB))
    assert SECRET not in text
    # Every secret trait is an environment reference.
    for traits in auth_settings(config, HUB).traitlets.values():
        for name in ("client_secret", "user_password"):
            if name in traits:
                assert isinstance(traits[name], EnvValue)


def test_settings_are_deterministic() -> None:
    config = _oidc(admin_users=["b", "a"], allowed_users=["z", "y"])
    first = auth_settings(config, HUB)
    assert first == auth_settings(config, HUB)
    generic = first.traitlets["GenericOAuthenticator"]
    assert generic["admin_users"] == ["a", "b"]
    assert generic["allowed_users"] == ["y", "z"]


def test_cognito_auto_login_is_offered() -> None:
    """auto_login: the hub's login page is skipped, straight to Cognito's hosted UI."""
    config = _cognito("aws")
    assert "auto_login" not in auth_settings(config, HUB).traitlets["GenericOAuthenticator"]
    on = config.model_copy(update={"auth": config.auth.model_copy(update={"auto_login": True})})
    assert auth_settings(on, HUB).traitlets["GenericOAuthenticator"]["auto_login"] is True
