"""Checks against the AWS account before anything is created (`heliohub validate --online`).

Each check returns a result with what it found and, on failure, the fix. Nothing here prints.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from heliohub.config import HubConfig
from heliohub.config.aws import NodePool
from heliohub.errors import UserError
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.base import PreflightResult
from heliohub.render.cloudformation.naming import (
    DEPLOYMENT_TAG,
    creates_user_pool,
    managed_cognito,
)
from heliohub.render.helm.pools import core_pool

MIN_ZONES = 2

# EC2 vCPU quotas (service code "ec2") by capacity and instance family group.
QUOTAS: dict[tuple[str, str], tuple[str, str]] = {
    ("on-demand", "standard"): ("L-1216C47A", "Running On-Demand Standard instances"),
    ("spot", "standard"): ("L-34B43A08", "All Standard Spot Instance Requests"),
    ("on-demand", "g"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    ("spot", "g"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
}
_STANDARD = set("acdhimrtz")


# One result type for every provider's online checks.
CheckResult = PreflightResult


def family_group(instance_type: str) -> str | None:
    """'standard', 'g' (G and VT), or None for families with other quotas (P, X, Inf...)."""
    family = instance_type.split(".")[0]
    if family.startswith(("g", "vt")):
        return "g"
    if family.startswith(("inf", "trn", "dl", "hpc", "mac", "u-", "x", "p", "f")):
        return None
    return "standard" if family[0] in _STANDARD else None


# -- instance types ----------------------------------------------------------------------------


def cluster_zones(config: HubConfig, clients: AWSClients) -> list[str]:
    """The AZs the node groups run in: those of the existing private subnets, or the first
    `availability_zones` of the region, as the network template's Fn::GetAZs picks them."""
    ec2 = clients.client("ec2")
    existing = config.aws.network.existing
    if existing is not None:
        return sorted({s["AvailabilityZone"] for s in _subnets(ec2, existing.private_subnet_ids)})
    listed = ec2.describe_availability_zones()["AvailabilityZones"]
    names = sorted(
        z["ZoneName"]
        for z in listed
        if z.get("ZoneType", "availability-zone") == "availability-zone"
        and z.get("State", "available") == "available"
        and z.get("OptInStatus", "opt-in-not-required") == "opt-in-not-required"
    )
    return names[: config.aws.network.availability_zones]


def _subnets(ec2: Any, ids: list[str]) -> list[dict[str, Any]]:
    try:
        return list(ec2.describe_subnets(SubnetIds=sorted(set(ids)))["Subnets"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "InvalidSubnetID.NotFound":
            raise
    # One call fails for all; ask for each to name the missing ones.
    missing = []
    for sid in sorted(set(ids)):
        try:
            ec2.describe_subnets(SubnetIds=[sid])
        except ClientError:
            missing.append(sid)
    raise UserError(
        f"aws.network.existing: no subnet {', '.join(missing)} in this account and region; "
        "give the ids of existing subnets"
    )


def offered_zones(
    clients: AWSClients, types: list[str], within: list[str] | None = None
) -> dict[str, set[str]]:
    """The AZs (of `within`, if given) where each instance type is offered."""
    ec2 = clients.client("ec2")
    zones: dict[str, set[str]] = defaultdict(set)
    filters = [{"Name": "instance-type", "Values": sorted(set(types))}]
    if within is not None:
        filters.append({"Name": "location", "Values": sorted(within)})
    kwargs: dict[str, Any] = {"LocationType": "availability-zone", "Filters": filters}
    while True:
        page = ec2.describe_instance_type_offerings(**kwargs)
        for offer in page["InstanceTypeOfferings"]:
            zones[offer["InstanceType"]].add(offer["Location"])
        if not page.get("NextToken"):
            return dict(zones)
        kwargs["NextToken"] = page["NextToken"]


def _missing(zones: dict[str, set[str]], instance_type: str, azs: list[str]) -> list[str]:
    return [z for z in azs if z not in zones.get(instance_type, set())]


def prune_instance_types(
    config: HubConfig, zones: dict[str, set[str]], azs: list[str]
) -> tuple[HubConfig, list[str], list[str]]:
    """Drop the types not offered in every AZ of the cluster's subnets: a node group spans all
    of them, and EKS refuses a type one of them lacks. Returns (config, notes, problems)."""
    notes: list[str] = []
    problems: list[str] = []
    pools = []
    where = ", ".join(azs)
    for pool in config.aws.node_pools:
        keep = [t for t in pool.instance_types if not _missing(zones, t, azs)]
        for t in pool.instance_types:
            if t not in keep:
                notes.append(
                    f"node pool {pool.name}: {t} is not offered in "
                    f"{', '.join(_missing(zones, t, azs))} (the cluster's AZs: {where}); dropped"
                )
        if not keep:
            problems.append(
                f"node pool {pool.name}: none of its instance types is offered in every AZ "
                f"of the cluster ({where})"
            )
            keep = list(pool.instance_types)
        pools.append(pool.model_copy(update={"instance_types": keep}))
    aws = config.aws.model_copy(update={"node_pools": pools})
    return config.model_copy(update={"aws": aws}), notes, problems


def check_instance_types(config: HubConfig, clients: AWSClients) -> CheckResult:
    types = sorted({t for p in config.aws.node_pools for t in p.instance_types})
    azs = cluster_zones(config, clients)
    zones = offered_zones(clients, types, azs)
    short = {t: _missing(zones, t, azs) for t in types if _missing(zones, t, azs)}
    if not short:
        return CheckResult(
            "instance types", True, f"{len(types)} type(s), each in every AZ: {', '.join(azs)}"
        )
    listing = ", ".join(f"{t} (not in {', '.join(m)})" for t, m in sorted(short.items()))
    if config.aws.unavailable_instance_types == "fail":
        return CheckResult(
            "instance types",
            False,
            f"not offered in every AZ of the cluster ({', '.join(azs)}): {listing}",
            "remove them from aws.node_pools, or set aws.unavailable_instance_types: drop",
        )
    _, notes, problems = prune_instance_types(config, zones, azs)
    if problems:
        return CheckResult(
            "instance types",
            False,
            "; ".join(problems),
            f"choose instance types offered in {', '.join(azs)} (EC2 console: Instance Types)",
            notes,
        )
    return CheckResult("instance types", True, f"{len(short)} type(s) will be dropped", "", notes)


# -- existing subnets --------------------------------------------------------------------------


def check_subnets(config: HubConfig, clients: AWSClients) -> CheckResult:
    """Existing subnets: one per AZ and at least two AZs in each list (EFS takes one mount
    target per AZ, a load balancer one subnet per AZ), all in the VPC, and a public subnet in
    every AZ with nodes (a load balancer does not send to AZs it has no subnet in)."""
    existing = config.aws.network.existing
    if existing is None:
        return CheckResult("subnets", True, "heliohub creates one private and public subnet per AZ")
    found = {
        s["SubnetId"]: s
        for s in _subnets(
            clients.client("ec2"), [*existing.private_subnet_ids, *existing.public_subnet_ids]
        )
    }
    problems: list[str] = []
    zones_of: dict[str, set[str]] = {}
    for kind in ("private", "public"):
        path = f"aws.network.existing.{kind}_subnet_ids"
        ids: list[str] = getattr(existing, f"{kind}_subnet_ids")
        by_zone: dict[str, list[str]] = defaultdict(list)
        for sid in ids:
            subnet = found[sid]
            by_zone[subnet["AvailabilityZone"]].append(sid)
            if subnet.get("VpcId") != existing.vpc_id:
                problems.append(
                    f"{path}: {sid} is in {subnet.get('VpcId')}, not in {existing.vpc_id}"
                )
        for zone, sids in sorted(by_zone.items()):
            if len(sids) > 1:
                problems.append(f"{path}: {', '.join(sids)} are all in {zone}; give one per AZ")
        if len(by_zone) < MIN_ZONES:
            problems.append(f"{path}: all in {', '.join(sorted(by_zone))}; EKS needs two AZs")
        zones_of[kind] = set(by_zone)
    bare = sorted(zones_of["private"] - zones_of["public"])
    if bare:
        problems.append(
            f"aws.network.existing.public_subnet_ids: no public subnet in {', '.join(bare)}, "
            "where private subnets put nodes"
        )
    if problems:
        return CheckResult(
            "subnets",
            False,
            "; ".join(problems),
            "list one private and one public subnet of the VPC per AZ, in at least two AZs",
        )
    return CheckResult(
        "subnets",
        True,
        "one private and public subnet in each of " + ", ".join(sorted(zones_of["private"])),
    )


# -- quotas ------------------------------------------------------------------------------------


def vcpus(clients: AWSClients, types: list[str]) -> dict[str, int]:
    ec2 = clients.client("ec2")
    result: dict[str, int] = {}
    for start in range(0, len(types), 100):
        page = ec2.describe_instance_types(InstanceTypes=types[start : start + 100])
        for t in page["InstanceTypes"]:
            result[t["InstanceType"]] = int(t["VCpuInfo"]["DefaultVCpus"])
    return result


def required_vcpus(pools: list[NodePool], cpus: dict[str, int]) -> dict[tuple[str, str], int]:
    """Worst case per quota: every pool at its maximum, of its largest instance type."""
    need: dict[tuple[str, str], int] = defaultdict(int)
    for pool in pools:
        for group in {family_group(t) for t in pool.instance_types} - {None}:
            largest = max(cpus.get(t, 0) for t in pool.instance_types if family_group(t) == group)
            need[(pool.capacity, group)] += pool.max_size * largest  # type: ignore[index]
    return dict(need)


def quota_value(clients: AWSClients, code: str) -> float:
    sq = clients.client("service-quotas")
    try:
        return float(sq.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
        # No applied value in this account: the AWS default holds.
        quota = sq.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)
        return float(quota["Quota"]["Value"])


def check_quotas(config: HubConfig, clients: AWSClients) -> CheckResult:
    types = sorted({t for p in config.aws.node_pools for t in p.instance_types})
    need = required_vcpus(config.aws.node_pools, vcpus(clients, types))
    short, fine = [], []
    for key, vcpu in sorted(need.items()):
        code, label = QUOTAS[key]
        have = quota_value(clients, code)
        line = f"{label} ({code}): need {vcpu} vCPU, quota {have:g}"
        (short if vcpu > have else fine).append((line, code, vcpu))
    if short:
        return CheckResult(
            "vCPU quotas",
            False,
            "; ".join(s[0] for s in short),
            "request increases in the Service Quotas console (EC2): "
            + ", ".join(f"{c} to at least {math.ceil(v)}" for _, c, v in short)
            + "; or lower max_size of the pools",
            [f[0] for f in fine],
        )
    return CheckResult("vCPU quotas", True, "; ".join(f[0] for f in fine) or "nothing to check")


# -- services pool capacity ----------------------------------------------------------------------

# Pods on the services pool besides user servers: the hub, the proxy, two user-schedulers, the
# gateway's API server, controller and traefik, the cluster-autoscaler, and kube-system's
# coredns and EBS and EFS CSI controllers (two of each); every other pool is tainted.
SERVICE_PODS = 14
# One pod on every node for each DaemonSet: aws-node, kube-proxy, eks-pod-identity-agent and
# the EBS and EFS CSI node plugins.
DAEMONSET_PODS = 5
# A Deployment's rolling update starts the new pod before it stops the old one.
ROLLING_SURGE = 2


def max_pods(enis: int, ips_per_eni: int) -> int:
    """Pods a node takes with the VPC CNI: one IP per pod, less each ENI's primary IP, plus the
    two host-network pods (AWS's eni-max-pods.txt formula; t3a.medium gives 17)."""
    return enis * (ips_per_eni - 1) + 2


def pods_per_type(clients: AWSClients, types: list[str]) -> dict[str, int]:
    ec2 = clients.client("ec2")
    result: dict[str, int] = {}
    for start in range(0, len(types), 100):
        page = ec2.describe_instance_types(InstanceTypes=types[start : start + 100])
        for t in page["InstanceTypes"]:
            net = t["NetworkInfo"]
            result[t["InstanceType"]] = max_pods(
                int(net["MaximumNetworkInterfaces"]), int(net["Ipv4AddressesPerInterface"])
            )
    return result


def check_services_capacity(config: HubConfig, clients: AWSClients) -> CheckResult:
    """The services pool at its minimum holds the services' pods and a rolling update's new
    ones: the pods that do not fit stay Pending, and the autoscaler that would add a node is
    one of them."""
    core = core_pool(config)
    if core is None:
        return CheckResult("services pool", True, "no services pool to check")
    need = SERVICE_PODS + ROLLING_SURGE
    pods = pods_per_type(clients, sorted(set(core.instance_types)))
    smallest = min(core.instance_types, key=lambda t: pods.get(t, 0))
    per_node = pods.get(smallest, 0) - DAEMONSET_PODS
    holds = core.min_size * max(per_node, 0)
    found = (
        f"node pool {core.name}: {core.min_size} x {smallest} (max {pods.get(smallest, 0)} pods "
        f"with the VPC CNI, {DAEMONSET_PODS} of them DaemonSets) hold {holds} service pods"
    )
    if holds >= need:
        return CheckResult("services pool", True, found)
    nodes = math.ceil(need / per_node) if per_node > 0 else None
    return CheckResult(
        "services pool",
        False,
        f"{found}; the services need {need} with room for a rolling update",
        (f"set min_size of node pool {core.name} to {nodes}, or " if nodes else "")
        + "use a larger instance type (t3a.large takes 35 pods)",
    )


# -- Cognito, Route53, EKS ---------------------------------------------------------------------


def check_cognito_domain(
    config: HubConfig, clients: AWSClients, our_pool: str | None
) -> CheckResult:
    auth = managed_cognito(config)
    if auth is None or not creates_user_pool(config):
        return CheckResult("Cognito domain", True, "not created by heliohub (no managed user pool)")
    # Reserved words were refused by the config model already.
    prefix = config.cognito_domain_prefix()
    if prefix is None:
        return CheckResult("Cognito domain", True, "no hosted UI domain to create")
    idp = clients.client("cognito-idp")
    desc = idp.describe_user_pool_domain(Domain=prefix).get("DomainDescription") or {}
    owner = desc.get("UserPoolId")
    if not owner:
        return CheckResult("Cognito domain", True, f"prefix {prefix!r} is free")
    if owner == our_pool or _tagged_ours(idp, owner, config.name):
        return CheckResult("Cognito domain", True, f"prefix {prefix!r} is this deployment's")
    return CheckResult(
        "Cognito domain",
        False,
        f"prefix {prefix!r} is taken (by user pool {owner}, or by another AWS account)",
        "set auth.domain_prefix to another prefix",
    )


def _tagged_ours(idp: Any, pool_id: str, name: str) -> bool:
    try:
        pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except ClientError:
        return False
    return (pool.get("UserPoolTags") or {}).get(DEPLOYMENT_TAG) == name


def zone_name(config: HubConfig) -> str | None:
    if config.aws.hosted_zone:
        return config.aws.hosted_zone.rstrip(".")
    if not config.domain:
        return None
    return config.domain.split(".", 1)[1]


def find_hosted_zone(clients: AWSClients, name: str) -> dict[str, Any] | None:
    r53 = clients.client("route53")
    page = r53.list_hosted_zones_by_name(DNSName=name)
    for zone in page.get("HostedZones", []):
        if zone["Name"].rstrip(".") == name and not zone.get("Config", {}).get("PrivateZone"):
            return zone
    return None


def check_hosted_zone(config: HubConfig, clients: AWSClients) -> CheckResult:
    name = zone_name(config)
    if name is None:
        return CheckResult("Route53 zone", True, "no domain configured; nothing to check")
    zone = find_hosted_zone(clients, name)
    if zone is None:
        return CheckResult(
            "Route53 zone",
            False,
            f"no public hosted zone {name!r} in this account",
            f"create a public hosted zone for {name} in Route53 and delegate it from the parent "
            "domain, or set aws.hosted_zone to the zone that holds "
            f"{config.domain}",
        )
    return CheckResult("Route53 zone", True, f"{name} ({zone['Id'].rsplit('/', 1)[-1]})")


def check_kubernetes_version(config: HubConfig, clients: AWSClients) -> CheckResult:
    version = config.aws.kubernetes_version
    eks = clients.client("eks")
    found = eks.describe_cluster_versions(clusterVersions=[version]).get("clusterVersions", [])
    offered = [v for v in found if v.get("clusterVersion") == version]
    raw = (offered[0].get("versionStatus") or offered[0].get("status") or "") if offered else ""
    status = raw.upper().replace("-", "_")
    if status in ("STANDARD_SUPPORT", "EXTENDED_SUPPORT"):
        return CheckResult("Kubernetes version", True, f"{version} ({status.lower()})")
    listed = eks.describe_cluster_versions().get("clusterVersions", [])
    supported = sorted(
        {
            v["clusterVersion"]
            for v in listed
            if re.fullmatch(r"1\.\d+", v.get("clusterVersion", ""))
        },
        key=lambda v: int(v.split(".")[1]),
    )
    return CheckResult(
        "Kubernetes version",
        False,
        f"EKS does not offer {version} in {config.aws.region}"
        + (f" (status {status})" if status else ""),
        f"set aws.kubernetes_version to one of {', '.join(supported) or 'the versions EKS lists'}",
    )


# -- all ---------------------------------------------------------------------------------------


def check_credentials(clients: AWSClients) -> CheckResult:
    try:
        ident = clients.client("sts").get_caller_identity()
    except (NoCredentialsError, ClientError, BotoCoreError) as exc:
        return CheckResult(
            "credentials",
            False,
            f"no usable AWS credentials: {exc}",
            "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or sign in with your "
            "SSO profile, then run this again",
        )
    return CheckResult("credentials", True, f"account {ident['Account']} as {ident['Arn']}")


def run_checks(
    config: HubConfig, clients: AWSClients, our_pool: str | None = None
) -> list[CheckResult]:
    if config.provider != "aws":
        raise UserError(
            f"validate --online checks an AWS account; the config's provider is {config.provider!r}"
        )
    results = [check_credentials(clients)]
    if not results[0].ok:
        return results
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("subnets", lambda: check_subnets(config, clients)),
        ("instance types", lambda: check_instance_types(config, clients)),
        ("vCPU quotas", lambda: check_quotas(config, clients)),
        ("services pool", lambda: check_services_capacity(config, clients)),
        ("Cognito domain", lambda: check_cognito_domain(config, clients, our_pool)),
        ("Route53 zone", lambda: check_hosted_zone(config, clients)),
        ("Kubernetes version", lambda: check_kubernetes_version(config, clients)),
    ]
    for name, check in checks:
        try:
            results.append(check())
        except UserError as exc:
            results.append(CheckResult(name, False, str(exc), "fix aws.network.existing"))
        except (ClientError, BotoCoreError) as exc:
            results.append(
                CheckResult(
                    name,
                    False,
                    f"could not check: {exc}",
                    "grant the read permissions listed in docs/aws.md, then run this again",
                )
            )
    return results
