"""The helm releases, in install order, and their exact command lines."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from heliohub.config import HubConfig
from heliohub.render.helm import aws_names, pools, versions
from heliohub.render.helm.versions import Chart
from heliohub.render.helm.wiring import ADDON_NAMESPACE, GATEWAY_RELEASE, JUPYTERHUB_RELEASE

VALUES_DIR = "kubernetes"
JUPYTERHUB_VALUES = "jupyterhub-values.yaml"
HTTPS_PENDING_VALUES = "jupyterhub-https-pending.yaml"
GATEWAY_VALUES = "dask-gateway-values.yaml"
AUTOSCALER_VALUES = "cluster-autoscaler-values.yaml"
NVIDIA_VALUES = "nvidia-device-plugin-values.yaml"


@dataclass(frozen=True)
class Release:
    name: str
    chart: Chart
    namespace: str
    values: tuple[str, ...]  # file names under the values directory, later ones win
    timeout: str = "10m0s"

    def upgrade_args(self, values_dir: str, extra_values: tuple[str, ...] = ()) -> list[str]:
        """`helm upgrade --install` for this release; no `helm repo add` state needed."""
        args = [
            "upgrade",
            "--install",
            self.name,
            self.chart.name,
            "--repo",
            self.chart.repo,
            "--version",
            self.chart.version,
            "--namespace",
            self.namespace,
        ]
        for name in (*self.values, *extra_values):
            args += ["--values", f"{values_dir}/{name}"]
        args += ["--wait", "--timeout", self.timeout]
        return args

    def uninstall_args(self) -> list[str]:
        return ["uninstall", self.name, "--namespace", self.namespace, "--wait"]


def releases(config: HubConfig) -> list[Release]:
    """Install order: add-ons, then the hub (it generates the gateway's token), then the gateway."""
    ns = config.kubernetes.namespace
    out: list[Release] = []
    if config.provider == "aws":
        out.append(
            Release(
                "cluster-autoscaler",
                aws_names.autoscaler_chart(),
                aws_names.autoscaler_release()["namespace"],
                (AUTOSCALER_VALUES,),
            )
        )
        if pools.gpu_pools(config):
            out.append(
                Release(
                    "nvidia-device-plugin",
                    versions.NVIDIA_DEVICE_PLUGIN,
                    ADDON_NAMESPACE,
                    (NVIDIA_VALUES,),
                )
            )
    out.append(Release(JUPYTERHUB_RELEASE, versions.JUPYTERHUB, ns, (JUPYTERHUB_VALUES,), "15m0s"))
    out.append(Release(GATEWAY_RELEASE, versions.DASK_GATEWAY, ns, (GATEWAY_VALUES,)))
    return out


def commands_text(config: HubConfig, manifest_files: list[str]) -> str:
    """What `up` runs, as a person could type it (values paths relative to the render dir)."""
    rels = releases(config)
    letsencrypt = config.https.mode == "letsencrypt"
    lines = [
        "# heliohub: the helm commands `heliohub up` runs, in order.",
        "# Manifests are applied first through the Kubernetes API (auth Secret with its values):",
    ]
    lines += [f"#   {VALUES_DIR}/manifests/{name}" for name in manifest_files]
    lines.append("")
    for rel in rels:
        extra: tuple[str, ...] = ()
        if rel.name == JUPYTERHUB_RELEASE and letsencrypt:
            lines.append("# Until the domain resolves to the load balancer: HTTPS off (z2jh#1602).")
            extra = (HTTPS_PENDING_VALUES,)
        lines.append(shlex.join(["helm", *rel.upgrade_args(VALUES_DIR, extra)]))
    if config.domain:
        lines.append("")
        lines.append(f"# Then: wait for the proxy-public load balancer, point {config.domain}")
        lines.append("# at it (Route53, when the zone is in the account), wait until it resolves.")
    if letsencrypt:
        hub = next(r for r in rels if r.name == JUPYTERHUB_RELEASE)
        lines.append("# Only then enable Let's Encrypt:")
        lines.append(shlex.join(["helm", *hub.upgrade_args(VALUES_DIR)]))
        lines.append("# If no certificate within the bound: restart the autohttps pod once.")
    lines.append("")
    lines.append("# `heliohub down` (reverse order), then waits until proxy-public is gone:")
    for rel in reversed(rels):
        lines.append(shlex.join(["helm", *rel.uninstall_args()]))
    return "\n".join(lines) + "\n"
