"""The upgrade planner: from what is deployed and what the config asks for, the ordered steps.

Pure functions, no AWS calls: the caller passes the deployed versions (read back from the
cluster stack's outputs) and a function giving EKS's default add-on versions for a minor.

EKS upgrades the control plane one minor version at a time, and wants the nodes at the control
plane's minor before the next one. So an upgrade is one round per minor, each round:

1. the control plane to the minor (a stack update that must finish before anything else);
2. the add-ons to EKS's default versions for the minor;
3. the node groups that run no user servers, as a rolling update;
4. the node groups of user servers, last (their servers restart when their node goes);
5. the cluster-autoscaler image of the minor (it must match the control plane).

and after the last round, the charts. A round starts at the control plane's current minor when
the add-ons or nodes lag behind it (an interrupted upgrade, or a deployment made before
heliohub pinned node group versions), so they catch up before the control plane moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from heliohub.config import HubConfig
from heliohub.config.aws import USER_TAINT, NodePool
from heliohub.eks_releases import (
    AUTOSCALER_IMAGE_TAGS,
    SUPPORTED,
    minor_name,
    minor_number,
    minors_between,
)
from heliohub.errors import RefusedError
from heliohub.render.cloudformation.versions import ClusterVersions

StepKind = Literal[
    "control-plane", "addons", "nodegroups", "user-nodegroups", "autoscaler", "charts"
]
# The steps that are a cluster stack update; the others run in the Kubernetes layer.
STACK_STEPS: frozenset[str] = frozenset(
    {"control-plane", "addons", "nodegroups", "user-nodegroups"}
)
USER_PURPOSE = ("hub.jupyter.org/node-purpose", "user")

AddonDefaults = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class UpgradeStep:
    kind: StepKind
    minor: str
    summary: str
    # The cluster stack's versions once this step is done (for every step, so the stack steps
    # can render from it and the later ones know where the cluster stands).
    versions: ClusterVersions
    pools: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Stable across re-planning, so a checkpoint names the steps already done."""
        return f"{self.minor}/{self.kind}"

    @property
    def stack_update(self) -> bool:
        return self.kind in STACK_STEPS


@dataclass(frozen=True)
class UpgradePlan:
    current: str
    target: str
    steps: tuple[UpgradeStep, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def replaces_nodes(self) -> bool:
        return any(s.kind in ("nodegroups", "user-nodegroups") for s in self.steps)


def is_user_pool(pool: NodePool) -> bool:
    """A pool where user servers run: labelled for users or tainted for them."""
    return pool.labels.get(USER_PURPOSE[0]) == USER_PURPOSE[1] or any(
        t.key == USER_TAINT.key for t in pool.taints
    )


def check_target(deployed: str, target: str) -> None:
    """Refuse what EKS or heliohub cannot do, with what to set instead."""
    if target not in SUPPORTED:
        raise RefusedError(
            f"aws.kubernetes_version: {target} is not a version heliohub supports; "
            f"supported: {', '.join(SUPPORTED)}"
        )
    if minor_number(target) < minor_number(deployed):
        raise RefusedError(
            f"aws.kubernetes_version: {target} is older than the running cluster's "
            f"{deployed}; EKS cannot downgrade a cluster. Set it to {deployed} or newer"
        )
    oldest = minor_number(SUPPORTED[0]) - 1
    if minor_number(deployed) < oldest:
        raise RefusedError(
            f"the running cluster is at Kubernetes {deployed}, older than heliohub can upgrade "
            f"from ({minor_name(oldest)}); upgrade it to {minor_name(oldest)} with the EKS "
            "console or CLI first"
        )


def _addons_for(minor: str, defaults: AddonDefaults, deployed: Mapping[str, str]) -> dict[str, str]:
    """EKS's defaults for `minor`; an add-on with no known default keeps what it has."""
    known = dict(defaults(minor))
    return {**{k: v for k, v in deployed.items() if k not in known}, **known}


def plan_upgrade(
    config: HubConfig, deployed: ClusterVersions, addon_defaults: AddonDefaults
) -> UpgradePlan:
    """The steps from `deployed` to the config's versions; none when nothing lags or moves."""
    target = config.aws.kubernetes_version
    current = deployed.control_plane
    check_target(current, target)
    pools = config.aws.node_pools
    state = deployed.replace(
        # A pool the config adds is created at the control plane's minor with the stack.
        nodegroups={p.name: deployed.nodegroups.get(p.name, current) for p in pools}
    )
    lagging = any(minor_number(v) < minor_number(current) for v in state.nodegroups.values())
    addons_behind = bool(deployed.addons) and _addons_for(
        current, addon_defaults, deployed.addons
    ) != dict(deployed.addons)
    rounds = minors_between(current, target)
    if (lagging or addons_behind) and current in SUPPORTED:
        rounds.insert(0, current)
    steps: list[UpgradeStep] = []
    for minor in rounds:
        if minor_number(state.control_plane) < minor_number(minor):
            state = state.replace(control_plane=minor)
            steps.append(
                UpgradeStep(
                    "control-plane",
                    minor,
                    f"control plane {minor_name(minor_number(minor) - 1)} -> {minor}",
                    state,
                )
            )
        addons = _addons_for(minor, addon_defaults, state.addons)
        if addons != dict(state.addons):
            moved = sorted(k for k in addons if state.addons.get(k) != addons[k])
            state = state.replace(addons=addons)
            steps.append(
                UpgradeStep(
                    "addons",
                    minor,
                    f"add-ons to the EKS defaults for {minor}: "
                    + ", ".join(f"{k} {addons[k]}" for k in moved),
                    state,
                )
            )
        for kind, group in (
            ("nodegroups", [p for p in pools if not is_user_pool(p)]),
            ("user-nodegroups", [p for p in pools if is_user_pool(p)]),
        ):
            behind = [p.name for p in group if state.nodegroups[p.name] != minor]
            if not behind:
                continue
            state = state.replace(nodegroups={**state.nodegroups, **dict.fromkeys(behind, minor)})
            percent = config.aws.node_update_max_unavailable_percent
            what = "user node groups" if kind == "user-nodegroups" else "node groups"
            steps.append(
                UpgradeStep(
                    kind,  # type: ignore[arg-type]
                    minor,
                    f"{what} {', '.join(behind)} -> {minor}, rolling, at most {percent}% of "
                    "each group's nodes at a time",
                    state,
                    tuple(behind),
                )
            )
        steps.append(
            UpgradeStep(
                "autoscaler",
                minor,
                f"cluster-autoscaler image {AUTOSCALER_IMAGE_TAGS[minor]}",
                state,
            )
        )
    notes: list[str] = []
    if steps:
        steps.append(
            UpgradeStep("charts", target, "the charts, with the values of the config", state)
        )
        if any(s.kind == "user-nodegroups" for s in steps):
            notes.append(
                "replacing the user node groups restarts every running user server on them"
            )
    return UpgradePlan(current=current, target=target, steps=tuple(steps), notes=tuple(notes))
