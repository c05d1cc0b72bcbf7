"""The EKS exec credential: token format and the kubeconfig that uses heliohub as its plugin.

Signed with fake static credentials; nothing is sent anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import yaml
from k8s_fakes import outputs
from typer.testing import CliRunner

from heliohub.cli.main import app
from heliohub.providers.kubernetes.eks import (
    eks_kubeconfig,
    eks_token,
    exec_credential,
    write_kubeconfig,
)

FAKE = {
    "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


def decode(token: str) -> str:
    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body and "+" not in body and "/" not in body  # base64url, unpadded
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_token_is_a_presigned_get_caller_identity_with_the_cluster_header() -> None:
    session = boto3.Session(region_name="eu-west-1", **FAKE)
    url = urlsplit(decode(eks_token("heliohub", "eu-west-1", session)))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.scheme == "https"
    assert url.hostname == "sts.eu-west-1.amazonaws.com"
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert query["X-Amz-Credential"].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert "/eu-west-1/sts/aws4_request" in query["X-Amz-Credential"]
    assert len(query["X-Amz-Signature"]) == 64


def test_exec_credential_shape() -> None:
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    cred = exec_credential("k8s-aws-v1.abc", now)
    assert cred == {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": "2026-11-25T12:14:00Z", "token": "k8s-aws-v1.abc"},
    }


def test_kube_credentials_command(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE["aws_secret_access_key"])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    result = CliRunner().invoke(
        app, ["kube-credentials", "--cluster", "hc", "--region", "us-west-2"]
    )
    assert result.exit_code == 0, result.output
    cred = json.loads(result.stdout)
    url = decode(cred["status"]["token"])
    assert "sts.us-west-2.amazonaws.com" in url and "Action=GetCallerIdentity" in url


def test_kubeconfig_uses_heliohub_as_exec_plugin(tmp_path: Path) -> None:
    config = eks_kubeconfig(outputs(), "daskhub", "/opt/bin/heliohub")
    user = config["users"][0]["user"]["exec"]
    assert user["command"] == "/opt/bin/heliohub"
    assert user["args"] == ["kube-credentials", "--cluster", "heliohub", "--region", "us-east-1"]
    assert user["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"].startswith("https://") and cluster["certificate-authority-data"]
    path = write_kubeconfig(tmp_path / "state" / "kubeconfig", config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == config
