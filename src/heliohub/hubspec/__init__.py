"""The hub spec: one typed, provider-neutral description of the hub and its Dask Gateway.

Built once from the config (`hub_spec`), pure and without I/O. The local renderer
(render/local.py) and the Helm renderer (render/helm/) translate it into each provider's
settings; names, scopes, bounds, limits and culling are spelled here and nowhere else.
"""

from heliohub.hubspec.names import (
    CHECK_SCOPES,
    CHECK_SERVICE,
    CULLER_SCOPES,
    CULLER_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_SCOPE,
    GATEWAY_SERVICE,
    SERVER_TOKEN_SCOPES,
    USER_ROLE_SCOPES,
    USERS_SERVICE,
)
from heliohub.hubspec.spec import (
    Bounds,
    ClusterOptions,
    Culling,
    Gateway,
    HubSpec,
    hub_spec,
)
from heliohub.hubspec.urls import cluster_public_url, local_public_url

__all__ = [
    "CHECK_SCOPES",
    "CHECK_SERVICE",
    "CULLER_SCOPES",
    "CULLER_SERVICE",
    "GATEWAY_PREFIX",
    "GATEWAY_SCOPE",
    "GATEWAY_SERVICE",
    "SERVER_TOKEN_SCOPES",
    "USERS_SERVICE",
    "USER_ROLE_SCOPES",
    "Bounds",
    "ClusterOptions",
    "Culling",
    "Gateway",
    "HubSpec",
    "cluster_public_url",
    "hub_spec",
    "local_public_url",
]
