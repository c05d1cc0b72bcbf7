"""Where pods run on AWS: node selectors and tolerations taken from the configured node pools.

On provider kubernetes the cluster's nodes are not heliohub's, so nothing here applies there.
"""

from __future__ import annotations

from typing import Any

from heliohub.config import HubConfig
from heliohub.config.aws import NodePool
from heliohub.render.helm import aws_names

CORE_PURPOSE = ("hub.jupyter.org/node-purpose", "core")
USER_PURPOSE = ("hub.jupyter.org/node-purpose", "user")


def placed(config: HubConfig) -> bool:
    return config.provider == "aws"


def pool(config: HubConfig, name: str) -> NodePool:
    return next(p for p in config.aws.node_pools if p.name == name)


def core_pool(config: HubConfig) -> NodePool | None:
    """The pool for the hub, proxy and gateway: labelled core, else on-demand and untainted."""
    pools = config.aws.node_pools
    labelled = [p for p in pools if p.labels.get(CORE_PURPOSE[0]) == CORE_PURPOSE[1]]
    if labelled:
        return labelled[0]
    plain = [p for p in pools if p.capacity == "on-demand" and not p.taints]
    return plain[0] if plain else None


def gpu_pools(config: HubConfig) -> list[NodePool]:
    return [p for p in config.aws.node_pools if p.gpus_per_node > 0]


def node_selector(p: NodePool) -> dict[str, str]:
    """Every label the pool's node group puts on its nodes (so exactly this pool matches)."""
    return dict(sorted(aws_names.pool_labels(p).items()))


def tolerations(p: NodePool) -> list[dict[str, Any]]:
    """One toleration per taint the pool's node group puts on its nodes."""
    return [
        {"key": key, "operator": "Equal", "value": value, "effect": effect}
        for key, value, effect in aws_names.pool_taints(p)
    ]


def core_placement(config: HubConfig) -> dict[str, Any]:
    """nodeSelector and tolerations for core pods; empty off AWS or without a core pool."""
    if not placed(config):
        return {}
    core = core_pool(config)
    if core is None:
        return {}
    out: dict[str, Any] = {"nodeSelector": node_selector(core)}
    if aws_names.pool_taints(core):
        out["tolerations"] = tolerations(core)
    return out


def profiles_on_user_nodes(config: HubConfig) -> bool:
    """Whether every profile's pool is labelled for user servers (z2jh's node purpose)."""
    return all(
        aws_names.pool_labels(pool(config, config.profile_pool(p))).get(USER_PURPOSE[0])
        == USER_PURPOSE[1]
        for p in config.profiles
    )
