"""The versions a cluster stack pins: control plane, node groups, add-ons.

A cluster stack is rendered from the config and one `ClusterVersions`. Normally these follow
`aws.kubernetes_version`; during an upgrade the planner (providers/aws/upgrade_plan.py) renders
the same stack with the versions of each intermediate step.

Add-on versions: `heliohub plan` and `up` ask EKS for the default version of each add-on for
the minor (DescribeAddonVersions). Only where that cannot be asked (`heliohub render`, which
is offline, or without the permission) the fallback table below is used: versions read from
the Amazon EKS user guide's add-on tables on the date given. An add-on missing there gets no
AddonVersion, and EKS chooses (at creation its default; afterwards it stays where it is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from troposphere import Output, Template, eks

from heliohub.config import HubConfig
from heliohub.render.cloudformation.nodegroups import pool_id

# The EKS-managed add-ons of the cluster stack, in the order the template creates them.
ADDONS: tuple[str, ...] = (
    "vpc-cni",
    "kube-proxy",
    "eks-pod-identity-agent",
    "coredns",
    "aws-efs-csi-driver",
    "aws-ebs-csi-driver",
)

ADDON_FALLBACK_AS_OF = date(2025, 6, 1)
ADDON_FALLBACK: dict[str, dict[str, str]] = {
    "1.30": {"kube-proxy": "v1.30.11-eksbuild.5", "coredns": "v1.11.4-eksbuild.2"},
    "1.31": {"kube-proxy": "v1.31.7-eksbuild.7", "coredns": "v1.11.4-eksbuild.2"},
    "1.32": {"kube-proxy": "v1.32.3-eksbuild.7", "coredns": "v1.11.4-eksbuild.2"},
}


def fallback_addon_versions(minor: str) -> dict[str, str]:
    return dict(ADDON_FALLBACK.get(minor, {}))


@dataclass(frozen=True)
class ClusterVersions:
    """What the cluster stack pins. Pools or add-ons missing from the maps get no version."""

    control_plane: str
    nodegroups: Mapping[str, str] = field(default_factory=dict)  # pool name -> minor
    addons: Mapping[str, str] = field(default_factory=dict)  # add-on name -> version

    def replace(self, **changes: object) -> ClusterVersions:
        values = {
            "control_plane": self.control_plane,
            "nodegroups": dict(self.nodegroups),
            "addons": dict(self.addons),
        }
        values.update(changes)
        return ClusterVersions(**values)  # type: ignore[arg-type]


def config_versions(config: HubConfig, addons: Mapping[str, str] | None = None) -> ClusterVersions:
    """Everything at `aws.kubernetes_version`; add-ons as given, else from the fallback table."""
    minor = config.aws.kubernetes_version
    return ClusterVersions(
        control_plane=minor,
        nodegroups={p.name: minor for p in config.aws.node_pools},
        addons=dict(addons) if addons is not None else fallback_addon_versions(minor),
    )


def release_version(config: HubConfig, pool: str, minor: str) -> str | None:
    """The pinned AMI release of a pool, which applies only at the config's own minor."""
    if minor != config.aws.kubernetes_version:
        return None
    return next((p.release_version for p in config.aws.node_pools if p.name == pool), None)


def encode(values: Mapping[str, str]) -> str:
    """A map as one stack output value: 'a=1,b=2', sorted."""
    return ",".join(f"{k}={v}" for k, v in sorted(values.items()))


def decode(value: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (value or "").split(","):
        key, sep, val = item.partition("=")
        if sep and key:
            out[key] = val
    return out


def pin_versions(t: Template, config: HubConfig, versions: ClusterVersions) -> None:
    """Set the versions on the node groups and add-ons of a rendered cluster template, and
    record them as stack outputs (the upgrade planner reads them back as the deployed state).

    Without AddonVersion EKS picks its default at creation and never moves it afterwards, and
    a node group without Version stays at the minor it was created with: both would stay
    behind an upgraded control plane.
    """
    pools = {pool_id(p): p for p in config.aws.node_pools}
    for rid, res in t.resources.items():
        if isinstance(res, eks.Addon) and res.AddonName in versions.addons:
            res.AddonVersion = versions.addons[res.AddonName]
        elif isinstance(res, eks.Nodegroup) and rid in pools:
            pool = pools[rid]
            minor = versions.nodegroups.get(pool.name)
            if minor is None:
                continue
            res.Version = minor
            pinned = release_version(config, pool.name, minor)
            if pinned:
                res.ReleaseVersion = pinned
            # A rolling update replaces this share of the group's nodes at a time, draining
            # each (respecting PodDisruptionBudgets) before it goes.
            res.UpdateConfig = eks.UpdateConfig(
                MaxUnavailablePercentage=config.aws.node_update_max_unavailable_percent
            )
    t.add_output(Output("KubernetesVersion", Value=versions.control_plane))
    t.add_output(Output("NodeGroupVersions", Value=encode(versions.nodegroups) or "none"))
    t.add_output(Output("AddonVersions", Value=encode(versions.addons) or "none"))
