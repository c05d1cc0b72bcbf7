"""Before an upgrade moves the control plane: EKS upgrade insights, add-on compatibility, and
the user servers that replacing the nodes would restart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from heliohub.errors import RefusedError


@dataclass
class Findings:
    """Problems refuse the upgrade; warnings are shown and the upgrade goes on."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code')}: {err.get('Message')}"
    return str(exc)


def upgrade_insights(eks: Any, cluster: str, minor: str) -> Findings:
    """EKS's upgrade readiness checks for `minor` (deprecated APIs in use, kubelet skew, ...).

    An insight in ERROR is a problem; WARNING and UNKNOWN are warnings.
    """
    found = Findings()
    try:
        pages = eks.get_paginator("list_insights").paginate(
            clusterName=cluster,
            filter={
                "categories": ["UPGRADE_READINESS"],
                "kubernetesVersions": [minor],
                "statuses": ["ERROR", "WARNING", "UNKNOWN"],
            },
        )
        insights = [i for page in pages for i in page.get("insights", [])]
    except (ClientError, BotoCoreError) as exc:
        found.warnings.append(
            f"could not read the EKS upgrade insights for {minor} ({_why(exc)}); check them in "
            "the EKS console (Upgrade insights) before going on"
        )
        return found
    for insight in sorted(insights, key=lambda i: i.get("name", "")):
        status = insight.get("insightStatus", {})
        line = f"EKS upgrade insight for {minor}: {insight.get('name')}: " + (
            status.get("reason") or insight.get("description") or status.get("status", "")
        )
        if status.get("status") == "ERROR":
            found.problems.append(line)
        else:
            found.warnings.append(line)
    return found


def addon_compatibility(eks: Any, addons: dict[str, str], minor: str) -> Findings:
    """Deployed add-on versions EKS does not list for `minor`: they run on the new control plane
    only until the add-ons step right after it moves them."""
    found = Findings()
    for name, version in sorted(addons.items()):
        try:
            pages = eks.get_paginator("describe_addon_versions").paginate(
                addonName=name, kubernetesVersion=minor
            )
            listed = {
                v.get("addonVersion")
                for page in pages
                for addon in page.get("addons", [])
                for v in addon.get("addonVersions", [])
            }
        except (ClientError, BotoCoreError) as exc:
            found.warnings.append(
                f"add-on {name}: compatibility with {minor} unknown ({_why(exc)})"
            )
            continue
        if version not in listed:
            found.warnings.append(
                f"add-on {name} {version} is not listed by EKS for Kubernetes {minor}; the "
                "add-ons step right after the control plane updates it"
            )
    return found


def check_users(
    count: Callable[[], int],
    replaces_nodes: bool,
    during_maintenance: bool,
    confirm: Callable[[str], bool] | None,
) -> Findings:
    """Running user servers restart when their node is replaced: that needs a maintenance window
    (`--during-maintenance`) or an explicit yes."""
    found = Findings()
    if not replaces_nodes:
        return found
    try:
        running = count()
    except Exception as exc:  # an unreachable cluster must not hide the question
        found.warnings.append(f"could not count running user servers ({exc})")
        running = -1
    if running == 0:
        return found
    what = "an unknown number of" if running < 0 else str(running)
    message = (
        f"{what} user server(s) are running; replacing the node groups restarts them (users "
        "lose unsaved work and kernel state)"
    )
    if during_maintenance:
        found.warnings.append(message + "; going on: --during-maintenance")
    elif confirm is not None and confirm(message + ". Go on?"):
        found.warnings.append(message + "; confirmed")
    else:
        found.problems.append(
            message + ". Tell users, then run `heliohub up --during-maintenance` (or confirm "
            "when asked)"
        )
    return found


def enforce(findings: list[Findings], warn: Callable[[str], None]) -> None:
    """Show the warnings; refuse when there is a problem."""
    for f in findings:
        for line in f.warnings:
            warn(line)
    problems = [p for f in findings for p in f.problems]
    if problems:
        raise RefusedError(
            "the upgrade did not start:\n  " + "\n  ".join(problems) + "\nNothing was changed."
        )
