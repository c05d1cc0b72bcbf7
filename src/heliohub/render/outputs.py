"""Typed outputs of the AWS stacks, passed to the Kubernetes layer (never untyped dicts)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AWSOutputs(BaseModel):
    """What the infrastructure stacks produced; recorded in the local state after `up`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    account_id: str | None = None
    vpc_id: str | None = None
    cluster_name: str | None = None
    cluster_endpoint: str | None = None
    cluster_ca_data: str | None = None
    efs_id: str | None = None
    efs_access_point_id: str | None = None
    kms_key_arn: str | None = None
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    user_pool_domain: str | None = None
    user_pool_arn: str | None = None
    s3_role_arn: str | None = None
    autoscaler_role_arn: str | None = None
    efs_csi_role_arn: str | None = None
    hosted_zone_id: str | None = None
