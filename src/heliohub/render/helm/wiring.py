"""Names that must agree between the releases, the manifests and the AWS stacks.

The jupyterhub and dask-gateway charts meet in four places: the gateway's traefik service
(the hub's service URL), the path prefix, the token the chart generates into the `hub` Secret,
and the scope the gateway enforces. The service names, prefix and scopes are the hub spec's
(heliohub.hubspec), the same on every provider; the charts' own names are spelled here.
"""

from __future__ import annotations

from heliohub.hubspec import (
    CHECK_SCOPES,
    CHECK_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_SCOPE,
    GATEWAY_SERVICE,
    USERS_SERVICE,
)

# Re-exported: the chart's names and the spec's, from one module.
__all__ = ["CHECK_SCOPES", "CHECK_SERVICE", "GATEWAY_PREFIX", "GATEWAY_SCOPE", "USERS_SERVICE"]

JUPYTERHUB_RELEASE = "jupyterhub"
GATEWAY_RELEASE = "dask-gateway"
# Set as fullnameOverride so the traefik service name does not depend on the release name.
GATEWAY_FULLNAME = "dask-gateway"
GATEWAY_TRAEFIK_SERVICE = f"traefik-{GATEWAY_FULLNAME}"
GATEWAY_TRAEFIK_PORT = 80
# traefik's "web" entrypoint inside the pod; the TCP route shares it (ports.tcp.port: web).
GATEWAY_TRAEFIK_CONTAINER_PORT = 8000

HUB_SECRET = "hub"
GATEWAY_TOKEN_KEY = f"hub.services.{GATEWAY_SERVICE}.apiToken"

# The chart generates each service's token into the `hub` Secret; `heliohub check` and
# `heliohub users` read theirs from there.
CHECK_TOKEN_KEY = f"hub.services.{CHECK_SERVICE}.apiToken"
CHECK_ROLE = CHECK_SERVICE
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
