# heliohub's gateway.extraConfig for the dask-gateway chart: the same text for every heliohub
# deployment. The values are the JSON document in the gateway's environment variable
# HELIOHUB_GATEWAY (the chart's gateway.env, rendered by heliohub.render.helm.gateway from the
# hub spec). The gateway image has no heliohub: this uses dask-gateway-server only.
import json
import os

from dask_gateway_server.options import Bool, Float, Integer, Options, String

c = get_config()  # noqa: F821 (provided by traitlets)
_heliohub = json.loads(os.environ["HELIOHUB_GATEWAY"])
_cores = _heliohub["options"]["worker_cores"]
_memory = _heliohub["options"]["worker_memory_gib"]
_gpu = _heliohub["gpu"]


def _heliohub_options(options, user):
    # The hub spec's semantics of a choice (ClusterOptions.worker_settings), with limits
    # equal to the requests.
    memory = int(options.worker_memory * 2**30)
    overrides = {
        "worker_cores": options.worker_cores,
        "worker_threads": options.worker_cores,
        "worker_cores_limit": options.worker_cores,
        "worker_memory": memory,
        "worker_memory_limit": memory,
        "image": options.image,
        "worker_extra_pod_config": _heliohub["worker_pod"],
    }
    if _gpu and options.gpu:
        overrides["worker_extra_pod_config"] = _gpu["pod"]
        overrides["worker_extra_container_config"] = _gpu["container"]
    return overrides


_fields = [
    Integer(
        "worker_cores",
        default=_cores["default"],
        min=_cores["min"],
        max=_cores["max"],
        label="Worker cores",
    ),
    Float(
        "worker_memory",
        default=_memory["default"],
        min=_memory["min"],
        max=_memory["max"],
        label="Worker memory (GiB)",
    ),
    String("image", default=_heliohub["options"]["image"], label="Image"),
]
if _gpu:
    # Only where a GPU pool exists to run them.
    _fields.append(Bool("gpu", default=False, label="GPU workers"))
c.Backend.cluster_options = Options(*_fields, handler=_heliohub_options)
c.ClusterConfig.cluster_max_workers = _heliohub["max_workers_per_cluster"]
c.ClusterConfig.idle_timeout = _heliohub["cluster_idle_timeout_s"]
# dask >= 2026 has no dask-scheduler / dask-worker executables
c.KubeClusterConfig.scheduler_cmd = ["dask", "scheduler"]
c.KubeClusterConfig.worker_cmd = ["dask", "worker"]
