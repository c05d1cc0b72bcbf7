"""The upgrade engine against the AWS emulator: moto in server mode on loopback (an emulator of
the AWS APIs, not AWS).

moto's CloudFormation cannot create EKS resources, so the cluster stack is a stand-in: one SSM
parameter per version the real template pins (control plane, each node group, each add-on),
with the same version outputs. The provider, planner, deploy engine and checkpoint are the
real ones. moto does not implement DescribeAddonVersions or ListInsights either: those two
answers come from a small wrapper at the client boundary, shaped as the EKS API returns them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_test_stacks as ts
import pytest

from heliohub.config import HubConfig, LoadedConfig
from heliohub.errors import RefusedError
from heliohub.providers.aws import AWSProvider
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.stages import StackStage
from heliohub.providers.aws.state import read_outputs
from heliohub.providers.base import Component, SilentReporter, UpOptions
from heliohub.render.cloudformation.versions import ClusterVersions, encode

ADDON_DEFAULTS = {
    "1.33": {"vpc-cni": "v1.20.1-eksbuild.1", "coredns": "v1.12.1-eksbuild.2"},
    "1.34": {"vpc-cni": "v1.20.4-eksbuild.1", "coredns": "v1.12.3-eksbuild.1"},
}


def stand_in_cluster(versions: ClusterVersions) -> dict[str, Any]:
    resources: dict[str, Any] = {}

    def param(rid: str, name: str, value: str) -> None:
        resources[rid] = {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": f"/{ts.NAME}/{name}", "Type": "String", "Value": value},
        }

    param("ControlPlane", "control-plane", versions.control_plane)
    for pool, minor in versions.nodegroups.items():
        param(f"NodeGroup{pool.capitalize()}", f"nodegroup/{pool}", minor)
    for addon, version in versions.addons.items():
        param(f"Addon{addon.replace('-', '').capitalize()}", f"addon/{addon}", version)
    template = ts.app_template()
    template["Resources"].update(resources)
    template["Outputs"].update(
        {
            "ClusterName": {"Value": f"{ts.NAME}-cluster"},
            "KubernetesVersion": {"Value": versions.control_plane},
            "NodeGroupVersions": {"Value": encode(versions.nodegroups) or "none"},
            "AddonVersions": {"Value": encode(versions.addons) or "none"},
        }
    )
    return template


def stand_in_stages(config: HubConfig, versions: ClusterVersions) -> list[StackStage]:
    return ts.stages(app=stand_in_cluster(versions), app_key="cluster")


class Paginated:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.pages


class EksAnswers:
    """The emulator's EKS client, plus the two EKS answers moto lacks."""

    def __init__(self, inner: Any, insights: list[dict[str, Any]]) -> None:
        self.inner, self.insights = inner, insights

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_paginator(self, name: str) -> Any:
        if name == "list_insights":
            return Paginated([{"insights": self.insights}])
        if name == "describe_addon_versions":
            return AddonVersions()
        return self.inner.get_paginator(name)


class AddonVersions:
    def paginate(self, addonName: str, kubernetesVersion: str) -> list[dict[str, Any]]:
        default = ADDON_DEFAULTS.get(kubernetesVersion, {}).get(addonName)
        if default is None:
            return [{"addons": []}]
        older = {"addonVersion": "v0.0.1-eksbuild.1", "compatibilities": []}
        versions = [
            older,
            {
                "addonVersion": default,
                "compatibilities": [{"clusterVersion": kubernetesVersion, "defaultVersion": True}],
            },
        ]
        return [{"addons": [{"addonName": addonName, "addonVersions": versions}]}]


class Interrupting:
    """A CloudFormation client that raises KeyboardInterrupt (Ctrl-C) at one change set."""

    def __init__(self, inner: Any, log: list[str], interrupt_at: int | None) -> None:
        self.inner, self.log, self.interrupt_at = inner, log, interrupt_at

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name != "execute_change_set":
            return method

        def execute(**kwargs: Any) -> Any:
            if kwargs["StackName"] == f"{ts.NAME}-app":
                self.log.append(kwargs["ChangeSetName"])
                if len(self.log) == self.interrupt_at:
                    raise KeyboardInterrupt
            return method(**kwargs)

        return execute


class Clients(AWSClients):
    def __init__(
        self,
        base: AWSClients,
        insights: list[dict[str, Any]] | None = None,
        interrupt_at: int | None = None,
    ) -> None:
        super().__init__(
            region=base.region,
            endpoint_url=base.endpoint_url,
            access_key_id=base.access_key_id,
            secret_access_key=base.secret_access_key,
        )
        self.insights = insights or []
        self.executed: list[str] = []
        self.interrupt_at = interrupt_at

    def client(self, service: str) -> Any:
        inner = super().client(service)
        if service == "eks":
            return EksAnswers(inner, self.insights)
        if service == "cloudformation":
            return Interrupting(inner, self.executed, self.interrupt_at)
        return inner


class Layer:
    """Stands in for the Kubernetes layer: records each helm action and the config's minor."""

    def __init__(self, log: list[tuple[str, str]], users: int, **kwargs: Any) -> None:
        self.log, self.users, self.kwargs = log, users, kwargs

    def minor(self) -> str:
        return self.kwargs["config"].config.aws.kubernetes_version

    def apply(self) -> None:
        self.log.append(("charts", self.minor()))

    def upgrade_release(self, name: str) -> None:
        self.log.append((name, self.minor()))

    def user_server_count(self) -> int:
        return self.users

    def release_changes(self) -> list[Any]:
        return []  # the release diff has its own tests (tests/kubernetes/test_release_diff.py)

    def status(self) -> list[Component]:
        return []


def loaded(tmp_path: Path, version: str) -> LoadedConfig:
    data = {
        "name": ts.NAME,
        "provider": "aws",
        "local": {"data_dir": str(tmp_path / "data")},
        "dask": {"worker_node_pool": "core", "gpu_worker_node_pool": None},
        "aws": {
            "kubernetes_version": version,
            "node_pools": [
                {"name": "core", "instance_types": ["m5.large"], "min_size": 1, "max_size": 2},
                {
                    "name": "users",
                    "instance_types": ["m5.xlarge"],
                    "max_size": 4,
                    "taints": [{"key": "hub.jupyter.org/dedicated", "value": "user"}],
                },
            ],
        },
    }
    return LoadedConfig(HubConfig.model_validate(data), tmp_path / "heliohub.yaml", tmp_path)


def provider(
    tmp_path: Path,
    clients: Clients,
    version: str,
    log: list[tuple[str, str]],
    reporter: SilentReporter,
    users: int = 0,
) -> AWSProvider:
    return AWSProvider(
        loaded(tmp_path, version),
        reporter,
        clients=clients,
        kubernetes_layer=lambda **kw: Layer(log, users, **kw),
        poll_seconds=0.02,
        stage_factory=stand_in_stages,
    )


def ssm_values(aws: AWSClients) -> dict[str, str]:
    ssm = aws.client("ssm")
    params = ssm.get_parameters_by_path(Path=f"/{ts.NAME}", Recursive=True)["Parameters"]
    return {p["Name"].removeprefix(f"/{ts.NAME}/"): p["Value"] for p in params}


def state(tmp_path: Path) -> Any:
    return read_outputs(tmp_path / "data" / "state")


def steps_started(reporter: SilentReporter) -> list[str]:
    return [
        line.removeprefix("stage: ").split(": ", 1)[1]
        for line in reporter.lines
        if line.startswith("stage: upgrade step")
    ]


@pytest.fixture
def deployed_132(aws: AWSClients, tmp_path: Path) -> None:
    """A deployment at Kubernetes 1.32 (no upgrade: created as the config says)."""
    log: list[tuple[str, str]] = []
    provider(tmp_path, Clients(aws), "1.32", log, SilentReporter()).up(UpOptions())
    assert log == [("charts", "1.32")]
    assert ssm_values(aws)["control-plane"] == "1.32"
    assert state(tmp_path).kubernetes_version == "1.32"


def test_plan_shows_the_upgrade_as_steps(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    plan = provider(tmp_path, Clients(aws), "1.34", [], SilentReporter()).plan()
    assert plan.steps == [
        "control plane 1.32 -> 1.33",
        "add-ons to the EKS defaults for 1.33: coredns v1.12.1-eksbuild.2, "
        "vpc-cni v1.20.1-eksbuild.1",
        "node groups core -> 1.33, rolling, at most 33% of each group's nodes at a time",
        "user node groups users -> 1.33, rolling, at most 33% of each group's nodes at a time",
        "cluster-autoscaler image v1.33.6",
        "control plane 1.33 -> 1.34",
        "add-ons to the EKS defaults for 1.34: coredns v1.12.3-eksbuild.1, "
        "vpc-cni v1.20.4-eksbuild.1",
        "node groups core -> 1.34, rolling, at most 33% of each group's nodes at a time",
        "user node groups users -> 1.34, rolling, at most 33% of each group's nodes at a time",
        "cluster-autoscaler image v1.34.5",
        "the charts, with the values of the config",
    ]
    assert any("1.32 -> 1.34" in n for n in plan.notes)
    assert ssm_values(aws)["control-plane"] == "1.32"  # plan changed nothing


def test_two_minor_upgrade_interrupted_and_resumed(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    log: list[tuple[str, str]] = []
    first = Clients(aws, interrupt_at=4)  # Ctrl-C as the user node groups' update starts
    reporter = SilentReporter()
    with pytest.raises(KeyboardInterrupt):
        provider(tmp_path, first, "1.34", log, reporter).up(UpOptions())
    assert steps_started(reporter) == [
        "control plane 1.32 -> 1.33",
        "add-ons to the EKS defaults for 1.33: coredns v1.12.1-eksbuild.2, "
        "vpc-cni v1.20.1-eksbuild.1",
        "node groups core -> 1.33, rolling, at most 33% of each group's nodes at a time",
        "user node groups users -> 1.33, rolling, at most 33% of each group's nodes at a time",
    ]
    values = ssm_values(aws)
    assert values["control-plane"] == "1.33"
    assert values["nodegroup/core"] == "1.33" and values["nodegroup/users"] == "1.32"
    assert values["addon/coredns"] == "v1.12.1-eksbuild.2"
    checkpoint = state(tmp_path).upgrade
    assert checkpoint.target == "1.34"
    assert checkpoint.done == ["1.33/control-plane", "1.33/addons", "1.33/nodegroups"]
    assert log == []  # the layer was not reached

    second = Clients(aws)
    reporter = SilentReporter()
    provider(tmp_path, second, "1.34", log, reporter).up(UpOptions())
    # It goes on with the user node groups; nothing done before is applied again.
    assert steps_started(reporter) == [
        "user node groups users -> 1.33, rolling, at most 33% of each group's nodes at a time",
        "cluster-autoscaler image v1.33.6",
        "control plane 1.33 -> 1.34",
        "add-ons to the EKS defaults for 1.34: coredns v1.12.3-eksbuild.1, "
        "vpc-cni v1.20.4-eksbuild.1",
        "node groups core -> 1.34, rolling, at most 33% of each group's nodes at a time",
        "user node groups users -> 1.34, rolling, at most 33% of each group's nodes at a time",
        "cluster-autoscaler image v1.34.5",
        "the charts, with the values of the config",
    ]
    # Five stack updates (user nodes 1.33, then the 1.34 round); the charts step found the
    # stack unchanged. The layer ran each helm step once, with the minor of its round.
    assert len(second.executed) == 5
    assert log == [
        ("cluster-autoscaler", "1.33"),
        ("cluster-autoscaler", "1.34"),
        ("charts", "1.34"),
    ]
    values = ssm_values(aws)
    assert values == {
        "control-plane": "1.34",
        "nodegroup/core": "1.34",
        "nodegroup/users": "1.34",
        "addon/coredns": "v1.12.3-eksbuild.1",
        "addon/vpc-cni": "v1.20.4-eksbuild.1",
    }
    final = state(tmp_path)
    assert final.upgrade is None and final.kubernetes_version == "1.34"

    # Once more: nothing to upgrade, nothing applied.
    third = Clients(aws)
    reporter = SilentReporter()
    provider(tmp_path, third, "1.34", log, reporter).up(UpOptions())
    assert steps_started(reporter) == [] and third.executed == []


def test_running_user_servers_need_maintenance_or_confirmation(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    log: list[tuple[str, str]] = []
    clients = Clients(aws)
    p = provider(tmp_path, clients, "1.33", log, SilentReporter(), users=3)
    with pytest.raises(RefusedError, match=r"3 user server.* --during-maintenance"):
        p.up(UpOptions())
    asked: list[str] = []
    with pytest.raises(RefusedError):
        p.up(UpOptions(confirm=lambda q: asked.append(q) is not None))  # answered no
    assert asked and "restarts them" in asked[0]
    assert clients.executed == [] and ssm_values(aws)["control-plane"] == "1.32"

    reporter = SilentReporter()
    p = provider(tmp_path, clients, "1.33", log, reporter, users=3)
    p.up(UpOptions(during_maintenance=True))
    assert ssm_values(aws)["control-plane"] == "1.33"
    assert any("--during-maintenance" in line for line in reporter.lines)


def test_insight_errors_refuse_the_upgrade(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    insights = [
        {
            "name": "Deprecated APIs removed in Kubernetes v1.33",
            "insightStatus": {
                "status": "ERROR",
                "reason": "deprecated API usage detected within the last 30 days",
            },
        },
        {"name": "Kubelet version skew", "insightStatus": {"status": "PASSING", "reason": ""}},
    ]
    clients = Clients(aws, insights=[insights[0]])
    reporter = SilentReporter()
    p = provider(tmp_path, clients, "1.33", [], reporter)
    with pytest.raises(RefusedError, match=r"Deprecated APIs removed in Kubernetes v1\.33"):
        p.up(UpOptions())
    assert clients.executed == []
    p.up(UpOptions(ignore_insights=True))
    assert ssm_values(aws)["control-plane"] == "1.33"
    assert any("ignored: --ignore-insights" in line for line in reporter.lines)


def test_a_downgrade_is_refused_before_anything_changes(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    clients = Clients(aws)
    with pytest.raises(RefusedError, match="cannot downgrade"):
        provider(tmp_path, clients, "1.31", [], SilentReporter()).up(UpOptions())
    assert clients.executed == []


def test_status_shows_the_end_of_support_of_the_running_version(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    status = provider(tmp_path, Clients(aws), "1.33", [], SilentReporter()).status()
    (line,) = [n for n in status.notes if n.startswith("Kubernetes 1.32:")]
    assert "2026-03-23" in line and "EKS release calendar as of 2026-04-24" in line


def test_the_checkpoint_is_in_the_state_file(
    aws: AWSClients, tmp_path: Path, deployed_132: None
) -> None:
    clients = Clients(aws, interrupt_at=1)
    with pytest.raises(KeyboardInterrupt):
        provider(tmp_path, clients, "1.33", [], SilentReporter()).up(UpOptions())
    raw = json.loads((tmp_path / "data" / "state" / "aws.json").read_text())
    assert raw["upgrade"] == {"target": "1.33", "done": []}
    status = provider(tmp_path, Clients(aws), "1.33", [], SilentReporter()).status()
    assert "an upgrade to Kubernetes 1.33 was interrupted after 0 step(s)" in status.notes[-1]
