"""Managed node groups, one per `aws.node_pools` entry, each with its launch template.

The launch template exists for what a node group alone cannot do: tag the instances, volumes
and network interfaces with the deployment, encrypt the root volume, and require IMDSv2.
"""

from __future__ import annotations

from troposphere import Equals, GetAtt, If, Output, Parameter, Ref, Select, Template, ec2, eks

from heliohub.config import HubConfig
from heliohub.config.aws import NodePool, instance_arch, logical_id
from heliohub.errors import UserError
from heliohub.render.cloudformation import autoscaler
from heliohub.render.cloudformation.naming import cluster_name
from heliohub.render.cloudformation.tagging import tag_map, tags
from heliohub.render.eks import NODE_POOL_LABEL
from heliohub.render.eks import pool_labels as pool_labels
from heliohub.render.eks import pool_taints as pool_taints
from heliohub.render.helm.pools import core_pool

EKS_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}


def pool_id(pool: NodePool) -> str:
    return f"NodePool{logical_id(pool.name)}"


def exists_parameter(pool: NodePool) -> str:
    """The stack parameter that says the pool's node group exists already (set by the engine)."""
    return f"{pool_id(pool)}Exists"


def pool_asg_tags(config: HubConfig, pool: NodePool) -> dict[str, str]:
    """What the pool's Auto Scaling group must carry for scale-from-zero (see autoscaler.py)."""
    return {
        **autoscaler.discovery_tags(cluster_name(config)),
        **autoscaler.node_template_tags(pool, pool_labels(pool), pool_taints(pool)),
    }


def ami_type(pool: NodePool) -> str:
    # The config model refuses a pool that mixes architectures.
    arch = instance_arch(pool.instance_types[0])
    if pool.gpus_per_node:
        return f"AL2023_{'ARM_64' if arch == 'arm64' else 'x86_64'}_NVIDIA"
    return f"AL2023_{'ARM_64' if arch == 'arm64' else 'x86_64'}_STANDARD"


def add_node_groups(
    t: Template,
    config: HubConfig,
    cluster: eks.Cluster,
    node_role: object,
    private_subnets: object,
    after: list[str],
) -> None:
    core = core_pool(config)
    for pool in config.aws.node_pools:
        # The hub database is an EBS volume, which lives in one AZ. A services group spanning
        # two could replace its node with one in the other AZ, where the hub cannot start and
        # the autoscaler cannot choose the AZ of a new node: the group stays in the first.
        subnets = [Select(0, private_subnets)] if pool is core else private_subnets
        _node_group(t, config, pool, cluster, node_role, subnets, after)


def _node_group(
    t: Template,
    config: HubConfig,
    pool: NodePool,
    cluster: eks.Cluster,
    node_role: object,
    private_subnets: object,
    after: list[str],
) -> None:
    rid = pool_id(pool)
    name = f"{config.name}-{pool.name}"
    instance_tags = tags(config, name, {NODE_POOL_LABEL: pool.name})
    lt = t.add_resource(
        ec2.LaunchTemplate(
            f"{rid}LaunchTemplate",
            LaunchTemplateData=ec2.LaunchTemplateData(
                BlockDeviceMappings=[
                    ec2.LaunchTemplateBlockDeviceMapping(
                        DeviceName="/dev/xvda",
                        Ebs=ec2.EBSBlockDevice(
                            VolumeSize=pool.disk_gib,
                            VolumeType="gp3",
                            Encrypted=True,
                            DeleteOnTermination=True,
                        ),
                    )
                ],
                # IMDSv2 only, hop limit 1: a pod's packets take one more hop, so no notebook
                # can fetch the node role's credentials. Pods get AWS access through Pod
                # Identity, which does not use instance metadata.
                MetadataOptions=ec2.MetadataOptions(
                    HttpEndpoint="enabled", HttpTokens="required", HttpPutResponseHopLimit=1
                ),
                TagSpecifications=[
                    ec2.TagSpecifications(ResourceType=kind, Tags=instance_tags)
                    for kind in ("instance", "volume", "network-interface")
                ],
            ),
            TagSpecifications=[
                ec2.TagSpecifications(ResourceType="launch-template", Tags=tags(config, name))
            ],
        )
    )
    taints = pool_taints(pool)
    # DesiredSize belongs to the autoscaler once the group exists: sent on every update, it
    # would reset the group to min_size and terminate the nodes users run on. CloudFormation
    # does nothing when the property is removed, and creation needs all three sizes.
    exists = t.add_parameter(
        Parameter(
            exists_parameter(pool),
            Type="String",
            Default="false",
            AllowedValues=["true", "false"],
            Description=f"whether node pool {pool.name} exists already (set by heliohub)",
        )
    )
    new = f"{rid}IsNew"
    t.add_condition(new, Equals(Ref(exists), "false"))
    ng = t.add_resource(
        eks.Nodegroup(
            rid,
            DependsOn=after,
            ClusterName=Ref(cluster),
            NodeRole=node_role,
            Subnets=private_subnets,
            InstanceTypes=list(pool.instance_types),
            AmiType=ami_type(pool),
            CapacityType="SPOT" if pool.capacity == "spot" else "ON_DEMAND",
            ScalingConfig=eks.ScalingConfig(
                MinSize=pool.min_size,
                MaxSize=pool.max_size,
                DesiredSize=If(new, pool.min_size, Ref("AWS::NoValue")),
            ),
            Labels=pool_labels(pool),
            Taints=[
                eks.Taint(Key=k, Effect=EKS_EFFECTS[e], **({"Value": v} if v else {}))
                for k, v, e in taints
            ],
            LaunchTemplate=eks.LaunchTemplateSpecification(
                Id=Ref(lt), Version=GetAtt(lt, "LatestVersionNumber")
            ),
            UpdateConfig=eks.UpdateConfig(MaxUnavailablePercentage=33),
            Tags=tag_map(config, **pool_asg_tags(config, pool)),
        )
    )
    total = len(tag_map(config, **pool_asg_tags(config, pool)))
    if total > autoscaler.MAX_TAGS:
        raise UserError(
            f"aws.node_pools.{pool.name}: {total} tags needed for its labels and taints; AWS "
            f"allows {autoscaler.MAX_TAGS}. Remove some labels or taints"
        )
    t.add_output(Output(f"{rid}Name", Value=GetAtt(ng, "NodegroupName")))
