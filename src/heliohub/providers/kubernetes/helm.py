"""The helm CLI, run with an explicit environment and an argument list (never a shell)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from heliohub.errors import UserError

# Passed through to helm (and to the kubeconfig's exec plugin it runs): credentials and proxies.
PASS_THROUGH_PREFIXES = ("AWS_",)
PASS_THROUGH = (
    "PATH",
    "HOME",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
)


@dataclass(frozen=True)
class ReleaseInfo:
    name: str
    namespace: str
    status: str
    chart: str
    app_version: str
    revision: str


class Helm(Protocol):
    def version(self) -> str: ...

    def run(self, args: list[str]) -> str:
        """Run `helm ARGS`; raise UserError on failure."""

    def releases(self, namespace: str) -> list[ReleaseInfo]: ...


def helm_env(
    state_dir: Path, kubeconfig: Path | None, context: str | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """Only what helm needs; its caches live in the state directory, not the user's home."""
    env = {
        k: v for k, v in environ.items() if k in PASS_THROUGH or k.startswith(PASS_THROUGH_PREFIXES)
    }
    helm_home = state_dir / "helm"
    env["HELM_CACHE_HOME"] = str(helm_home / "cache")
    env["HELM_CONFIG_HOME"] = str(helm_home / "config")
    env["HELM_DATA_HOME"] = str(helm_home / "data")
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    elif "KUBECONFIG" in environ:
        env["KUBECONFIG"] = environ["KUBECONFIG"]
    if context:
        env["HELM_KUBECONTEXT"] = context
    return env


class HelmCLI:
    def __init__(self, env: dict[str, str], binary: str | None = None) -> None:
        self.env = env
        self.binary = binary or shutil.which("helm", path=env.get("PATH", os.defpath))

    def _binary(self) -> str:
        if not self.binary:
            raise UserError(
                "helm not found on PATH. Install helm 3 or 4 (https://helm.sh/docs/intro/install/) "
                "and run the command again."
            )
        return self.binary

    def run(self, args: list[str], timeout: float | None = 3600) -> str:
        cmd = [self._binary(), *args]
        try:
            done = subprocess.run(
                cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            what = " ".join(args[:3])
            raise UserError(f"helm {what} did not finish in {timeout:.0f} s") from None
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise UserError(
                f"helm {' '.join(args[:3])} failed (exit {done.returncode}):\n  "
                + "\n  ".join(detail)
                + "\nRun `heliohub doctor` for the cluster's state."
            )
        return done.stdout

    def version(self) -> str:
        return self.run(["version", "--short"], timeout=60).strip()

    def releases(self, namespace: str) -> list[ReleaseInfo]:
        out = self.run(["list", "--namespace", namespace, "--all", "--output", "json"], timeout=120)
        return [
            ReleaseInfo(
                name=r.get("name", ""),
                namespace=r.get("namespace", namespace),
                status=r.get("status", ""),
                chart=r.get("chart", ""),
                app_version=r.get("app_version", ""),
                revision=str(r.get("revision", "")),
            )
            for r in json.loads(out or "[]")
        ]
