"""`heliohub users` decisions that need no hub: who owns the accounts, and what is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from heliohub.config import LoadedConfig
from heliohub.config.load import parse
from heliohub.errors import UserError
from heliohub.users.hub import HubDirectory
from heliohub.users.hubapi import HubAPI
from heliohub.users.select import directory

OIDC = {
    "type": "oidc",
    "issuer": "https://login.example.org",
    "client_id": "hub",
    "client_secret": {"env": "SECRET"},
    "admin_groups": ["hub-admins"],
}
GITHUB = {
    "type": "github",
    "client_id": "hub",
    "client_secret": {"env": "SECRET"},
    "allowed_organizations": ["example"],
}


def _dir(auth: dict[str, Any]) -> HubDirectory:
    # Nothing listens on port 9: every refusal below must come before any call to the hub.
    return HubDirectory(parse({"auth": auth}), HubAPI("http://127.0.0.1:9", "unused"))


def test_oidc_admins_and_groups_come_from_the_provider() -> None:
    users = _dir(OIDC)
    with pytest.raises(UserError, match=r"hub-admins at the OpenID Connect provider"):
        users.set_admin("ada", True)
    with pytest.raises(UserError, match="claim 'groups'"):
        users.join("ada", "team")
    (note,) = users.notes()
    assert "https://login.example.org" in note and "create, disable and reset them there" in note


def test_github_accounts_are_managed_at_github() -> None:
    users = _dir(GITHUB)
    assert any("GitHub" in n for n in users.notes())
    with pytest.raises(UserError, match="no sign-ups to approve"):
        users.approve("octocat")


def test_shared_password_admins_are_made_in_the_config() -> None:
    users = _dir({"type": "shared-password", "admin_users": ["alice"]})
    with pytest.raises(UserError, match=r"add bob to auth\.admin_users"):
        users.set_admin("bob", True)
    with pytest.raises(UserError, match=r"auth\.admin_users"):
        users.add("bob", admin=True)


def test_external_cognito_pool_needs_its_id(tmp_path: Path) -> None:
    config = parse(
        {
            "auth": {
                "type": "cognito",
                "client_id": "abc",
                "client_secret": {"env": "S"},
                "domain_prefix": "pool",
                "region": "eu-west-1",
                "allow_all": True,
            }
        }
    )
    with pytest.raises(UserError, match=r"auth\.user_pool_id"):
        directory(LoadedConfig(config, tmp_path / "h.yaml", tmp_path))


def test_local_hub_not_running_says_how_to_start(tmp_path: Path) -> None:
    config = parse({"local": {"data_dir": str(tmp_path / "data")}})
    with pytest.raises(UserError, match="heliohub up"):
        directory(LoadedConfig(config, tmp_path / "h.yaml", tmp_path))
