"""provider: kubernetes, and the Kubernetes layer the AWS provider uses after its stacks."""

from heliohub.providers.kubernetes.layer import KubernetesLayer
from heliohub.providers.kubernetes.provider import KubernetesProvider

__all__ = ["KubernetesLayer", "KubernetesProvider"]
