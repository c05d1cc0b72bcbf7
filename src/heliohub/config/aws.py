"""The `aws` section: region, Kubernetes version, network and node pools."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from heliohub.config.base import NonNegativeInt, PositiveInt, Strict
from heliohub.config.budget import Budget

Region = Annotated[
    str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="an AWS region such as us-east-1")
]
InstanceType = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$",
        description="an EC2 instance type such as m5.xlarge",
    ),
]
LabelKey = Annotated[
    str, Field(pattern=r"^([a-z0-9.-]{1,253}/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
]


# Graviton families (m7g, c6gn, ...) and the first-generation a1.
_ARM = re.compile(r"a1|[a-z]+\d+g[a-z]*")


def instance_arch(instance_type: str) -> Literal["arm64", "x86_64"]:
    """The CPU architecture of an EC2 instance type, from its family name."""
    return "arm64" if _ARM.fullmatch(instance_type.split(".")[0]) else "x86_64"


def logical_id(name: str) -> str:
    """A CloudFormation logical id from a config name (`gpu-spot` -> `GpuSpot`)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name))


class Taint(Strict):
    key: LabelKey
    value: str = Field(default="", max_length=63)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(Strict):
    """An EKS managed node group."""

    name: Annotated[
        str,
        Field(
            pattern=r"^[a-z][a-z0-9-]{0,38}$",
            description="lower-case letters, digits and '-', up to 39 characters",
        ),
    ]
    instance_types: list[InstanceType] = Field(min_length=1)
    min_size: NonNegativeInt = 0
    max_size: PositiveInt
    capacity: Literal["on-demand", "spot"] = "on-demand"
    labels: dict[LabelKey, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    gpus_per_node: NonNegativeInt = Field(
        default=0, description="GPUs each node has; >0 adds the NVIDIA device plugin"
    )
    disk_gib: PositiveInt = 80
    release_version: str | None = Field(
        default=None,
        pattern=r"^1\.\d{2}\.\d+-\d{8}$",
        description="pin the EKS AMI release of this pool's nodes, such as 1.34.2-20251120; "
        "default: the newest release for aws.kubernetes_version",
    )

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError(
                f"min_size must be <= max_size, got min_size={self.min_size}, "
                f"max_size={self.max_size}"
            )
        if len({instance_arch(t) for t in self.instance_types}) > 1:
            # One node group has one AMI, and an AMI has one architecture.
            raise ValueError(
                "instance_types: mixes ARM (Graviton) and x86 types; put them in separate pools"
            )
        return self


USER_TAINT = Taint(key="hub.jupyter.org/dedicated", value="user")
WORKER_TAINT = Taint(key="k8s.dask.org/dedicated", value="worker")
GPU_TAINT = Taint(key="nvidia.com/gpu", value="true")


def _reference_pools() -> list[NodePool]:
    """The HelioCloud reference node groups."""
    return [
        NodePool(
            name="services",
            instance_types=["t3a.medium"],
            # Two: one t3a.medium takes 17 pods with the VPC CNI, the services need about 21
            # (validate --online checks it).
            min_size=2,
            max_size=2,
            labels={"hub.jupyter.org/node-purpose": "core"},
        ),
        NodePool(
            name="user",
            instance_types=["m5.xlarge", "m5.2xlarge"],
            max_size=15,
            labels={"hub.jupyter.org/node-purpose": "user"},
            taints=[USER_TAINT],
        ),
        NodePool(
            name="gpu",
            instance_types=["g4dn.xlarge", "g4dn.2xlarge"],
            max_size=5,
            capacity="spot",
            labels={"hub.jupyter.org/node-purpose": "user", "nvidia.com/gpu": "true"},
            taints=[USER_TAINT, GPU_TAINT],
            gpus_per_node=1,
        ),
        NodePool(
            name="burst",
            instance_types=["m5.8xlarge", "m5n.8xlarge", "m4.10xlarge"],
            max_size=10,
            capacity="spot",
            labels={"k8s.dask.org/node-purpose": "worker"},
            taints=[WORKER_TAINT],
        ),
    ]


class ExistingNetwork(Strict):
    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]+$")
    private_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        min_length=2
    )
    public_subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$")]] = Field(
        min_length=2
    )


class Network(Strict):
    cidr: str = Field(default="10.42.0.0/16", pattern=r"^\d+\.\d+\.\d+\.\d+/(1[6-9]|2[0-4])$")
    availability_zones: int = Field(default=2, ge=2, le=6)
    existing: ExistingNetwork | None = Field(
        default=None, description="use this VPC and subnets instead of creating a network"
    )


class AWS(Strict):
    region: Region = "us-east-1"
    kubernetes_version: str = Field(
        default="1.34", pattern=r"^1\.\d{2}$", description='an EKS minor version such as "1.34"'
    )
    network: Network = Network()
    node_pools: list[NodePool] = Field(default_factory=_reference_pools, min_length=1)
    admin_role_arns: list[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:")]] = Field(
        default_factory=list, description="IAM principals given cluster admin access"
    )
    hosted_zone: str | None = Field(
        default=None, description="Route53 zone for `domain`; defaults to its parent domain"
    )
    support_policy: Literal["standard", "extended"] = Field(
        default="standard",
        description="EKS support for the Kubernetes version: 'standard' (EKS upgrades the "
        "control plane on its own when standard support ends) or 'extended' (12 more months, "
        "paid per cluster hour)",
    )
    node_update_max_unavailable_percent: int = Field(
        default=33,
        ge=1,
        le=100,
        description="how much of a node group is replaced at once during a rolling update",
    )
    budget: Budget | None = Field(
        default=None, description="a monthly AWS Budgets alarm mailed to these addresses"
    )
    unavailable_instance_types: Literal["drop", "fail"] = Field(
        default="drop",
        description="what preflight does with instance types a region offers in fewer than 2 AZs",
    )

    @model_validator(mode="after")
    def _pools(self) -> Self:
        names = [p.name for p in self.node_pools]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"node pool names must be unique, got {', '.join(dupes)} twice")
        ids = [logical_id(n) for n in names]
        clash = sorted({n for n, i in zip(names, ids, strict=True) if ids.count(i) > 1})
        if clash:
            raise ValueError(
                "node pool names that differ only in '-' map to the same CloudFormation id "
                f"({', '.join(clash)}); rename one"
            )
        for i, arn in enumerate(self.admin_role_arns):
            if arn.split(":", 5)[-1].startswith("role/AWSReservedSSO_"):
                # An access entry must name the role with its path, or it matches no one.
                raise ValueError(
                    f"admin_role_arns.{i}: {arn} is an IAM Identity Center (SSO) role without "
                    "its path; give its full ARN, "
                    "arn:aws:iam::<account>:role/aws-reserved/sso.amazonaws.com/<region>/"
                    "AWSReservedSSO_..., as `aws iam get-role --role-name <name>` shows it"
                )
        for pool in self.node_pools:
            if pool.release_version and not pool.release_version.startswith(
                self.kubernetes_version + "."
            ):
                raise ValueError(
                    f"node pool {pool.name}: release_version {pool.release_version} is for "
                    "another Kubernetes version than kubernetes_version "
                    f"{self.kubernetes_version}; pin a {self.kubernetes_version}.x release or "
                    "remove release_version"
                )
        return self
