"""DNS and HTTPS in order: Route53 in moto's server mode on loopback (the AWS emulator), a stub
resolver function, a stub certificate probe and a fake cluster. No internet is involved."""

from __future__ import annotations

import pytest
from k8s_fakes import LB, FakeClock, FakeKube, Journal, StubCertProbe, StubResolver

from heliohub.config import parse
from heliohub.errors import UserError
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes.dns import Bounds, DnsHttps, Route53Records, elb_zone_lookup

LETSENCRYPT = {
    "provider": "aws",
    "domain": "hub.example.org",
    "https": {"mode": "letsencrypt", "contact_email": "admin@example.org"},
    "auth": {"type": "native"},
}


def make_zone(session, name: str = "example.org") -> str:
    r53 = session.client("route53")
    zone = r53.create_hosted_zone(Name=name, CallerReference=f"test-{name}")
    return zone["HostedZone"]["Id"].split("/")[-1]


def records(session, zone_id: str) -> dict[tuple[str, str], dict]:
    r53 = session.client("route53")
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"], r["Type"]): r for r in sets if r["Type"] in ("A", "CNAME")}


def sequence(data, kube, journal, clock, bounds, session, resolver, probe, reporter=None):
    cfg = parse(data)
    route53 = (
        Route53Records(session.client("route53"), elb_zone_lookup(session, "us-east-1"))
        if session is not None
        else None
    )
    return DnsHttps(
        cfg,
        kube,
        reporter or SilentReporter(),
        enable_letsencrypt=lambda: journal.append("enable letsencrypt"),
        route53=route53,
        resolver=resolver,
        cert_probe=probe,
        bounds=bounds,
        clock=clock,
    )


def test_letsencrypt_only_after_dns_resolves_and_autohttps_restarted_once(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: Route53 CNAME upserted, then DNS, then Let's Encrypt, then one restart."""
    zone = make_zone(moto_route53)
    fake_kube.lb_hostname = LB
    fake_kube.lb_after_polls = 3
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    resolver.domain_resolves_at = 200.0
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=1)
    seq = sequence(LETSENCRYPT, fake_kube, journal, clock, bounds, moto_route53, resolver, probe)

    outcome = seq.run(letsencrypt_pending=True)

    assert outcome.lb_hostname == LB
    assert outcome.dns == "route53-cname"
    rec = records(moto_route53, zone)[("hub.example.org.", "CNAME")]
    assert rec["ResourceRecords"] == [{"Value": LB}]
    assert outcome.resolved and outcome.https == "letsencrypt"
    assert outcome.certificate is not None and outcome.certificate.valid
    assert outcome.autohttps_restarted
    enable = journal.index("enable letsencrypt")
    first_resolved = journal.index("resolve hub.example.org: lb")
    assert first_resolved < enable
    assert "resolve hub.example.org: nxdomain" in journal[:first_resolved]
    assert all(not j.startswith("probe cert") for j in journal[:enable])
    assert journal.count("delete pods autohttps") == 1
    restart = journal.index("delete pods autohttps")
    # the bound passed with probes failing before the restart
    assert journal[enable:restart].count("probe cert: none") >= bounds.cert_s / bounds.poll_s
    assert journal[-1] == "probe cert: valid"
    assert clock.now >= 200.0


def test_no_certificate_after_the_restart_is_reported_not_retried(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: the certificate never comes; autohttps is restarted once, then a report."""
    make_zone(moto_route53)
    fake_kube.lb_hostname = LB
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=None)
    reporter = SilentReporter()
    seq = sequence(
        LETSENCRYPT, fake_kube, journal, clock, bounds, moto_route53, resolver, probe, reporter
    )

    outcome = seq.run(letsencrypt_pending=True)

    assert journal.count("delete pods autohttps") == 1
    assert outcome.certificate is not None and not outcome.certificate.valid
    assert any("TRAEFIK DEFAULT CERT" in n for n in outcome.notes)
    assert any(
        line.startswith("warning:") and "restarted autohttps once" in line
        for line in reporter.lines
    )


def test_without_resolution_letsencrypt_stays_off(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: the name never resolves to the LB within the bound: HTTPS is held back."""
    make_zone(moto_route53)
    fake_kube.lb_hostname = LB
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    resolver.domain_resolves_at = None
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=0)
    seq = sequence(LETSENCRYPT, fake_kube, journal, clock, bounds, moto_route53, resolver, probe)

    outcome = seq.run(letsencrypt_pending=True)

    assert not outcome.resolved and outcome.https == "pending"
    assert "enable letsencrypt" not in journal
    assert not any(j.startswith(("probe cert", "delete pods")) for j in journal)
    assert clock.now >= bounds.resolve_s
    assert "run `heliohub up` again" in outcome.notes[0]


def test_alias_to_the_elb_zone_replaces_an_old_cname(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: an ELB of this account gets an alias A record; a CNAME there is replaced.

    The emulator's classic ELBs carry no canonical hosted zone, so this uses a network LB
    (service annotation aws-load-balancer-type: nlb); the lookup covers both kinds.
    """
    zone = make_zone(moto_route53)
    ec2 = moto_route53.client("ec2", region_name="us-east-1")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    elbv2 = moto_route53.client("elbv2", region_name="us-east-1")
    lb = elbv2.create_load_balancer(
        Name="proxy-public", Subnets=subnets, Type="network", Scheme="internet-facing"
    )["LoadBalancers"][0]
    r53 = moto_route53.client("route53")
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "hub.example.org.",
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "old-lb.example.net"}],
                    },
                }
            ]
        },
    )
    fake_kube.lb_hostname = lb["DNSName"]
    resolver = StubResolver(journal, clock, {"192.0.2.20"})
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=0)
    data = {**LETSENCRYPT, "https": {"mode": "off"}}
    seq = sequence(data, fake_kube, journal, clock, bounds, moto_route53, resolver, probe)

    outcome = seq.run(letsencrypt_pending=False)

    assert outcome.dns == "route53-alias"
    recs = records(moto_route53, zone)
    assert ("hub.example.org.", "CNAME") not in recs
    alias = recs[("hub.example.org.", "A")]["AliasTarget"]
    assert alias["HostedZoneId"] == lb["CanonicalHostedZoneId"]
    assert alias["DNSName"].rstrip(".") == lb["DNSName"].lower()
    assert outcome.url == "http://hub.example.org"
    assert "enable letsencrypt" not in journal


def test_the_record_is_deleted_only_when_it_points_at_our_lb(moto_route53) -> None:
    """Emulator: `down` removes the hub's record, never someone else's."""
    zone = make_zone(moto_route53)
    records53 = Route53Records(moto_route53.client("route53"))
    records53.upsert(zone, "example.org.", "hub.example.org", LB)
    assert not records53.delete_if_pointing_at(zone, "hub.example.org", "other.example.net")
    assert ("hub.example.org.", "CNAME") in records(moto_route53, zone)
    assert records53.delete_if_pointing_at(zone, "hub.example.org", LB)
    assert ("hub.example.org.", "CNAME") not in records(moto_route53, zone)


def test_the_zone_apex_needs_an_alias(moto_route53) -> None:
    """Emulator: a CNAME cannot sit at the apex; the error says what to do."""
    zone = make_zone(moto_route53)
    records53 = Route53Records(moto_route53.client("route53"))
    assert records53.find_zone("example.org") == (zone, "example.org.")
    with pytest.raises(UserError, match="zone apex"):
        records53.upsert(zone, "example.org.", "example.org", LB)


def test_a_zone_elsewhere_means_a_manual_record(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: no zone for the domain in the account: say which record to create, then wait."""
    make_zone(moto_route53, "other.org")
    fake_kube.lb_hostname = LB
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=0)
    reporter = SilentReporter()
    seq = sequence(
        LETSENCRYPT, fake_kube, journal, clock, bounds, moto_route53, resolver, probe, reporter
    )
    outcome = seq.run(letsencrypt_pending=True)
    assert outcome.dns == "manual"
    assert any(f"hub.example.org CNAME {LB}" in line for line in reporter.lines)
    assert journal.index("resolve hub.example.org: lb") < journal.index("enable letsencrypt")
    assert "delete pods autohttps" not in journal


def test_acm_offload_never_touches_letsencrypt(
    moto_route53, fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    """Emulator: with ACM the load balancer holds the certificate; no ACME, no restarts."""
    make_zone(moto_route53)
    fake_kube.lb_hostname = LB
    resolver = StubResolver(journal, clock, {"192.0.2.10"})
    probe = StubCertProbe(journal, fake_kube, valid_after_restarts=0)
    data = {
        **LETSENCRYPT,
        "https": {
            "mode": "acm",
            "acm_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/x",
        },
    }
    seq = sequence(data, fake_kube, journal, clock, bounds, moto_route53, resolver, probe)
    outcome = seq.run(letsencrypt_pending=False)
    assert outcome.https == "acm" and outcome.certificate.valid
    assert "enable letsencrypt" not in journal and "delete pods autohttps" not in journal
    assert outcome.url == "https://hub.example.org"


def test_no_load_balancer_is_an_error_that_says_why(
    fake_kube: FakeKube, journal: Journal, clock: FakeClock, bounds: Bounds
) -> None:
    fake_kube.lb_hostname = None
    resolver = StubResolver(journal, clock, set())
    seq = sequence(
        {"provider": "kubernetes"},
        fake_kube,
        journal,
        clock,
        bounds,
        None,
        resolver,
        StubCertProbe(journal, fake_kube, 0),
    )
    with pytest.raises(UserError, match="LoadBalancer services"):
        seq.run(letsencrypt_pending=False)
    assert clock.now >= bounds.lb_s
