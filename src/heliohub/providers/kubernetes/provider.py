"""provider: kubernetes — a DaskHub on an existing cluster from a kubeconfig context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from heliohub.config import LoadedConfig
from heliohub.errors import UserError
from heliohub.providers.base import (
    CheckReport,
    CheckRunner,
    DownOptions,
    Finding,
    Plan,
    Provider,
    ReleasePlan,
    Reporter,
    Status,
    UpOptions,
)
from heliohub.providers.kubernetes.inspect import components, notes
from heliohub.providers.kubernetes.layer import KubernetesLayer, configured_platform

LOG_SOURCES = (
    {"app": "jupyterhub", "component": "hub"},
    {"app": "jupyterhub", "component": "proxy"},
    {"app.kubernetes.io/name": "dask-gateway", "app.kubernetes.io/component": "gateway"},
    # Users' servers (z2jh labels them so; the pod name carries the user).
    {"app": "jupyterhub", "component": "singleuser-server"},
)


def kube_logs(kube: Any, namespace: str, follow: bool, lines: int) -> Iterator[str]:
    """Hub, proxy, gateway and user pods through the Kubernetes API, `lines` per source."""
    if follow:
        raise UserError("--follow is not supported on Kubernetes yet; run without it")
    for labels in LOG_SOURCES:
        yield from kube.logs(namespace, labels)[-lines:] if lines > 0 else []


class KubernetesProvider(Provider):
    def __init__(
        self, loaded: LoadedConfig, reporter: Reporter, layer: KubernetesLayer | None = None
    ) -> None:
        super().__init__(loaded, reporter)
        self.layer = layer or KubernetesLayer(
            loaded,
            reporter,
            platform=configured_platform(loaded),
            state_dir=loaded.data_dir / "kubernetes",
        )

    def plan(self) -> Plan:
        return Plan(
            releases=[
                ReleasePlan(c.headline(), c.diff + c.manifest_diff)
                for c in self.layer.release_changes()
            ],
            notes=["helm releases compared with what the last `heliohub up` gave them"],
        )

    def up(self, options: UpOptions) -> Status:
        outcome = self.layer.apply()
        status = self.status()
        status.url = outcome.url
        status.notes = outcome.notes + status.notes
        stuck = [c for c in status.components if c.name.startswith("pod ") and c.state != "running"]
        if stuck:
            # helm --wait saw the hub's pods ready; anything Pending now (a user server, a claim
            # no class can provide, a node that never comes) is a deployment users cannot use.
            raise UserError(
                "the charts are installed, but not every pod runs:\n  "
                + "\n  ".join(f"{c.name}: {c.state}, {c.detail}" for c in stuck)
                + ("\n  " + "\n  ".join(status.notes) if status.notes else "")
                + "\nSee `heliohub doctor`; run `heliohub up` again once the cause is fixed"
            )
        return status

    def down(self, options: DownOptions) -> None:
        if options.delete_data and options.confirmed_name != self.config.name:
            raise UserError(f"confirmation did not match '{self.config.name}'; nothing deleted")
        self.layer.destroy(delete_data=options.delete_data)

    def status(self) -> Status:
        ins = self.layer.inspect()
        comps = components(ins)
        bad = [c for c in comps if c.state != "running"]
        releases = [c for c in comps if c.name.startswith("release ")]
        if not releases:
            state = "stopped"
        elif bad:
            state = "partial"
        else:
            state = "running"
        url = None
        if ins.exposed and (self.config.domain or ins.lb_hostname):
            url = self.layer.public_url(ins.lb_hostname)
        return Status(
            name=self.config.name,
            provider=self.config.provider,
            state=state,
            url=url,
            components=comps,
            notes=notes(ins),
        )

    def doctor(self) -> list[Finding]:
        return self.layer.doctor()

    def check(self, run: CheckRunner) -> CheckReport:
        return self.layer.check(run)

    def logs(self, follow: bool, lines: int = 200) -> Iterator[str]:
        return kube_logs(self.layer.kube, self.layer.namespace, follow, lines)
