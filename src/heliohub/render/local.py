"""The local provider's artifacts: the data the hub and the gateway run with, and their
supervision.

Pure: `local/hub.json` and `local/gateway.json` hold what the config decides, as the hub spec
says it; the hub and the gateway load constant config files (`heliohub.inhub`'s
`jupyterhub_config.py` and `dask_gateway_config.py`, copied next to them, the same text for
every deployment) that apply these values. What depends on this machine or this run (the
absolute data directory, the free ports chosen at start, the virtualenv's executables, the
proxy's path, the deployment id, the isolation mode `auto` resolves to, secrets) comes from
HELIOHUB_* environment variables that `heliohub up` sets on the hub process
(heliohub.inhub.runtime_env). `heliohub render` therefore shows exactly the files that run.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from heliohub.config import HubConfig
from heliohub.config.local import split_bind
from heliohub.hubspec import (
    CHECK_SERVICE,
    CULLER_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_SCOPE,
    GATEWAY_SERVICE,
    LAB_CLUSTER_FACTORY,
    SERVER_MODULE,
    USERS_SERVICE,
    HubSpec,
    hub_spec,
)
from heliohub.inhub import runtime_env as rt
from heliohub.inhub.runtime_env import GATEWAY_ENV, HTTPS_ENV, RUNTIME_ENV, SECRET_ENV
from heliohub.render.local_supervision import supervisord_conf

__all__ = [
    "CHECK_SERVICE",
    "CULLER_SERVICE",
    "GATEWAY_ENV",
    "GATEWAY_PREFIX",
    "GATEWAY_SCOPE",
    "GATEWAY_SERVICE",
    "HTTPS_ENV",
    "RUNTIME_ENV",
    "SECRET_ENV",
    "USERS_SERVICE",
    "lab_modules",
    "render_local",
]

# The constant config files the hub and the gateway load (package data of heliohub.inhub).
HUB_CONFIG = "jupyterhub_config.py"
GATEWAY_CONFIG = "dask_gateway_config.py"


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2) + "\n").encode()


def _static(name: str) -> bytes:
    return resources.files("heliohub.inhub").joinpath(name).read_bytes()


def _proxy(config: HubConfig) -> dict[str, Any]:
    host, port = split_bind(config.local.bind)
    bind_host = f"[{host}]" if ":" in host else host
    https = config.https.mode == "files"
    scheme = "https" if https else "http"
    # The proxy itself is a supervised program (render/local_supervision.py).
    return {"bind_url": f"{scheme}://{bind_host}:{port}/", "https": https}


def _spawner(config: HubConfig, spec: HubSpec) -> dict[str, Any]:
    shared = config.storage.shared
    memory = config.local.server_memory_limit_gib
    user = spec.user_environment
    return {
        "user_prefix": config.local.user_prefix,
        "shared": shared.enabled,
        "shared_name": shared.name,
        # None: a group heliohub manages, of the admins only.
        "writers_group": shared.writable_by_group,
        "managed_writers_group": config.local.user_prefix + "_writers",
        "mem_limit": f"{memory:g}G" if memory else None,
        "default_url": user.default_url,
        "server_token_scopes": list(user.server_token_scopes),
        "gateway_prefix": spec.gateway.prefix,
        "environment": dict(user.env),
    }


# Each service's token, by the environment variable `heliohub up` puts it in.
TOKEN_ENV = {
    GATEWAY_SERVICE: rt.GATEWAY_TOKEN,
    CULLER_SERVICE: rt.CULLER_TOKEN,
    CHECK_SERVICE: rt.CHECK_TOKEN,
    USERS_SERVICE: rt.USERS_TOKEN,
}


def _services(spec: HubSpec) -> dict[str, Any]:
    roles: list[dict[str, Any]] = [
        {"name": "user", "scopes": list(spec.user_role_scopes)},
        *(
            {"name": s.name, "scopes": list(s.scopes), "services": [s.name]}
            for s in spec.services
            if s.scopes
        ),
    ]
    services: list[dict[str, Any]] = [
        {
            "name": spec.gateway.service,
            "url_port_env": rt.GATEWAY_PORT,
            "token_env": TOKEN_ENV[spec.gateway.service],
            "display": False,
            # Dashboards log in with the hub's OAuth; a first-party service needs no consent
            # page.
            "oauth_no_confirm": True,
        }
    ]
    for s in spec.services:
        entry: dict[str, Any] = {"name": s.name, "token_env": TOKEN_ENV[s.name], "display": False}
        if s.admin:
            # JupyterHub lets only admins grant admin rights (`heliohub users`); an admin role
            # in load_roles would instead pin the admins to admin_users.
            entry["admin"] = True
        services.append(entry)
    return {"roles": roles, "services": services}


def _hub_settings(config: HubConfig, spec: HubSpec) -> dict[str, Any]:
    traits, from_env = spec.login.split()
    return {
        "deployment": config.name,
        "hub": {"concurrent_spawn_limit": config.local.concurrent_spawn_limit},
        "proxy": _proxy(config),
        "login": {"traits": traits, "traits_from_env": from_env},
        "spawner": _spawner(config, spec),
        "services": _services(spec),
        # Dropped from the hub's environment once read: the proxy inherits it.
        "secret_env": [*SECRET_ENV, *spec.login.secrets],
    }


def _gateway_settings(config: HubConfig, spec: HubSpec) -> dict[str, Any]:
    gateway = spec.gateway
    shared = config.storage.shared
    cores, memory = gateway.options.worker_cores, gateway.options.worker_memory_gib
    return {
        "deployment": config.name,
        "prefix": gateway.prefix,
        "user_prefix": config.local.user_prefix,
        "shared": shared.enabled,
        "shared_name": shared.name,
        "max_clusters_per_user": gateway.max_clusters_per_user or 0,
        "max_workers_per_cluster": gateway.max_workers_per_cluster,
        "cluster_idle_timeout_s": gateway.cluster_idle_timeout_s,
        "options": {
            "worker_cores": {"min": cores.min, "max": cores.max, "default": cores.default},
            "worker_memory_gib": {"min": memory.min, "max": memory.max, "default": memory.default},
        },
    }


def lab_modules() -> dict[str, bytes]:
    """The modules users' servers import from heliohub, by file name, each a top-level module:
    the Dask sidebar's cluster class and the server's own start. The user environment (managed,
    or an existing one the operator owns) has no heliohub, and installing heliohub there would
    bring the hub's dependencies along; small files on the servers' PYTHONPATH bring nothing
    else. The same texts as heliohub.inhub.dask_lab, which imports only dask_gateway, and
    heliohub.inhub.singleuser, which imports only JupyterHub."""
    module, _cls = LAB_CLUSTER_FACTORY
    return {
        f"{module}.py": _static("dask_lab.py"),
        f"{SERVER_MODULE}.py": _static("singleuser.py"),
    }


def render_local(config: HubConfig) -> dict[str, bytes]:
    """The files `heliohub up` runs the local DaskHub with, keyed by relative path."""
    spec = hub_spec(config)
    return {
        "local/hub.json": _json(_hub_settings(config, spec)),
        "local/gateway.json": _json(_gateway_settings(config, spec)),
        f"local/{HUB_CONFIG}": _static(HUB_CONFIG),
        f"local/{GATEWAY_CONFIG}": _static(GATEWAY_CONFIG),
        "local/supervisord.conf": supervisord_conf(config),
    }
