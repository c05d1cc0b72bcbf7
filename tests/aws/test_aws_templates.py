"""The CloudFormation templates: cfn-lint clean, snapshot-stable, and their invariants.

Snapshots live in tests/snapshots/aws/<config>/; regenerate them with
HELIOHUB_UPDATE_SNAPSHOTS=1 pytest tests/aws/test_aws_templates.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from heliohub.config import HubConfig
from heliohub.config.load import load
from heliohub.hubspec import hub_spec
from heliohub.hubspec.login import auth_settings
from heliohub.platform import EksPlatform
from heliohub.providers.aws.dataloss import DATA_ACCESS_TYPES, DATA_TYPES, classify
from heliohub.render.cloudformation import render_aws
from heliohub.render.cloudformation.autoscaler import TEMPLATE_PREFIX
from heliohub.render.helm.pools import core_pool

CONFIGS = Path(__file__).parent / "configs"
SNAPSHOTS = Path(__file__).parents[1] / "snapshots" / "aws"
CASES = sorted(
    p.name.removeprefix("aws.happy.").removesuffix(".yaml") for p in CONFIGS.glob("*.yaml")
)
TAG = "heliohub:deployment"


def outputs(region: str) -> EksPlatform:
    """What the stacks report once deployed: the app client exists."""
    return EksPlatform(region=region, user_pool_client_id="client-1", user_pool_domain="d")


def config_of(case: str) -> HubConfig:
    return load(CONFIGS / f"aws.happy.{case}.yaml").config


def rendered(case: str) -> dict[str, dict[str, Any]]:
    return {k: json.loads(v) for k, v in render_aws(config_of(case)).items()}


def test_the_five_required_configs_are_covered() -> None:
    assert {"minimal", "heliocloud", "existing-vpc", "no-gpu", "s3-read-write"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_templates_pass_cfn_lint(case: str) -> None:
    config = config_of(case)
    for path, body in render_aws(config).items():
        matches = lint(body.decode(), config=ManualArgs(regions=[config.aws.region]))
        errors = [str(m) for m in matches if m.rule.severity == "error"]
        assert errors == [], f"{case}/{path}"


def test_cfn_lint_does_catch_a_broken_template() -> None:
    """The lint test above can fail: a template with a bad property is reported."""
    template = json.loads(render_aws(config_of("minimal"))["aws/data.template.json"])
    template["Resources"]["HomeFileSystem"]["Properties"]["PerformanceMode"] = 42
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert any(m.rule.severity == "error" for m in matches)


def pretty(body: bytes) -> bytes:
    """Snapshots hold the templates pretty-printed, so a change reads as a diff."""
    return (json.dumps(json.loads(body), sort_keys=True, indent=2) + "\n").encode()


@pytest.mark.parametrize("case", CASES)
def test_snapshots(case: str) -> None:
    files = {path: pretty(body) for path, body in render_aws(config_of(case)).items()}
    folder = SNAPSHOTS / case
    if os.environ.get("HELIOHUB_UPDATE_SNAPSHOTS"):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.json"):
            old.unlink()
        for path, body in files.items():
            (folder / Path(path).name).write_bytes(body)
    on_disk = {f"aws/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.json"))}
    assert on_disk == files, "snapshot differs; HELIOHUB_UPDATE_SNAPSHOTS=1 to accept"


@pytest.mark.parametrize("case", CASES)
def test_render_is_deterministic_and_holds_no_secret(case: str) -> None:
    first, second = render_aws(config_of(case)), render_aws(config_of(case))
    assert first == second
    for body in first.values():
        text = body.decode()
        assert "ClientSecret" not in text and "SecretString" not in text
        assert json.loads(text) == json.loads(text)  # valid JSON
        # Minified: whitespace would count against CloudFormation's TemplateBody limit.
        assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


# -- invariants, checked on the fixture configs and on generated ones ----------------------------


def resources(templates: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, rid, res)
        for path, t in sorted(templates.items())
        for rid, res in sorted(t["Resources"].items())
    ]


def tag_value(props: dict[str, Any], tag_property: str, key: str) -> Any:
    value = props.get(tag_property)
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, list):
        return next((t["Value"] for t in value if t.get("Key") == key), None)
    return None


def assert_every_resource_tagged(templates: dict[str, dict[str, Any]], name: str) -> None:
    """Each resource type that takes tags (per its CloudFormation schema) carries the tag."""
    untaggable = set()
    for path, rid, res in resources(templates):
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", res["Type"]).schema
        tagging = schema.get("tagging", {})
        props = res.get("Properties", {})
        if res["Type"] == "AWS::EC2::LaunchTemplate":
            # Untaggable itself in CloudFormation's schema; it tags itself and what it launches.
            specs = props["TagSpecifications"] + props["LaunchTemplateData"]["TagSpecifications"]
            kinds = {s["ResourceType"] for s in specs if tag_value(s, "Tags", TAG) == name}
            assert {"launch-template", "instance", "volume"} <= kinds, f"{path} {rid}"
            continue
        if not tagging.get("taggable", False):
            untaggable.add(res["Type"])
            continue
        prop = tagging.get("tagProperty", "/properties/Tags").rsplit("/", 1)[1]
        assert tag_value(props, prop, TAG) == name, f"{path} {rid} ({res['Type']}) lacks {TAG}"
    # Types that cannot carry tags at all: they go with their stack.
    assert untaggable <= {
        "AWS::EC2::Route",
        "AWS::EC2::SubnetRouteTableAssociation",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EFS::MountTarget",
        "AWS::KMS::Alias",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolDomain",
        "AWS::Cognito::UserPoolGroup",
    }


def assert_data_retained(templates: dict[str, dict[str, Any]]) -> None:
    data = templates["aws/data.template.json"]["Resources"]
    found = set()
    for path, rid, res in resources(templates):
        if res["Type"] in DATA_TYPES:
            assert path == "aws/data.template.json", f"{rid} must live in the data stack"
            # Kept on deletion, but not left behind by a failed first creation.
            assert res.get("DeletionPolicy") == "RetainExceptOnCreate", rid
            assert res.get("UpdateReplacePolicy") == "Retain", rid
            found.add(res["Type"])
    assert {"AWS::EFS::FileSystem", "AWS::KMS::Key"} <= found
    fs = data["HomeFileSystem"]["Properties"]
    assert fs["Encrypted"] is True and fs["BackupPolicy"] == {"Status": "ENABLED"}


def assert_cognito(templates: dict[str, dict[str, Any]], config: HubConfig) -> None:
    clients = [r for _, _, r in resources(templates) if r["Type"] == "AWS::Cognito::UserPoolClient"]
    pools = [r for _, _, r in resources(templates) if r["Type"] == "AWS::Cognito::UserPool"]
    if config.auth.type != "cognito":
        assert clients == [] and pools == []
        return
    (client,) = clients
    props = client["Properties"]
    assert props["CallbackURLs"] == [f"https://{config.domain}/hub/oauth_callback"]
    # The hub's logout sends the browser to Cognito with a logout_uri that Cognito compares
    # with these character for character; a near miss lands on Cognito's error page.
    public_url = hub_spec(config).public_url
    hub = auth_settings(config, public_url, platform=outputs(region=config.aws.region))
    logout = hub.traitlets["GenericOAuthenticator"]["logout_redirect_url"]
    query = parse_qs(urlsplit(logout).query)
    assert query["logout_uri"] == props["LogoutURLs"] == [f"{public_url}/"]
    assert props["GenerateSecret"] is True and props["AllowedOAuthFlows"] == ["code"]
    (pool,) = pools
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["MfaConfiguration"] == "OPTIONAL"
    assert pool["Properties"]["DeletionProtection"] == "ACTIVE"


def assert_pools(templates: dict[str, dict[str, Any]], config: HubConfig) -> None:
    cluster = templates["aws/cluster.template.json"]["Resources"]
    groups = {
        r["Properties"]["Labels"]["heliohub/node-pool"]: r
        for r in cluster.values()
        if r["Type"] == "AWS::EKS::Nodegroup"
    }
    assert set(groups) == {p.name for p in config.aws.node_pools}
    role = json.dumps(cluster["ClusterAutoscalerRole"])
    assert "eks:DescribeNodegroup" in role
    # The hub's database volume is zonal: the services group, where the hub runs, stays in
    # one AZ (the first private subnet); every other group spans them all.
    core = core_pool(config)
    for pool in config.aws.node_pools:
        subnets = groups[pool.name]["Properties"]["Subnets"]
        if pool is core:
            assert subnets == [{"Fn::Select": [0, {"Ref": "PrivateSubnetIds"}]}], pool.name
        else:
            assert subnets == {"Ref": "PrivateSubnetIds"}, pool.name
    for pool in config.aws.node_pools:
        props = groups[pool.name]["Properties"]
        tags = props["Tags"]
        # Labels and taints of the node group and the autoscaler's template tags agree.
        for key, value in props["Labels"].items():
            assert tags[f"{TEMPLATE_PREFIX}/label/{key}"] == value
        effects = {
            "NO_SCHEDULE": "NoSchedule",
            "NO_EXECUTE": "NoExecute",
            "PREFER_NO_SCHEDULE": "PreferNoSchedule",
        }
        for taint in props.get("Taints", []):
            expected = f"{taint.get('Value', '')}:{effects[taint['Effect']]}"
            assert tags[f"{TEMPLATE_PREFIX}/taint/{taint['Key']}"] == expected
        assert props["ScalingConfig"]["MinSize"] == pool.min_size
        assert props["ScalingConfig"]["MaxSize"] == pool.max_size
        assert props["CapacityType"] == ("SPOT" if pool.capacity == "spot" else "ON_DEMAND")
        if pool.gpus_per_node:
            assert {"Key": "nvidia.com/gpu", "Value": "true", "Effect": "NO_SCHEDULE"} in props[
                "Taints"
            ]
            assert tags[f"{TEMPLATE_PREFIX}/resources/nvidia.com/gpu"] == str(pool.gpus_per_node)
            assert tags[f"{TEMPLATE_PREFIX}/taint/nvidia.com/gpu"] == "true:NoSchedule"
            assert props["AmiType"].endswith("_NVIDIA")
            # The autoscaler's AWS provider knows GPU nodes by this label; without it a cold
            # GPU start makes it add nodes again while the first ones boot.
            assert props["Labels"]["k8s.amazonaws.com/accelerator"].startswith("nvidia")
        else:
            assert not any("nvidia.com/gpu" in k for k in tags)


def assert_cluster(templates: dict[str, dict[str, Any]], config: HubConfig) -> None:
    t = templates["aws/cluster.template.json"]
    res = t["Resources"]
    cluster = res["Cluster"]["Properties"]
    assert cluster["Version"] == config.aws.kubernetes_version
    assert cluster["EncryptionConfig"] == [
        {"Provider": {"KeyArn": {"Ref": "SecretsKeyArn"}}, "Resources": ["secrets"]}
    ]
    assert cluster["AccessConfig"]["AuthenticationMode"] == "API"
    addons = {r["Properties"]["AddonName"] for r in res.values() if r["Type"] == "AWS::EKS::Addon"}
    assert addons == {
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "eks-pod-identity-agent",
        "aws-efs-csi-driver",
        # The hub database volume; SQLite does not lock safely on NFS.
        "aws-ebs-csi-driver",
    }
    entries = [
        r["Properties"]["PrincipalArn"]
        for r in res.values()
        if r["Type"] == "AWS::EKS::AccessEntry"
    ]
    assert {"Ref": "DeployerPrincipalArn"} in entries
    assert set(config.aws.admin_role_arns) <= {e for e in entries if isinstance(e, str)}
    # Pod Identity roles trust only this account's EKS (no confused deputy).
    pod_roles = [
        r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for r in res.values()
        if r["Type"] == "AWS::IAM::Role" and "pods.eks.amazonaws.com" in json.dumps(r)
    ]
    assert pod_roles
    for statements in pod_roles:
        for st in statements:
            assert st["Condition"] == {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            }
    # NetworkPolicies are only enforced with the VPC CNI's policy agent on.
    (cni,) = [
        r["Properties"]
        for r in res.values()
        if r["Type"] == "AWS::EKS::Addon" and r["Properties"]["AddonName"] == "vpc-cni"
    ]
    assert json.loads(cni["ConfigurationValues"])["enableNetworkPolicy"] == "true"
    # Hop limit 1: a pod is one hop further than its node, so it cannot read the node role.
    templates_ = [r for r in res.values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
    assert len(templates_) == len(config.aws.node_pools)
    for lt in templates_:
        meta = lt["Properties"]["LaunchTemplateData"]["MetadataOptions"]
        assert meta == {
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": 1,
            "HttpTokens": "required",
        }
    mounts = [r for r in res.values() if r["Type"] == "AWS::EFS::MountTarget"]
    existing = config.aws.network.existing
    zones = len(existing.private_subnet_ids) if existing else config.aws.network.availability_zones
    assert len(mounts) == zones
    s3 = res.get("UserS3Role")
    if not config.storage.s3_buckets:
        assert s3 is None
    else:
        text = json.dumps(s3)
        for bucket in config.storage.s3_buckets:
            assert f"s3:::{bucket.name}/*" in text
        writes = "s3:PutObject" in text
        assert writes == any(b.access == "read-write" for b in config.storage.s3_buckets)


def assert_network(templates: dict[str, dict[str, Any]], config: HubConfig) -> None:
    if config.aws.network.existing:
        assert "aws/network.template.json" not in templates
        return
    res = templates["aws/network.template.json"]["Resources"]
    subnets = [r for r in res.values() if r["Type"] == "AWS::EC2::Subnet"]
    assert len(subnets) == 2 * config.aws.network.availability_zones >= 4
    for s in subnets:
        assert "Fn::GetAZs" in json.dumps(s["Properties"]["AvailabilityZone"])
    assert any(r["Type"] == "AWS::EC2::NatGateway" for r in res.values())
    # S3 bypasses the NAT (charged per GB) through a gateway endpoint on the private routes.
    (s3,) = [r["Properties"] for r in res.values() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    assert s3["VpcEndpointType"] == "Gateway"
    assert s3["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert {"Ref": "PrivateRouteTable"} in s3["RouteTableIds"]


def check_invariants(config: HubConfig) -> None:
    templates = {k: json.loads(v) for k, v in render_aws(config).items()}
    assert_every_resource_tagged(templates, config.name)
    assert_data_retained(templates)
    assert_cognito(templates, config)
    assert_pools(templates, config)
    assert_cluster(templates, config)
    assert_network(templates, config)


@pytest.mark.parametrize("case", CASES)
def test_invariants_of_fixture_configs(case: str) -> None:
    check_invariants(config_of(case))


def test_data_loss_table_covers_the_schemas_create_only_properties() -> None:
    """Every property CloudFormation's schema marks create-only on a data type is in the table
    the engine uses to spot replacements itself."""
    for rtype, keys in {**DATA_TYPES, **DATA_ACCESS_TYPES}.items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", rtype).schema
        create_only = {p.split("/")[2] for p in schema.get("createOnlyProperties", [])}
        assert create_only <= set(keys), rtype


def test_a_home_access_point_change_is_data_loss() -> None:
    """A new owner for the homes replaces the access point every home volume names: plan must
    flag it as data loss even when the change set says nothing about replacement."""
    base = config_of("minimal")
    data = base.model_dump(mode="json", exclude_unset=True)
    data.setdefault("storage", {}).setdefault("home", {})["uid"] = 2000
    moved = HubConfig.model_validate(data)
    old = rendered("minimal")["aws/data.template.json"]
    new = json.loads(render_aws(moved)["aws/data.template.json"])
    assert old["Resources"]["HomeAccessPoint"] != new["Resources"]["HomeAccessPoint"]
    change = {
        "ResourceChange": {
            "LogicalResourceId": "HomeAccessPoint",
            "ResourceType": "AWS::EFS::AccessPoint",
            "Action": "Modify",
        }
    }
    flagged = classify("helio-data", change, old, new)
    assert (flagged.action, flagged.data_loss) == ("replace", True)
    removed = {"ResourceChange": {**change["ResourceChange"], "Action": "Remove"}}
    assert classify("helio-data", removed, old, new).data_loss
    # Tags alone change in place: not data loss.
    assert not classify("helio-data", change, old, old).data_loss
