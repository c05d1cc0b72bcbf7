"""`validate --online` checks against the AWS emulator.

The emulator answers STS, EC2 instance offerings and types, Cognito domains and Route53. It does
not implement EC2 service quotas (moto's Service Quotas knows only VPC) nor EKS
DescribeClusterVersions; for those two APIs the tests use botocore's Stubber, which checks
every request and response against the real API models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from heliohub.cli.preflight import run_preflight
from heliohub.config import HubConfig, LoadedConfig
from heliohub.errors import UserError
from heliohub.providers import get_provider
from heliohub.providers.aws import AWSProvider
from heliohub.providers.aws import preflight as pf
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.base import SilentReporter


def config(**extra: Any) -> HubConfig:
    data: dict[str, Any] = {"name": "helio", "provider": "aws"}
    if extra.get("auth", {}).get("type") == "cognito":
        # Cognito accepts only https callbacks.
        data["https"] = {"mode": "letsencrypt", "contact_email": "ops@example.org"}
    data.update(extra)
    return HubConfig.model_validate(data)


def pools(*pools: dict[str, Any]) -> dict[str, Any]:
    return {"node_pools": list(pools)}


def stub_quotas(aws: AWSClients, values: dict[str, float | None]) -> Stubber:
    """Service Quotas answers, in call order; None: no applied value, then the AWS default."""
    stub = Stubber(aws.client("service-quotas"))
    for code, value in values.items():
        params = {"ServiceCode": "ec2", "QuotaCode": code}
        if value is None:
            stub.add_client_error(
                "get_service_quota", "NoSuchResourceException", expected_params=params
            )
            stub.add_response(
                "get_aws_default_service_quota",
                {"Quota": {"QuotaCode": code, "Value": 64.0}},
                params,
            )
        else:
            stub.add_response(
                "get_service_quota", {"Quota": {"QuotaCode": code, "Value": value}}, params
            )
    stub.activate()
    return stub


def test_credentials_and_account(aws: AWSClients) -> None:
    """Emulator: the caller's account and ARN are shown."""
    result = pf.check_credentials(aws)
    assert result.ok and "account 123456789012" in result.detail


def test_missing_credentials_fail_with_the_fix(emulator_endpoint: str) -> None:
    """Emulator endpoint, but no credentials anywhere (the user's are hidden by the fixture)."""
    result = pf.check_credentials(AWSClients(region="us-east-1", endpoint_url=emulator_endpoint))
    assert not result.ok and "AWS_PROFILE" in result.fix


def test_instance_types_missing_from_a_cluster_az_are_dropped_or_fail(aws: AWSClients) -> None:
    """Emulator (us-west-2 offerings): the network takes the region's first two AZs (2a, 2b);
    vt1.3xlarge is offered in 2b only and zz9.huge nowhere."""
    west = AWSClients("us-west-2", aws.endpoint_url, aws.access_key_id, aws.secret_access_key)
    aws_section = {
        "region": "us-west-2",
        **pools(
            {"name": "services", "instance_types": ["t3a.medium"], "min_size": 1, "max_size": 2},
            {"name": "media", "instance_types": ["m5.xlarge", "vt1.3xlarge"], "max_size": 3},
        ),
    }
    dask = {"worker_node_pool": "media", "gpu_worker_node_pool": None}
    dropping = config(aws=aws_section, dask=dask)
    assert pf.cluster_zones(dropping, west) == ["us-west-2a", "us-west-2b"]
    result = pf.check_instance_types(dropping, west)
    assert result.ok
    assert result.notes == [
        "node pool media: vt1.3xlarge is not offered in us-west-2a "
        "(the cluster's AZs: us-west-2a, us-west-2b); dropped"
    ]
    azs = ["us-west-2a", "us-west-2b"]
    zones = pf.offered_zones(west, ["t3a.medium", "m5.xlarge", "vt1.3xlarge"], azs)
    pruned, notes, problems = pf.prune_instance_types(dropping, zones, azs)
    assert [p.instance_types for p in pruned.aws.node_pools] == [["t3a.medium"], ["m5.xlarge"]]
    assert problems == [] and len(notes) == 1

    failing = config(aws={**aws_section, "unavailable_instance_types": "fail"}, dask=dask)
    result = pf.check_instance_types(failing, west)
    assert not result.ok and "vt1.3xlarge (not in us-west-2a)" in result.detail
    assert "unavailable_instance_types: drop" in result.fix

    nothing_left = config(
        aws={
            "region": "us-west-2",
            **pools(
                {"name": "services", "instance_types": ["zz9.huge"], "min_size": 1, "max_size": 1}
            ),
        },
        dask={"worker_node_pool": "services", "gpu_worker_node_pool": None},
    )
    result = pf.check_instance_types(nothing_left, west)
    assert not result.ok and "node pool services: none of its instance types" in result.detail


def west_network(west: AWSClients, zones: dict[str, list[str]]) -> dict[str, Any]:
    """A VPC with subnets in the emulator: kind -> the AZ of each subnet."""
    ec2 = west.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    existing: dict[str, Any] = {"vpc_id": vpc}
    n = 0
    for kind, azs in zones.items():
        ids = []
        for az in azs:
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{n}.0/24", AvailabilityZone=az)
            ids.append(subnet["Subnet"]["SubnetId"])
            n += 1
        existing[f"{kind}_subnet_ids"] = ids
    return existing


def test_instance_types_are_checked_in_the_existing_subnets_azs(aws: AWSClients) -> None:
    """Emulator: g4dn.xlarge is offered in three AZs of us-west-2 but not in 2d, where one of
    the existing private subnets is: the region-wide count would have let it through."""
    west = AWSClients("us-west-2", aws.endpoint_url, aws.access_key_id, aws.secret_access_key)
    existing = west_network(
        west, {"private": ["us-west-2a", "us-west-2d"], "public": ["us-west-2a", "us-west-2d"]}
    )
    gpu = {
        "name": "gpu",
        "instance_types": ["g4dn.xlarge"],
        "max_size": 2,
        "gpus_per_node": 1,
        "labels": {"nvidia.com/gpu": "true"},
    }
    cfg = config(
        aws={
            "region": "us-west-2",
            "network": {"existing": existing},
            "unavailable_instance_types": "fail",
            **pools(
                {
                    "name": "services",
                    "instance_types": ["t3a.medium"],
                    "min_size": 1,
                    "max_size": 2,
                },
                gpu,
            ),
        },
        dask={"worker_node_pool": "services", "gpu_worker_node_pool": None},
    )
    assert pf.cluster_zones(cfg, west) == ["us-west-2a", "us-west-2d"]
    result = pf.check_instance_types(cfg, west)
    assert not result.ok and "g4dn.xlarge (not in us-west-2d)" in result.detail


def test_existing_subnets_one_per_az(aws: AWSClients) -> None:
    """Emulator: existing subnets are looked up; two private subnets in one AZ (EFS takes one
    mount target per AZ), a public list in one AZ, or a subnet of another VPC are refused."""
    west = AWSClients("us-west-2", aws.endpoint_url, aws.access_key_id, aws.secret_access_key)

    def check(existing: dict[str, Any]) -> Any:
        cfg = config(aws={"region": "us-west-2", "network": {"existing": existing}})
        return pf.check_subnets(cfg, west)

    good = west_network(
        west, {"private": ["us-west-2a", "us-west-2b"], "public": ["us-west-2a", "us-west-2b"]}
    )
    assert check(good).ok

    doubled = west_network(
        west, {"private": ["us-west-2a", "us-west-2a"], "public": ["us-west-2a", "us-west-2b"]}
    )
    result = check(doubled)
    assert not result.ok
    first, second = doubled["private_subnet_ids"]
    assert (
        f"aws.network.existing.private_subnet_ids: {first}, {second} are all in us-west-2a"
        in result.detail
    )
    assert "EKS needs two AZs" in result.detail and "per AZ" in result.fix

    bare = west_network(
        west, {"private": ["us-west-2a", "us-west-2c"], "public": ["us-west-2a", "us-west-2b"]}
    )
    assert "no public subnet in us-west-2c" in check(bare).detail

    mixed = {**good, "public_subnet_ids": doubled["public_subnet_ids"]}
    result = check(mixed)
    assert not result.ok and f"not in {good['vpc_id']}" in result.detail

    missing = {
        **good,
        "private_subnet_ids": ["subnet-0123456789abcdef0", *good["private_subnet_ids"]],
    }
    with pytest.raises(UserError, match=r"aws\.network\.existing: .*subnet-0123456789abcdef0"):
        check(missing)
    created = pf.check_subnets(config(aws={"region": "us-west-2"}), west)
    assert created.ok


def test_quotas_against_the_pools_maxima(aws: AWSClients) -> None:
    """Emulator (EC2 vCPU counts) + Stubber (Service Quotas): the reference pools need 124
    on-demand standard, 40 spot G and 400 spot standard vCPUs; 256 of the last is too few."""
    stub = stub_quotas(aws, {"L-1216C47A": 128, "L-3819A6DF": None, "L-34B43A08": 256})
    result = pf.check_quotas(config(), aws)
    stub.assert_no_pending_responses()
    assert not result.ok
    assert "All Standard Spot Instance Requests (L-34B43A08): need 400 vCPU, quota 256" in (
        result.detail
    )
    assert "L-34B43A08 to at least 400" in result.fix
    assert "Running On-Demand Standard instances (L-1216C47A): need 124 vCPU, quota 128" in (
        result.notes
    )
    assert "All G and VT Spot Instance Requests (L-3819A6DF): need 40 vCPU, quota 64" in (
        result.notes
    )


def test_cognito_domain_prefix(aws: AWSClients) -> None:
    """Emulator: a free prefix passes; one taken by another pool fails; one of this
    deployment's own pool (by state or by tag) passes."""
    cognito = config(domain="hub.example.org", auth={"type": "cognito", "admin_users": ["a@b.c"]})
    prefix = cognito.cognito_domain_prefix()
    assert prefix is not None
    assert pf.check_cognito_domain(cognito, aws, None).ok

    idp = aws.client("cognito-idp")
    other = idp.create_user_pool(PoolName="someone-else")["UserPool"]["Id"]
    idp.create_user_pool_domain(Domain=prefix, UserPoolId=other)
    taken = pf.check_cognito_domain(cognito, aws, None)
    assert not taken.ok and other in taken.detail and "auth.domain_prefix" in taken.fix
    assert pf.check_cognito_domain(cognito, aws, other).ok  # recorded in our state

    ours = idp.create_user_pool(PoolName="helio", UserPoolTags={"heliohub:deployment": "helio"})[
        "UserPool"
    ]["Id"]
    idp.create_user_pool_domain(Domain="helio-login", UserPoolId=ours)
    tagged = cognito.model_copy(
        update={"auth": cognito.auth.model_copy(update={"domain_prefix": "helio-login"})}
    )
    assert pf.check_cognito_domain(tagged, aws, None).ok


def test_default_cognito_prefix_is_not_the_bare_name() -> None:
    """Prefixes are unique per region across all accounts: the default is the name plus a
    hash of the domain, the same on every run, different for another domain."""
    auth = {"type": "cognito", "admin_users": ["a@b.c"]}
    one = config(domain="hub.example.org", auth=auth).cognito_domain_prefix()
    assert one is not None and one != "helio" and one.startswith("helio-")
    assert one == config(domain="hub.example.org", auth=auth).cognito_domain_prefix()
    assert one != config(domain="hub.example.net", auth=auth).cognito_domain_prefix()
    explicit = {**auth, "domain_prefix": "helio-login"}
    assert config(domain="hub.example.org", auth=explicit).cognito_domain_prefix() == "helio-login"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {"auth": {"type": "cognito", "admin_users": ["a"], "domain_prefix": "my-cognito"}},
            "auth.domain_prefix",
        ),
        (
            {"name": "aws-hub", "auth": {"type": "cognito", "admin_users": ["a"]}},
            "auth.domain_prefix",
        ),
    ],
)
def test_reserved_words_in_the_prefix_are_refused_by_validate(
    extra: dict[str, Any], problem: str
) -> None:
    """Offline, in the config model: an explicit prefix, or the default from the name."""
    from heliohub.config import parse
    from heliohub.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse({"name": "helio", "provider": "aws", "domain": "hub.example.org", **extra})
    lines = [p for p in info.value.problems if "Cognito refuses" in p]
    assert len(lines) == 1 and lines[0].startswith(problem), info.value.problems


def test_hosted_zone(aws: AWSClients) -> None:
    """Emulator: the public zone of the parent domain (or aws.hosted_zone) must exist."""
    with_domain = config(domain="hub.example.org")
    missing = pf.check_hosted_zone(with_domain, aws)
    assert not missing.ok and "example.org" in missing.fix
    r53 = aws.client("route53")
    r53.create_hosted_zone(
        Name="example.org",
        CallerReference="private",
        VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-1"},
        HostedZoneConfig={"PrivateZone": True},
    )
    assert not pf.check_hosted_zone(with_domain, aws).ok  # a private zone does not serve DNS
    r53.create_hosted_zone(Name="example.org", CallerReference="public")
    assert pf.check_hosted_zone(with_domain, aws).ok
    explicit = config(domain="hub.lab.example.net", aws={"hosted_zone": "example.org."})
    assert pf.check_hosted_zone(explicit, aws).ok
    assert pf.check_hosted_zone(config(), aws).ok  # no domain: nothing to check


def test_kubernetes_version(aws: AWSClients) -> None:
    """Stubber (EKS DescribeClusterVersions): a version in support passes; others fail with
    the supported list."""
    stub = Stubber(aws.client("eks"))
    listing = [
        {"clusterVersion": "1.33", "versionStatus": "STANDARD_SUPPORT"},
        {"clusterVersion": "1.34", "versionStatus": "STANDARD_SUPPORT"},
        {"clusterVersion": "1.30", "versionStatus": "EXTENDED_SUPPORT"},
    ]
    stub.add_response(
        "describe_cluster_versions",
        {"clusterVersions": listing[1:2]},
        {"clusterVersions": ["1.34"]},
    )
    stub.add_response(
        "describe_cluster_versions", {"clusterVersions": []}, {"clusterVersions": ["1.29"]}
    )
    stub.add_response("describe_cluster_versions", {"clusterVersions": listing}, {})
    with stub:
        assert pf.check_kubernetes_version(config(), aws).ok
        old = pf.check_kubernetes_version(config(aws={"kubernetes_version": "1.29"}), aws)
    assert not old.ok and old.fix.endswith("1.30, 1.33, 1.34")


def test_services_pool_holds_its_pods_and_a_rolling_update(aws: AWSClients) -> None:
    """Emulator (EC2 instance types): one t3a.medium takes 17 pods with the VPC CNI, 5 of them
    DaemonSets; the services need 16 more with a rolling update's. The reference pool (two
    nodes) passes, one node fails with the size that fits, and a t3a.large (35) alone fits."""
    assert pf.pods_per_type(aws, ["t3a.medium", "t3a.large"]) == {
        "t3a.medium": 17,
        "t3a.large": 35,
    }
    reference = pf.check_services_capacity(config(), aws)
    assert reference.ok and "2 x t3a.medium" in reference.detail

    def services(instance_types: list[str], min_size: int) -> HubConfig:
        pool = {
            "name": "services",
            "instance_types": instance_types,
            "min_size": min_size,
            "max_size": 3,
            "labels": {"hub.jupyter.org/node-purpose": "core"},
        }
        return config(
            aws=pools(pool), dask={"worker_node_pool": "services", "gpu_worker_node_pool": None}
        )

    one = pf.check_services_capacity(services(["t3a.medium"], 1), aws)
    assert not one.ok
    assert "1 x t3a.medium (max 17 pods" in one.detail and "hold 12 service pods" in one.detail
    assert "the services need 16" in one.detail
    assert "set min_size of node pool services to 2" in one.fix
    # The smallest type of the pool decides: the autoscaler may pick it.
    mixed = pf.check_services_capacity(services(["t3a.large", "t3a.medium"], 1), aws)
    assert not mixed.ok and "1 x t3a.medium" in mixed.detail
    assert pf.check_services_capacity(services(["t3a.large"], 1), aws).ok
    none = pf.check_services_capacity(services(["t3a.large"], 0), aws)
    assert not none.ok and "hold 0 service pods" in none.detail


def test_validate_online_prints_each_check_and_fails(
    aws: AWSClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Emulator + Stubber: the CLI prints pass/FAIL per check with the fix, then exits non-zero."""
    aws.client("route53").create_hosted_zone(Name="example.org", CallerReference="z")
    cfg = config(domain="hub.example.org", auth={"type": "cognito", "admin_users": ["a@b.c"]})
    quotas = stub_quotas(aws, {"L-1216C47A": 128, "L-3819A6DF": 64, "L-34B43A08": 256})
    eks = Stubber(aws.client("eks"))
    eks.add_response(
        "describe_cluster_versions",
        {"clusterVersions": [{"clusterVersion": "1.34", "versionStatus": "STANDARD_SUPPORT"}]},
        {"clusterVersions": ["1.34"]},
    )
    eks.activate()
    loaded = LoadedConfig(cfg, tmp_path / "heliohub.yaml", tmp_path)
    with pytest.raises(UserError, match="1 online check"):
        run_preflight(loaded, AWSProvider(loaded, SilentReporter(), clients=aws))
    quotas.assert_no_pending_responses()
    out = capsys.readouterr().out
    for line in (
        "pass credentials: account 123456789012",
        "pass instance types",
        "FAIL vCPU quotas",
        "fix: request increases in the Service Quotas console",
        f"pass Cognito domain: prefix {cfg.cognito_domain_prefix()!r} is free",
        "pass Route53 zone: example.org",
        "pass services pool: node pool services: 2 x t3a.medium",
        "pass Kubernetes version: 1.34",
    ):
        assert line in out, line


def test_validate_online_refuses_other_providers(tmp_path: Path) -> None:
    loaded = LoadedConfig(HubConfig(), None, tmp_path)
    with pytest.raises(UserError, match="not available on provider local"):
        run_preflight(loaded, get_provider(loaded, SilentReporter()))
