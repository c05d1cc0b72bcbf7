"""What costs money while nobody works, read from CloudFormation templates.

The same reading serves `heliohub cost` (the templates the config renders) and `heliohub plan`
(the templates deployed now against the ones `up` would deploy), so both always agree on what
a deployment holds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from heliohub.render.cloudformation.naming import NODE_POOL_LABEL


class NodeGroup(BaseModel):
    name: str
    instance_types: list[str]
    min_size: int
    spot: bool
    disk_gib: int


class Shape(BaseModel):
    clusters: int = 0
    nat_gateways: int = 0
    elastic_ips: int = 0
    availability_zones: int = 2
    node_groups: list[NodeGroup] = []
    file_systems: int = 0
    kms_keys: int = 0
    user_pools: int = 0

    @property
    def load_balancers(self) -> int:
        # The hub's proxy-public Service gets one load balancer per cluster, from the charts.
        return self.clusters


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        rid: res.get("Properties", {})
        for rid, res in template.get("Resources", {}).items()
        if res.get("Type") == kind
    }


def _disk(template: dict[str, Any], props: dict[str, Any]) -> int:
    """Root volume size from the node group's launch template, else EKS's default of 20 GiB."""
    if "DiskSize" in props:
        return int(props["DiskSize"])
    lt_ref = props.get("LaunchTemplate", {}).get("Id", {})
    lt_id = lt_ref.get("Ref") if isinstance(lt_ref, dict) else None
    lt = template.get("Resources", {}).get(lt_id or "", {}).get("Properties", {})
    for mapping in lt.get("LaunchTemplateData", {}).get("BlockDeviceMappings", []):
        size = mapping.get("Ebs", {}).get("VolumeSize")
        if isinstance(size, int):
            return size
    return 20


def shape_of(templates: dict[str, dict[str, Any]]) -> Shape:
    """The cost-relevant resources of a deployment's templates (by stack key)."""
    shape = Shape()
    subnets = 0
    for template in templates.values():
        shape.clusters += len(_resources(template, "AWS::EKS::Cluster"))
        shape.nat_gateways += len(_resources(template, "AWS::EC2::NatGateway"))
        shape.elastic_ips += len(_resources(template, "AWS::EC2::EIP"))
        shape.file_systems += len(_resources(template, "AWS::EFS::FileSystem"))
        shape.kms_keys += len(_resources(template, "AWS::KMS::Key"))
        shape.user_pools += len(_resources(template, "AWS::Cognito::UserPool"))
        subnets += len(_resources(template, "AWS::EC2::Subnet"))
        for rid, props in sorted(_resources(template, "AWS::EKS::Nodegroup").items()):
            scaling = props.get("ScalingConfig", {})
            shape.node_groups.append(
                NodeGroup(
                    name=props.get("Labels", {}).get(NODE_POOL_LABEL, rid),
                    instance_types=list(props.get("InstanceTypes", [])),
                    min_size=int(scaling.get("MinSize", 0)),
                    spot=props.get("CapacityType") == "SPOT",
                    disk_gib=_disk(template, props),
                )
            )
    if subnets:
        # One public and one private subnet per zone; the load balancer sits in every zone.
        shape.availability_zones = max(1, subnets // 2)
    return shape
