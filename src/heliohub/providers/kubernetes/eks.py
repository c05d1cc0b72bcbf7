"""Connect to EKS without the AWS CLI: heliohub itself is the kubeconfig's exec plugin.

The token is what aws-iam-authenticator makes: a presigned STS GetCallerIdentity URL that also
signs the `x-k8s-aws-id: <cluster>` header, base64url-encoded without padding, prefixed
`k8s-aws-v1.`. EKS accepts it for 15 minutes; the URL itself says 60 seconds.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from heliohub.errors import UserError
from heliohub.platform import EksPlatform

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
URL_EXPIRES_S = 60
# EKS tokens live 15 minutes; ask for a new one a minute before that.
TOKEN_LIFETIME = dt.timedelta(minutes=14)
EXEC_API = "client.authentication.k8s.io/v1beta1"


def eks_token(cluster: str, region: str, session: Any = None) -> str:
    """A bearer token for the EKS cluster, from the session's credentials (botocore)."""
    import boto3
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    session = session or boto3.Session(region_name=region)
    try:
        sts = session.client("sts", region_name=region)

        def _add_cluster(request: Any, **_: Any) -> None:
            request.headers[CLUSTER_HEADER] = cluster

        sts.meta.events.register("before-sign.sts.GetCallerIdentity", _add_cluster)
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_S, HttpMethod="GET"
        )
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ) from None
    except BotoCoreError as exc:
        raise UserError(f"cannot sign an EKS token: {exc}") from None
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded


def exec_credential(token: str, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    expires = (now + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API,
        "spec": {},
        "status": {"expirationTimestamp": expires, "token": token},
    }


def heliohub_command() -> str:
    """The heliohub executable beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "heliohub"
    if beside.exists():
        return str(beside)
    found = shutil.which("heliohub")
    if not found:
        raise UserError("the heliohub command is not on PATH; install heliohub (pip install .)")
    return found


def eks_kubeconfig(eks: EksPlatform, namespace: str, command: str) -> dict[str, Any]:
    missing = [
        n for n in ("cluster_name", "cluster_endpoint", "cluster_ca_data") if not getattr(eks, n)
    ]
    if missing:
        raise UserError(
            f"the AWS stack outputs lack {', '.join(missing)}; run `heliohub up` to finish the "
            "infrastructure first"
        )
    name = f"heliohub-{eks.cluster_name}"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": eks.cluster_endpoint,
                    "certificate-authority-data": eks.cluster_ca_data,
                },
            }
        ],
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API,
                        "command": command,
                        "args": [
                            "kube-credentials",
                            "--cluster",
                            eks.cluster_name,
                            "--region",
                            eks.region,
                        ],
                        "interactiveMode": "Never",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
        "contexts": [
            {"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}
        ],
        "current-context": name,
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    """Mode 0600 from the start: it names the cluster and how to get credentials."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    os.chmod(path, 0o600)
    return path


def credential_json(cluster: str, region: str, session: Any = None) -> str:
    return json.dumps(exec_credential(eks_token(cluster, region, session)))
