"""Copy the cluster-autoscaler node-template tags onto each node group's Auto Scaling group.

EKS does not copy node group tags to the ASG it creates; see render/cloudformation/autoscaler.py
for why heliohub writes them itself after the node groups exist.
"""

from __future__ import annotations

from typing import Any

from heliohub.providers.aws.clients import AWSClients
from heliohub.render.cloudformation.autoscaler import TEMPLATE_PREFIX


def asg_names(clients: AWSClients, cluster: str, nodegroup: str) -> list[str]:
    desc = clients.client("eks").describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)
    groups = desc["nodegroup"].get("resources", {}).get("autoScalingGroups", [])
    return [g["name"] for g in groups]


def _current_tags(autoscaling: Any, asg: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    kwargs: dict[str, Any] = {"Filters": [{"Name": "auto-scaling-group", "Values": [asg]}]}
    while True:
        page = autoscaling.describe_tags(**kwargs)
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            return tags
        kwargs["NextToken"] = page["NextToken"]


def sync_asg_tags(clients: AWSClients, asg: str, wanted: dict[str, str]) -> list[str]:
    """Make the ASG carry exactly `wanted` among autoscaler tags; returns what changed."""
    autoscaling = clients.client("autoscaling")
    current = _current_tags(autoscaling, asg)
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    stale = [k for k in current if k.startswith(TEMPLATE_PREFIX) and k not in wanted]

    def tag(key: str, value: str = "") -> dict[str, Any]:
        return {
            "ResourceId": asg,
            "ResourceType": "auto-scaling-group",
            "Key": key,
            "Value": value,
            # Instances get their tags from the launch template; these describe the group.
            "PropagateAtLaunch": False,
        }

    if changed:
        autoscaling.create_or_update_tags(Tags=[tag(k, v) for k, v in sorted(changed.items())])
    if stale:
        autoscaling.delete_tags(Tags=[tag(k) for k in sorted(stale)])
    return [f"set {k}" for k in sorted(changed)] + [f"removed {k}" for k in sorted(stale)]


def tag_node_groups(
    clients: AWSClients,
    cluster: str,
    nodegroups: dict[str, str],
    wanted: dict[str, dict[str, str]],
) -> dict[str, list[str]]:
    """For each pool: its node group's ASGs get `wanted[pool]`. Returns changes per ASG."""
    report: dict[str, list[str]] = {}
    for pool, nodegroup in sorted(nodegroups.items()):
        for asg in asg_names(clients, cluster, nodegroup):
            report[asg] = sync_asg_tags(clients, asg, wanted[pool])
    return report
