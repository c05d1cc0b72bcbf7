"""The Kubernetes layer and the Helm renderer take a typed platform: the EKS cluster the AWS
stacks made, or an existing cluster from the config. No cluster is reached here."""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_fakes import config as named_config
from k8s_fakes import outputs as eks_outputs

from heliohub.config import LoadedConfig, parse
from heliohub.errors import UserError
from heliohub.platform import EksPlatform, ExistingCluster
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesProvider
from heliohub.providers.kubernetes.layer import KubernetesLayer, configured_platform
from heliohub.render.helm import build
from heliohub.render.helm.placeholders import find_placeholders


def test_the_kubernetes_provider_gives_the_layer_its_cluster_from_the_config(
    tmp_path: Path,
) -> None:
    cfg = parse(
        {
            "name": "lab",
            "provider": "kubernetes",
            "kubernetes": {"kubeconfig": "kube/config", "context": "lab"},
        }
    )
    loaded = LoadedConfig(cfg, tmp_path / "conf" / "heliohub.yaml", tmp_path / "conf")
    provider = KubernetesProvider(loaded, SilentReporter())
    # The kubeconfig resolves against the config file's directory, once, here.
    expected = ExistingCluster(kubeconfig=tmp_path / "conf" / "kube" / "config", context="lab")
    assert provider.layer.platform == expected
    assert provider.layer.kubeconfig() == (expected.kubeconfig, "lab")
    assert not provider.layer.aws


def test_an_eks_platform_without_its_cluster_is_refused_before_any_connection(
    tmp_path: Path,
) -> None:
    cfg, _ = named_config("aws-heliocloud")
    pending = configured_platform(LoadedConfig(cfg, None, tmp_path))
    assert pending == EksPlatform(region=cfg.aws.region)
    layer = KubernetesLayer(cfg, SilentReporter(), pending, tmp_path / "state")
    assert layer.aws
    with pytest.raises(UserError, match="the EKS cluster does not exist yet"):
        layer.kubeconfig()

    ready = KubernetesLayer(cfg, SilentReporter(), eks_outputs(), tmp_path / "state")
    path, context = ready.kubeconfig()
    assert path is not None and path.exists() and context == "heliohub-heliohub"


def test_the_renderer_follows_the_platform() -> None:
    aws, _ = named_config("aws-heliocloud")
    # Before the stacks exist the files name what they wait for; with the platform, nothing.
    waiting = find_placeholders(build(aws).files)
    assert {n for names in waiting.values() for n in names} >= {"cluster_name", "efs_id"}
    assert find_placeholders(build(aws, eks_outputs()).files) == {}
    files = build(aws, eks_outputs()).files
    storage = files["kubernetes/manifests/20-storage.yaml"].decode()
    assert "fs-0123456789abcdef0::fsap-0123456789abcdef0" in storage
    assert "kubernetes/cluster-autoscaler-values.yaml" in files

    k8s, _ = named_config("kubernetes-native-letsencrypt")
    on_cluster = build(k8s, ExistingCluster(context="lab")).files
    assert "kubernetes/cluster-autoscaler-values.yaml" not in on_cluster
    assert find_placeholders(on_cluster) == {}
