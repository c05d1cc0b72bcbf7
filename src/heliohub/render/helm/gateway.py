"""Values for the `dask-gateway` chart, wired to the hub as in NOTES "Kubernetes wiring"."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from heliohub.config import HubConfig
from heliohub.hubspec import hub_spec
from heliohub.render.helm import aws_names, pools
from heliohub.render.helm.jupyterhub import num, split_image
from heliohub.render.helm.wiring import (
    GATEWAY_FULLNAME,
    GATEWAY_TOKEN_KEY,
    HUB_SECRET,
)


def worker_image(config: HubConfig) -> str:
    return config.dask.image or config.image


def _pod_config(config: HubConfig, pool_name: str | None) -> dict[str, Any]:
    pod: dict[str, Any] = {}
    if pools.placed(config) and pool_name:
        pool = pools.pool(config, pool_name)
        pod["nodeSelector"] = pools.node_selector(pool)
        if pools.tolerations(pool):
            pod["tolerations"] = pools.tolerations(pool)
    if config.provider == "aws":
        pod["serviceAccountName"] = aws_names.user_service_account()
    return pod


def scheduler_pool(config: HubConfig) -> str | None:
    """Schedulers hold a cluster's whole state: a spot reclaim of one loses the cluster, so they
    run on-demand, on the workers' pool when it is on-demand, else where user servers run."""
    if not pools.placed(config):
        return None
    workers = pools.pool(config, config.dask.worker_node_pool)
    if workers.capacity == "on-demand":
        return workers.name
    user = pools.pool(config, config.profile_pool(config.default_profile))
    if user.capacity == "on-demand":
        return user.name
    core = pools.core_pool(config)
    return core.name if core else None


def gpu_workers_offered(config: HubConfig) -> bool:
    """GPU workers are an option only where a GPU pool exists to run them (AWS)."""
    name = config.dask.gpu_worker_node_pool
    if not (pools.placed(config) and name):
        return False
    return pools.pool(config, name).gpus_per_node > 0


# The gateway's extraConfig reads its values from this variable (gateway.env).
SETTINGS_ENV = "HELIOHUB_GATEWAY"


def extra_config() -> str:
    """gateway.extraConfig: the same text for every deployment (heliohub.inhub's
    chart_gateway_config.py); the values are in SETTINGS_ENV."""
    return resources.files("heliohub.inhub").joinpath("chart_gateway_config.py").read_text()


def gateway_settings(config: HubConfig) -> dict[str, Any]:
    """The options users may choose, bounded as the hub spec says, and the gateway's limits."""
    dask = config.dask
    gateway = hub_spec(config).gateway
    cores, memory = gateway.options.worker_cores, gateway.options.worker_memory_gib
    gpu: dict[str, Any] | None = None
    if gpu_workers_offered(config):
        gpu = {
            "pod": _pod_config(config, dask.gpu_worker_node_pool),
            "container": {"resources": {"limits": {"nvidia.com/gpu": 1}}},
        }
    return {
        "options": {
            "worker_cores": {"min": cores.min, "max": cores.max, "default": cores.default},
            "worker_memory_gib": {"min": memory.min, "max": memory.max, "default": memory.default},
            "image": worker_image(config),
        },
        "worker_pod": _pod_config(config, dask.worker_node_pool),
        "gpu": gpu,
        "max_workers_per_cluster": gateway.max_workers_per_cluster,
        "cluster_idle_timeout_s": num(gateway.cluster_idle_timeout_s),
    }


def gateway_values(config: HubConfig) -> dict[str, Any]:
    core = pools.core_placement(config)
    dask = config.dask
    image_name, image_tag = split_image(worker_image(config))
    pod = _pod_config(config, dask.worker_node_pool)
    scheduler = _pod_config(config, scheduler_pool(config))
    backend: dict[str, Any] = {
        "image": {"name": image_name, "tag": image_tag},
        "scheduler": {"extraPodConfig": dict(scheduler)} if scheduler else {},
        "worker": {"extraPodConfig": dict(pod)} if pod else {},
    }
    backend = {k: v for k, v in backend.items() if v}
    spec = hub_spec(config).gateway
    gateway: dict[str, Any] = {
        "prefix": spec.prefix,
        "auth": {
            "type": "jupyterhub",
            "jupyterhub": {
                "apiTokenFromSecretName": HUB_SECRET,
                "apiTokenFromSecretKey": GATEWAY_TOKEN_KEY,
                "jupyterhubServiceName": spec.service,
            },
        },
        "backend": backend,
        "env": [
            {
                "name": SETTINGS_ENV,
                "value": json.dumps(gateway_settings(config), indent=2, sort_keys=True),
            }
        ],
        "extraConfig": {"heliohub": extra_config()},
        **core,
    }
    return {
        "fullnameOverride": GATEWAY_FULLNAME,
        "gateway": gateway,
        "controller": dict(core),
        # Reached through the hub's proxy, never from outside the cluster.
        "traefik": {"service": {"type": "ClusterIP"}, **core},
    }
