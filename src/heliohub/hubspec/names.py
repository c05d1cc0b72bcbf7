"""The hub's services and the scopes they hold: the same on every provider.

The gateway is a hub service: the hub's proxy routes GATEWAY_PREFIX to it, and a gateway that
knows its service name accepts only tokens with GATEWAY_SCOPE (so users and their servers get
it). `heliohub check`, `heliohub users` and the idle culler are hub services too.
"""

from __future__ import annotations

GATEWAY_SERVICE = "dask-gateway"
GATEWAY_PREFIX = f"/services/{GATEWAY_SERVICE}"
GATEWAY_SCOPE = f"access:services!service={GATEWAY_SERVICE}"

CULLER_SERVICE = "idle-culler"
# The Dask sidebar's cluster class on the local hub (runs in users' servers). A top-level
# module: the user environment has no heliohub, so the local provider puts a copy of
# heliohub.inhub.dask_lab on the servers' PYTHONPATH under this name.
LAB_CLUSTER_FACTORY = ("heliohub_dask_lab", "LabGatewayCluster")
# What a local user's server runs, `python -m` it: a copy of heliohub.inhub.singleuser, beside
# the cluster class.
SERVER_MODULE = "heliohub_singleuser"
CHECK_SERVICE = "heliohub-check"
USERS_SERVICE = "heliohub-users"

# The default `user` role, plus the gateway.
USER_ROLE_SCOPES: tuple[str, ...] = ("self", GATEWAY_SCOPE)
# A server's own token: what the default `server` role holds, plus the gateway.
SERVER_TOKEN_SCOPES: tuple[str, ...] = (
    "access:servers!server",
    "users:activity!user",
    GATEWAY_SCOPE,
)
# The culler's needs, as listed by jupyterhub-idle-culler.
CULLER_SCOPES: tuple[str, ...] = (
    "list:users",
    "read:users:activity",
    "read:servers",
    "delete:servers",
)
# The health check creates a temporary user, runs its server and deletes both again; a token it
# creates for that user can hold only scopes the check itself holds.
CHECK_SCOPES: tuple[str, ...] = (
    "admin:users",
    "admin:servers",
    "tokens",
    "access:servers",
    "list:users",
    "read:hub",
    GATEWAY_SCOPE,
)
