"""The hub spec: one typed, provider-neutral description of the hub and its Dask Gateway.

Built once from the config (`hub_spec`), pure and without I/O. The local renderer
(render/local.py) and the Helm renderer (render/helm/) translate it into each provider's
settings; names, scopes, bounds, limits, culling, the login (`hubspec.login`, imported only
where it is needed: the gateway imports this package and needs no config models) and what
users' servers get are spelled here and nowhere else.
"""

from heliohub.hubspec.names import (
    CHECK_SCOPES,
    CHECK_SERVICE,
    CULLER_SCOPES,
    CULLER_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_SCOPE,
    GATEWAY_SERVICE,
    LAB_CLUSTER_FACTORY,
    SERVER_MODULE,
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
    Service,
    UserEnvironment,
    hub_spec,
)

__all__ = [
    "CHECK_SCOPES",
    "CHECK_SERVICE",
    "CULLER_SCOPES",
    "CULLER_SERVICE",
    "GATEWAY_PREFIX",
    "GATEWAY_SCOPE",
    "GATEWAY_SERVICE",
    "LAB_CLUSTER_FACTORY",
    "SERVER_MODULE",
    "SERVER_TOKEN_SCOPES",
    "USERS_SERVICE",
    "USER_ROLE_SCOPES",
    "Bounds",
    "ClusterOptions",
    "Culling",
    "Gateway",
    "HubSpec",
    "Service",
    "UserEnvironment",
    "hub_spec",
]
