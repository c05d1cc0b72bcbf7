"""Which config changes a running local deployment can take without stopping users' sessions.

Most settings are read by the proxy, the hub, the gateway or the culler, or by a server or a
cluster only when it starts: `up` applies them by restarting those programs, and running
servers and clusters keep going (new ones get the new settings). A few settings decide what the
running sessions themselves are, and keeping a session across a change of one of them would be
wrong or unsafe:

- `local.isolation`: which OS user every server and cluster runs as;
- `local.user_prefix` (with system-users): which OS user is which hub user;
- `local.user_environment`: the Python every server, kernel, scheduler and worker runs;
- `auth.type` and the OpenID Connect issuer: who a hub user name is. Under a new login, the
  name `alice` may belong to another person, who must not get the running server of the
  `alice` from before.

`up` records these when it starts the deployment (state.RunState.settings) and compares them
with the config on the next `up`. A new `local.data_dir` is a new deployment altogether (the
running one keeps its state in the old directory; `heliohub down` with the old config stops it).
"""

from __future__ import annotations

from heliohub.config import HubConfig


def session_settings(config: HubConfig) -> dict[str, str]:
    """The settings running sessions depend on, as they will be recorded in the state file."""
    auth = config.auth
    local = config.local
    settings = {
        "local.isolation": local.isolation,
        "local.user_prefix": local.user_prefix,
        "local.user_environment": local.user_environment.model_dump_json(),
        "auth.type": auth.type,
    }
    issuer = getattr(auth, "issuer", None)
    if issuer:
        settings["auth.issuer"] = str(issuer)
    return settings


WHY = {
    "local.isolation": "every server and cluster runs as the OS user it decides",
    "local.user_prefix": "it names the OS user each hub user's server and clusters run as",
    "local.user_environment": "running servers, kernels and Dask workers run the old one",
    "auth.type": "a hub user name may now belong to another person",
    "auth.issuer": "a hub user name may now belong to another person",
}


def session_changes(recorded: dict[str, str], config: HubConfig, isolation: str) -> list[str]:
    """What changed among the settings running sessions depend on, one line each.

    recorded: what the running deployment was started with (empty for a state file of an
    earlier version: nothing is known, so nothing is reported). isolation: the one it runs
    with; the user prefix matters only under system-users.
    """
    if not recorded:
        return []
    wanted = session_settings(config)
    out = []
    for key, why in WHY.items():
        if key == "local.user_prefix" and isolation != "system-users":
            continue
        before, after = recorded.get(key), wanted.get(key)
        if before == after:
            continue
        if key == "auth.issuer" and recorded.get("auth.type") != wanted["auth.type"]:
            continue  # said already
        if key == "local.user_environment":
            out.append(f"{key} changed ({why})")
        else:
            out.append(f"{key} changed from {before or 'unset'} to {after or 'unset'} ({why})")
    return out
