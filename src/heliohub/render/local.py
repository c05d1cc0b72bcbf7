"""The local provider's artifacts: the hub's and the gateway's config files.

Pure: what depends on this machine or this run (the absolute data directory, the free ports
chosen at start, the virtualenv's executables, the proxy's path, the deployment id, the
isolation mode `auto` resolves to, secrets) is read by the generated files from HELIOHUB_*
environment variables that `heliohub up` sets on the hub process. `heliohub render` therefore
shows exactly the files that run.
"""

from __future__ import annotations

import json
from typing import Any

from heliohub.config import HubConfig
from heliohub.config.local import split_bind
from heliohub.hubspec import (
    CHECK_SERVICE,
    CULLER_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_SCOPE,
    GATEWAY_SERVICE,
    USERS_SERVICE,
    HubSpec,
    hub_spec,
)
from heliohub.hubspec import local_public_url as public_url
from heliohub.render.auth import EnvValue, auth_settings
from heliohub.render.local_supervision import supervisord_conf

__all__ = [
    "CHECK_SERVICE",
    "CULLER_SERVICE",
    "GATEWAY_PREFIX",
    "GATEWAY_SCOPE",
    "GATEWAY_SERVICE",
    "USERS_SERVICE",
    "public_url",
    "render_local",
]

# What `heliohub up` passes to the hub (and the hub on to its services), by purpose.
RUNTIME_ENV = {
    "HELIOHUB_DATA_DIR": "absolute data directory",
    "HELIOHUB_BIN_DIR": "directory of heliohub's jupyterhub and dask-gateway-server executables",
    "HELIOHUB_USER_BIN_DIR": "the user environment's bin directory: servers and workers run it",
    "HELIOHUB_PROXY_COMMAND": "configurable-http-proxy executable (supervisord.conf runs it)",
    "HELIOHUB_DEPLOYMENT_ID": "marks every process of this deployment",
    "HELIOHUB_ISOLATION": "none or system-users",
    "HELIOHUB_HUB_PORT": "the hub's internal port",
    "HELIOHUB_PROXY_API_PORT": "the proxy's REST API port",
    "HELIOHUB_GATEWAY_PORT": "the gateway's HTTP and scheduler port",
    "HELIOHUB_GATEWAY_API_PORT": "the gateway's private API (its clusters' heartbeats)",
    "HELIOHUB_CHECK_TOKEN": "token of the heliohub-check service",
    "HELIOHUB_GATEWAY_TOKEN": "token of the dask-gateway service",
    "HELIOHUB_CULLER_TOKEN": "token of the idle-culler service",
    "HELIOHUB_GATEWAY_ENCRYPT_KEY": "key of the gateway's encrypted cluster database",
    "HELIOHUB_USERS_TOKEN": "token of the heliohub-users service",
    "HELIOHUB_PROXY_TOKEN": "token of the proxy's REST API",
}
# The ones of RUNTIME_ENV that are secrets.
SECRET_ENV = [
    "HELIOHUB_CHECK_TOKEN",
    "HELIOHUB_USERS_TOKEN",
    "HELIOHUB_GATEWAY_TOKEN",
    "HELIOHUB_CULLER_TOKEN",
    "HELIOHUB_GATEWAY_ENCRYPT_KEY",
    "HELIOHUB_PROXY_TOKEN",
]
HTTPS_ENV = {
    "HELIOHUB_SSL_CERT": "certificate file served by the proxy",
    "HELIOHUB_SSL_KEY": "its key",
}

# What the generated dask_gateway_config.py reads (heliohub.providers.local.launch passes it).
GATEWAY_ENV = [
    "HELIOHUB_DATA_DIR",
    "HELIOHUB_BIN_DIR",
    "HELIOHUB_USER_BIN_DIR",
    "HELIOHUB_ISOLATION",
    "HELIOHUB_DEPLOYMENT_ID",
    "HELIOHUB_GATEWAY_PORT",
    "HELIOHUB_GATEWAY_API_PORT",
]


def _py(value: Any, indent: int = 0) -> str:
    """Python source for a JSON-like value or an EnvValue; dict order is kept (deterministic).

    Collections that would make a long line get one item per line.
    """
    if isinstance(value, EnvValue):
        return f"env[{json.dumps(value.name)}]"
    if isinstance(value, str):
        return json.dumps(value)
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, dict):
        items = [f"{json.dumps(k)}: {_py(v, indent + 4)}" for k, v in value.items()]
        opening, closing = "{", "}"
    elif isinstance(value, list | tuple):
        items = [_py(v, indent + 4) for v in value]
        opening, closing = "[", "]"
    else:
        raise TypeError(f"cannot render {type(value).__name__} into a config file")
    flat = opening + ", ".join(items) + closing
    if len(flat) + indent <= 72 and "\n" not in flat:
        return flat
    pad = " " * (indent + 4)
    return opening + "\n" + "".join(f"{pad}{i},\n" for i in items) + " " * indent + closing


def _lines(*blocks: str) -> bytes:
    return ("\n\n".join(b.strip("\n") for b in blocks) + "\n").encode()


def _header(config: HubConfig, what: str, imports: str = "") -> str:
    return f"""\
# {what} of the heliohub deployment {_py(config.name)}, generated from its config file.
# Do not edit: `heliohub up` writes it again at every start. Values that depend on this
# machine or this run come from HELIOHUB_* environment variables set by `heliohub up`.
import os
{imports}
env = os.environ
c = get_config()  # noqa: F821 (provided by traitlets)
data_dir = env["HELIOHUB_DATA_DIR"]
bin_dir = env["HELIOHUB_BIN_DIR"]
user_bin_dir = env["HELIOHUB_USER_BIN_DIR"]  # the user environment (local.user_environment)
isolation = env["HELIOHUB_ISOLATION"]  # "none" or "system-users" (`auto` is resolved at start)
deployment_id = env["HELIOHUB_DEPLOYMENT_ID"]
gateway_port = env["HELIOHUB_GATEWAY_PORT"]
"""


def _proxy(config: HubConfig) -> str:
    host, port = split_bind(config.local.bind)
    bind_host = f"[{host}]" if ":" in host else host
    https = config.https.mode == "files"
    scheme = "https" if https else "http"
    out = f"""
# The public proxy (configurable-http-proxy) is a supervised program of its own
# (supervisord.conf), not the hub's child: it and every user's route outlive a restart of the
# hub. The hub reaches it on loopback with the token only the two of them get.
c.JupyterHub.bind_url = {_py(f"{scheme}://{bind_host}:{port}/")}
c.ConfigurableHTTPProxy.should_start = False
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env["HELIOHUB_PROXY_API_PORT"]
c.ConfigurableHTTPProxy.auth_token = env["HELIOHUB_PROXY_TOKEN"]
# A restarted proxy starts with no route: the hub checks the routes (and puts back every
# missing one) each time it reads its users' activity from the proxy, every 2 seconds.
c.JupyterHub.last_activity_interval = 2
"""
    if https:
        out += """\
c.JupyterHub.ssl_cert = env["HELIOHUB_SSL_CERT"]
c.JupyterHub.ssl_key = env["HELIOHUB_SSL_KEY"]
# Browsers keep to HTTPS for this host, and send the XSRF cookie over HTTPS only.
c.JupyterHub.tornado_settings = {
    "headers": {"Strict-Transport-Security": "max-age=31536000"},
    "xsrf_cookie_kwargs": {"secure": True},
}
"""
    return out


def _hub(config: HubConfig) -> str:
    return f"""
# The hub: internal API on loopback, state in <data_dir>/state, secrets in <data_dir>/secrets.
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["HELIOHUB_HUB_PORT"])
c.JupyterHub.db_url = "sqlite:///" + os.path.join(data_dir, "state", "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(data_dir, "secrets", "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(data_dir, "state", "jupyterhub.pid")
# Users' servers outlive the hub: a restarted hub finds them again from the pids it keeps in
# its database (the spawner's state); `heliohub down` stops them.
c.JupyterHub.cleanup_servers = False
# The proxy is the supervisor's, not the hub's to stop.
c.JupyterHub.cleanup_proxy = False
c.JupyterHub.concurrent_spawn_limit = {config.local.concurrent_spawn_limit}
c.JupyterHub.shutdown_on_logout = False
"""


def _auth(config: HubConfig) -> str:
    settings = auth_settings(config, public_url(config))
    lines = ["", "# Login."]
    for cls, traits in settings.traitlets.items():
        for trait, value in traits.items():
            lines.append(f"c.{cls}.{trait} = {_py(value)}")
    return "\n".join(lines) + "\n"


def _spawner(config: HubConfig, spec: HubSpec) -> str:
    shared = config.storage.shared
    shared_dir = (
        'os.path.join(data_dir, "shared")' if shared.enabled else '""  # no shared directory'
    )
    memory = config.local.server_memory_limit_gib
    mem_line = (
        f'c.Spawner.mem_limit = "{memory:g}G"  # advertised to the server; not enforced locally\n'
        if memory
        else ""
    )
    hook_args = (
        f"{_py(config.local.user_prefix)}, homes_dir, shared_dir, {_py(shared.name)}, users_file"
    )
    hook = f"c.Authenticator.post_auth_hook = create_os_user_on_login({hook_args})"
    if len(hook) > 96:
        hook = hook.replace("(", "(\n        ", 1)[:-1] + "\n    )"
    writers = shared.writable_by_group
    writers_src = _py(writers) if writers else "managed_writers"
    return f"""
# User servers: JupyterLab with dask-gateway and the Dask extension, from the user environment.
# Homes are <data_dir>/homes/<user>, each with a link `{shared.name}` to the shared directory.
spawners = "heliohub.providers.local.spawner"
homes_dir = os.path.join(data_dir, "homes")
shared_dir = {shared_dir}
# Which OS user heliohub created for which hub user (system-users); root's, 0600.
users_file = os.path.join(data_dir, "state", "os-users.json")
managed_writers = {_py(config.local.user_prefix + "_writers")}
if isolation == "system-users":
    from heliohub.providers.local.spawner import create_os_user_on_login

    # One OS user per hub user, created at first login or spawn; homes are 0700.
    c.JupyterHub.spawner_class = spawners + ".SystemUserSpawner"
    c.SystemUserSpawner.user_prefix = {_py(config.local.user_prefix)}
    c.SystemUserSpawner.users_file = users_file
    c.SystemUserSpawner.writers_group = {writers_src} if shared_dir else ""
    c.SystemUserSpawner.managed_writers_group = managed_writers
    {hook}
else:
    c.JupyterHub.spawner_class = spawners + ".SameUserSpawner"
c.HeliohubSpawner.homes_dir = homes_dir
c.HeliohubSpawner.shared_dir = shared_dir
c.HeliohubSpawner.shared_name = {_py(shared.name)}
c.Spawner.cmd = [os.path.join(user_bin_dir, "jupyterhub-singleuser")]
# jupyter-server refuses root without --allow-root; only isolation none runs servers as root.
c.Spawner.args = ["--allow-root"] if isolation == "none" and os.geteuid() == 0 else []
c.Spawner.default_url = {_py(spec.default_url)}
# Generous: a busy machine may take a minute to import JupyterLab and its extensions.
c.Spawner.http_timeout = 120
c.Spawner.start_timeout = 180
c.LocalProcessSpawner.interrupt_timeout = 5
c.LocalProcessSpawner.term_timeout = 5
{mem_line}# Enough for the gateway and nothing more.
c.Spawner.server_token_scopes = {_py(list(spec.server_token_scopes))}
# `Gateway()` with no arguments finds the gateway; `gateway://` carries scheduler traffic.
c.Spawner.environment = {{
    "DASK_GATEWAY__ADDRESS": "http://127.0.0.1:" + gateway_port + {_py(GATEWAY_PREFIX)},
    "DASK_GATEWAY__PROXY_ADDRESS": "gateway://127.0.0.1:" + gateway_port,
    # Absolute: the Dask JupyterLab extension takes a relative link as relative to the server.
    "DASK_GATEWAY__PUBLIC_ADDRESS": {_py(public_url(config) + GATEWAY_PREFIX + "/")},
    "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
    # "+NEW" in the Dask sidebar: a cluster whose plots come through the user's own server.
    "DASK_LABEXTENSION__FACTORY__MODULE": "heliohub.dask_lab",
    "DASK_LABEXTENSION__FACTORY__CLASS": "LabGatewayCluster",
    "HELIOHUB_DEPLOYMENT_ID": deployment_id,
    # `pip`, `python` and `dask` in a terminal are the user environment's, as in the kernel.
    "PATH": user_bin_dir + os.pathsep + env.get("PATH", os.defpath),
}}
"""


def _services(config: HubConfig, spec: HubSpec) -> str:
    culling = spec.culling
    roles: list[dict[str, Any]] = [
        {"name": "user", "scopes": list(spec.user_role_scopes)},
        *(
            {"name": s.name, "scopes": list(s.scopes), "services": [s.name]}
            for s in spec.services
            if s.scopes
        ),
    ]
    culler = ""
    if culling.enabled:
        culler = f"""
    {{
        "name": {_py(CULLER_SERVICE)},
        "api_token": env["HELIOHUB_CULLER_TOKEN"],
        "display": False,
    }},"""
    role_lines = "\n".join(f"    {_py(role, 4)}," for role in roles)
    return f"""
# Services: the gateway, the idle culler, and the tokens `heliohub check` and `users` use.
# The gateway and the culler run beside the hub, not under it (supervisord.conf), each with
# its own token: they outlive a restart of the hub, and the hub does not wait for them.
c.JupyterHub.load_roles = [
{role_lines}
]
c.JupyterHub.services = [
    {{
        "name": {_py(GATEWAY_SERVICE)},
        "url": "http://127.0.0.1:" + gateway_port,
        "api_token": env["HELIOHUB_GATEWAY_TOKEN"],
        "display": False,
        # Dashboards log in with the hub's OAuth; a first-party service needs no consent page.
        "oauth_no_confirm": True,
    }},{culler}
    {{"name": {_py(CHECK_SERVICE)}, "api_token": env["HELIOHUB_CHECK_TOKEN"], "display": False}},
    # JupyterHub lets only admins grant admin rights, so `heliohub users` needs an admin
    # service (an admin role in load_roles would instead pin the admins to admin_users).
    {{
        "name": {_py(USERS_SERVICE)},
        "api_token": env["HELIOHUB_USERS_TOKEN"],
        "admin": True,
        "display": False,
    }},
]
"""


def _forget_secrets(config: HubConfig) -> str:
    names = [*SECRET_ENV, *auth_settings(config, public_url(config)).secrets]
    return f"""
# Every secret is in the config now: nothing the hub starts inherits one.
for name in {_py(names)}:
    env.pop(name, None)
"""


def _hub_config(config: HubConfig, spec: HubSpec) -> bytes:
    return _lines(
        _header(config, "JupyterHub config"),
        _hub(config),
        _proxy(config),
        _auth(config),
        _spawner(config, spec),
        _services(config, spec),
        _forget_secrets(config),
    )


def _gateway_config(config: HubConfig, spec: HubSpec) -> bytes:
    gateway = spec.gateway
    shared = config.storage.shared
    cores, memory = gateway.options.worker_cores, gateway.options.worker_memory_gib
    shared_dir = 'os.path.join(data_dir, "shared")' if shared.enabled else '""'
    return _lines(
        _header(
            config,
            "Dask Gateway config",
            "\nfrom heliohub.providers.local.gateway import cluster_options\n",
        ),
        f"""
# An external hub service: JUPYTERHUB_API_TOKEN, _URL and _SERVICE_NAME come from heliohub's
# launcher, and the service name turns on the `{GATEWAY_SCOPE}` check.
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
# Private API on loopback; a fixed port, as running clusters send their heartbeats to it.
c.DaskGateway.address = "127.0.0.1:" + env["HELIOHUB_GATEWAY_API_PORT"]
# Clusters are kept in a database on disk, its secrets encrypted with DASK_GATEWAY_ENCRYPT_KEYS
# (<data_dir>/secrets): a restarted gateway finds its running clusters again.
c.DBBackendBase.db_url = "sqlite:///" + os.path.join(data_dir, "state", "dask-gateway.sqlite")
c.DBBackendBase.stop_clusters_on_shutdown = False
# The gateway's proxy: HTTP API and dashboards under the hub's service prefix, and the
# scheduler traffic (TLS, routed by SNI) on the same loopback port.
c.Proxy.address = "127.0.0.1:" + gateway_port
c.Proxy.prefix = {_py(spec.gateway.prefix)}

backends = "heliohub.providers.local.gateway"
if isolation == "system-users":
    # Each cluster runs as its owner's OS user (needs root).
    c.DaskGateway.backend_class = backends + ".SystemUserBackend"
    c.SystemUserBackend.user_prefix = {_py(config.local.user_prefix)}
    c.SystemUserBackend.homes_dir = os.path.join(data_dir, "homes")
    c.SystemUserBackend.users_file = os.path.join(data_dir, "state", "os-users.json")
    c.SystemUserBackend.shared_dir = {shared_dir}
    c.SystemUserBackend.shared_name = {_py(shared.name)}
else:
    c.DaskGateway.backend_class = backends + ".SameUserBackend"
    c.SameUserBackend.homes_dir = os.path.join(data_dir, "homes")
c.LocalBackend.clusters_directory = os.path.join(data_dir, "dask-clusters")
c.LocalBackend.sigint_timeout = 5
c.LocalBackend.sigterm_timeout = 5
# Both backends derive from LocalBackend; 0: no limit.
c.LocalBackend.max_clusters_per_user = {gateway.max_clusters_per_user or 0}
# Schedulers and workers run from the user environment, like the user's notebook.
c.LocalClusterConfig.scheduler_cmd = [os.path.join(user_bin_dir, "dask"), "scheduler"]
# Schedulers listen on loopback already (the backend's default host); workers and their
# nannies would listen on every interface without --host.
c.LocalClusterConfig.worker_cmd = [
    os.path.join(user_bin_dir, "dask"),
    "worker",
    "--host",
    "127.0.0.1",
]
c.LocalClusterConfig.environment = {{
    "HELIOHUB_DEPLOYMENT_ID": deployment_id,
    "PATH": user_bin_dir + os.pathsep + env.get("PATH", os.defpath),
}}
# Not the gateway's PATH, PYTHONPATH or VIRTUAL_ENV: those are heliohub's environment.
c.LocalBackend.inherited_environment = ["LANG", "LC_ALL"]
c.LocalClusterConfig.idle_timeout = {gateway.cluster_idle_timeout_s!r}  # 0: never
c.LocalClusterConfig.cluster_max_workers = {gateway.max_workers_per_cluster}

# What users may ask for; anything outside is refused with the allowed range.
c.Backend.cluster_options = cluster_options(
    worker_cores={_py([cores.min, cores.max, cores.default])},
    worker_memory_gib={_py([memory.min, memory.max, memory.default])},
)
""",
    )


def render_local(config: HubConfig) -> dict[str, bytes]:
    """The files `heliohub up` runs the local DaskHub with, keyed by relative path."""
    spec = hub_spec(config)
    return {
        "local/jupyterhub_config.py": _hub_config(config, spec),
        "local/dask_gateway_config.py": _gateway_config(config, spec),
        "local/supervisord.conf": supervisord_conf(config),
    }
