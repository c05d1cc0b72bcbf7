"""status and doctor over a fake cluster: what they report, and the fix for each problem."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from k8s_fakes import LB, FakeClock, FakeHelm, FakeKube, Journal, StubCertProbe, StubResolver
from k8s_fakes import config as named_config

from heliohub.config import LoadedConfig, parse
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesLayer, KubernetesProvider
from heliohub.providers.kubernetes.dns import Bounds, CertInfo
from heliohub.providers.kubernetes.helm import ReleaseInfo
from heliohub.providers.kubernetes.kube import (
    ClaimInfo,
    EventInfo,
    NodeInfo,
    PodInfo,
    event_info,
    pod_info,
)


class Sizes:
    def sizes(self) -> dict[str, tuple[int, int, int]]:
        return {"heliohub-services": (1, 1, 2), "heliohub-gpu": (0, 1, 5)}


def layer_for(tmp_path: Path, cfg, outs, kube, helm, journal, clock, probe=None):
    return KubernetesLayer(
        LoadedConfig(cfg, None, tmp_path),
        SilentReporter(),
        outs,
        tmp_path / "state",
        kube=kube,
        helm=helm,
        resolver=StubResolver(journal, clock, {"192.0.2.10"}),
        cert_probe=probe or StubCertProbe(journal, kube, 0),
        nodegroups=Sizes() if cfg.provider == "aws" else None,
        bounds=Bounds(),
        clock=clock,
        environ={},
    )


def deployed(*names: tuple[str, str]) -> list[ReleaseInfo]:
    return [ReleaseInfo(n, ns, "deployed", f"{n}-x", "1.0", "3") for n, ns in names]


def test_status_shows_what_the_runbook_debugging_section_asked_for(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal, clock: FakeClock
) -> None:
    cfg, outs = named_config("aws-heliocloud")
    fake_helm.installed = deployed(
        ("jupyterhub", "daskhub"),
        ("dask-gateway", "daskhub"),
        ("cluster-autoscaler", "kube-system"),
        ("nvidia-device-plugin", "kube-system"),
    )
    fake_kube.lb_hostname = LB
    fake_kube.pods_list = [
        PodInfo("hub-7f9", "Running", True),
        PodInfo(
            "jupyter-ana",
            "Pending",
            False,
            reason="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
        ),
    ]
    fake_kube.events_list = [
        EventInfo("2026-11-25T10:00:02Z", "Warning", "FailedScheduling", "pod/jupyter-ana", "b"),
        EventInfo("2026-11-25T10:00:01Z", "Normal", "Pulled", "pod/hub-7f9", "a"),
    ]
    fake_kube.nodes_list = [
        NodeInfo("ip-1", True, {"eks.amazonaws.com/nodegroup": "heliohub-services"}),
    ]
    fake_kube.claims_list = [ClaimInfo("heliohub-home", "Bound")]
    provider = KubernetesProvider(
        LoadedConfig(cfg, None, tmp_path),
        SilentReporter(),
        layer=layer_for(tmp_path, cfg, outs, fake_kube, fake_helm, journal, clock),
    )
    status = provider.status()
    by_name = {c.name: c for c in status.components}
    assert by_name["release jupyterhub"].state == "running"
    assert "revision 3" in by_name["release jupyterhub"].detail
    assert by_name["pod jupyter-ana"].state == "pending"
    assert "Insufficient nvidia.com/gpu" in by_name["pod jupyter-ana"].detail
    assert "pod hub-7f9" not in by_name
    assert by_name["load balancer"].detail == LB
    assert by_name["dns"].state == "running"
    assert by_name["certificate"].detail.startswith("issued by Let's Encrypt")
    assert by_name["node pool heliohub-services"].state == "running"
    assert by_name["node pool heliohub-gpu"].detail == "desired 1 (min 0, max 5), ready 0 of 0"
    assert status.state == "partial"
    assert status.url == "https://hub.example.org"
    events = status.notes[status.notes.index("last events:") + 1 :]
    assert [e.split()[0] for e in events] == ["2026-11-25T10:00:01Z", "2026-11-25T10:00:02Z"]
    assert status.notes[0].startswith("pending: jupyter-ana: 0/3 nodes")


def test_doctor_prints_a_fix_for_each_problem(
    tmp_path: Path, fake_kube: FakeKube, fake_helm: FakeHelm, journal: Journal, clock: FakeClock
) -> None:
    cfg, _ = named_config("kubernetes-native-letsencrypt")
    fake_helm.installed = deployed(("jupyterhub", "hub"))
    fake_kube.lb_hostname = LB
    fake_kube.pods_list = [
        PodInfo("api-dask-gateway-1", "Running", False, reason="gateway: CrashLoopBackOff back-off")
    ]
    fake_kube.claims_list = [ClaimInfo("heliohub-shared", "Pending")]
    expiring = CertInfo(
        valid=True, issuer="Let's Encrypt", not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    )
    layer = layer_for(
        tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, probe=lambda host: expiring
    )
    findings = layer.doctor()
    text = {f.what: f for f in findings}
    assert any(f.ok and f.what.startswith("chart values validate") for f in findings)
    assert any(f.ok and f.what.startswith("helm works") for f in findings)
    assert any(f.ok and f.what.startswith("cluster reachable") for f in findings)
    missing = text["release dask-gateway is not installed"]
    assert missing.level == "error" and missing.fix == "run `heliohub up`"
    crash = next(f for f in findings if f.what.startswith("pod api-dask-gateway-1"))
    assert "heliohub logs" in crash.fix
    shared = text["claim heliohub-shared is Pending"]
    assert "ReadWriteMany" in shared.fix
    expiry = next(f for f in findings if f.what.startswith("certificate expires"))
    assert expiry.level == "warning"
    assert all(f.fix for f in findings if not f.ok)


def test_doctor_reports_an_unreachable_cluster_with_its_fix(
    tmp_path: Path, fake_helm: FakeHelm, journal: Journal, clock: FakeClock
) -> None:
    class Unreachable(FakeKube):
        def server_version(self) -> str:
            raise ConnectionRefusedError("connection refused")

    cfg = parse({"provider": "kubernetes", "kubernetes": {"context": "lab"}})
    layer = layer_for(tmp_path, cfg, None, Unreachable(journal), fake_helm, journal, clock)
    findings = layer.doctor()
    last = findings[-1]
    assert last.level == "error" and "connection refused" in last.what
    assert "context lab" in last.what and "kubernetes.context" in last.fix


def test_doctor_flags_config_choices_on_aws(tmp_path: Path) -> None:
    cfg, outs = named_config("aws-heliocloud")
    from heliohub.providers.kubernetes.doctor import config_findings
    from heliohub.render.helm import render_kubernetes

    findings = config_findings(cfg, render_kubernetes(cfg, outs))
    spot = [f for f in findings if "spot pool gpu" in f.what]
    assert spot and spot[0].level == "warning" and "node_pool" in spot[0].fix
    before = config_findings(cfg, render_kubernetes(cfg, None))
    assert any("wait for stack outputs" in f.what for f in before)


def test_pod_and_event_parsing_from_api_objects() -> None:
    pod = pod_info(
        {
            "metadata": {"name": "jupyter-x", "labels": {"component": "singleuser-server"}},
            "status": {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 node(s) had untolerated taint.",
                    }
                ],
            },
        }
    )
    assert not pod.ready and "untolerated taint" in pod.reason
    running = pod_info(
        {
            "metadata": {"name": "hub"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    assert running.ready and running.reason == ""
    waiting = pod_info(
        {
            "metadata": {"name": "p"},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [
                    {
                        "name": "notebook",
                        "ready": False,
                        "state": {
                            "waiting": {"reason": "ImagePullBackOff", "message": "not found"}
                        },
                    }
                ],
            },
        }
    )
    assert waiting.reason == "notebook: ImagePullBackOff not found"
    event = event_info(
        {
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "hub"},
            "type": "Warning",
            "reason": "BackOff",
            "message": " restarting ",
        }
    )
    assert event == EventInfo("2026-01-01T00:00:00Z", "Warning", "BackOff", "pod/hub", "restarting")
