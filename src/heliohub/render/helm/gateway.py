"""Values for the `dask-gateway` chart, wired to the hub as in NOTES "Kubernetes wiring"."""

from __future__ import annotations

import json
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


def _literal(value: Any) -> str:
    # A JSON document inside a Python string literal: exact, and no Python repr quirks.
    return f"json.loads({json.dumps(json.dumps(value, sort_keys=True))})"


def options_config(config: HubConfig) -> str:
    """gateway.extraConfig: the options users may choose, bounded as the hub spec says."""
    dask = config.dask
    gateway = hub_spec(config).gateway
    cores, memory = gateway.options.worker_cores, gateway.options.worker_memory_gib
    worker_pod = _pod_config(config, dask.worker_node_pool)
    gpu = gpu_workers_offered(config)
    fields = [
        f'Integer("worker_cores", default={cores.default}, '
        f'min={cores.min}, max={cores.max}, label="Worker cores")',
        f'Float("worker_memory", default={memory.default!r}, '
        f"min={memory.min!r}, max={memory.max!r}, "
        'label="Worker memory (GiB)")',
        f'String("image", default={json.dumps(worker_image(config))}, label="Image")',
    ]
    if gpu:
        fields.append('Bool("gpu", default=False, label="GPU workers")')
    lines = [
        "# heliohub: cluster options and limits, from the config's `dask` section",
        "import json",
        "",
        "from dask_gateway_server.options import Bool, Float, Integer, Options, String",
        "",
        f"_WORKER_POD = {_literal(worker_pod)}",
    ]
    if gpu:
        gpu_pod = _pod_config(config, dask.gpu_worker_node_pool)
        lines += [
            f"_GPU_POD = {_literal(gpu_pod)}",
            f"_GPU_CONTAINER = {_literal({'resources': {'limits': {'nvidia.com/gpu': 1}}})}",
        ]
    lines += [
        "",
        "",
        "def _heliohub_options(options, user):",
        "    memory = int(options.worker_memory * 2**30)",
        "    overrides = {",
        '        "worker_cores": options.worker_cores,',
        '        "worker_threads": options.worker_cores,',
        '        "worker_cores_limit": options.worker_cores,',
        '        "worker_memory": memory,',
        '        "worker_memory_limit": memory,',
        '        "image": options.image,',
        '        "worker_extra_pod_config": _WORKER_POD,',
        "    }",
    ]
    if gpu:
        lines += [
            "    if options.gpu:",
            '        overrides["worker_extra_pod_config"] = _GPU_POD',
            '        overrides["worker_extra_container_config"] = _GPU_CONTAINER',
        ]
    lines += [
        "    return overrides",
        "",
        "",
        "c.Backend.cluster_options = Options(",
        *[f"    {f}," for f in fields],
        "    handler=_heliohub_options,",
        ")",
        f"c.ClusterConfig.cluster_max_workers = {gateway.max_workers_per_cluster}",
        f"c.ClusterConfig.idle_timeout = {num(gateway.cluster_idle_timeout_s)}",
        "# dask >= 2026 has no dask-scheduler / dask-worker executables",
        'c.KubeClusterConfig.scheduler_cmd = ["dask", "scheduler"]',
        'c.KubeClusterConfig.worker_cmd = ["dask", "worker"]',
    ]
    return "\n".join(lines) + "\n"


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
        "extraConfig": {"heliohub-options": options_config(config)},
        **core,
    }
    return {
        "fullnameOverride": GATEWAY_FULLNAME,
        "gateway": gateway,
        "controller": dict(core),
        # Reached through the hub's proxy, never from outside the cluster.
        "traefik": {"service": {"type": "ClusterIP"}, **core},
    }
