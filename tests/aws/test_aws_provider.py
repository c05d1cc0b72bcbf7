"""AWSProvider: the glue around the engine (state file, client secret, Kubernetes layer, stages)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import aws_test_stacks as ts
import pytest
from botocore.stub import Stubber

from heliohub.config import HubConfig, LoadedConfig
from heliohub.errors import UserError
from heliohub.providers.aws import AWSProvider
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.hub_stages import deployer_arn, hub_stages
from heliohub.providers.aws.stack_outputs import ClusterOutputs, DataOutputs, DeployedStacks
from heliohub.providers.aws.stages import StageContext
from heliohub.providers.aws.state import eks_platform, fetch_client_secret, read_outputs
from heliohub.providers.base import Component, DownOptions, SilentReporter, UpOptions


class RecordingLayer:
    """Stands in for the Kubernetes layer (another issue); records what it was given."""

    def __init__(self, log: list[tuple[str, Any]], aws: AWSClients, **kwargs: Any) -> None:
        self.log, self.aws, self.kwargs = log, aws, kwargs

    def apply(self) -> None:
        self.log.append(("apply", self.kwargs["platform"]))

    def status(self) -> list[Component]:
        return [Component(name="release jupyterhub", state="running", detail="4.4.0")]

    def destroy(self, delete_data: bool = False) -> None:
        # It must run while the cluster's stack still exists.
        stacks = self.aws.client("cloudformation").describe_stacks()["Stacks"]
        self.log.append(("destroy", sorted(s["StackName"] for s in stacks)))
        assert self.kwargs["config"].config.name == ts.NAME and delete_data is False


def loaded(tmp_path: Path, **extra: Any) -> LoadedConfig:
    data = {"name": ts.NAME, "provider": "aws", "local": {"data_dir": str(tmp_path / "data")}}
    data.update(extra)
    return LoadedConfig(HubConfig.model_validate(data), tmp_path / "heliohub.yaml", tmp_path)


def test_up_records_outputs_runs_the_layer_and_down_keeps_data(
    aws: AWSClients, tmp_path: Path
) -> None:
    """Emulator: up applies the stacks, writes state/aws.json and hands the typed outputs to the
    Kubernetes layer; down removes the layer first, then the stacks, and keeps the data."""
    log: list[tuple[str, Any]] = []
    reporter = SilentReporter()
    provider = AWSProvider(
        loaded(tmp_path),
        reporter,
        clients=aws,
        # The app stack plays the cluster stack: the layer comes and goes with it.
        stages=ts.stages(app_key="cluster"),
        kubernetes_layer=lambda **kw: RecordingLayer(log, aws, **kw),
        poll_seconds=0.02,
    )
    assert provider.plan().changes
    status = provider.up(UpOptions())
    assert status.state == "running"
    # The stacks, then what the Kubernetes layer reports from inside the cluster.
    assert [c.detail for c in status.components] == ["CREATE_COMPLETE"] * 3 + ["4.4.0"]
    state = read_outputs(tmp_path / "data" / "state")
    assert state is not None and state.efs_id and state.efs_id.startswith("fs-")
    assert state.kms_key_arn and state.account_id == "123456789012"
    assert log == [("apply", eks_platform(state))]

    provider.down(DownOptions())
    assert log[1] == ("destroy", ["emu-app", "emu-data", "emu-network"])
    assert provider.status().state == "partial"
    kept = read_outputs(tmp_path / "data" / "state")
    assert kept is not None and kept.efs_id == state.efs_id
    assert any(line.startswith("retained: ") for line in reporter.lines)


def test_down_delete_data_needs_the_confirmed_name(aws: AWSClients, tmp_path: Path) -> None:
    """Emulator: delete_data without the typed name is refused before anything is touched."""
    provider = AWSProvider(
        loaded(tmp_path), SilentReporter(), clients=aws, stages=ts.stages(), kubernetes_layer=None
    )
    with pytest.raises(UserError, match="deployment name"):
        provider.down(DownOptions(delete_data=True, confirmed_name="other"))


def test_client_secret_goes_to_a_0600_file_never_to_outputs(
    aws: AWSClients, tmp_path: Path
) -> None:
    """Emulator: the app client secret is read from Cognito into secrets/ with mode 0600; the
    state file and the progress lines do not contain it."""
    idp = aws.client("cognito-idp")
    pool = idp.create_user_pool(PoolName=ts.NAME)["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=pool, ClientName="hub", GenerateSecret=True)
    secret = client["UserPoolClient"]["ClientSecret"]
    client_id = client["UserPoolClient"]["ClientId"]

    reporter = SilentReporter()
    provider = AWSProvider(
        loaded(tmp_path), reporter, clients=aws, stages=ts.stages(), kubernetes_layer=None
    )
    outputs = provider._outputs(
        DeployedStacks(
            data=DataOutputs("fs-1", "arn:key", user_pool_id=pool),
            cluster=ClusterOutputs(
                "emu", "https://emu.invalid", "Y2E=", user_pool_client_id=client_id
            ),
        )
    )
    path = tmp_path / "data" / "secrets" / "cognito-client-secret"
    assert path.read_text() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert outputs.user_pool_client_secret_file == str(path)
    assert secret not in outputs.model_dump_json()
    assert not any(secret in line for line in reporter.lines)
    assert fetch_client_secret(aws, pool, client_id, path) is False  # unchanged: not rewritten


def test_cluster_parameters_come_from_the_earlier_stacks(aws: AWSClients) -> None:
    """Emulator (STS, IAM): the cluster stack gets the network and data outputs, and the
    deployer's role ARN (with its path) unless that role is an admin role already."""
    iam = aws.client("iam")
    role = iam.create_role(RoleName="Deployer", Path="/teams/", AssumeRolePolicyDocument="{}")
    creds = aws.client("sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="someone")[
        "Credentials"
    ]
    session = AWSClients(
        region="us-east-1",
        endpoint_url=aws.endpoint_url,
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
    )
    assert deployer_arn(session) == "arn:aws:iam::123456789012:role/teams/Deployer"

    config = HubConfig.model_validate(
        {
            "name": "helio",
            "provider": "aws",
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "ops@example.org"},
            "auth": {"type": "cognito", "admin_users": ["a@example.org"]},
        }
    )
    stages = {s.key: s for s in hub_stages(config)}
    assert list(stages) == ["data", "network", "cluster"]
    assert stages["data"].keep_on_down and not stages["cluster"].keep_on_down
    ctx = StageContext(session, SilentReporter())
    ctx.outputs = {
        "data": {"FileSystemId": "fs-1", "SecretsKeyArn": "arn:key", "UserPoolId": "pool-1"},
        "network": {"VpcId": "vpc-1", "PrivateSubnetIds": "subnet-1,subnet-2"},
    }
    params = stages["cluster"].parameters(ctx)
    assert params == {
        "VpcId": "vpc-1",
        "PrivateSubnetIds": "subnet-1,subnet-2",
        "FileSystemId": "fs-1",
        "SecretsKeyArn": "arn:key",
        "UserPoolId": "pool-1",
        "DeployerPrincipalArn": "arn:aws:iam::123456789012:role/teams/Deployer",
        # No cluster stack yet: every node group is created, with a DesiredSize.
        **{f"NodePool{p}Exists": "false" for p in ("Services", "User", "Gpu", "Burst")},
    }
    template = json.loads(stages["cluster"].template)
    assert set(params) == set(template["Parameters"])  # every parameter is passed

    admin = config.model_copy(
        update={"aws": config.aws.model_copy(update={"admin_role_arns": [role["Role"]["Arn"]]})}
    )
    again = {s.key: s for s in hub_stages(admin)}["cluster"].parameters(ctx)
    assert again["DeployerPrincipalArn"] == ""  # one principal, one access entry


def assumed(aws: AWSClients, role_arn: str) -> AWSClients:
    creds = aws.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="someone")[
        "Credentials"
    ]
    return AWSClients(
        region="us-east-1",
        endpoint_url=aws.endpoint_url,
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
    )


def test_an_sso_role_is_named_with_its_path_or_refused(aws: AWSClients) -> None:
    """Emulator (STS, IAM): an IAM Identity Center role's session is resolved to the role ARN
    with its aws-reserved path; when iam:GetRole is denied (stubbed with the real API model,
    the emulator does not enforce IAM) the deployer is told so instead of getting an access
    entry that matches no one."""
    iam = aws.client("iam")
    role = iam.create_role(
        RoleName="AWSReservedSSO_Ops_0123abcd",
        Path="/aws-reserved/sso.amazonaws.com/us-east-1/",
        AssumeRolePolicyDocument="{}",
    )["Role"]
    session = assumed(aws, role["Arn"])
    assert deployer_arn(session) == (
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/us-east-1/"
        "AWSReservedSSO_Ops_0123abcd"
    )

    denied = assumed(aws, role["Arn"])
    stub = Stubber(denied.client("iam"))
    stub.add_client_error(
        "get_role",
        "AccessDenied",
        "not authorized to perform: iam:GetRole",
        403,
        expected_params={"RoleName": "AWSReservedSSO_Ops_0123abcd"},
    )
    with stub, pytest.raises(UserError, match=r"iam:GetRole: AccessDenied.*aws-reserved"):
        deployer_arn(denied)


def test_a_second_operator_cannot_silently_take_the_first_ones_access(
    aws: AWSClients,
) -> None:
    """Emulator (STS, IAM, CloudFormation): the cluster stack's deployer entry was made for
    one operator; `up` by another refuses to replace it until aws.admin_role_arns lists the
    operators, and then every listed operator gets an entry, the caller included."""
    iam = aws.client("iam")
    first = iam.create_role(RoleName="OpsA", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    second = iam.create_role(RoleName="OpsB", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # The deployed cluster stack, as far as this check reads it: its deployer parameter.
    aws.client("cloudformation").create_stack(
        StackName="helio-cluster",
        TemplateBody=json.dumps(
            {
                "Parameters": {"DeployerPrincipalArn": {"Type": "String"}},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            }
        ),
        Parameters=[{"ParameterKey": "DeployerPrincipalArn", "ParameterValue": first}],
    )
    config = HubConfig.model_validate({"name": "helio", "provider": "aws"})
    ctx = StageContext(assumed(aws, second), SilentReporter())
    ctx.outputs = {
        "data": {"FileSystemId": "fs-1", "SecretsKeyArn": "arn:key"},
        "network": {"VpcId": "vpc-1", "PrivateSubnetIds": "subnet-1,subnet-2"},
    }
    with pytest.raises(UserError, match=r"access entry is for .*role/OpsA.*aws\.admin_role_arns"):
        {s.key: s for s in hub_stages(config)}["cluster"].parameters(ctx)

    # The first operator again: their own entry, unchanged.
    own = StageContext(assumed(aws, first), SilentReporter())
    own.outputs = ctx.outputs
    params = {s.key: s for s in hub_stages(config)}["cluster"].parameters(own)
    assert params["DeployerPrincipalArn"] == first

    both = HubConfig.model_validate(
        {"name": "helio", "provider": "aws", "aws": {"admin_role_arns": [first, second]}}
    )
    stage = {s.key: s for s in hub_stages(both)}["cluster"]
    assert stage.parameters(ctx)["DeployerPrincipalArn"] == ""
    cluster = json.loads(stage.template)["Resources"]
    entries = {
        r["Properties"]["PrincipalArn"]
        for r in cluster.values()
        if r["Type"] == "AWS::EKS::AccessEntry" and "Condition" not in r
    }
    assert entries == {first, second}


def test_up_refuses_a_cognito_domain_prefix_taken_elsewhere(
    aws: AWSClients, tmp_path: Path
) -> None:
    """Emulator: a prefix owned by another account's pool would fail the cluster stack after
    EKS is up (and roll it all back); `up` checks it first and changes nothing."""
    cfg = loaded(
        tmp_path,
        domain="hub.example.org",
        https={"mode": "letsencrypt", "contact_email": "ops@example.org"},
        auth={"type": "cognito", "admin_users": ["a@example.org"]},
    )
    prefix = cfg.config.cognito_domain_prefix()
    assert prefix is not None and prefix != ts.NAME
    idp = aws.client("cognito-idp")
    other = idp.create_user_pool(PoolName="someone-else")["UserPool"]["Id"]
    idp.create_user_pool_domain(Domain=prefix, UserPoolId=other)
    provider = AWSProvider(
        cfg,
        SilentReporter(),
        clients=aws,
        stages=ts.stages(app_key="cluster"),
        kubernetes_layer=None,
        poll_seconds=0.02,
    )
    with pytest.raises(UserError, match=f"Cognito domain: prefix '{prefix}' is taken"):
        provider.up(UpOptions())
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []


def desired_size(template: dict[str, Any], pool: str, params: dict[str, str]) -> Any:
    """The DesiredSize CloudFormation sends for a pool, given the stack parameters."""
    props = template["Resources"][f"NodePool{pool}"]["Properties"]["ScalingConfig"]
    value = props.get("DesiredSize")
    if not isinstance(value, dict):
        return value
    condition, when_true, when_false = value["Fn::If"]
    ref, literal = template["Conditions"][condition]["Fn::Equals"]
    chosen = when_true if params[ref["Ref"]] == literal else when_false
    return None if chosen == {"Ref": "AWS::NoValue"} else chosen


def test_an_update_leaves_desired_size_to_the_autoscaler(aws: AWSClients) -> None:
    """Emulator: once a node group exists, the cluster stack no longer sends DesiredSize, so an
    unrelated `up` cannot scale a pool back to min_size under running users. A pool added
    later is still created with one."""
    config = HubConfig.model_validate(
        {"name": "helio", "provider": "aws", "aws": {"admin_role_arns": []}}
    )
    # A deployed cluster stack whose outputs name two node groups (emulated: no EKS here).
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName="helio-cluster",
        TemplateBody=json.dumps(
            {
                "Resources": {"B": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {
                    "NodePoolServicesName": {"Value": "helio-services-1"},
                    "NodePoolUserName": {"Value": "helio-user-1"},
                },
            }
        ),
    )
    stage = {s.key: s for s in hub_stages(config)}["cluster"]
    ctx = StageContext(aws, SilentReporter())
    ctx.outputs = {
        "data": {"FileSystemId": "fs-1", "SecretsKeyArn": "arn:key"},
        "network": {"VpcId": "vpc-1", "PrivateSubnetIds": "subnet-1,subnet-2"},
    }
    params = stage.parameters(ctx)
    template = json.loads(stage.template)
    assert desired_size(template, "User", params) is None
    assert desired_size(template, "Services", params) is None
    assert desired_size(template, "Gpu", params) == 0  # not created yet
    first = {**params, **{k: "false" for k in params if k.endswith("Exists")}}
    assert desired_size(template, "Services", first) == 2  # the reference min_size
