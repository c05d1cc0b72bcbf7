"""Scale-from-zero: the autoscaler's node-template tags reach each node group's ASG."""

from __future__ import annotations

import json

from heliohub.config import HubConfig
from heliohub.config.aws import NodePool
from heliohub.providers.aws.asg_tags import tag_node_groups
from heliohub.providers.aws.clients import AWSClients
from heliohub.render.cloudformation import autoscaler, render_aws
from heliohub.render.cloudformation.nodegroups import pool_asg_tags

PREFIX = "k8s.io/cluster-autoscaler/node-template"


def reference() -> HubConfig:
    return HubConfig.model_validate({"name": "helio", "provider": "aws"})


def emulated_node_group(aws: AWSClients, pool: NodePool) -> tuple[str, str]:
    """A managed node group in the emulated EKS, and the ASG EKS would have made for it
    (the emulator names the ASG but does not create it, so the test does)."""
    eks = aws.client("eks")
    if "helio" not in eks.list_clusters()["clusters"]:
        eks.create_cluster(
            name="helio",
            roleArn="arn:aws:iam::123456789012:role/cluster",
            resourcesVpcConfig={"subnetIds": ["subnet-0a1"]},
        )
    group = eks.create_nodegroup(
        clusterName="helio",
        nodegroupName=f"{pool.name}-generated",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-0a1"],
        scalingConfig={"minSize": 0, "maxSize": pool.max_size, "desiredSize": 0},
    )["nodegroup"]
    asg = group["resources"]["autoScalingGroups"][0]["name"]
    aws.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName=f"{asg}-lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    aws.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=asg,
        LaunchConfigurationName=f"{asg}-lc",
        MinSize=0,
        MaxSize=pool.max_size,
        AvailabilityZones=["us-east-1a"],
        Tags=[
            {
                "Key": "eks:nodegroup-name",
                "Value": group["nodegroupName"],
                "ResourceId": asg,
                "ResourceType": "auto-scaling-group",
                "PropagateAtLaunch": True,
            }
        ],
    )
    return group["nodegroupName"], asg


def asg_tags(aws: AWSClients, asg: str) -> dict[str, str]:
    page = aws.client("autoscaling").describe_tags(
        Filters=[{"Name": "auto-scaling-group", "Values": [asg]}]
    )
    return {t["Key"]: t["Value"] for t in page["Tags"]}


def test_gpu_and_burst_asgs_get_the_node_template_tags(aws: AWSClients) -> None:
    """Emulator: after the node groups exist, the GPU and burst pools' ASGs carry the labels,
    taints and nvidia.com/gpu the autoscaler needs at zero nodes; a second run changes nothing,
    and a label removed from the config is removed from the ASG."""
    config = reference()
    pools = {p.name: p for p in config.aws.node_pools if p.name in ("gpu", "burst")}
    names, asgs = {}, {}
    for name, pool in pools.items():
        names[name], asgs[name] = emulated_node_group(aws, pool)
    wanted = {name: pool_asg_tags(config, pool) for name, pool in pools.items()}

    changes = tag_node_groups(aws, "helio", names, wanted)
    assert all(changes[asgs[n]] for n in pools)
    gpu = asg_tags(aws, asgs["gpu"])
    assert gpu[f"{PREFIX}/resources/nvidia.com/gpu"] == "1"
    assert gpu[f"{PREFIX}/taint/nvidia.com/gpu"] == "true:NoSchedule"
    assert gpu[f"{PREFIX}/taint/hub.jupyter.org/dedicated"] == "user:NoSchedule"
    assert gpu[f"{PREFIX}/label/nvidia.com/gpu"] == "true"
    assert gpu[f"{PREFIX}/label/heliohub/node-pool"] == "gpu"
    assert gpu["k8s.io/cluster-autoscaler/helio"] == "owned"
    assert gpu["eks:nodegroup-name"] == names["gpu"]  # EKS's own tags are left alone
    burst = asg_tags(aws, asgs["burst"])
    assert burst[f"{PREFIX}/taint/k8s.dask.org/dedicated"] == "worker:NoSchedule"
    assert not any("nvidia" in k for k in burst)

    assert tag_node_groups(aws, "helio", names, wanted) == {asgs["gpu"]: [], asgs["burst"]: []}

    fewer = dict(wanted["gpu"])
    del fewer[f"{PREFIX}/label/heliohub/node-pool"]
    assert tag_node_groups(aws, "helio", {"gpu": names["gpu"]}, {"gpu": fewer}) == {
        asgs["gpu"]: [f"removed {PREFIX}/label/heliohub/node-pool"]
    }
    assert f"{PREFIX}/label/heliohub/node-pool" not in asg_tags(aws, asgs["gpu"])


def test_node_group_tags_in_the_template_match_what_the_asg_gets() -> None:
    """The template's node group tags (read by the autoscaler via eks:DescribeNodegroup) and the
    ASG tags the engine writes are the same set."""
    config = reference()
    cluster = json.loads(render_aws(config)["aws/cluster.template.json"])["Resources"]
    for pool in config.aws.node_pools:
        group = next(
            r
            for r in cluster.values()
            if r["Type"] == "AWS::EKS::Nodegroup"
            and r["Properties"]["Labels"]["heliohub/node-pool"] == pool.name
        )
        tags = dict(group["Properties"]["Tags"])
        assert tags.pop("heliohub:deployment") == "helio"
        assert tags == pool_asg_tags(config, pool)


def test_autoscaler_image_follows_the_kubernetes_version() -> None:
    assert autoscaler.image_tag("1.34") == "v1.34.5"
    assert autoscaler.CHART_VERSION == "9.59.0"
    assert all(tag.startswith(f"v{minor}.") for minor, tag in autoscaler.IMAGE_TAGS.items())
