"""What `up` records locally: the stack outputs (state/aws.json) and the app client secret."""

from __future__ import annotations

import os
from pathlib import Path

from heliohub.providers.aws.clients import AWSClients
from heliohub.render.outputs import AWSOutputs

STATE_FILE = "aws.json"


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def collect_outputs(
    region: str,
    account_id: str | None,
    stacks: dict[str, dict[str, str]],
    nodegroup_outputs: dict[str, str],
    existing_subnets: tuple[list[str], list[str]] | None = None,
    client_secret_file: str | None = None,
    hosted_zone_id: str | None = None,
) -> AWSOutputs:
    """Typed outputs from the stacks' outputs (keys as the templates name them)."""
    data = stacks.get("data", {})
    network = stacks.get("network", {})
    cluster = stacks.get("cluster", {})
    private, public = existing_subnets or (
        _split(network.get("PrivateSubnetIds")),
        _split(network.get("PublicSubnetIds")),
    )
    return AWSOutputs(
        region=region,
        account_id=account_id,
        vpc_id=network.get("VpcId"),
        private_subnet_ids=private,
        public_subnet_ids=public,
        cluster_name=cluster.get("ClusterName"),
        cluster_endpoint=cluster.get("ClusterEndpoint"),
        cluster_ca_data=cluster.get("ClusterCertificateAuthorityData"),
        cluster_security_group_id=cluster.get("ClusterSecurityGroupId"),
        node_groups={
            pool: cluster[key] for pool, key in sorted(nodegroup_outputs.items()) if key in cluster
        },
        efs_id=data.get("FileSystemId"),
        efs_access_point_id=data.get("AccessPointId"),
        kms_key_arn=data.get("SecretsKeyArn"),
        user_pool_id=data.get("UserPoolId"),
        user_pool_arn=data.get("UserPoolArn"),
        user_pool_client_id=cluster.get("UserPoolClientId"),
        user_pool_domain=cluster.get("UserPoolDomain"),
        user_pool_client_secret_file=client_secret_file,
        s3_role_arn=cluster.get("UserS3RoleArn"),
        autoscaler_role_arn=cluster.get("AutoscalerRoleArn"),
        efs_csi_role_arn=cluster.get("EfsCsiRoleArn"),
        hosted_zone_id=hosted_zone_id,
        kubernetes_version=cluster.get("KubernetesVersion"),
    )


def write_outputs(state_dir: Path, outputs: AWSOutputs) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(outputs.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
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
