"""What `up` records locally: the stack outputs (state/aws.json) and the app client secret."""

from __future__ import annotations

import os
from pathlib import Path

from heliohub.files import replace_file
from heliohub.platform import EksPlatform
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.recorded import AWSOutputs
from heliohub.providers.aws.stack_outputs import DeployedStacks

STATE_FILE = "aws.json"


def collect_outputs(
    region: str,
    account_id: str | None,
    stacks: DeployedStacks,
    existing_subnets: tuple[list[str], list[str]] | None = None,
    client_secret_file: str | None = None,
    hosted_zone_id: str | None = None,
) -> AWSOutputs:
    """What `up` records and the Kubernetes layer gets, from the stacks' typed outputs."""
    data, network, cluster = stacks.data, stacks.network, stacks.cluster
    private, public = existing_subnets or (
        (list(network.private_subnet_ids), list(network.public_subnet_ids)) if network else ([], [])
    )
    return AWSOutputs(
        region=region,
        account_id=account_id,
        vpc_id=network.vpc_id if network else None,
        private_subnet_ids=private,
        public_subnet_ids=public,
        cluster_name=cluster.cluster_name if cluster else None,
        cluster_endpoint=cluster.endpoint if cluster else None,
        cluster_ca_data=cluster.certificate_authority_data if cluster else None,
        cluster_security_group_id=cluster.security_group_id if cluster else None,
        node_groups=dict(cluster.node_groups) if cluster else {},
        efs_id=data.file_system_id if data else None,
        efs_access_point_id=data.access_point_id if data else None,
        kms_key_arn=data.secrets_key_arn if data else None,
        user_pool_id=data.user_pool_id if data else None,
        user_pool_arn=data.user_pool_arn if data else None,
        user_pool_client_id=cluster.user_pool_client_id if cluster else None,
        user_pool_domain=cluster.user_pool_domain if cluster else None,
        user_pool_client_secret_file=client_secret_file,
        s3_role_arn=cluster.s3_role_arn if cluster else None,
        autoscaler_role_arn=cluster.autoscaler_role_arn if cluster else None,
        efs_csi_role_arn=cluster.efs_csi_role_arn if cluster else None,
        hosted_zone_id=hosted_zone_id,
        kubernetes_version=cluster.kubernetes_version if cluster else None,
    )


def eks_platform(outputs: AWSOutputs) -> EksPlatform:
    """The EKS cluster as the Kubernetes layer takes it, from what the stacks produced."""
    return EksPlatform(
        region=outputs.region,
        cluster_name=outputs.cluster_name,
        cluster_endpoint=outputs.cluster_endpoint,
        cluster_ca_data=outputs.cluster_ca_data,
        efs_id=outputs.efs_id,
        efs_access_point_id=outputs.efs_access_point_id,
        user_pool_client_id=outputs.user_pool_client_id,
        user_pool_domain=outputs.user_pool_domain,
        hosted_zone_id=outputs.hosted_zone_id,
    )


def write_outputs(state_dir: Path, outputs: AWSOutputs) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    replace_file(path, (outputs.model_dump_json(indent=2) + "\n").encode())
    return path


def read_outputs(state_dir: Path) -> AWSOutputs | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    return AWSOutputs.model_validate_json(path.read_text(encoding="utf-8"))


def write_secret(path: Path, value: str) -> bool:
    """Write a secret with mode 0600 (created so, never world-readable); False: unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.exists() and path.read_text(encoding="utf-8") == value:
        os.chmod(path, 0o600)
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    os.chmod(path, 0o600)
    return True


def fetch_client_secret(clients: AWSClients, user_pool_id: str, client_id: str, path: Path) -> bool:
    """Store the app client's secret; it is read from Cognito, never from stack outputs."""
    desc = clients.client("cognito-idp").describe_user_pool_client(
        UserPoolId=user_pool_id, ClientId=client_id
    )
    return write_secret(path, desc["UserPoolClient"]["ClientSecret"])
