"""What `status` and `doctor` read from the cluster: the seed's Debugging section as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from heliohub.providers.base import Component
from heliohub.providers.kubernetes.dns import CertInfo, CertProbe, Resolver
from heliohub.providers.kubernetes.helm import Helm, ReleaseInfo
from heliohub.providers.kubernetes.kube import ClaimInfo, EventInfo, Kube, NodeInfo, PodInfo
from heliohub.render.helm.wiring import PROXY_PUBLIC_SERVICE

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
EVENTS_SHOWN = 10


class NodeGroupSizes(Protocol):
    def sizes(self) -> dict[str, tuple[int, int, int]]:
        """Node group -> (min, desired, max)."""


class EKSNodeGroups:
    def __init__(self, client: Any, cluster: str) -> None:
        self.client = client
        self.cluster = cluster

    def sizes(self) -> dict[str, tuple[int, int, int]]:
        out = {}
        for page in self.client.get_paginator("list_nodegroups").paginate(clusterName=self.cluster):
            for name in page.get("nodegroups", []):
                ng = self.client.describe_nodegroup(clusterName=self.cluster, nodegroupName=name)
                sc = ng["nodegroup"].get("scalingConfig", {})
                out[name] = (sc.get("minSize", 0), sc.get("desiredSize", 0), sc.get("maxSize", 0))
        return out


@dataclass
class PoolSize:
    name: str
    min: int
    desired: int
    max: int
    ready: int
    total: int


@dataclass
class Inspection:
    namespace: str
    releases: list[ReleaseInfo] = field(default_factory=list)
    pods: list[PodInfo] = field(default_factory=list)
    events: list[EventInfo] = field(default_factory=list)
    claims: list[ClaimInfo] = field(default_factory=list)
    lb_hostname: str | None = None
    domain: str | None = None
    domain_addresses: set[str] = field(default_factory=set)
    lb_addresses: set[str] = field(default_factory=set)
    certificate: CertInfo | None = None
    pools: list[PoolSize] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # proxy-public is a LoadBalancer (https on); else ClusterIP, reached by port-forward
    exposed: bool = True

    @property
    def not_ready(self) -> list[PodInfo]:
        return [p for p in self.pods if not p.ready]

    @property
    def pending(self) -> list[PodInfo]:
        return [p for p in self.pods if p.phase == "Pending"]

    @property
    def dns_ok(self) -> bool:
        return bool(self.domain_addresses & self.lb_addresses)


def _try(inspection: Inspection, what: str, fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception as exc:  # status shows what it could read, and why not the rest
        inspection.errors.append(f"{what}: {exc}")
        return default


def collect(
    namespace: str,
    kube: Kube,
    helm: Helm | None,
    release_namespaces: list[str],
    domain: str | None,
    https: bool,
    resolver: Resolver,
    cert_probe: CertProbe,
    nodegroups: NodeGroupSizes | None = None,
    exposed: bool = True,
) -> Inspection:
    ins = Inspection(namespace=namespace, domain=domain, exposed=exposed)
    if helm is not None:
        for ns in release_namespaces:
            ins.releases += _try(ins, f"helm list -n {ns}", lambda ns=ns: helm.releases(ns), [])
    ins.pods = sorted(_try(ins, "pods", lambda: kube.pods(namespace), []), key=lambda p: p.name)
    events = _try(ins, "events", lambda: kube.events(namespace), [])
    ins.events = sorted(events, key=lambda e: e.time)[-EVENTS_SHOWN:]
    ins.claims = _try(ins, "claims", lambda: kube.claims(namespace), [])
    ins.lb_hostname = _try(
        ins,
        "proxy-public",
        lambda: kube.load_balancer_hostname(namespace, PROXY_PUBLIC_SERVICE),
        None,
    )
    if ins.lb_hostname:
        ins.lb_addresses = resolver(ins.lb_hostname)
    if domain:
        ins.domain_addresses = resolver(domain)
        if https:
            ins.certificate = cert_probe(domain)
    if nodegroups is not None:
        sizes = _try(ins, "EKS node groups", nodegroups.sizes, {})
        nodes: list[NodeInfo] = _try(ins, "nodes", kube.nodes, [])
        for name, (lo, desired, hi) in sorted(sizes.items()):
            mine = [n for n in nodes if n.labels.get(NODEGROUP_LABEL) == name]
            ins.pools.append(PoolSize(name, lo, desired, hi, sum(n.ready for n in mine), len(mine)))
    return ins


def components(ins: Inspection) -> list[Component]:
    out: list[Component] = []
    for r in ins.releases:
        state = (
            "running"
            if r.status == "deployed"
            else ("pending" if r.status.startswith("pending") else "failed")
        )
        out.append(
            Component(
                name=f"release {r.name}",
                state=state,
                detail=f"{r.chart} (app {r.app_version}), revision {r.revision}, {r.status}",
            )
        )
    for p in ins.not_ready:
        state = "pending" if p.phase == "Pending" else "failed"
        out.append(
            Component(
                name=f"pod {p.name}",
                state=state,
                detail=f"{p.phase}: {p.reason}" if p.reason else p.phase,
            )
        )
    for c in ins.claims:
        if c.phase != "Bound":
            out.append(Component(name=f"claim {c.name}", state="pending", detail=c.phase))
    if not ins.exposed:
        out.append(
            Component(
                name="access",
                state="running",
                detail=f"{PROXY_PUBLIC_SERVICE} is cluster-internal (https off): "
                f"kubectl --namespace {ins.namespace} port-forward service/{PROXY_PUBLIC_SERVICE} "
                "8080:80",
            )
        )
        return out + _pool_components(ins)
    out.append(
        Component(
            name="load balancer",
            state="running" if ins.lb_hostname else "pending",
            detail=ins.lb_hostname or f"{PROXY_PUBLIC_SERVICE} has no hostname yet",
        )
    )
    if ins.domain:
        if ins.dns_ok:
            dns = Component(
                name="dns", state="running", detail=f"{ins.domain} resolves to the load balancer"
            )
        elif ins.domain_addresses:
            dns = Component(
                name="dns",
                state="failed",
                detail=f"{ins.domain} resolves elsewhere: "
                f"{', '.join(sorted(ins.domain_addresses))}",
            )
        else:
            dns = Component(name="dns", state="pending", detail=f"{ins.domain} does not resolve")
        out.append(dns)
    if ins.certificate is not None:
        out.append(
            Component(
                name="certificate",
                state="running" if ins.certificate.valid else "failed",
                detail=ins.certificate.describe(),
            )
        )
    return out + _pool_components(ins)


def _pool_components(ins: Inspection) -> list[Component]:
    out = []
    for pool in ins.pools:
        state = "running" if pool.ready >= pool.desired else "pending"
        out.append(
            Component(
                name=f"node pool {pool.name}",
                state=state,
                detail=f"desired {pool.desired} (min {pool.min}, max {pool.max}), "
                f"ready {pool.ready} of {pool.total}",
            )
        )
    return out


def notes(ins: Inspection) -> list[str]:
    lines = [f"pending: {p.name}: {p.reason or 'no reason given yet'}" for p in ins.pending]
    if ins.events:
        lines.append("last events:")
        lines += [f"  {e.time} {e.type} {e.reason} {e.object}: {e.message}" for e in ins.events]
    lines += [f"could not read {e}" for e in ins.errors]
    return lines
