"""DNS and HTTPS, in order and without manual steps.

1. wait for the proxy LoadBalancer hostname;
2. upsert the Route53 record (alias to the ELB's zone, or CNAME) when the zone is in the account;
3. wait until the name resolves to the load balancer;
4. only then enable Let's Encrypt (an ACME attempt before that fails and is not retried,
   z2jh#1602), or rely on ACM at the load balancer;
5. if no certificate within a bound, restart autohttps once, then report.

The resolver, the certificate probe, the clock and Route53 are passed in, so tests run it
against moto's Route53 on loopback and stub functions.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heliohub.config import HubConfig
from heliohub.errors import UserError
from heliohub.hubspec import hub_spec
from heliohub.providers.base import Reporter
from heliohub.providers.kubernetes.kube import Kube
from heliohub.render.helm.wiring import (
    AUTOHTTPS_COMPONENT,
    JUPYTERHUB_RELEASE,
    PROXY_PUBLIC_SERVICE,
)

Resolver = Callable[[str], set[str]]

AUTOHTTPS_LABELS = {
    "app": "jupyterhub",
    "component": AUTOHTTPS_COMPONENT,
    "release": JUPYTERHUB_RELEASE,
}


def system_resolver(name: str) -> set[str]:
    """Addresses the name resolves to here; empty when it does not (yet)."""
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return set()
    return {str(info[4][0]) for info in infos}


@dataclass(frozen=True)
class CertInfo:
    valid: bool
    issuer: str = ""
    not_after: dt.datetime | None = None
    error: str = ""

    def describe(self) -> str:
        if not self.valid:
            return f"no valid certificate ({self.error})" if self.error else "no valid certificate"
        expiry = self.not_after.strftime("%Y-%m-%d") if self.not_after else "?"
        return f"issued by {self.issuer}, expires {expiry}"


CertProbe = Callable[[str], CertInfo]


def tls_probe(host: str, port: int = 443, timeout: float = 10) -> CertInfo:
    """The certificate the host serves, verified against the system's trust store."""
    context = ssl.create_default_context()
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        return CertInfo(valid=False, error=exc.verify_message or str(exc))
    except (OSError, ssl.SSLError) as exc:
        return CertInfo(valid=False, error=str(exc))
    issuer = dict(x[0] for x in cert.get("issuer", ()))
    not_after = cert.get("notAfter")
    expires = (
        dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.UTC)
        if not_after
        else None
    )
    return CertInfo(
        valid=True,
        issuer=" / ".join(
            v for v in (issuer.get("organizationName"), issuer.get("commonName")) if v
        ),
        not_after=expires,
    )


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


class Route53Records:
    """The hub's record in a public hosted zone of this account."""

    def __init__(self, client: Any, elb_zone: Callable[[str], str | None] | None = None) -> None:
        self.client = client
        self.elb_zone = elb_zone or (lambda _hostname: None)

    def find_zone(self, domain: str, zone_name: str | None = None) -> tuple[str, str] | None:
        """(zone id, zone name) of the closest public zone holding domain, if the account has it."""
        labels = domain.rstrip(".").split(".")
        candidates = (
            [zone_name] if zone_name else [".".join(labels[i:]) for i in range(len(labels) - 1)]
        )
        for candidate in candidates:
            want = _fqdn(candidate)
            resp = self.client.list_hosted_zones_by_name(DNSName=want, MaxItems="10")
            for zone in resp.get("HostedZones", []):
                private = zone.get("Config", {}).get("PrivateZone", False)
                if zone["Name"].lower() == want and not private:
                    return zone["Id"].split("/")[-1], want
        return None

    def zone_name(self, zone_id: str) -> str:
        return _fqdn(self.client.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"])

    def _existing(self, zone_id: str, domain: str) -> list[dict[str, Any]]:
        resp = self.client.list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=_fqdn(domain), MaxItems="10"
        )
        return [
            r
            for r in resp.get("ResourceRecordSets", [])
            if _fqdn(r["Name"]) == _fqdn(domain) and r["Type"] in ("A", "AAAA", "CNAME")
        ]

    def upsert(self, zone_id: str, zone_name: str, domain: str, lb_hostname: str) -> str:
        """Point domain at the load balancer; returns 'alias' or 'cname'."""
        lb_zone = self.elb_zone(lb_hostname)
        if lb_zone:
            record: dict[str, Any] = {
                "Name": _fqdn(domain),
                "Type": "A",
                "AliasTarget": {
                    "HostedZoneId": lb_zone,
                    "DNSName": _fqdn(lb_hostname),
                    "EvaluateTargetHealth": False,
                },
            }
            kind = "alias"
        else:
            if _fqdn(domain) == zone_name:
                raise UserError(
                    f"{domain} is the zone apex, which needs an alias record, but the load "
                    f"balancer {lb_hostname} was not found in this account's ELBs. Use a "
                    "subdomain (e.g. hub.<zone>) as `domain`."
                )
            record = {
                "Name": _fqdn(domain),
                "Type": "CNAME",
                "TTL": 60,
                "ResourceRecords": [{"Value": lb_hostname}],
            }
            kind = "cname"
        changes = [
            {"Action": "DELETE", "ResourceRecordSet": r}
            for r in self._existing(zone_id, domain)
            if (r["Type"] == "CNAME") != (record["Type"] == "CNAME")
        ]
        changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
        self.client.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": "heliohub: the hub's address", "Changes": changes},
        )
        return kind

    def delete_if_pointing_at(self, zone_id: str, domain: str, lb_hostname: str) -> bool:
        target = _fqdn(lb_hostname)
        doomed = [
            r
            for r in self._existing(zone_id, domain)
            if _fqdn(r.get("AliasTarget", {}).get("DNSName", "")) == target
            or any(_fqdn(v["Value"]) == target for v in r.get("ResourceRecords", []))
        ]
        if doomed:
            self.client.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Changes": [{"Action": "DELETE", "ResourceRecordSet": r} for r in doomed]
                },
            )
        return bool(doomed)


def elb_zone_lookup(session: Any, region: str) -> Callable[[str], str | None]:
    """hostname -> the canonical hosted zone of this account's ELB (classic or v2) with it."""

    def lookup(hostname: str) -> str | None:
        want = _fqdn(hostname)
        elb = session.client("elb", region_name=region)
        for page in elb.get_paginator("describe_load_balancers").paginate():
            for lb in page.get("LoadBalancerDescriptions", []):
                if _fqdn(lb.get("DNSName", "")) == want:
                    return lb.get("CanonicalHostedZoneNameID")
        elbv2 = session.client("elbv2", region_name=region)
        for page in elbv2.get_paginator("describe_load_balancers").paginate():
            for lb in page.get("LoadBalancers", []):
                if _fqdn(lb.get("DNSName", "")) == want:
                    return lb.get("CanonicalHostedZoneId")
        return None

    return lookup


@dataclass(frozen=True)
class Bounds:
    lb_s: float = 900
    resolve_s: float = 1800
    cert_s: float = 600
    poll_s: float = 10


@dataclass
class Clock:
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class HttpsOutcome:
    lb_hostname: str | None  # None: the hub is not public (ClusterIP)
    url: str | None
    dns: str = "none"  # none | route53-alias | route53-cname | manual
    resolved: bool = False
    https: str = "off"  # off | pending | letsencrypt | acm
    certificate: CertInfo | None = None
    autohttps_restarted: bool = False
    notes: list[str] = field(default_factory=list)


def wait_for(what: Callable[[], Any], bound_s: float, bounds: Bounds, clock: Clock) -> Any:
    """Poll until what() is truthy or the bound passes; the last value either way."""
    deadline = clock.monotonic() + bound_s
    while True:
        value = what()
        if value or clock.monotonic() >= deadline:
            return value
        clock.sleep(bounds.poll_s)


class DnsHttps:
    def __init__(
        self,
        config: HubConfig,
        kube: Kube,
        reporter: Reporter,
        enable_letsencrypt: Callable[[], None],
        route53: Route53Records | None = None,
        hosted_zone_id: str | None = None,
        resolver: Resolver = system_resolver,
        cert_probe: CertProbe = tls_probe,
        bounds: Bounds | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.kube = kube
        self.reporter = reporter
        self.enable_letsencrypt = enable_letsencrypt
        self.route53 = route53
        self.hosted_zone_id = hosted_zone_id
        self.resolver = resolver
        self.cert_probe = cert_probe
        self.bounds = bounds or Bounds()
        self.clock = clock or Clock()

    @property
    def namespace(self) -> str:
        return self.config.kubernetes.namespace

    def wait_load_balancer(self) -> str:
        hostname = wait_for(
            lambda: self.kube.load_balancer_hostname(self.namespace, PROXY_PUBLIC_SERVICE),
            self.bounds.lb_s,
            self.bounds,
            self.clock,
        )
        if not hostname:
            raise UserError(
                f"service {PROXY_PUBLIC_SERVICE} got no load balancer in "
                f"{self.bounds.lb_s:.0f} s. The cluster must support LoadBalancer services; "
                "`heliohub doctor` shows the service's events."
            )
        return hostname

    def resolves_to_lb(self, domain: str, lb_hostname: str) -> bool:
        mine = self.resolver(domain)
        return bool(mine) and bool(mine & self.resolver(lb_hostname))

    def point_dns(self, domain: str, lb_hostname: str, outcome: HttpsOutcome) -> None:
        zone = None
        if self.route53 is not None:
            if self.hosted_zone_id:
                zone = (self.hosted_zone_id, self.route53.zone_name(self.hosted_zone_id))
            else:
                zone = self.route53.find_zone(domain, self.config.aws.hosted_zone)
        if zone is None:
            outcome.dns = "manual"
            self.reporter.warn(
                f"create a DNS record: {domain} CNAME {lb_hostname} (no Route53 zone for it in "
                "this account); heliohub waits for it to resolve"
            )
            return
        kind = self.route53.upsert(zone[0], zone[1], domain, lb_hostname)  # type: ignore[union-attr]
        outcome.dns = f"route53-{kind}"
        self.reporter.info(f"Route53: {domain} -> {lb_hostname} ({kind})")

    def wait_certificate(self, domain: str) -> CertInfo:
        last = CertInfo(valid=False, error="not probed")

        def probe() -> bool:
            nonlocal last
            last = self.cert_probe(domain)
            return last.valid

        wait_for(probe, self.bounds.cert_s, self.bounds, self.clock)
        return last

    def run(self, letsencrypt_pending: bool) -> HttpsOutcome:
        """After the releases are installed; letsencrypt_pending: installed with HTTPS held off."""
        mode = self.config.https.mode
        domain = self.config.domain
        with self.reporter.stage("load balancer"):
            lb = self.wait_load_balancer()
        outcome = HttpsOutcome(
            lb_hostname=lb, url=hub_spec(self.config, load_balancer=lb).public_url
        )
        if not domain:
            return outcome
        with self.reporter.stage(f"DNS {domain}"):
            self.point_dns(domain, lb, outcome)
            outcome.resolved = bool(
                wait_for(
                    lambda: self.resolves_to_lb(domain, lb),
                    self.bounds.resolve_s,
                    self.bounds,
                    self.clock,
                )
            )
        if not outcome.resolved:
            note = f"{domain} does not resolve to {lb} after {self.bounds.resolve_s:.0f} s"
            if mode == "letsencrypt":
                outcome.https = "pending"
                note += "; Let's Encrypt stays off until it does: run `heliohub up` again then"
            self.reporter.warn(note)
            outcome.notes.append(note)
            return outcome
        if mode == "off":
            return outcome
        with self.reporter.stage("HTTPS certificate"):
            if mode == "letsencrypt" and letsencrypt_pending:
                self.enable_letsencrypt()
            outcome.https = mode
            cert = self.wait_certificate(domain)
            if not cert.valid and mode == "letsencrypt":
                restarted = self.kube.delete_pods(self.namespace, AUTOHTTPS_LABELS)
                outcome.autohttps_restarted = True
                self.reporter.warn(
                    f"no certificate for {domain} after {self.bounds.cert_s:.0f} s; restarted "
                    f"autohttps once ({', '.join(restarted) or 'no pod found'})"
                )
                cert = self.wait_certificate(domain)
        outcome.certificate = cert
        if not cert.valid:
            note = (
                f"{domain}: {cert.describe()}. Check `heliohub doctor` (autohttps logs, "
                "Let's Encrypt rate limits) or the ACM certificate's domain."
            )
            self.reporter.warn(note)
            outcome.notes.append(note)
        return outcome
