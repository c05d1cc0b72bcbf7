"""HubSpec: what the hub and the gateway do, whatever runs them.

Each field says what a provider's translation must make true; the translations (render/local.py
for the local hub, render/helm/ for the charts) only choose how. A setting that a provider
cannot honour is refused at validate (config/provider_rules.py), so the spec never carries one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from heliohub.hubspec import names

if TYPE_CHECKING:
    # Only the type: the gateway imports this module for the handler's semantics, and needs
    # no config models.
    from heliohub.config import HubConfig

N = TypeVar("N", int, float)
GIB = 2**30


@dataclass(frozen=True)
class Bounds(Generic[N]):
    """A number users may choose: refused outside [min, max], `default` when not chosen."""

    min: N
    max: N
    default: N


@dataclass(frozen=True)
class ClusterOptions:
    """The options of a new Dask cluster and the handler's semantics, on every provider:

    - a worker gets `worker_cores` cores and as many threads (worker_threads = worker_cores);
    - it gets `worker_memory` GiB (bytes: worker_memory * 2**30); where the backend can limit
      resources (Kubernetes), the limit equals the request.
    """

    worker_cores: Bounds[int]
    worker_memory_gib: Bounds[float]

    @staticmethod
    def worker_settings(cores: int, memory_gib: float) -> dict[str, int]:
        """The cluster settings of a choice: what every provider's handler returns (and
        Kubernetes adds limits equal to these)."""
        return {
            "worker_cores": cores,
            "worker_threads": cores,
            "worker_memory": int(memory_gib * GIB),
        }


@dataclass(frozen=True)
class Gateway:
    service: str
    prefix: str
    scope: str
    options: ClusterOptions
    max_workers_per_cluster: int
    # Seconds; 0 keeps idle clusters forever.
    cluster_idle_timeout_s: float
    # None: no limit (refused at validate where the gateway cannot enforce it).
    max_clusters_per_user: int | None


@dataclass(frozen=True)
class Culling:
    """User servers idle this long are stopped by the idle culler service."""

    enabled: bool
    server_idle_timeout_s: int
    every_s: int
    # 0: no maximum age.
    max_age_s: int


@dataclass(frozen=True)
class Service:
    """A hub service and the role its token holds (no role: no scopes beyond its own)."""

    name: str
    scopes: tuple[str, ...] = ()
    admin: bool = False


@dataclass(frozen=True)
class HubSpec:
    name: str
    gateway: Gateway
    culling: Culling
    user_role_scopes: tuple[str, ...]
    server_token_scopes: tuple[str, ...]
    # The services besides the gateway; the culler only when culling is on.
    services: tuple[Service, ...]
    default_url: str = "/lab"

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


def hub_spec(config: HubConfig) -> HubSpec:
    dask = config.dask
    culling = config.culling
    services = [
        Service(names.CHECK_SERVICE, names.CHECK_SCOPES),
        # JupyterHub lets only admins grant admin rights, so `heliohub users` is an admin.
        Service(names.USERS_SERVICE, admin=True),
    ]
    if culling.enabled:
        services.append(Service(names.CULLER_SERVICE, names.CULLER_SCOPES))
    return HubSpec(
        name=config.name,
        gateway=Gateway(
            service=names.GATEWAY_SERVICE,
            prefix=names.GATEWAY_PREFIX,
            scope=names.GATEWAY_SCOPE,
            options=ClusterOptions(
                worker_cores=Bounds(
                    dask.worker_cores.min, dask.worker_cores.max, dask.worker_cores.default
                ),
                worker_memory_gib=Bounds(
                    float(dask.worker_memory_gib.min),
                    float(dask.worker_memory_gib.max),
                    float(dask.worker_memory_gib.default),
                ),
            ),
            max_workers_per_cluster=dask.max_workers_per_cluster,
            cluster_idle_timeout_s=float(dask.cluster_idle_timeout_s),
            max_clusters_per_user=dask.max_clusters_per_user,
        ),
        culling=Culling(
            enabled=culling.enabled,
            server_idle_timeout_s=culling.server_idle_timeout_s,
            every_s=culling.every_s,
            max_age_s=culling.max_age_s,
        ),
        user_role_scopes=names.USER_ROLE_SCOPES,
        server_token_scopes=names.SERVER_TOKEN_SCOPES,
        services=tuple(services),
    )
