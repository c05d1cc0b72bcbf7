"""Validation of the `auth` section for the external logins: one clear line per problem."""

from __future__ import annotations

from typing import Any

import pytest

from heliohub.config import parse
from heliohub.errors import ConfigError

OIDC = {
    "type": "oidc",
    "issuer": "https://login.example.org",
    "client_id": "heliohub",
    "client_secret": {"env": "HUB_OIDC_SECRET"},
}
COGNITO = {
    "type": "cognito",
    "domain_prefix": "helio",
    "region": "us-east-1",
    "client_id": "app",
    "client_secret": {"env": "COGNITO_SECRET"},
}
GITHUB = {"type": "github", "client_id": "gh", "client_secret": {"file": "secrets/gh"}}


def _problems(auth: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse({"auth": auth})
    problems = info.value.problems
    assert all("\n" not in p for p in problems)
    return problems


@pytest.mark.parametrize(
    ("base", "lists"),
    [
        (OIDC, "allowed_users, allowed_groups, admin_users, admin_groups"),
        (COGNITO, "allowed_users, allowed_groups, admin_users, admin_groups"),
        (GITHUB, "allowed_users, allowed_organizations, admin_users"),
    ],
    ids=["oidc", "cognito", "github"],
)
def test_a_config_that_lets_nobody_in_is_refused(base: dict[str, Any], lists: str) -> None:
    assert _problems(base) == [
        f"auth: nobody could log in: set at least one of {lists}, or allow_all: true to let "
        "in every user the identity provider authenticates"
    ]


@pytest.mark.parametrize("base", [OIDC, COGNITO, GITHUB], ids=["oidc", "cognito", "github"])
def test_admins_alone_or_allow_all_alone_are_enough(base: dict[str, Any]) -> None:
    assert parse({"auth": {**base, "admin_users": ["ada"]}}).auth.allow_all is False
    assert parse({"auth": {**base, "allow_all": True}}).auth.allow_all is True


def test_allow_all_with_allow_lists_is_contradictory() -> None:
    problems = _problems({**OIDC, "allow_all": True, "allowed_groups": ["science"]})
    assert problems == [
        "auth: allow_all: true lets every authenticated user in, so allowed_groups would be "
        "ignored; remove one of them"
    ]
    problems = _problems({**GITHUB, "allow_all": True, "allowed_organizations": ["org"]})
    assert problems[0].startswith("auth: allow_all: true lets every authenticated user in")


def test_userdata_url_and_id_token_exclude_each_other() -> None:
    problems = _problems(
        {
            **OIDC,
            "admin_users": ["ada"],
            "userdata_from_id_token": True,
            "userdata_url": "https://login.example.org/userinfo",
        }
    )
    assert problems == [
        "auth: userdata_url and userdata_from_id_token: true exclude each other; remove one of them"
    ]


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        (
            {**OIDC, "admin_users": ["a"], "client_secret": "inline"},
            "auth.client_secret: expected a mapping",
        ),
        (
            {**OIDC, "admin_users": ["a"], "issuer": "not a url"},
            "auth.issuer: 'not a url' is not a URL",
        ),
        ({**OIDC, "admin_users": ["a"], "scopes": ["email"]}, "auth: scopes must include 'openid'"),
        (
            {**COGNITO, "admin_users": ["a"], "domain_prefix": "Bad_Prefix"},
            "auth.domain_prefix: 'Bad_Prefix' is not valid",
        ),
        ({**COGNITO, "admin_users": ["a"], "region": "mars"}, "auth.region: 'mars' is not valid"),
        ({**GITHUB, "admin_users": ["a"], "allowed_orgs": ["x"]}, "auth.allowed_orgs: unknown key"),
        (
            {**OIDC, "admin_users": ["a"], "allow_all": "yes please"},
            "auth.allow_all: expected true or false",
        ),
    ],
    ids=["inline-secret", "issuer", "scopes", "prefix", "region", "unknown-key", "allow-all-type"],
)
def test_bad_auth_sections_name_the_field(auth: dict[str, Any], problem: str) -> None:
    problems = _problems(auth)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem), problems
