"""The cluster class of the Dask JupyterLab extension's "+NEW" button on the local hub. Runs
inside a user's Jupyter server only.

The extension shows a cluster's plots by loading its dashboard inside JupyterLab. It takes a
relative dashboard link as relative to the user's server, and it proxies a cluster's
dashboard only from the root of a host and port, so the gateway's public link
(`/services/dask-gateway/clusters/<name>/status`) gave "Dashboard not connected". This class
links to the scheduler's dashboard through the user's own server instead
(`<server prefix>/proxy/<port>/status`, jupyter-server-proxy): the server runs as the
cluster's owner, which the loopback firewall of `system-users` lets through, and nobody but
the owner can use that server. Elsewhere (no server prefix, or no dashboard yet) the
gateway's link is kept.

Only dask_gateway is imported, so the module can run wherever a notebook server does: the
local provider copies this file, as the top-level module `heliohub_dask_lab`
(hubspec.names.LAB_CLUSTER_FACTORY), into a directory on the servers' PYTHONPATH, since the
user environment has no heliohub.
"""

from __future__ import annotations

import os
from typing import Any

from dask_gateway import GatewayCluster


class LabGatewayCluster(GatewayCluster):
    """GatewayCluster whose dashboard link goes through the user's own Jupyter server."""

    _gateway_dashboard_link: str | None = None

    @property  # type: ignore[override]
    def dashboard_link(self) -> str | None:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "")
        services: dict[str, Any] = (getattr(self, "scheduler_info", None) or {}).get("services", {})
        port = services.get("dashboard")
        if prefix and isinstance(port, int) and self._gateway_dashboard_link:
            return f"{prefix.rstrip('/')}/proxy/{port}/status"
        return self._gateway_dashboard_link

    @dashboard_link.setter
    def dashboard_link(self, value: str | None) -> None:
        self._gateway_dashboard_link = value
