"""What a first real deploy on Kubernetes would hit: shared storage no default class can
provide, success reported while pods wait, and the hub database volume leaking on `down`.

Fake cluster and helm (no cluster here); the config rules are the real model's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from k8s_fakes import LB, FakeClock, FakeHelm, FakeKube, Journal, StubCertProbe, StubResolver
from k8s_fakes import config as named_config

from heliohub.config import LoadedConfig, parse
from heliohub.config.starter import starter
from heliohub.errors import ConfigError, UserError
from heliohub.providers.base import SilentReporter, UpOptions
from heliohub.providers.kubernetes import KubernetesLayer, KubernetesProvider
from heliohub.providers.kubernetes.dns import Bounds
from heliohub.providers.kubernetes.kube import PodInfo
from heliohub.render.helm import build
from heliohub.render.helm.manifests import ebs_class


def test_the_shared_folder_is_off_on_kubernetes_without_a_read_write_many_class() -> None:
    """A ReadWriteMany claim on the default class (gp2/gp3, GKE, AKS, kind, k3s) stays Pending,
    and every user pod that mounts it with it; so it is not asked for by default."""
    config = parse({"provider": "kubernetes"})
    assert config.storage.shared.enabled is False
    files = build(config).files
    assert "kubernetes/manifests/20-storage.yaml" not in files
    values = yaml.safe_load(files["kubernetes/jupyterhub-values.yaml"])
    assert "extraVolumes" not in values["singleuser"]["storage"]
    # Local and AWS keep it on: a directory there, a subdirectory of EFS here.
    assert parse({}).storage.shared.enabled
    assert parse({"provider": "aws"}).storage.shared.enabled


def test_asking_for_the_shared_folder_without_such_a_class_is_refused_at_validate() -> None:
    with pytest.raises(ConfigError) as info:
        parse({"provider": "kubernetes", "storage": {"shared": {"enabled": True}}})
    (line,) = info.value.problems
    assert line.startswith("storage.shared.enabled: ")
    assert "kubernetes.shared_storage_class" in line and "ReadWriteMany" in line


def test_with_a_read_write_many_class_the_claim_names_it() -> None:
    config = parse({"provider": "kubernetes", "kubernetes": {"shared_storage_class": "efs-sc"}})
    assert config.storage.shared.enabled
    (claim,) = yaml.safe_load_all(build(config).files["kubernetes/manifests/20-storage.yaml"])
    assert claim["spec"]["storageClassName"] == "efs-sc"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_the_kubernetes_starter_validates_with_the_shared_folder_off() -> None:
    config = parse(yaml.safe_load(starter("kubernetes")))
    assert config.storage.shared.enabled is False
    assert "shared_storage_class" in starter("kubernetes")


def _provider(
    tmp_path: Path, kube: FakeKube, helm: FakeHelm, journal: Journal
) -> KubernetesProvider:
    cfg = parse({"provider": "kubernetes"})
    clock = FakeClock()
    layer = KubernetesLayer(
        LoadedConfig(cfg, None, tmp_path),
        SilentReporter(),
        None,
        tmp_path / "state",
        kube=kube,
        helm=helm,
        resolver=StubResolver(journal, clock, {"192.0.2.10"}),
        cert_probe=StubCertProbe(journal, kube, 0),
        bounds=Bounds(lb_s=300, resolve_s=600, cert_s=120, poll_s=10),
        clock=clock,
        environ={},
    )
    return KubernetesProvider(LoadedConfig(cfg, None, tmp_path), SilentReporter(), layer=layer)


def test_up_does_not_report_success_while_a_pod_is_pending(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal
) -> None:
    fake_kube.lb_hostname = LB
    fake_kube.pods_list = [
        PodInfo("hub-1", "Running", True),
        PodInfo(
            "jupyter-ana",
            "Pending",
            False,
            reason='pod has unbound immediate PersistentVolumeClaims "heliohub-shared"',
        ),
    ]
    with pytest.raises(UserError, match="not every pod runs") as info:
        _provider(tmp_path, fake_kube, fake_helm, journal).up(UpOptions())
    assert "pod jupyter-ana: pending" in str(info.value)
    assert "unbound immediate PersistentVolumeClaims" in str(info.value)


def test_up_reports_the_running_hub(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal
) -> None:
    fake_kube.lb_hostname = LB
    fake_kube.pods_list = [PodInfo("hub-1", "Running", True)]
    status = _provider(tmp_path, fake_kube, fake_helm, journal).up(UpOptions())
    assert not [c for c in status.components if c.name.startswith("pod ")]


def test_the_hub_database_volume_is_deleted_and_tagged_on_aws() -> None:
    """Reclaim Delete (a retained volume is never found again once its cluster is gone) and the
    deployment tag, so the teardown scan sees any volume that outlives its cluster."""
    cfg, _ = named_config("aws-heliocloud")
    sc = ebs_class(cfg)
    assert sc["reclaimPolicy"] == "Delete"
    assert f"heliohub:deployment={cfg.name}" in sc["parameters"].values()


def test_down_with_delete_data_deletes_the_hub_database_claim(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal
) -> None:
    provider = _provider(tmp_path, fake_kube, fake_helm, journal)
    provider.layer.destroy(delete_data=False)
    assert "delete PersistentVolumeClaim hub-db-dir" not in journal  # kept: same cluster
    provider.layer.destroy(delete_data=True)
    assert "delete PersistentVolumeClaim hub-db-dir" in journal
