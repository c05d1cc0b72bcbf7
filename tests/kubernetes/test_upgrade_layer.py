"""The Kubernetes layer's part of an upgrade: one release upgraded on its own (the autoscaler of a
new minor), and the count of running user servers. FakeKube and FakeHelm stand in for a cluster
and helm (there is none here) and record what the layer asks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from k8s_fakes import FakeHelm, FakeKube, Journal
from k8s_fakes import config as named_config

from heliohub.config import LoadedConfig
from heliohub.errors import UserError
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesLayer
from heliohub.providers.kubernetes.kube import PodInfo


def layer(tmp_path: Path, minor: str) -> tuple[KubernetesLayer, FakeKube, FakeHelm]:
    cfg, outs = named_config("aws-heliocloud")
    cfg = cfg.model_copy(update={"aws": cfg.aws.model_copy(update={"kubernetes_version": minor})})
    journal = Journal()
    kube, helm = FakeKube(journal), FakeHelm(journal)
    loaded = LoadedConfig(cfg, tmp_path / "heliohub.yaml", tmp_path)
    return (
        KubernetesLayer(
            loaded,
            SilentReporter(),
            outs,
            tmp_path / ".heliohub" / "state",
            kube=kube,
            helm=helm,
            environ={},
        ),
        kube,
        helm,
    )


@pytest.mark.parametrize(("minor", "tag"), [("1.33", "v1.33.6"), ("1.34", "v1.34.5")])
def test_upgrade_release_runs_only_that_release_with_the_minors_image(
    tmp_path: Path, minor: str, tag: str
) -> None:
    lay, kube, helm = layer(tmp_path, minor)
    lay.upgrade_release("cluster-autoscaler")
    assert [c[:3] for c in helm.calls] == [["upgrade", "--install", "cluster-autoscaler"]]
    assert list(helm.values_seen) == ["cluster-autoscaler-values.yaml"]
    values = yaml.safe_load(helm.values_seen["cluster-autoscaler-values.yaml"])
    assert values["image"]["tag"] == tag
    assert kube.objects == {}  # no manifests, no other release


def test_upgrade_release_of_an_unknown_release_is_an_error(tmp_path: Path) -> None:
    lay, _, helm = layer(tmp_path, "1.34")
    with pytest.raises(UserError, match="no helm release nope"):
        lay.upgrade_release("nope")
    assert helm.calls == []


def test_user_server_count_counts_running_user_servers_only(tmp_path: Path) -> None:
    lay, kube, _ = layer(tmp_path, "1.34")
    server = {"component": "singleuser-server"}
    kube.pods_list = [
        PodInfo("jupyter-alice", "Running", True, server),
        PodInfo("jupyter-bob", "Running", False, server),
        PodInfo("jupyter-carol", "Pending", False, server),
        PodInfo("hub-5d8", "Running", True, {"component": "hub"}),
    ]
    assert lay.user_server_count() == 2
    kube.pods_list = []
    assert lay.user_server_count() == 0


def test_the_hub_chart_migrates_its_database_on_kubernetes_and_aws() -> None:
    """On a cluster the jupyterhub chart starts the hub with --upgrade-db when hub.db.type is
    sqlite-pvc and hub.db.upgrade is unset; JupyterHub then copies the sqlite file next to itself
    before migrating. heliohub's values must leave both so (checked on the real chart)."""
    from k8s_fakes import REPO

    from heliohub.render.helm import build

    chart = REPO.parent / "shared" / "charts" / "jupyterhub"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    assert defaults["hub"]["db"]["type"] == "sqlite-pvc"
    assert defaults["hub"]["db"]["upgrade"] is None
    template = (chart / "templates" / "hub" / "deployment.yaml").read_text()
    nil_branch = template.split('else if eq $upgradeType "<nil>"')[1].split("{{- end }}")[0]
    assert 'eq .Values.hub.db.type "sqlite-pvc"' in nil_branch and "--upgrade-db" in nil_branch
    for name in ("aws-heliocloud", "kubernetes-minimal"):
        cfg, outs = named_config(name)
        values = yaml.safe_load(build(cfg, outs).files["kubernetes/jupyterhub-values.yaml"])
        db = values["hub"].get("db", {})
        assert "type" not in db and "upgrade" not in db, name
