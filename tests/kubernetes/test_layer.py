"""KubernetesLayer.apply / destroy with a fake cluster and helm; Route53 in the emulator.

There is no cluster and no helm binary here: FakeKube and FakeHelm stand in for them and record
what the layer asks, in order.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from k8s_fakes import LB, FakeClock, FakeHelm, FakeKube, Journal, StubCertProbe, StubResolver
from k8s_fakes import config as named_config
from k8s_fakes import outputs as stack_outputs

from heliohub.config import LoadedConfig, parse
from heliohub.errors import RefusedError, UserError
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesLayer
from heliohub.providers.kubernetes.dns import Bounds
from heliohub.providers.kubernetes.helm import ReleaseInfo


def make_layer(
    tmp_path: Path,
    cfg,
    outs,
    kube,
    helm,
    journal,
    clock,
    bounds,
    session=None,
    resolver=None,
    probe=None,
    **kw,
) -> KubernetesLayer:
    loaded = LoadedConfig(cfg, tmp_path / "heliohub.yaml", tmp_path)
    return KubernetesLayer(
        loaded,
        SilentReporter(),
        outs,
        tmp_path / ".heliohub" / "kubernetes",
        kube=kube,
        helm=helm,
        resolver=resolver or StubResolver(journal, clock, {"192.0.2.10"}),
        cert_probe=probe or StubCertProbe(journal, kube, valid_after_restarts=0),
        bounds=bounds,
        clock=clock,
        aws_session=session,
        environ={},
        **kw,
    )


def helm_steps(journal: Journal) -> list[str]:
    return [j for j in journal if j.startswith("helm ")]


def test_aws_apply_in_order(
    tmp_path: Path,
    moto_route53,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    """Emulator (Route53): manifests, add-ons, hub with HTTPS held, gateway, DNS, then HTTPS."""
    r53 = moto_route53.client("route53")
    zone = r53.create_hosted_zone(Name="example.org", CallerReference="t")["HostedZone"]["Id"]
    cfg, outs = named_config("aws-heliocloud")
    fake_kube.lb_hostname = LB
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    resolver.domain_resolves_at = 120.0
    layer = make_layer(
        tmp_path,
        cfg,
        outs,
        fake_kube,
        fake_helm,
        journal,
        clock,
        bounds,
        session=moto_route53,
        resolver=resolver,
    )

    outcome = layer.apply()

    assert helm_steps(journal) == [
        "helm upgrade cluster-autoscaler",
        "helm upgrade nvidia-device-plugin",
        "helm upgrade jupyterhub https-pending",
        "helm upgrade dask-gateway",
        "helm upgrade jupyterhub",
    ]
    first_helm = journal.index("helm upgrade cluster-autoscaler")
    applied = [j for j in journal[:first_helm] if j.startswith("apply ")]
    assert applied[0] == "apply Namespace daskhub"
    assert "apply Secret heliohub-auth" in applied
    assert "apply PersistentVolumeClaim heliohub-home" in applied
    assert journal.index("resolve hub.example.org: lb") < journal.index("helm upgrade jupyterhub")
    assert outcome.url == "https://hub.example.org"
    assert outcome.certificate is not None and outcome.certificate.valid
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert any(r["Name"] == "hub.example.org." and r["Type"] == "CNAME" for r in sets)
    # values went through a private temporary directory, removed afterwards
    assert fake_helm.dir_modes == {0o700}
    values_dirs = {Path(a).parent for call in fake_helm.calls for a in call if a.endswith(".yaml")}
    assert values_dirs and not any(d.exists() for d in values_dirs)
    assert b"hub.example.org" in fake_helm.values_seen["jupyterhub-values.yaml"]


def test_the_auth_secret_gets_values_only_at_apply(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg = parse(
        {"provider": "kubernetes", "auth": {"type": "shared-password", "admin_users": ["admin"]}}
    )
    fake_kube.lb_hostname = LB
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    layer.apply()
    secret = fake_kube.secrets[("daskhub", "heliohub-auth")]
    assert set(secret) == {"HELIOHUB_SHARED_PASSWORD", "HELIOHUB_SHARED_ADMIN_PASSWORD"}
    stored = tmp_path / ".heliohub" / "secrets" / "shared-password"
    assert stored.read_text().strip() == secret["HELIOHUB_SHARED_PASSWORD"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert all(
        secret["HELIOHUB_SHARED_PASSWORD"].encode() not in v for v in fake_helm.values_seen.values()
    )
    # a second `up` reuses the stored password, so nothing restarts the hub
    layer.apply()
    assert fake_kube.secrets[("daskhub", "heliohub-auth")] == secret
    assert "delete pods hub" not in journal


def test_a_changed_secret_restarts_the_hub(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("first-password\n")
    cfg = parse(
        {"provider": "kubernetes", "auth": {"type": "shared-password", "password": {"file": "pw"}}}
    )
    fake_kube.lb_hostname = LB
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    layer.apply()
    pw.write_text("second-password\n")
    layer.apply()
    assert journal.count("delete pods hub") == 1
    assert journal.index("delete pods hub") > len(journal) - 10


def test_a_missing_secret_env_var_is_a_clear_error(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg = parse(
        {
            "provider": "kubernetes",
            "auth": {"type": "shared-password", "password": {"env": "HUB_PW"}},
        }
    )
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    with pytest.raises(UserError, match="HUB_PW"):
        layer.apply()
    assert helm_steps(journal) == []


def test_placeholders_are_refused(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg, _ = named_config("aws-before-first-deploy")
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    with pytest.raises(RefusedError, match="efs_id"):
        layer.apply()
    assert journal == []
    # outputs with the EFS but no cluster name are still incomplete
    layer = make_layer(
        tmp_path,
        cfg,
        stack_outputs(cluster_name=None),
        fake_kube,
        fake_helm,
        journal,
        clock,
        bounds,
    )
    with pytest.raises(RefusedError, match="cluster_name"):
        layer.apply()


def test_a_later_up_skips_the_https_detour_when_dns_is_right(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg, _ = named_config("kubernetes-native-letsencrypt")
    fake_kube.lb_hostname = LB
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    outcome = layer.apply()
    assert helm_steps(journal) == ["helm upgrade jupyterhub", "helm upgrade dask-gateway"]
    assert outcome.https == "letsencrypt"


def test_destroy_waits_until_the_load_balancer_is_gone(
    tmp_path: Path,
    moto_route53,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    """Emulator (Route53): uninstall in reverse, wait for proxy-public, drop our DNS record."""
    r53 = moto_route53.client("route53")
    zone = r53.create_hosted_zone(Name="example.org", CallerReference="t")["HostedZone"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "hub.example.org.",
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": LB}],
                    },
                }
            ]
        },
    )
    cfg, outs = named_config("aws-heliocloud")
    fake_kube.lb_hostname = LB
    fake_kube.service_gone_after_polls = 6
    fake_helm.installed = [
        ReleaseInfo(n, ns, "deployed", f"{n}-1", "1", "1")
        for n, ns in [
            ("jupyterhub", "daskhub"),
            ("dask-gateway", "daskhub"),
            ("cluster-autoscaler", "kube-system"),
        ]
    ]
    layer = make_layer(
        tmp_path, cfg, outs, fake_kube, fake_helm, journal, clock, bounds, session=moto_route53
    )
    layer.destroy()
    assert helm_steps(journal) == [
        "helm uninstall dask-gateway",
        "helm uninstall jupyterhub",
        "helm uninstall cluster-autoscaler",
    ]
    polls = [j for j in journal if j.startswith("poll service")]
    assert polls[-1] == "poll service proxy-public: gone"
    assert journal.index(polls[-1]) > journal.index("helm uninstall jupyterhub")
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    assert not any(r["Type"] == "CNAME" for r in sets)
    deleted = [j for j in journal if j.startswith("delete ")]
    assert "delete Secret heliohub-auth" in deleted
    # On AWS the hub database's claim dies with the cluster: deleted here, its volume goes
    # too (reclaim Delete) instead of leaking. Homes (EFS) and the namespace stay.
    assert "delete PersistentVolumeClaim hub-db-dir" in deleted
    kept = [d for d in deleted if d != "delete PersistentVolumeClaim hub-db-dir"]
    assert not any("PersistentVolume" in d or "Namespace" in d for d in kept)


def test_destroy_refuses_to_report_done_while_the_lb_lingers(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg = parse({"provider": "kubernetes"})
    fake_kube.service_gone_after_polls = 10_000
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    with pytest.raises(UserError, match="block deleting the network"):
        layer.destroy()
    assert clock.now >= bounds.lb_s


def test_check_reads_the_service_token(
    tmp_path: Path,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    cfg = parse({"provider": "kubernetes"})
    layer = make_layer(tmp_path, cfg, None, fake_kube, fake_helm, journal, clock, bounds)
    with pytest.raises(UserError, match="heliohub up"):
        layer.check_token()
    fake_kube.secrets[("daskhub", "hub")] = {"hub.services.heliohub-check.apiToken": "t0k"}
    fake_kube.lb_hostname = LB
    assert layer.check_token() == "t0k"
    assert layer.hub_url() == f"http://{LB}"


def test_called_as_the_aws_provider_calls_it_with_cognito(
    tmp_path: Path,
    moto_route53,
    fake_kube: FakeKube,
    fake_helm: FakeHelm,
    journal: Journal,
    clock: FakeClock,
    bounds: Bounds,
) -> None:
    """The AWS provider passes the bare config and <data dir>/state; it writes the Cognito
    client secret to <data dir>/secrets, where the layer reads it (never generates it).
    Route53 is the emulator (no zone there, so the record is left to the user)."""
    cfg = parse(
        {
            "provider": "aws",
            "domain": "hub.example.org",
            "https": {
                "mode": "acm",
                "acm_certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x",
            },
            "auth": {"type": "cognito", "admin_groups": ["admins"]},
        }
    )
    data_dir = tmp_path / ".heliohub"
    fake_kube.lb_hostname = LB
    kwargs = dict(
        config=cfg,
        reporter=SilentReporter(),
        platform=stack_outputs(),
        state_dir=data_dir / "state",
    )
    fakes = dict(
        kube=fake_kube,
        helm=fake_helm,
        resolver=StubResolver(journal, clock, {"1.2.3.4"}),
        cert_probe=StubCertProbe(journal, fake_kube, 0),
        bounds=bounds,
        clock=clock,
        environ={},
        aws_session=moto_route53,
    )
    with pytest.raises(UserError, match="cognito-client-secret is missing"):
        KubernetesLayer(**kwargs, **fakes).apply()
    assert not (data_dir / "secrets" / "cognito-client-secret").exists()
    (data_dir / "secrets").mkdir(parents=True)
    (data_dir / "secrets" / "cognito-client-secret").write_text("s3cr3t\n")
    outcome = KubernetesLayer(**kwargs, **fakes).apply()
    assert outcome.dns == "manual"
    secret = fake_kube.secrets[("daskhub", "heliohub-auth")]
    assert secret["OAUTH_CLIENT_SECRET"] == "s3cr3t"
    values = fake_helm.values_seen["jupyterhub-values.yaml"].decode()
    assert "3n4b5urk1ft4fl3mg5e62d9ado" in values  # the app client id from the outputs
    assert "s3cr3t" not in values
