"""Names that must agree between the releases, the manifests and the AWS stacks.

The jupyterhub and dask-gateway charts meet in four places: the gateway's traefik service
(the hub's service URL), the path prefix, the token the chart generates into the `hub` Secret,
and the scope the gateway enforces. Each is spelled once, here.
"""

from __future__ import annotations

JUPYTERHUB_RELEASE = "jupyterhub"
GATEWAY_RELEASE = "dask-gateway"
# Set as fullnameOverride so the traefik service name does not depend on the release name.
GATEWAY_FULLNAME = "dask-gateway"
GATEWAY_TRAEFIK_SERVICE = f"traefik-{GATEWAY_FULLNAME}"
GATEWAY_TRAEFIK_PORT = 80
# traefik's "web" entrypoint inside the pod; the TCP route shares it (ports.tcp.port: web).
GATEWAY_TRAEFIK_CONTAINER_PORT = 8000

GATEWAY_SERVICE = "dask-gateway"
GATEWAY_PREFIX = f"/services/{GATEWAY_SERVICE}"
HUB_SECRET = "hub"
GATEWAY_TOKEN_KEY = f"hub.services.{GATEWAY_SERVICE}.apiToken"
GATEWAY_SCOPE = f"access:services!service={GATEWAY_SERVICE}"

# A hub service whose generated token `heliohub check` reads to act as an admin.
CHECK_SERVICE = "heliohub-check"
CHECK_TOKEN_KEY = f"hub.services.{CHECK_SERVICE}.apiToken"
CHECK_ROLE = "heliohub-check"
# A token the check creates for its user can hold only scopes the check itself holds.
CHECK_SCOPES = (
    "admin:users",
    "admin:servers",
    "tokens",
    "access:servers",
    "list:users",
    "read:hub",
    GATEWAY_SCOPE,
)

# `heliohub users`: an admin service, since JupyterHub lets only admins grant admin rights.
USERS_SERVICE = "heliohub-users"
USERS_TOKEN_KEY = f"hub.services.{USERS_SERVICE}.apiToken"

# The Secret heliohub creates from the config's secret references (never rendered with values).
AUTH_SECRET = "heliohub-auth"

# The AWS add-on releases (autoscaler, NVIDIA device plugin) live here.
ADDON_NAMESPACE = "kube-system"

# Services and labels of the jupyterhub chart (legacy match labels, as its selectors use).
PROXY_PUBLIC_SERVICE = "proxy-public"
PROXY_HTTP_SERVICE = "proxy-http"
PROXY_HTTP_PORT = 8000
AUTOHTTPS_COMPONENT = "autohttps"
ACME_SECRET = "proxy-public-tls-acme"

# The hub's database claim, created by the jupyterhub chart (hub.db.type sqlite-pvc).
HUB_DB_PVC = "hub-db-dir"
HOME_PVC = "heliohub-home"
SHARED_PVC = "heliohub-shared"
# Homes are `{escaped_username}`; escaped names never start with '_', so this cannot collide.
SHARED_SUBPATH = "_shared"
