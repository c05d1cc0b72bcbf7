"""What the AWS stacks define and the Kubernetes layer must agree with (render/eks.py, shared
with the CloudFormation templates and free of troposphere, so provider kubernetes needs no
`aws` extra)."""

from __future__ import annotations

from typing import Any

from heliohub.config.aws import NodePool
from heliohub.render import eks
from heliohub.render.helm.versions import Chart


def user_service_account() -> str:
    """The service account of user servers and Dask workers (S3 through EKS Pod Identity)."""
    return eks.USER_SERVICE_ACCOUNT


def deployment_tag() -> str:
    """The tag key every AWS resource of a deployment carries."""
    return eks.DEPLOYMENT_TAG


def pool_labels(pool: NodePool) -> dict[str, str]:
    """The labels the node group puts on its nodes (the config's, plus the pool's name)."""
    return eks.pool_labels(pool)


def pool_taints(pool: NodePool) -> list[tuple[str, str, str]]:
    """(key, value, effect) of the taints the node group puts on its nodes."""
    return eks.pool_taints(pool)


def autoscaler_chart() -> Chart:
    return Chart(
        name=eks.AUTOSCALER_CHART_NAME,
        repo=eks.AUTOSCALER_CHART_REPOSITORY,
        version=eks.AUTOSCALER_CHART_VERSION,
        app_version="matches aws.kubernetes_version",
    )


def autoscaler_release() -> dict[str, Any]:
    """Namespace, service account (the Pod Identity association's) and image repository."""
    return {
        "namespace": eks.AUTOSCALER_NAMESPACE,
        "service_account": eks.AUTOSCALER_SERVICE_ACCOUNT,
        "image_repository": eks.AUTOSCALER_IMAGE_REPOSITORY,
    }


def autoscaler_image_tag(kubernetes_version: str) -> str:
    return eks.autoscaler_image_tag(kubernetes_version)
