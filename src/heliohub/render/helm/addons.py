"""Values for the AWS add-on charts: cluster-autoscaler and the NVIDIA device plugin."""

from __future__ import annotations

from typing import Any

from heliohub.config import HubConfig
from heliohub.platform import EksPlatform
from heliohub.render.helm import aws_names, pools
from heliohub.render.helm.placeholders import output


def autoscaler_values(config: HubConfig, eks: EksPlatform) -> dict[str, Any]:
    release = aws_names.autoscaler_release()
    values: dict[str, Any] = {
        # The autoscaler's minor version must match the cluster's.
        "image": {
            "repository": release["image_repository"],
            "tag": aws_names.autoscaler_image_tag(config.aws.kubernetes_version),
        },
        "cloudProvider": "aws",
        "awsRegion": eks.region,
        "autoDiscovery": {"clusterName": output(eks, "cluster_name")},
        # EKS Pod Identity associates this service account with the autoscaler's IAM role.
        "rbac": {"serviceAccount": {"create": True, "name": release["service_account"]}},
        "extraArgs": {
            "balance-similar-node-groups": True,
            "expander": "least-waste",
            "skip-nodes-with-local-storage": False,
            "skip-nodes-with-system-pods": False,
        },
    }
    values.update(pools.core_placement(config))
    return values


def nvidia_values(config: HubConfig) -> dict[str, Any]:
    """The device plugin on GPU pool nodes only; it must tolerate every taint they carry."""
    gpu = pools.gpu_pools(config)
    terms = [
        {
            "matchExpressions": [
                {"key": k, "operator": "In", "values": [v]}
                for k, v in pools.node_selector(p).items()
            ]
        }
        for p in gpu
    ]
    keys = sorted({(key, effect) for p in gpu for key, _, effect in aws_names.pool_taints(p)})
    return {
        # The chart's default affinity needs node-feature-discovery labels EKS nodes lack.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        },
        "tolerations": [{"key": k, "operator": "Exists", "effect": e} for k, e in keys],
    }
