"""`heliohub users` with Cognito login, against moto in server mode: an AWS emulator on
loopback, not AWS. The pool is made as the data stack makes it (e-mail user names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from heliohub.cli.main import app
from heliohub.config import HubConfig, LoadedConfig
from heliohub.errors import UserError
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.stack_outputs import DataOutputs, DeployedStacks
from heliohub.providers.aws.state import collect_outputs, write_outputs
from heliohub.users.cognito import CognitoDirectory
from heliohub.users.select import directory

CONFIG: dict[str, Any] = {
    "name": "pooltest",
    "provider": "aws",
    "domain": "hub.example.org",
    "https": {"mode": "letsencrypt", "contact_email": "ops@example.org"},
    "auth": {
        "type": "cognito",
        "admin_users": ["boss@example.org"],
        "admin_groups": ["admins"],
        "allowed_groups": ["scientists"],
    },
}


def _pool(aws: AWSClients) -> str:
    idp = aws.client("cognito-idp")
    pool = idp.create_user_pool(
        PoolName="pooltest",
        UsernameAttributes=["email"],
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    for group in ("admins", "scientists"):
        idp.create_group(UserPoolId=pool, GroupName=group)
    return str(pool)


def _loaded(tmp_path: Path, pool: str) -> LoadedConfig:
    """A deployment whose `up` recorded the pool in state/aws.json."""
    data_dir = tmp_path / "data"
    config = HubConfig.model_validate({**CONFIG, "local": {"data_dir": str(data_dir)}})
    data = DataOutputs("fs-1", "arn:key", user_pool_id=pool)
    outputs = collect_outputs("us-east-1", "123456789012", DeployedStacks(data=data))
    write_outputs(data_dir / "state", outputs)
    return LoadedConfig(config, tmp_path / "heliohub.yaml", tmp_path)


def test_invite_list_group_admin_disable_remove(aws: AWSClients, tmp_path: Path) -> None:
    """Emulator: the whole life of an account in the pool."""
    pool = _pool(aws)
    users = directory(_loaded(tmp_path, pool), aws_clients=aws)
    assert isinstance(users, CognitoDirectory) and users.pool_id == pool
    idp = aws.client("cognito-idp")

    invited = users.add("ada@example.org")
    assert invited.message == "invited ada@example.org"
    # Invited by e-mail: Cognito holds a temporary password until the first login.
    user = idp.admin_get_user(UserPoolId=pool, Username="ada@example.org")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    attrs = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attrs["email"] == "ada@example.org"
    with pytest.raises(UserError, match="already has this user"):
        users.add("ada@example.org")
    with pytest.raises(UserError, match="e-mail addresses"):
        users.add("ada")

    users.add("bob@example.org")
    (ada,) = [a for a in users.list() if a.name == "ada@example.org"]
    assert (ada.admin, ada.status, ada.groups) == (False, "force change password", [])
    assert [a.name for a in users.list()] == ["ada@example.org", "bob@example.org"]

    users.join("ada@example.org", "scientists")
    assert users.groups() == {"admins": [], "scientists": ["ada@example.org"]}

    users.set_admin("bob@example.org", True)
    listed = {a.name: a for a in users.list()}
    assert listed["bob@example.org"].admin is True
    assert listed["bob@example.org"].groups == ["admins"]
    users.set_admin("bob@example.org", False)
    assert users.groups()["admins"] == []
    users.add("boss@example.org")
    with pytest.raises(UserError, match=r"auth\.admin_users"):
        users.set_admin("boss@example.org", False)

    users.set_enabled("ada@example.org", False)
    assert idp.admin_get_user(UserPoolId=pool, Username="ada@example.org")["Enabled"] is False
    assert {a.name: a.status for a in users.list()}["ada@example.org"] == "disabled"
    users.set_enabled("ada@example.org", True)
    assert idp.admin_get_user(UserPoolId=pool, Username="ada@example.org")["Enabled"] is True

    users.leave("ada@example.org", "scientists")
    assert users.groups()["scientists"] == []

    users.remove("ada@example.org")
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool, Username="ada@example.org")
    with pytest.raises(UserError, match="no such user"):
        users.remove("ada@example.org")
    with pytest.raises(UserError, match="no self sign-up"):
        users.approve("bob@example.org")


def test_pool_found_from_the_data_stack_without_a_state_file(
    aws: AWSClients, tmp_path: Path
) -> None:
    """Emulator: with no state file, the pool id comes from the data stack's outputs."""
    pool = _pool(aws)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        # A data stack's outputs, as literals besides the pool (no EFS in this test).
        "Outputs": {
            "UserPoolId": {"Value": pool},
            "FileSystemId": {"Value": "fs-0123"},
            "SecretsKeyArn": {"Value": "arn:aws:kms:us-east-1:123456789012:key/k"},
        },
    }
    aws.client("cloudformation").create_stack(
        StackName="pooltest-data", TemplateBody=json.dumps(template)
    )
    config = HubConfig.model_validate({**CONFIG, "local": {"data_dir": str(tmp_path / "d")}})
    users = directory(LoadedConfig(config, tmp_path / "h.yaml", tmp_path), aws_clients=aws)
    assert isinstance(users, CognitoDirectory) and users.pool_id == pool


def test_cli_asks_before_removing_and_prints_json(
    aws: AWSClients, emulator_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emulator: the CLI reaches the pool with boto3's usual settings (here: the emulator)."""
    pool = _pool(aws)
    loaded = _loaded(tmp_path, pool)
    config_file = tmp_path / "heliohub.yaml"
    config_file.write_text(
        json.dumps({**CONFIG, "local": {"data_dir": str(loaded.data_dir)}}), encoding="utf-8"
    )
    for var, value in {
        "AWS_ENDPOINT_URL": emulator_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(var, value)
    runner = CliRunner()
    args = ["-c", str(config_file)]
    result = runner.invoke(app, ["users", "add", "cy@example.org", "--admin", *args])
    assert result.exit_code == 0, result.output
    assert "invited cy@example.org" in result.output

    listed = runner.invoke(app, ["users", "list", "--json", *args])
    assert listed.exit_code == 0, listed.output
    (cy,) = json.loads(listed.stdout)
    assert (cy["name"], cy["admin"], cy["groups"]) == ("cy@example.org", True, ["admins"])

    refused = runner.invoke(app, ["users", "remove", "cy@example.org", *args], input="n\n")
    assert refused.exit_code == 1 and "nothing was changed" in refused.output
    assert aws.client("cognito-idp").admin_get_user(UserPoolId=pool, Username="cy@example.org")

    removed = runner.invoke(app, ["users", "remove", "cy@example.org", "--yes", *args])
    assert removed.exit_code == 0, removed.output
    assert json.loads(runner.invoke(app, ["users", "list", "--json", *args]).stdout) == []
