"""Snapshots of the rendered values, manifests and exact helm command lines.

After an intended change, regenerate with HELIOHUB_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from k8s_fakes import config

from heliohub.render.helm import render_kubernetes
from heliohub.render.helm.placeholders import find_placeholders

SNAPSHOTS = Path(__file__).parent / "snapshots"
SNAPSHOT_CONFIGS = ["kubernetes-minimal", "aws-heliocloud", "aws-before-first-deploy"]


@pytest.mark.parametrize("name", SNAPSHOT_CONFIGS)
def test_render_matches_snapshot(name: str) -> None:
    cfg, outs = config(name)
    files = render_kubernetes(cfg, outs)
    assert render_kubernetes(cfg, outs) == files, "render is not deterministic"
    root = SNAPSHOTS / name
    if os.environ.get("HELIOHUB_UPDATE_SNAPSHOTS") == "1":
        for old in root.rglob("*"):
            if old.is_file():
                old.unlink()
        for path, content in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(content)
    stored = {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
    assert sorted(stored) == sorted(files)
    for path, content in files.items():
        assert content.decode() == stored[path].decode(), path


def test_helm_commands_are_exact() -> None:
    cfg, outs = config("aws-heliocloud")
    text = render_kubernetes(cfg, outs)["kubernetes/helm-commands.txt"].decode()
    commands = [line for line in text.splitlines() if line.startswith("helm ")]
    assert commands == [
        "helm upgrade --install cluster-autoscaler cluster-autoscaler"
        " --repo https://kubernetes.github.io/autoscaler --version 9.59.0"
        " --namespace kube-system --values kubernetes/cluster-autoscaler-values.yaml"
        " --wait --timeout 10m0s",
        "helm upgrade --install nvidia-device-plugin nvidia-device-plugin"
        " --repo https://nvidia.github.io/k8s-device-plugin --version 0.18.2"
        " --namespace kube-system --values kubernetes/nvidia-device-plugin-values.yaml"
        " --wait --timeout 10m0s",
        "helm upgrade --install jupyterhub jupyterhub --repo https://hub.jupyter.org/helm-chart/"
        " --version 4.4.0 --namespace daskhub --values kubernetes/jupyterhub-values.yaml"
        " --values kubernetes/jupyterhub-https-pending.yaml --wait --timeout 15m0s",
        "helm upgrade --install dask-gateway dask-gateway --repo https://helm.dask.org"
        " --version 2026.3.0 --namespace daskhub --values kubernetes/dask-gateway-values.yaml"
        " --wait --timeout 10m0s",
        "helm upgrade --install jupyterhub jupyterhub --repo https://hub.jupyter.org/helm-chart/"
        " --version 4.4.0 --namespace daskhub --values kubernetes/jupyterhub-values.yaml"
        " --wait --timeout 15m0s",
        "helm uninstall dask-gateway --namespace daskhub --wait",
        "helm uninstall jupyterhub --namespace daskhub --wait",
        "helm uninstall nvidia-device-plugin --namespace kube-system --wait",
        "helm uninstall cluster-autoscaler --namespace kube-system --wait",
    ]


def test_placeholders_name_the_missing_outputs() -> None:
    cfg, _ = config("aws-before-first-deploy")
    waiting = find_placeholders(render_kubernetes(cfg, None))
    assert waiting == {
        "kubernetes/cluster-autoscaler-values.yaml": ["cluster_name"],
        "kubernetes/manifests/20-storage.yaml": ["efs_access_point_id", "efs_id"],
    }
    cfg, outs = config("aws-heliocloud")
    assert find_placeholders(render_kubernetes(cfg, outs)) == {}
