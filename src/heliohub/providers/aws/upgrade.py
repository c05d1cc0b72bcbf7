"""Running an upgrade: what is deployed, EKS's add-on defaults, and the steps with a checkpoint.

The checkpoint lives in the AWS state file (state/aws.json, `upgrade`): after each step its id
is recorded, so `up` after an interruption skips what was done. The stack steps would be
skipped anyway (the deployed versions are read back from the cluster stack, and an unchanged
stack is not updated); the checkpoint covers the steps CloudFormation does not record, such as
the autoscaler's helm release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from heliohub.providers.aws.recorded import AWSOutputs, UpgradeProgress
from heliohub.providers.aws.stack_outputs import ClusterOutputs
from heliohub.providers.aws.state import read_outputs, write_outputs
from heliohub.providers.aws.upgrade_plan import UpgradePlan, UpgradeStep
from heliohub.providers.base import Reporter
from heliohub.render.cloudformation.versions import (
    ADDONS,
    ClusterVersions,
    fallback_addon_versions,
)

StepAction = Callable[[UpgradeStep], None]


def deployed_versions(
    cluster: ClusterOutputs | None, template: Mapping[str, Any] | None = None
) -> ClusterVersions | None:
    """The versions the deployed cluster stack pins; None when there is no cluster stack.

    A stack made before heliohub recorded its versions has only the cluster's Version in its
    template; its node groups were created at that version and count as being there.
    """
    if cluster is None:
        return None
    if cluster.kubernetes_version:
        return ClusterVersions(
            control_plane=cluster.kubernetes_version,
            nodegroups=dict(cluster.nodegroup_versions),
            addons=dict(cluster.addon_versions),
        )
    for resource in (template or {}).get("Resources", {}).values():
        if resource.get("Type") == "AWS::EKS::Cluster":
            version = resource.get("Properties", {}).get("Version")
            if isinstance(version, str):
                return ClusterVersions(control_plane=version)
    return None


class EksAddonDefaults:
    """EKS's default version of each add-on for a minor (DescribeAddonVersions).

    When EKS cannot be asked (no permission, no network): the versions deployed now if the
    minor is the deployed one (never move an add-on backwards), else heliohub's dated table.
    """

    def __init__(
        self, eks: Any, deployed: ClusterVersions | None, reporter: Reporter | None = None
    ) -> None:
        self.eks = eks
        self.deployed = deployed
        self.reporter = reporter
        self._cache: dict[str, dict[str, str]] = {}
        self._warned = False

    def ask(self, minor: str) -> dict[str, str]:
        result: dict[str, str] = {}
        pages = self.eks.get_paginator("describe_addon_versions")
        for name in ADDONS:
            for page in pages.paginate(addonName=name, kubernetesVersion=minor):
                for addon in page.get("addons", []):
                    for version in addon.get("addonVersions", []):
                        if any(
                            c.get("clusterVersion") == minor and c.get("defaultVersion")
                            for c in version.get("compatibilities", [])
                        ):
                            result[addon.get("addonName", name)] = version["addonVersion"]
        return result

    def __call__(self, minor: str) -> dict[str, str]:
        if minor not in self._cache:
            try:
                self._cache[minor] = self.ask(minor)
            except (ClientError, BotoCoreError) as exc:
                self._cache[minor] = self._fallback(minor, exc)
        return dict(self._cache[minor])

    def _fallback(self, minor: str, exc: Exception) -> dict[str, str]:
        deployed = self.deployed
        if deployed is not None and deployed.control_plane == minor and deployed.addons:
            values, source = dict(deployed.addons), "the versions deployed now"
        else:
            values, source = fallback_addon_versions(minor), "heliohub's pinned table"
        if self.reporter is not None and not self._warned:
            self._warned = True
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else ""
            self.reporter.warn(
                f"could not ask EKS for its default add-on versions ({code or exc}); using "
                f"{source} for Kubernetes {minor}. Grant eks:DescribeAddonVersions to follow EKS"
            )
        return values


class Checkpoint:
    """The upgrade's progress in state/aws.json."""

    def __init__(self, state_dir: Path, region: str) -> None:
        self.state_dir = state_dir
        self.region = region

    def load(self) -> UpgradeProgress | None:
        outputs = read_outputs(self.state_dir)
        return outputs.upgrade if outputs else None

    def save(self, progress: UpgradeProgress | None) -> None:
        outputs = read_outputs(self.state_dir) or AWSOutputs(region=self.region)
        write_outputs(self.state_dir, outputs.model_copy(update={"upgrade": progress}))


def run_upgrade(
    plan: UpgradePlan,
    actions: Mapping[str, StepAction],
    checkpoint: Checkpoint,
    reporter: Reporter,
) -> list[str]:
    """Run the plan's steps in order, skipping those the checkpoint names; returns the ids run.

    The checkpoint is written after every step, and cleared after the last.
    """
    progress = checkpoint.load()
    if progress is None or progress.target != plan.target:
        progress = UpgradeProgress(target=plan.target)
    # Recorded before the first step, so `status` knows an upgrade is under way.
    checkpoint.save(progress)
    total = len(plan.steps)
    ran: list[str] = []
    for number, step in enumerate(plan.steps, 1):
        title = f"upgrade step {number}/{total}: {step.summary}"
        if step.id in progress.done:
            reporter.info(f"{title}: done earlier")
            continue
        with reporter.stage(title):
            actions[step.kind](step)
        ran.append(step.id)
        progress = progress.model_copy(update={"done": [*progress.done, step.id]})
        checkpoint.save(progress if number < total else None)
    checkpoint.save(None)
    return ran
