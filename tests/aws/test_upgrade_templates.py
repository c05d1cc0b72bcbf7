"""The cluster template of every upgrade step: cfn-lint clean, and the versions it pins."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint
from pydantic import ValidationError

from heliohub.config import HubConfig
from heliohub.providers.aws.upgrade_plan import plan_upgrade
from heliohub.render.cloudformation import template_body
from heliohub.render.cloudformation.cluster import cluster_template
from heliohub.render.cloudformation.nodegroups import pool_id
from heliohub.render.cloudformation.versions import (
    ADDONS,
    ClusterVersions,
    config_versions,
    decode,
    fallback_addon_versions,
)


def config(version: str, **aws: Any) -> HubConfig:
    data: dict[str, Any] = {"name": "up", "provider": "aws"}
    if "node_pools" in aws:
        first = aws["node_pools"][0]["name"]
        data["dask"] = {"worker_node_pool": first, "gpu_worker_node_pool": None}
    return HubConfig.model_validate({**data, "aws": {"kubernetes_version": version, **aws}})


def defaults(minor: str) -> dict[str, str]:
    return {name: f"v{minor}.0-eksbuild.{i + 1}" for i, name in enumerate(ADDONS)}


def rendered(cfg: HubConfig, versions: ClusterVersions) -> dict[str, Any]:
    return json.loads(template_body(cluster_template(cfg, versions)))


def of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        rid: res["Properties"] for rid, res in template["Resources"].items() if res["Type"] == kind
    }


CFG = config(
    "1.34",
    support_policy="extended",
    node_update_max_unavailable_percent=25,
    node_pools=[
        {"name": "core", "instance_types": ["t3a.medium"], "min_size": 1, "max_size": 2},
        {
            "name": "user",
            "instance_types": ["m5.xlarge"],
            "max_size": 5,
            "taints": [{"key": "hub.jupyter.org/dedicated", "value": "user"}],
            "release_version": "1.34.2-20251120",
        },
    ],
)
START = config_versions(CFG, defaults("1.32")).replace(
    control_plane="1.32", nodegroups={"core": "1.32", "user": "1.32"}
)
PLAN = plan_upgrade(CFG, START, defaults)
STACK_STEPS = [s for s in PLAN.steps if s.stack_update]


@pytest.mark.parametrize("step", STACK_STEPS, ids=[s.id for s in STACK_STEPS])
def test_each_steps_template_passes_cfn_lint(step: Any) -> None:
    body = template_body(cluster_template(CFG, step.versions))
    matches = lint(body, config=ManualArgs(regions=[CFG.aws.region]))
    assert [str(m) for m in matches if m.rule.severity == "error"] == []


@pytest.mark.parametrize("step", STACK_STEPS, ids=[s.id for s in STACK_STEPS])
def test_each_step_pins_its_versions(step: Any) -> None:
    t = rendered(CFG, step.versions)
    (cluster,) = of_type(t, "AWS::EKS::Cluster").values()
    assert cluster["Version"] == step.versions.control_plane
    assert cluster["UpgradePolicy"] == {"SupportType": "EXTENDED"}
    groups = of_type(t, "AWS::EKS::Nodegroup")
    for pool in CFG.aws.node_pools:
        group = groups[pool_id(pool)]
        minor = step.versions.nodegroups[pool.name]
        assert group["Version"] == minor
        assert group["UpdateConfig"] == {"MaxUnavailablePercentage": 25}
        # The pinned AMI release belongs to 1.34 only; on the way there EKS picks the newest.
        if pool.release_version and minor == "1.34":
            assert group["ReleaseVersion"] == "1.34.2-20251120"
        else:
            assert "ReleaseVersion" not in group
    addons = {p["AddonName"]: p.get("AddonVersion") for p in of_type(t, "AWS::EKS::Addon").values()}
    assert addons == dict(step.versions.addons)
    outputs = {k: v["Value"] for k, v in t["Outputs"].items()}
    assert outputs["KubernetesVersion"] == step.versions.control_plane
    assert decode(outputs["NodeGroupVersions"]) == dict(step.versions.nodegroups)
    assert decode(outputs["AddonVersions"]) == dict(step.versions.addons)


def test_one_thing_moves_per_step() -> None:
    """Between two consecutive stack steps only that step's part of the template changes."""
    previous = rendered(CFG, START)
    for step in STACK_STEPS:
        now = rendered(CFG, step.versions)
        changed = {
            rid
            for rid in now["Resources"]
            if now["Resources"][rid] != previous["Resources"].get(rid)
        }
        kinds = {now["Resources"][rid]["Type"] for rid in changed}
        expected = {
            "control-plane": {"AWS::EKS::Cluster"},
            "addons": {"AWS::EKS::Addon"},
            "nodegroups": {"AWS::EKS::Nodegroup"},
            "user-nodegroups": {"AWS::EKS::Nodegroup"},
        }[step.kind]
        assert kinds == expected, step.id
        if step.kind in ("nodegroups", "user-nodegroups"):
            assert changed == {pool_id(p) for p in CFG.aws.node_pools if p.name in step.pools}
        previous = now


def test_the_default_render_pins_the_config_version_and_the_fallback_addons() -> None:
    cfg = config("1.32")
    t = rendered(cfg, config_versions(cfg))
    addons = of_type(t, "AWS::EKS::Addon").values()
    versions = {p["AddonName"]: p.get("AddonVersion") for p in addons}
    pinned = {k: v for k, v in versions.items() if v is not None}
    assert pinned == fallback_addon_versions("1.32") != {}
    assert {g["Version"] for g in of_type(t, "AWS::EKS::Nodegroup").values()} == {"1.32"}
    (cluster,) = of_type(t, "AWS::EKS::Cluster").values()
    assert cluster["UpgradePolicy"] == {"SupportType": "STANDARD"}


def test_a_release_version_for_another_minor_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"release_version 1\.33\.1-20250101 is for another"):
        config(
            "1.34",
            node_pools=[
                {
                    "name": "a",
                    "instance_types": ["m5.large"],
                    "max_size": 1,
                    "release_version": "1.33.1-20250101",
                }
            ],
        )
