"""Where the Kubernetes layer runs: the EKS cluster the AWS stacks made, or a cluster that exists.

The AWS provider builds an EksPlatform from its stacks' typed outputs; the Kubernetes provider
builds an ExistingCluster from the config. The Kubernetes layer, the hub spec's login and the
Helm renderer take one of the two, never the AWS provider's outputs. Pure data, below every
layer that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExistingCluster:
    """A cluster heliohub reaches through a kubeconfig (None: the default one) and context."""

    kubeconfig: Path | None = None
    context: str | None = None


@dataclass(frozen=True)
class EksPlatform:
    """The EKS cluster of the AWS stacks, and what the charts need of them.

    A field still None has not been produced by its stack yet (`heliohub render` before the
    first `up`): the renderer writes a placeholder naming it, and the layer refuses to apply.
    """

    region: str
    cluster_name: str | None = None
    cluster_endpoint: str | None = None
    cluster_ca_data: str | None = None
    # Homes: the EFS file system and its access point (uid 1000, gid 100).
    efs_id: str | None = None
    efs_access_point_id: str | None = None
    # The Cognito app client and hosted UI domain prefix, when the stacks made them.
    user_pool_client_id: str | None = None
    user_pool_domain: str | None = None
    # The Route53 zone of the hub's domain, when the account has one.
    hosted_zone_id: str | None = None


Platform = EksPlatform | ExistingCluster
