"""The cluster-autoscaler: pinned versions, its IAM permissions, and scale-from-zero tags.

How a pool that sits at zero nodes gets scaled up (verified, see below):

The autoscaler must know, before any node exists, which labels, taints and extended resources
(`nvidia.com/gpu`) a new node of a pool would have; otherwise a pending GPU pod stays pending
with "Insufficient nvidia.com/gpu" and a pod that tolerates the user taint never triggers the
user pool. It builds that template node from the Auto Scaling group (ASG), and tags put on an
EKS managed node group are not copied to its ASG (aws/containers-roadmap#724). heliohub
therefore does both of the following:

1. It grants the autoscaler role `eks:DescribeNodegroup`. Read in the kubernetes/autoscaler
   sources at tag cluster-autoscaler-1.34.5 (the image pinned below for Kubernetes 1.34; the
   same code is in every pinned tag, 1.30.7 through 1.36.1): `buildNodeFromTemplate` in
   `cloudprovider/aws/aws_manager.go` recognises a managed node group by the `eks:cluster-name`
   and `eks:nodegroup-name` tags EKS puts on its ASG, then calls DescribeNodegroup
   (`getManagedNodegroupInfo` in `aws_wrapper.go`, cached 6 minutes in
   `managed_nodegroup_cache.go`), merges the node group's labels and taints into the template
   node, and reads `k8s.io/cluster-autoscaler/node-template/resources/*` from the node group's
   own tags. GPU capacity also comes from its static instance table (`ec2_instance_types.go`:
   g4dn.xlarge and g4dn.2xlarge have GPU: 1).
   Limits found in that code and its README: a taint without a value is skipped
   (`taint.Value != nil`), and the call only happens while the group has never had a node since
   the autoscaler started (afterwards it reuses a real node as the template).
2. After the node groups exist, the deploy engine copies the same node-template tags onto each
   node group's ASG (`autoscaling:CreateOrUpdateTags`, ASG name from `eks:DescribeNodegroup`),
   with PropagateAtLaunch false. `extractLabelsFromAsg` / `extractTaintsFromAsg` /
   `extractAllocatableResourcesFromAsg` read these for any ASG, so this also covers valueless
   taints and clusters whose pods cannot reach the EKS API.

So the node group's own tags (in the template) and the ASG tags (written by the engine) carry
the same `node_template_tags(pool)`.
"""

from __future__ import annotations

from awacs import autoscaling, ec2, eks
from awacs.aws import Allow, Condition, PolicyDocument, Statement, StringEquals
from troposphere import Sub

from heliohub.config.aws import NodePool
from heliohub.errors import UserError
from heliohub.render import eks as eks_facts

# The pins and names the Helm release shares (render/eks.py).
CHART_REPOSITORY = eks_facts.AUTOSCALER_CHART_REPOSITORY
CHART_NAME = eks_facts.AUTOSCALER_CHART_NAME
CHART_VERSION = eks_facts.AUTOSCALER_CHART_VERSION
IMAGE_REPOSITORY = eks_facts.AUTOSCALER_IMAGE_REPOSITORY
IMAGE_TAGS = eks_facts.AUTOSCALER_IMAGE_TAGS_BY_MINOR
NAMESPACE = eks_facts.AUTOSCALER_NAMESPACE
SERVICE_ACCOUNT = eks_facts.AUTOSCALER_SERVICE_ACCOUNT
image_tag = eks_facts.autoscaler_image_tag

TEMPLATE_PREFIX = "k8s.io/cluster-autoscaler/node-template"
GPU_RESOURCE = "nvidia.com/gpu"
# AWS limits on tags of node groups and Auto Scaling groups.
MAX_TAG_KEY = 128
MAX_TAGS = 50


def discovery_tags(cluster: str) -> dict[str, str]:
    """The tags autoscaler auto-discovery looks for (EKS also sets them on managed ASGs)."""
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster}": "owned",
    }


def node_template_tags(
    pool: NodePool, labels: dict[str, str], taints: list[tuple[str, str, str]]
) -> dict[str, str]:
    """Labels, taints (key, value, effect) and GPUs of a pool's future nodes, as autoscaler tags."""
    result = {f"{TEMPLATE_PREFIX}/label/{k}": v for k, v in labels.items()}
    for key, value, effect in taints:
        result[f"{TEMPLATE_PREFIX}/taint/{key}"] = f"{value}:{effect}"
    if pool.gpus_per_node:
        result[f"{TEMPLATE_PREFIX}/resources/{GPU_RESOURCE}"] = str(pool.gpus_per_node)
    too_long = sorted(k for k in result if len(k) > MAX_TAG_KEY)
    if too_long:
        raise UserError(
            f"aws.node_pools.{pool.name}: label or taint keys too long for AWS tags "
            f"(at most {MAX_TAG_KEY} characters with the autoscaler prefix): {', '.join(too_long)}"
        )
    return dict(sorted(result.items()))


def policy(cluster: str) -> PolicyDocument:
    """Read everything the autoscaler needs; change only the groups of this cluster."""
    owned = Condition(
        StringEquals({f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"})
    )
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="Describe",
                Effect=Allow,
                Action=[
                    autoscaling.DescribeAutoScalingGroups,
                    autoscaling.DescribeAutoScalingInstances,
                    autoscaling.DescribeLaunchConfigurations,
                    autoscaling.DescribeScalingActivities,
                    autoscaling.DescribeTags,
                    ec2.DescribeImages,
                    ec2.DescribeInstanceTypes,
                    ec2.DescribeLaunchTemplateVersions,
                    ec2.GetInstanceTypesFromInstanceRequirements,
                ],
                Resource=["*"],
            ),
            Statement(
                Sid="ManagedNodegroupTemplates",
                Effect=Allow,
                Action=[eks.DescribeNodegroup],
                Resource=[
                    Sub(
                        "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:"
                        f"nodegroup/{cluster}/*/*"
                    )
                ],
            ),
            Statement(
                Sid="ScaleOwnGroups",
                Effect=Allow,
                Action=[
                    autoscaling.SetDesiredCapacity,
                    autoscaling.TerminateInstanceInAutoScalingGroup,
                ],
                Resource=["*"],
                Condition=owned,
            ),
        ],
    )
