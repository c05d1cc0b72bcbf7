"""Every Helm chart heliohub installs, pinned in this one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str
    version: str
    # The application version the chart ships, for status and doctor.
    app_version: str


JUPYTERHUB = Chart(
    name="jupyterhub",
    repo="https://hub.jupyter.org/helm-chart/",
    version="4.4.0",
    app_version="5.5.0",
)
DASK_GATEWAY = Chart(
    name="dask-gateway",
    repo="https://helm.dask.org",
    version="2026.3.0",
    app_version="2026.3.0",
)
# The cluster-autoscaler is pinned with the AWS stacks (render/cloudformation/autoscaler.py),
# which also pin its image per Kubernetes minor; see aws_names.autoscaler_chart().
NVIDIA_DEVICE_PLUGIN = Chart(
    name="nvidia-device-plugin",
    repo="https://nvidia.github.io/k8s-device-plugin",
    version="0.18.2",
    app_version="0.18.2",
)

ALL = (JUPYTERHUB, DASK_GATEWAY, NVIDIA_DEVICE_PLUGIN)
