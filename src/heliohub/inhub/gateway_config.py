"""The local Dask Gateway's settings, applied inside the gateway from its rendered data file.

`heliohub render` writes `local/gateway.json` (render/local.py: what the config decides) next
to a constant `dask_gateway_config.py` that calls `configure`. Paths, ports, the isolation and
the deployment id come from the environment heliohub's launcher gives the gateway
(runtime_env.GATEWAY_ENV).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from heliohub.inhub import runtime_env as rt
from heliohub.inhub.hub_config import load
from heliohub.inhub.layout import Layout

BACKENDS = "heliohub.inhub.gateway"


def configure(c: Any, path: str, env: Mapping[str, str]) -> None:
    """Every setting of the local gateway, from the data file at path and the environment."""
    # Imported here, not at the top: the hub's config module shares this package and needs
    # none of dask-gateway-server.
    from heliohub.inhub.gateway import cluster_options

    settings = load(path)
    lay = Layout(Path(env[rt.DATA_DIR]))
    user_bin_dir = env[rt.USER_BIN_DIR]
    homes_dir = str(lay.homes_dir)
    # An external hub service: JUPYTERHUB_API_TOKEN, _URL and _SERVICE_NAME come from
    # heliohub's launcher, and the service name turns on the check of the gateway's scope
    # (hubspec.names.GATEWAY_SCOPE) on every token.
    c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
    # Private API on loopback; a fixed port, as running clusters send their heartbeats to it.
    c.DaskGateway.address = "127.0.0.1:" + env[rt.GATEWAY_API_PORT]
    # Clusters are kept in a database on disk, its secrets encrypted with
    # DASK_GATEWAY_ENCRYPT_KEYS (<data_dir>/secrets): a restarted gateway finds its running
    # clusters again.
    c.DBBackendBase.db_url = f"sqlite:///{lay.gateway_db}"
    c.DBBackendBase.stop_clusters_on_shutdown = False
    # The gateway's proxy: HTTP API and dashboards under the hub's service prefix, and the
    # scheduler traffic (TLS, routed by SNI) on the same loopback port.
    c.Proxy.address = "127.0.0.1:" + env[rt.GATEWAY_PORT]
    c.Proxy.prefix = settings["prefix"]

    shared_dir = str(lay.shared_dir) if settings["shared"] else ""
    if env[rt.ISOLATION] == "system-users":
        # Each cluster runs as its owner's OS user (needs root).
        c.DaskGateway.backend_class = BACKENDS + ".SystemUserBackend"
        c.SystemUserBackend.user_prefix = settings["user_prefix"]
        c.SystemUserBackend.homes_dir = homes_dir
        c.SystemUserBackend.users_file = str(lay.users_file)
        c.SystemUserBackend.shared_dir = shared_dir
        c.SystemUserBackend.shared_name = settings["shared_name"]
    else:
        c.DaskGateway.backend_class = BACKENDS + ".SameUserBackend"
        c.SameUserBackend.homes_dir = homes_dir
    c.LocalBackend.clusters_directory = str(lay.clusters_dir)
    c.LocalBackend.sigint_timeout = 5
    c.LocalBackend.sigterm_timeout = 5
    # Both backends derive from LocalBackend; 0: no limit.
    c.LocalBackend.max_clusters_per_user = settings["max_clusters_per_user"]
    # Schedulers and workers run from the user environment, like the user's notebook.
    dask = os.path.join(user_bin_dir, "dask")
    c.LocalClusterConfig.scheduler_cmd = [dask, "scheduler"]
    # Schedulers listen on loopback already (the backend's default host); workers and their
    # nannies would listen on every interface without --host.
    c.LocalClusterConfig.worker_cmd = [dask, "worker", "--host", "127.0.0.1"]
    c.LocalClusterConfig.environment = {
        rt.DEPLOYMENT_ID: env[rt.DEPLOYMENT_ID],
        "PATH": user_bin_dir + os.pathsep + env.get("PATH", os.defpath),
    }
    # Not the gateway's PATH, PYTHONPATH or VIRTUAL_ENV: those are heliohub's environment.
    c.LocalBackend.inherited_environment = ["LANG", "LC_ALL"]
    c.LocalClusterConfig.idle_timeout = float(settings["cluster_idle_timeout_s"])  # 0: never
    c.LocalClusterConfig.cluster_max_workers = settings["max_workers_per_cluster"]
    # What users may ask for; anything outside is refused with the allowed range.
    options = settings["options"]
    c.Backend.cluster_options = cluster_options(
        worker_cores=_bounds(options["worker_cores"]),
        worker_memory_gib=_bounds(options["worker_memory_gib"]),
    )


def _bounds(value: dict[str, Any]) -> Any:
    return (value["min"], value["max"], value["default"])
