"""run_upgrade: steps in order, the checkpoint in state/aws.json written after each, and steps
the checkpoint names as done not run again."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from heliohub.config import HubConfig
from heliohub.eks_releases import support_line
from heliohub.providers.aws.recorded import UpgradeProgress
from heliohub.providers.aws.stack_outputs import ClusterOutputs
from heliohub.providers.aws.state import read_outputs
from heliohub.providers.aws.upgrade import (
    Checkpoint,
    EksAddonDefaults,
    deployed_versions,
    run_upgrade,
)
from heliohub.providers.aws.upgrade_plan import UpgradeStep, plan_upgrade
from heliohub.providers.base import SilentReporter
from heliohub.render.cloudformation.versions import (
    ADDONS,
    ClusterVersions,
    fallback_addon_versions,
)

CFG = HubConfig.model_validate(
    {"name": "run", "provider": "aws", "aws": {"kubernetes_version": "1.34"}}
)
PLAN = plan_upgrade(
    CFG,
    ClusterVersions("1.32", {p.name: "1.32" for p in CFG.aws.node_pools}, {}),
    lambda minor: {"coredns": f"c-{minor}"},
)


def test_steps_run_in_order_and_each_is_checkpointed(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "us-east-1")
    seen: list[tuple[str, list[str]]] = []

    def act(step: UpgradeStep) -> None:
        progress = checkpoint.load()
        seen.append((step.id, list(progress.done) if progress else []))

    ran = run_upgrade(
        PLAN,
        dict.fromkeys(
            ("control-plane", "addons", "nodegroups", "user-nodegroups", "autoscaler", "charts"),
            act,
        ),
        checkpoint,
        SilentReporter(),
    )
    ids = [s.id for s in PLAN.steps]
    assert ran == ids and [s for s, _ in seen] == ids
    # When a step starts, every step before it is recorded as done.
    assert all(done == ids[:i] for i, (_, done) in enumerate(seen))
    assert checkpoint.load() is None  # cleared at the end
    assert read_outputs(tmp_path) is not None


def test_steps_the_checkpoint_names_are_skipped(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "us-east-1")
    ids = [s.id for s in PLAN.steps]
    checkpoint.save(UpgradeProgress(target="1.34", done=ids[:5]))
    calls: list[str] = []
    reporter = SilentReporter()
    ran = run_upgrade(
        PLAN,
        {
            k: (lambda s: calls.append(s.id))
            for k in (
                "control-plane",
                "addons",
                "nodegroups",
                "user-nodegroups",
                "autoscaler",
                "charts",
            )
        },
        checkpoint,
        reporter,
    )
    assert calls == ran == ids[5:]
    assert sum("done earlier" in line for line in reporter.lines) == 5


def test_a_checkpoint_for_another_target_is_ignored(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "us-east-1")
    checkpoint.save(UpgradeProgress(target="1.33", done=[PLAN.steps[0].id]))
    calls: list[str] = []
    run_upgrade(
        PLAN,
        {
            k: (lambda s: calls.append(s.id))
            for k in (
                "control-plane",
                "addons",
                "nodegroups",
                "user-nodegroups",
                "autoscaler",
                "charts",
            )
        },
        checkpoint,
        SilentReporter(),
    )
    assert calls == [s.id for s in PLAN.steps]


def test_a_failed_step_stops_the_upgrade_and_keeps_the_checkpoint(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "us-east-1")

    def act(step: UpgradeStep) -> None:
        if step.kind == "nodegroups":
            raise RuntimeError("node group update failed")

    with pytest.raises(RuntimeError):
        run_upgrade(
            PLAN,
            dict.fromkeys(
                (
                    "control-plane",
                    "addons",
                    "nodegroups",
                    "user-nodegroups",
                    "autoscaler",
                    "charts",
                ),
                act,
            ),
            checkpoint,
            SilentReporter(),
        )
    progress = checkpoint.load()
    assert progress is not None and progress.done == ["1.33/control-plane", "1.33/addons"]


def test_deployed_versions_from_outputs_and_from_an_older_template() -> None:
    def cluster(**extra: str) -> ClusterOutputs:
        raw = {
            "ClusterName": "x",
            "ClusterEndpoint": "https://x.invalid",
            "ClusterCertificateAuthorityData": "Y2E=",
            **extra,
        }
        return ClusterOutputs.parse("x-cluster", raw, {})

    outputs = cluster(
        KubernetesVersion="1.33", NodeGroupVersions="a=1.32,b=1.33", AddonVersions="none"
    )
    assert deployed_versions(outputs) == ClusterVersions("1.33", {"a": "1.32", "b": "1.33"}, {})
    old = {"Resources": {"C": {"Type": "AWS::EKS::Cluster", "Properties": {"Version": "1.31"}}}}
    assert deployed_versions(cluster(), old) == ClusterVersions("1.31")
    assert deployed_versions(None) is None
    assert deployed_versions(cluster(), {"Resources": {}}) is None


def eks_stub() -> tuple[Any, Stubber]:
    client = boto3.client(
        "eks", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_addon_defaults_are_the_versions_eks_marks_default_for_the_minor() -> None:
    client, stub = eks_stub()
    for name in ADDONS:
        versions = [
            {
                "addonVersion": f"{name}-new",
                "compatibilities": [{"clusterVersion": "1.34", "defaultVersion": False}],
            },
            {
                "addonVersion": f"{name}-default",
                "compatibilities": [
                    {"clusterVersion": "1.33", "defaultVersion": False},
                    {"clusterVersion": "1.34", "defaultVersion": True},
                ],
            },
        ]
        stub.add_response(
            "describe_addon_versions",
            {"addons": [{"addonName": name, "addonVersions": versions}]},
            {"addonName": name, "kubernetesVersion": "1.34"},
        )
    with stub:
        defaults = EksAddonDefaults(client, None)
        assert defaults("1.34") == {name: f"{name}-default" for name in ADDONS}
        assert defaults("1.34") == {name: f"{name}-default" for name in ADDONS}  # cached
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("deployed", "minor", "expected"),
    [
        # Never move an add-on backwards: at the deployed minor keep what runs.
        (ClusterVersions("1.32", {}, {"coredns": "v9"}), "1.32", {"coredns": "v9"}),
        # Elsewhere heliohub's dated table.
        (ClusterVersions("1.31", {}, {"coredns": "v9"}), "1.32", fallback_addon_versions("1.32")),
        (None, "1.36", {}),
    ],
)
def test_without_describe_addon_versions_the_fallback_is_used(
    deployed: ClusterVersions | None, minor: str, expected: dict[str, str]
) -> None:
    client, stub = eks_stub()
    stub.add_client_error("describe_addon_versions", "AccessDeniedException", "no")
    reporter = SilentReporter()
    with stub:
        assert EksAddonDefaults(client, deployed, reporter)(minor) == expected
    (warning,) = reporter.lines
    assert "AccessDeniedException" in warning and "eks:DescribeAddonVersions" in warning


def test_support_line_follows_the_calendar() -> None:
    assert support_line("1.34", "extended", date(2026, 11, 29)) == (
        "Kubernetes 1.34: standard support until 2026-12-02 (EKS release calendar as of 2026-04-24)"
    )
    line = support_line("1.32", "standard", date(2026, 11, 29))
    assert "standard support ended 2026-03-23; extended support until 2027-03-23" in line
    assert "EKS upgrades the control plane on its own" in line
    assert "extended support ended 2026-07-23" in support_line("1.30", "extended", date(2026, 8, 1))
    assert "not in heliohub's EKS release calendar" in support_line(
        "1.36", "standard", date.today()
    )


def test_addon_compatibility_warns_about_versions_eks_does_not_list_for_the_minor() -> None:
    from heliohub.providers.aws.upgrade_preflight import addon_compatibility

    client, stub = eks_stub()
    listed = {"coredns": ["v1.12.1-eksbuild.2", "v1.11.4-eksbuild.2"], "kube-proxy": ["v1.33.0"]}
    for name in ("coredns", "kube-proxy"):
        stub.add_response(
            "describe_addon_versions",
            {
                "addons": [
                    {
                        "addonName": name,
                        "addonVersions": [{"addonVersion": v} for v in listed[name]],
                    }
                ]
            },
            {"addonName": name, "kubernetesVersion": "1.33"},
        )
    with stub:
        found = addon_compatibility(
            client, {"coredns": "v1.11.4-eksbuild.2", "kube-proxy": "v1.32.3-eksbuild.7"}, "1.33"
        )
    assert found.problems == []
    assert found.warnings == [
        "add-on kube-proxy v1.32.3-eksbuild.7 is not listed by EKS for Kubernetes 1.33; the "
        "add-ons step right after the control plane updates it"
    ]
