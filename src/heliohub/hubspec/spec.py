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
    # Only the types: the gateway imports this module for the handler's semantics, and needs
    # no config models.
    from heliohub.config import HubConfig
    from heliohub.hubspec.login import AuthSettings
    from heliohub.platform import Platform

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
class UserEnvironment:
    """What every user's server gets: where it opens, what its token may do, and the
    environment that lets `Gateway()` in a notebook work with no arguments.

    Where the gateway is (DASK_GATEWAY__ADDRESS and __PROXY_ADDRESS) is each provider's own:
    its translation adds it, and what servers run from (the image, or the local user
    environment's bin directory).
    """

    default_url: str
    server_token_scopes: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class HubSpec:
    name: str
    # How users reach the hub (hubspec/urls.py); OAuth callbacks are made from it.
    public_url: str
    gateway: Gateway
    culling: Culling
    user_role_scopes: tuple[str, ...]
    # The services besides the gateway; the culler only when culling is on.
    services: tuple[Service, ...]
    # Who may log in, and how (hubspec/login.py).
    login: AuthSettings
    user_environment: UserEnvironment

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)


def _user_environment(config: HubConfig, public_url: str) -> UserEnvironment:
    if config.provider == "local":
        # Absolute: the Dask JupyterLab extension takes a relative link as relative to the
        # server.
        env = {"DASK_GATEWAY__PUBLIC_ADDRESS": f"{public_url}{names.GATEWAY_PREFIX}/"}
    else:
        env = {"DASK_GATEWAY__PUBLIC_ADDRESS": f"{names.GATEWAY_PREFIX}/"}
    env["DASK_GATEWAY__AUTH__TYPE"] = "jupyterhub"
    if config.provider == "local":
        # "+NEW" in the Dask sidebar: a cluster whose plots come through the user's own
        # server (local only: there the module is a file heliohub puts on the servers'
        # PYTHONPATH; the charts' server images have no such file).
        module, cls = names.LAB_CLUSTER_FACTORY
        env["DASK_LABEXTENSION__FACTORY__MODULE"] = module
        env["DASK_LABEXTENSION__FACTORY__CLASS"] = cls
    else:
        # Workers run the image of the user's server unless asked otherwise (the client
        # fills in the environment; KubeSpawner sets JUPYTER_IMAGE_SPEC to the profile's
        # image), so the libraries on both sides match, CUDA ones included.
        env["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"] = "{JUPYTER_IMAGE_SPEC}"
    return UserEnvironment(
        default_url="/lab", server_token_scopes=names.SERVER_TOKEN_SCOPES, env=env
    )


def hub_spec(
    config: HubConfig, platform: Platform | None = None, *, load_balancer: str | None = None
) -> HubSpec:
    """The hub spec of a valid config; platform: where it runs (on EKS, the AWS stacks'
    Cognito app client the login uses); load_balancer: on a cluster without a domain, the
    host name of the hub's load balancer once it has one (else the URL names what it waits for)."""
    # Imported here: the gateway imports this module, and needs neither the login nor the
    # config models it reads.
    from heliohub.hubspec.login import auth_settings
    from heliohub.hubspec.urls import cluster_public_url, local_public_url

    public_url = (
        local_public_url(config)
        if config.provider == "local"
        else cluster_public_url(config, load_balancer)
    )
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
        public_url=public_url,
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
        services=tuple(services),
        login=auth_settings(config, public_url, platform=platform),
        user_environment=_user_environment(config, public_url),
    )
