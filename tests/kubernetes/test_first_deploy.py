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
    volumes = values["singleuser"]["storage"]["extraVolumes"]
    assert not [v for v in volumes if "persistentVolumeClaim" in v]
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


def test_spawns_on_aws_wait_for_a_cold_pool() -> None:
    """Scale-from-zero plus a multi-GB image pull takes longer than z2jh's 300 s."""
    cfg, outs = named_config("aws-heliocloud")
    values = yaml.safe_load(build(cfg, outs).files["kubernetes/jupyterhub-values.yaml"])
    assert values["singleuser"]["startTimeout"] == 900


def test_gpu_profile_only_where_gpu_nodes_are_and_with_a_cuda_image() -> None:
    """A server asking for a GPU no node has stays Pending: no default GPU profile on
    kubernetes (heliohub cannot know the nodes) nor on aws pools without GPUs; an explicit one
    there is refused. The reference GPU profile runs a CUDA image."""
    assert not [p for p in parse({"provider": "kubernetes"}).profiles if p.gpus]
    cpu_pools = {"node_pools": [{"name": "u", "instance_types": ["m5.xlarge"], "max_size": 2}]}
    dask = {"worker_node_pool": "u", "gpu_worker_node_pool": None}
    cpu_only = parse({"provider": "aws", "aws": cpu_pools, "dask": dask})
    assert not [p for p in cpu_only.profiles if p.gpus]
    (gpu,) = [p for p in parse({"provider": "aws"}).profiles if p.gpus]
    assert gpu.image and "ml-notebook" in gpu.image
    explicit = {
        "name": "g",
        "display_name": "G",
        "cpu": {"guarantee": 1, "limit": 2},
        "memory_gib": {"guarantee": 1, "limit": 2},
        "gpus": 1,
    }
    with pytest.raises(ConfigError) as info:
        parse({"provider": "aws", "aws": cpu_pools, "dask": dask, "profiles": [explicit]})
    assert info.value.problems[0].startswith("profiles.g.gpus: no node pool has GPUs")


def test_workers_default_to_the_servers_image_and_servers_get_shared_memory() -> None:
    cfg, outs = named_config("aws-heliocloud")
    values = yaml.safe_load(build(cfg, outs).files["kubernetes/jupyterhub-values.yaml"])
    env = values["singleuser"]["extraEnv"]
    assert env["DASK_GATEWAY__CLUSTER__OPTIONS__IMAGE"] == "{JUPYTER_IMAGE_SPEC}"
    storage = values["singleuser"]["storage"]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory"}} in storage["extraVolumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in storage["extraVolumeMounts"]


def test_dask_schedulers_stay_off_spot_and_user_pods_need_user_nodes() -> None:
    """A spot reclaim of a scheduler loses the whole cluster; workers may go to spot."""
    cfg, outs = named_config("aws-heliocloud")
    files = build(cfg, outs).files
    gateway = yaml.safe_load(files["kubernetes/dask-gateway-values.yaml"])["gateway"]["backend"]
    pools = {p.name: p for p in cfg.aws.node_pools}
    scheduler = gateway["scheduler"]["extraPodConfig"]["nodeSelector"]["heliohub/node-pool"]
    worker = gateway["worker"]["extraPodConfig"]["nodeSelector"]["heliohub/node-pool"]
    assert pools[scheduler].capacity == "on-demand" and pools[worker].capacity == "spot"
    hub = yaml.safe_load(files["kubernetes/jupyterhub-values.yaml"])
    assert hub["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require"


def test_without_https_the_hub_is_not_public_and_up_says_how_to_reach_it(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal
) -> None:
    """The local provider's exposure policy on a cluster: no load balancer serving logins over
    plain HTTP; the service is ClusterIP and `up` and `status` give the port-forward."""
    plain = parse({"provider": "kubernetes"})
    values = yaml.safe_load(build(plain).files["kubernetes/jupyterhub-values.yaml"])
    assert values["proxy"]["service"]["type"] == "ClusterIP"
    https = parse(
        {
            "provider": "kubernetes",
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "a@example.org"},
            "auth": {"type": "native", "admin_users": ["ada"]},
        }
    )
    values = yaml.safe_load(build(https).files["kubernetes/jupyterhub-values.yaml"])
    assert values["proxy"]["service"]["type"] == "LoadBalancer"

    fake_kube.pods_list = [PodInfo("hub-1", "Running", True)]
    status = _provider(tmp_path, fake_kube, fake_helm, journal).up(UpOptions())
    assert status.url is None
    assert any("port-forward service/proxy-public" in n for n in status.notes)
    (access,) = [c for c in status.components if c.name == "access"]
    assert "port-forward" in access.detail
    assert not [c for c in status.components if c.name == "load balancer"]
    # No wait for a load balancer that will never come.
    assert not [j for j in journal if j.startswith("poll service")]


def test_missing_helm_names_both_supported_major_versions(tmp_path: Path) -> None:
    from heliohub.providers.kubernetes.helm import HelmCLI

    with pytest.raises(UserError, match="helm 3 or 4"):
        HelmCLI({"PATH": str(tmp_path)}).version()
