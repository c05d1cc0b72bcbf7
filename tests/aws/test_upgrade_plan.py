"""The upgrade planner, as pure functions: every pair of supported versions, refused jumps, and
the order of the steps."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from heliohub.config import HubConfig
from heliohub.eks_releases import AUTOSCALER_IMAGE_TAGS, SUPPORTED, minor_number
from heliohub.errors import RefusedError
from heliohub.providers.aws.upgrade_plan import UpgradePlan, is_user_pool, plan_upgrade
from heliohub.render.cloudformation.versions import ClusterVersions, config_versions

ORDER = ["control-plane", "addons", "nodegroups", "user-nodegroups", "autoscaler"]


def config(version: str, **aws: Any) -> HubConfig:
    data: dict[str, Any] = {"name": "up", "provider": "aws"}
    if "node_pools" in aws:
        first = aws["node_pools"][0]["name"]
        data["dask"] = {"worker_node_pool": first, "gpu_worker_node_pool": None}
    return HubConfig.model_validate({**data, "aws": {"kubernetes_version": version, **aws}})


def defaults(minor: str) -> dict[str, str]:
    """EKS's default add-on versions, one distinct version per minor."""
    return {"vpc-cni": f"v1.20.{minor_number(minor)}-eksbuild.1", "coredns": f"v1.12-{minor}"}


def deployed_at(version: str, cfg: HubConfig) -> ClusterVersions:
    return config_versions(cfg.model_copy(deep=True), defaults(version)).replace(
        control_plane=version,
        nodegroups={p.name: version for p in cfg.aws.node_pools},
    )


def check_plan(plan: UpgradePlan, cfg: HubConfig, start: str, target: str) -> None:
    """The invariants every upgrade plan keeps."""
    steps = list(plan.steps)
    rounds = [m for m in SUPPORTED if minor_number(start) < minor_number(m) <= minor_number(target)]
    if not rounds:
        assert steps == []
        return
    assert steps[-1].kind == "charts"
    assert [s.minor for s in steps if s.kind == "control-plane"] == rounds
    for minor in rounds:
        kinds = [s.kind for s in steps if s.minor == minor and s.kind != "charts"]
        assert kinds == ORDER, minor  # the reference pools have user and other pools
    previous = None
    for step in steps:
        if step.kind == "control-plane":
            # EKS wants the nodes and add-ons at the control plane's minor before it moves.
            before = previous.versions if previous else deployed_at(start, cfg)
            assert minor_number(step.minor) == minor_number(before.control_plane) + 1
            assert set(before.nodegroups.values()) == {before.control_plane}
            assert dict(before.addons) == defaults(before.control_plane)
        if step.kind == "autoscaler":
            assert AUTOSCALER_IMAGE_TAGS[step.minor] in step.summary
            assert step.versions.control_plane == step.minor
            assert set(step.versions.nodegroups.values()) == {step.minor}
        previous = step
    end = steps[-1].versions
    assert end.control_plane == target
    assert set(end.nodegroups.values()) == {target}
    assert dict(end.addons) == defaults(target)
    assert len({s.id for s in steps}) == len(steps)


PAIRS = [(a, b) for a, b in itertools.product(SUPPORTED, SUPPORTED) if a <= b]


@pytest.mark.parametrize(("start", "target"), PAIRS)
def test_every_pair_of_supported_versions(start: str, target: str) -> None:
    cfg = config(target)
    plan = plan_upgrade(cfg, deployed_at(start, cfg), defaults)
    check_plan(plan, cfg, start, target)
    assert plan.current == start and plan.target == target


def test_two_minors_are_two_rounds_in_this_order() -> None:
    cfg = config("1.34")
    plan = plan_upgrade(cfg, deployed_at("1.32", cfg), defaults)
    assert [s.id for s in plan.steps] == [
        "1.33/control-plane",
        "1.33/addons",
        "1.33/nodegroups",
        "1.33/user-nodegroups",
        "1.33/autoscaler",
        "1.34/control-plane",
        "1.34/addons",
        "1.34/nodegroups",
        "1.34/user-nodegroups",
        "1.34/autoscaler",
        "1.34/charts",
    ]
    # The reference pools: user servers run on user and gpu, which go last.
    nodes = {s.kind: s.pools for s in plan.steps if s.minor == "1.33"}
    assert nodes["nodegroups"] == ("services", "burst")
    assert nodes["user-nodegroups"] == ("user", "gpu")
    assert "33%" in plan.steps[2].summary
    assert plan.replaces_nodes
    assert any("restarts every running user server" in n for n in plan.notes)


def test_max_unavailable_is_the_configured_one() -> None:
    cfg = config("1.33", node_update_max_unavailable_percent=10)
    plan = plan_upgrade(cfg, deployed_at("1.32", cfg), defaults)
    assert "at most 10%" in next(s for s in plan.steps if s.kind == "nodegroups").summary


def test_nothing_to_do_when_deployed_matches() -> None:
    cfg = config("1.34")
    assert plan_upgrade(cfg, deployed_at("1.34", cfg), defaults).steps == ()


@pytest.mark.parametrize(("start", "target"), [("1.34", "1.33"), ("1.36", "1.30")])
def test_downgrades_are_refused(start: str, target: str) -> None:
    cfg = config(target)
    with pytest.raises(RefusedError, match=f"older than the running cluster's {start}.*downgrade"):
        plan_upgrade(cfg, deployed_at(start, cfg), defaults)


@pytest.mark.parametrize("target", ["1.29", "1.37", "1.99"])
def test_unsupported_targets_are_refused(target: str) -> None:
    cfg = config(target)
    with pytest.raises(RefusedError, match=f"{target} is not a version heliohub supports"):
        plan_upgrade(cfg, deployed_at("1.30", cfg), defaults)


def test_a_cluster_too_old_to_start_from_is_refused() -> None:
    cfg = config("1.31")
    with pytest.raises(RefusedError, match=r"older than heliohub can upgrade from \(1\.29\)"):
        plan_upgrade(cfg, deployed_at("1.27", cfg), defaults)


def test_lagging_nodes_catch_up_before_the_control_plane_moves() -> None:
    """Node groups left behind (an interrupted upgrade, or made before heliohub pinned them)."""
    cfg = config("1.34")
    deployed = deployed_at("1.33", cfg).replace(
        nodegroups={p.name: "1.32" for p in cfg.aws.node_pools}
    )
    plan = plan_upgrade(cfg, deployed, defaults)
    ids = [s.id for s in plan.steps]
    assert ids[:3] == ["1.33/nodegroups", "1.33/user-nodegroups", "1.33/autoscaler"]
    assert ids[3] == "1.34/control-plane"


def test_interrupted_after_the_control_plane_resumes_with_the_rest_of_its_round() -> None:
    cfg = config("1.34")
    first = plan_upgrade(cfg, deployed_at("1.32", cfg), defaults)
    after_cp = first.steps[0].versions  # what the cluster stack now pins
    again = plan_upgrade(cfg, after_cp, defaults)
    assert [s.id for s in again.steps] == [s.id for s in first.steps[1:]]
    assert [s.versions for s in again.steps] == [s.versions for s in first.steps[1:]]


def test_a_new_pool_is_created_at_the_control_planes_version() -> None:
    cfg = config("1.33")
    deployed = deployed_at("1.32", cfg).replace(nodegroups={"services": "1.32"})
    plan = plan_upgrade(cfg, deployed, defaults)
    assert plan.steps[0].kind == "control-plane"
    assert set(plan.steps[-1].versions.nodegroups.values()) == {"1.33"}


def test_without_known_addon_defaults_the_addons_keep_their_versions() -> None:
    cfg = config("1.33")
    deployed = deployed_at("1.32", cfg)
    plan = plan_upgrade(cfg, deployed, lambda minor: {})
    assert "addons" not in [s.kind for s in plan.steps]
    assert plan.steps[-1].versions.addons == deployed.addons


def test_user_pools_are_the_ones_labelled_or_tainted_for_users() -> None:
    pools = {p.name: is_user_pool(p) for p in config("1.34").aws.node_pools}
    assert pools == {"services": False, "user": True, "gpu": True, "burst": False}


def test_pools_without_user_pools_have_no_user_step() -> None:
    cfg = config(
        "1.33",
        node_pools=[{"name": "all", "instance_types": ["m5.large"], "max_size": 3}],
    )
    plan = plan_upgrade(cfg, deployed_at("1.32", cfg), defaults)
    assert [s.kind for s in plan.steps] == [
        "control-plane",
        "addons",
        "nodegroups",
        "autoscaler",
        "charts",
    ]
