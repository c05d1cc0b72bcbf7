"""What the AWS stacks define and the Kubernetes layer must agree with, imported from there.

Imported lazily: the AWS templates need troposphere (the `aws` extra), and provider kubernetes
must work without it.
"""

from __future__ import annotations

from typing import Any

from heliohub.config.aws import NodePool
from heliohub.render.helm.versions import Chart


def user_service_account() -> str:
    """The service account of user servers and Dask workers (S3 through EKS Pod Identity)."""
    from heliohub.render.cloudformation.naming import USER_SERVICE_ACCOUNT

    return USER_SERVICE_ACCOUNT


def deployment_tag() -> str:
    """The tag key every AWS resource of a deployment carries."""
    from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG

    return DEPLOYMENT_TAG


def pool_labels(pool: NodePool) -> dict[str, str]:
    """The labels the node group puts on its nodes (the config's, plus the pool's name)."""
    from heliohub.render.cloudformation.nodegroups import pool_labels as labels

    return labels(pool)


def pool_taints(pool: NodePool) -> list[tuple[str, str, str]]:
    """(key, value, effect) of the taints the node group puts on its nodes."""
    from heliohub.render.cloudformation.nodegroups import pool_taints as taints

    return taints(pool)


def autoscaler_chart() -> Chart:
    from heliohub.render.cloudformation import autoscaler

    return Chart(
        name=autoscaler.CHART_NAME,
        repo=autoscaler.CHART_REPOSITORY,
        version=autoscaler.CHART_VERSION,
        app_version="matches aws.kubernetes_version",
    )


def autoscaler_release() -> dict[str, Any]:
    """Namespace, service account (the Pod Identity association's) and image repository."""
    from heliohub.render.cloudformation import autoscaler

    return {
        "namespace": autoscaler.NAMESPACE,
        "service_account": autoscaler.SERVICE_ACCOUNT,
        "image_repository": autoscaler.IMAGE_REPOSITORY,
    }


def autoscaler_image_tag(kubernetes_version: str) -> str:
    from heliohub.render.cloudformation.autoscaler import image_tag

    return image_tag(kubernetes_version)
