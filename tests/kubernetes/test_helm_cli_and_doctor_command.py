"""HelmCLI with a stand-in `helm` executable, and `heliohub doctor` end to end against a
kubeconfig whose API server is a closed loopback port (real kr8s, nothing listening)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from heliohub.cli.main import app
from heliohub.errors import UserError
from heliohub.providers.kubernetes.helm import HelmCLI, helm_env

FAKE_HELM = """#!/bin/sh
# stand-in for helm: record argv and environment, answer `list` and `version`
printf '%s\\n' "$@" > "$(dirname "$0")/argv"
env | sort > "$(dirname "$0")/env"
case "$1" in
  version) echo "v3.19.0+gstandin" ;;
  list) echo '[{"name":"jupyterhub","namespace":"daskhub","revision":"2",'\
'"status":"deployed","chart":"jupyterhub-4.4.0","app_version":"5.5.0"}]' ;;
  fail) echo "Error: something broke" >&2; exit 1 ;;
esac
"""


def stand_in_helm(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(FAKE_HELM)
    helm.chmod(helm.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_helm_runs_with_an_explicit_environment(tmp_path: Path) -> None:
    bin_dir = stand_in_helm(tmp_path)
    environ = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_PROFILE": "lab",
        "SECRET_TOKEN": "must-not-pass",
        "KUBECONFIG": "/x",
    }
    env = helm_env(tmp_path / "state", tmp_path / "kubeconfig", "ctx", environ)
    helm = HelmCLI(env)
    assert helm.version() == "v3.19.0+gstandin"
    (release,) = helm.releases("daskhub")
    assert (release.name, release.status, release.revision) == ("jupyterhub", "deployed", "2")
    assert (bin_dir / "argv").read_text().split() == [
        "list",
        "--namespace",
        "daskhub",
        "--all",
        "--output",
        "json",
    ]
    seen = dict(
        line.split("=", 1) for line in (bin_dir / "env").read_text().splitlines() if "=" in line
    )
    assert seen["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert seen["HELM_KUBECONTEXT"] == "ctx"
    assert seen["AWS_PROFILE"] == "lab"
    assert seen["HELM_CACHE_HOME"].startswith(str(tmp_path / "state"))
    assert "SECRET_TOKEN" not in seen


def test_helm_failure_and_absence_are_user_errors(tmp_path: Path) -> None:
    bin_dir = stand_in_helm(tmp_path)
    helm = HelmCLI({"PATH": str(bin_dir)})
    with pytest.raises(UserError, match="something broke"):
        helm.run(["fail"])
    with pytest.raises(UserError, match="helm not found"):
        HelmCLI({"PATH": str(tmp_path / "empty")}).version()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_doctor_command_end_to_end(tmp_path: Path, monkeypatch) -> None:
    bin_dir = stand_in_helm(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "lab",
                        "cluster": {
                            "server": f"https://127.0.0.1:{closed_port()}",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "lab", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
                "current-context": "lab",
            }
        )
    )
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "provider": "kubernetes",
                "kubernetes": {"kubeconfig": "kubeconfig", "context": "lab"},
            }
        )
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    result = CliRunner().invoke(app, ["doctor", "-c", str(cfg)])
    out = result.output
    assert result.exit_code == 1, out
    assert "✓ chart values validate" in out
    assert "✓ helm works: v3.19.0+gstandin" in out
    assert "✗ cannot reach the cluster" in out and "context lab" in out
    assert "fix:" in out


def test_doctor_on_local_reports_the_checks_of_up_and_a_stopped_hub(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text("provider: local\n")
    result = CliRunner().invoke(app, ["doctor", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert "✓ config and machine pass the checks `up` makes" in result.output
    assert "! not running" in result.output and "heliohub up" in result.output
    assert "Traceback" not in result.output


def test_doctor_on_local_names_what_up_would_refuse(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a directory\n")
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text("provider: local\nlocal: {data_dir: ./taken}\n")
    result = CliRunner().invoke(app, ["doctor", "-c", str(cfg)])
    assert result.exit_code == 1, result.output
    assert "✗ local.data_dir" in result.output and "fix:" in result.output
    assert "Traceback" not in result.output


def test_render_writes_the_kubernetes_layer(tmp_path: Path) -> None:
    cfg = tmp_path / "heliohub.yaml"
    cfg.write_text("provider: kubernetes\n")
    out = tmp_path / "rendered"
    result = CliRunner().invoke(app, ["render", "-c", str(cfg), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "kubernetes" / "helm-commands.txt").read_text().count("helm upgrade") == 2
    values = yaml.safe_load((out / "kubernetes" / "jupyterhub-values.yaml").read_text())
    assert values["hub"]["services"]["dask-gateway"]["url"] == "http://traefik-dask-gateway:80"
