"""Rendered manifests against the Kubernetes API schemas, with kubernetes-validate."""

from __future__ import annotations

import warnings

import pytest
import yaml
from k8s_fakes import CONFIGS, config
from kubernetes_validate import utils as kv

from heliohub.render.helm import render_kubernetes


def schema_version(wanted: str) -> str:
    """The configured minor if kubernetes-validate knows it, else its newest (with a warning)."""
    known = {".".join(v.split(".")[:2]) for v in kv.all_versions()}
    if wanted in known:
        return wanted
    newest = ".".join(kv.latest_version().split(".")[:2])
    warnings.warn(
        f"kubernetes-validate has no schemas for {wanted}; validating with {newest}",
        stacklevel=2,
    )
    return newest


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_manifests_validate(name: str) -> None:
    cfg, outs = config(name)
    files = render_kubernetes(cfg, outs)
    docs = [
        doc
        for path, content in sorted(files.items())
        if path.startswith("kubernetes/manifests/")
        for doc in yaml.safe_load_all(content)
    ]
    assert docs, "no manifests rendered"
    version = schema_version(cfg.aws.kubernetes_version)
    for doc in docs:
        # strict: unknown fields are errors too
        kv.validate(doc, version, strict=True)


def test_validation_bites() -> None:
    cfg, _ = config("kubernetes-minimal")
    files = render_kubernetes(cfg)
    (netpol,) = yaml.safe_load_all(files["kubernetes/manifests/40-network-policy.yaml"])
    netpol["spec"]["egress"][0]["ports"][0]["prot"] = "TCP"
    with pytest.raises(kv.ValidationError):
        kv.validate(netpol, schema_version(cfg.aws.kubernetes_version), strict=True)


def test_kind_coverage() -> None:
    cfg, outs = config("aws-heliocloud")
    kinds = sorted(
        doc["kind"]
        for path, content in render_kubernetes(cfg, outs).items()
        if path.startswith("kubernetes/manifests/")
        for doc in yaml.safe_load_all(content)
    )
    assert kinds == [
        "Namespace",
        "NetworkPolicy",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Secret",
        "ServiceAccount",
        "StorageClass",
        "StorageClass",
    ]
