"""The local hub's JupyterHub settings, applied inside the hub from its rendered data file.

`heliohub render` writes `local/hub.json` (render/local.py: what the config decides) next to
a constant `jupyterhub_config.py` that calls `configure`. What depends on this machine or this
run (paths, free ports, the isolation `auto` resolves to, secrets) comes from the HELIOHUB_*
environment `heliohub up` sets (runtime_env.py). One function per part of the hub, each only
setting traits, as The Littlest JupyterHub's configurer does.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from heliohub.hubspec.names import SERVER_MODULE
from heliohub.inhub import runtime_env as rt
from heliohub.inhub.layout import Layout

SPAWNERS = "heliohub.inhub.spawner"
# Generous: a busy machine may take a minute to import JupyterLab and its extensions.
HTTP_TIMEOUT_S = 120
START_TIMEOUT_S = 180


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _layout(env: Mapping[str, str]) -> Layout:
    return Layout(Path(env[rt.DATA_DIR]))


def hub(c: Any, settings: dict[str, Any], env: Mapping[str, str]) -> None:
    """Internal API on loopback, state in <data_dir>/state, secrets in <data_dir>/secrets."""
    lay = _layout(env)
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = int(env[rt.HUB_PORT])
    c.JupyterHub.db_url = f"sqlite:///{lay.hub_db}"
    c.JupyterHub.cookie_secret_file = str(lay.cookie_secret_file)
    c.JupyterHub.pid_file = str(lay.hub_pid_file)
    # Users' servers outlive the hub: a restarted hub finds them again from the pids it keeps
    # in its database (the spawner's state); `heliohub down` stops them.
    c.JupyterHub.cleanup_servers = False
    # The proxy is the supervisor's, not the hub's to stop.
    c.JupyterHub.cleanup_proxy = False
    c.JupyterHub.concurrent_spawn_limit = settings["concurrent_spawn_limit"]
    c.JupyterHub.shutdown_on_logout = False


def proxy(c: Any, settings: dict[str, Any], env: Mapping[str, str]) -> None:
    """The public proxy (configurable-http-proxy) is a supervised program of its own
    (supervisord.conf), not the hub's child: it and every user's route outlive a restart of the
    hub. The hub reaches it on loopback with the token only the two of them get."""
    c.JupyterHub.bind_url = settings["bind_url"]
    c.ConfigurableHTTPProxy.should_start = False
    c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env[rt.PROXY_API_PORT]
    c.ConfigurableHTTPProxy.auth_token = env[rt.PROXY_TOKEN]
    # A restarted proxy starts with no route: the hub checks the routes (and puts back every
    # missing one) each time it reads its users' activity from the proxy, every 2 seconds.
    c.JupyterHub.last_activity_interval = 2
    if not settings["https"]:
        return
    c.JupyterHub.ssl_cert = env[rt.SSL_CERT]
    c.JupyterHub.ssl_key = env[rt.SSL_KEY]
    # Browsers keep to HTTPS for this host, and send the XSRF cookie over HTTPS only.
    c.JupyterHub.tornado_settings = {
        "headers": {"Strict-Transport-Security": "max-age=31536000"},
        "xsrf_cookie_kwargs": {"secure": True},
    }


def login(c: Any, settings: dict[str, Any], env: Mapping[str, str]) -> None:
    """The hub spec's login: plain traits as they are, secret ones from the environment."""
    for cls, traits in settings["traits"].items():
        for trait, value in traits.items():
            setattr(c[cls], trait, value)
    for key, env_name in settings["traits_from_env"].items():
        cls, trait = key.rsplit(".", 1)
        setattr(c[cls], trait, env[env_name])


# How pip and uv start a script whose interpreter's path does not fit a `#!` line.
TRAMPOLINE = "'''exec' "


def script_interpreter(script: str) -> list[str] | None:
    """The interpreter, with its flags, that an installed script names in its first lines:
    `#!/path/python`, or the `/bin/sh` trampoline. None when the script says it another way
    (`#!/usr/bin/env python3`...)."""
    try:
        with open(script, encoding="utf-8") as f:
            lines = [f.readline(), f.readline()]
        words = shlex.split(lines[0][2:]) if lines[0].startswith("#!") else []
        if words == ["/bin/sh"] and lines[1].startswith(TRAMPOLINE):
            rest = shlex.split(lines[1][len(TRAMPOLINE) :])
            words = rest[: rest.index("$0")] if "$0" in rest else []
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not words or not os.path.isabs(words[0]) or not os.access(words[0], os.X_OK):
        return None
    if os.path.basename(words[0]) in ("env", "sh", "bash"):
        return None
    # -E and -I make Python ignore PYTHONPATH, where heliohub_singleuser is.
    if any(w.startswith("-") and ("E" in w or "I" in w) for w in words[1:]):
        return None
    return words


def server_command(user_bin_dir: str) -> list[str]:
    """The user environment's `jupyterhub-singleuser`, run as heliohub_singleuser by the
    interpreter its script names (heliohub.inhub.singleuser: 2 s less of every start), or the
    script itself when it does not name one plainly."""
    script = os.path.join(user_bin_dir, "jupyterhub-singleuser")
    interpreter = script_interpreter(script)
    return [*interpreter, "-m", SERVER_MODULE] if interpreter else [script]


def spawner(c: Any, settings: dict[str, Any], env: Mapping[str, str]) -> None:
    """User servers: JupyterLab with dask-gateway and the Dask extension, from the user
    environment. Homes are <data_dir>/homes/<user>, each with a link to the shared directory."""
    lay = _layout(env)
    user_bin_dir = env[rt.USER_BIN_DIR]
    gateway_port = env[rt.GATEWAY_PORT]
    homes_dir = str(lay.homes_dir)
    shared_dir = str(lay.shared_dir) if settings["shared"] else ""
    users_file = str(lay.users_file)
    isolation = env[rt.ISOLATION]
    if isolation == "system-users":
        from heliohub.inhub.spawner import create_os_user_on_login

        # One OS user per hub user, created at first login or spawn; homes are 0700.
        c.JupyterHub.spawner_class = SPAWNERS + ".SystemUserSpawner"
        c.SystemUserSpawner.user_prefix = settings["user_prefix"]
        c.SystemUserSpawner.users_file = users_file
        writers = settings["writers_group"] or settings["managed_writers_group"]
        c.SystemUserSpawner.writers_group = writers if shared_dir else ""
        c.SystemUserSpawner.managed_writers_group = settings["managed_writers_group"]
        c.Authenticator.post_auth_hook = create_os_user_on_login(
            settings["user_prefix"], homes_dir, shared_dir, settings["shared_name"], users_file
        )
    else:
        c.JupyterHub.spawner_class = SPAWNERS + ".SameUserSpawner"
    c.HeliohubSpawner.homes_dir = homes_dir
    c.HeliohubSpawner.shared_dir = shared_dir
    c.HeliohubSpawner.shared_name = settings["shared_name"]
    c.Spawner.cmd = server_command(user_bin_dir)
    # jupyter-server refuses root without --allow-root; only isolation none runs servers as root.
    c.Spawner.args = ["--allow-root"] if isolation == "none" and os.geteuid() == 0 else []
    c.Spawner.default_url = settings["default_url"]
    c.Spawner.http_timeout = HTTP_TIMEOUT_S
    c.Spawner.start_timeout = START_TIMEOUT_S
    c.LocalProcessSpawner.interrupt_timeout = 5
    c.LocalProcessSpawner.term_timeout = 5
    if settings["mem_limit"]:
        # Advertised to the server; not enforced locally.
        c.Spawner.mem_limit = settings["mem_limit"]
    # Enough for the gateway and nothing more.
    c.Spawner.server_token_scopes = settings["server_token_scopes"]
    c.Spawner.environment = {
        # `Gateway()` with no arguments finds the gateway; `gateway://` carries scheduler
        # traffic.
        "DASK_GATEWAY__ADDRESS": "http://127.0.0.1:" + gateway_port + settings["gateway_prefix"],
        "DASK_GATEWAY__PROXY_ADDRESS": "gateway://127.0.0.1:" + gateway_port,
        **settings["environment"],
        rt.DEPLOYMENT_ID: env[rt.DEPLOYMENT_ID],
        # `pip`, `python` and `dask` in a terminal are the user environment's, as in the kernel.
        "PATH": user_bin_dir + os.pathsep + env.get("PATH", os.defpath),
        # The Dask sidebar's cluster class, which the user environment lacks, and nothing
        # else: never the hub's PYTHONPATH (heliohub's environment), which JupyterHub would
        # otherwise pass on.
        "PYTHONPATH": str(lay.lab_modules_dir),
    }


def services(c: Any, settings: dict[str, Any], env: Mapping[str, str]) -> None:
    """The gateway, the idle culler, and the tokens `heliohub check` and `users` use. The
    gateway and the culler run beside the hub, not under it (supervisord.conf), each with its
    own token: they outlive a restart of the hub, and the hub does not wait for them."""
    c.JupyterHub.load_roles = settings["roles"]
    out = []
    for service in settings["services"]:
        entry = {k: v for k, v in service.items() if k not in ("token_env", "url_port_env")}
        entry["api_token"] = env[service["token_env"]]
        if "url_port_env" in service:
            entry["url"] = "http://127.0.0.1:" + env[service["url_port_env"]]
        out.append(entry)
    c.JupyterHub.services = out


def configure(c: Any, path: str, environ: MutableMapping[str, str]) -> None:
    """Every setting of the local hub, from the data file at path and the environment."""
    settings = load(path)
    hub(c, settings["hub"], environ)
    proxy(c, settings["proxy"], environ)
    login(c, settings["login"], environ)
    spawner(c, settings["spawner"], environ)
    services(c, settings["services"], environ)
    # Every secret is in the config now: nothing the hub starts inherits one.
    for name in settings["secret_env"]:
        environ.pop(name, None)
