"""Configs, stack outputs and small fakes of the cluster-facing parts (there is no cluster here).

The fakes are plain classes with the same methods as the real Kube and Helm; they record what
they were asked in one shared journal, so tests can check the order of steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heliohub.config import HubConfig, parse
from heliohub.platform import EksPlatform
from heliohub.providers.kubernetes.dns import CertInfo, Clock
from heliohub.providers.kubernetes.helm import ReleaseInfo
from heliohub.providers.kubernetes.kube import ClaimInfo, EventInfo, NodeInfo, PodInfo

REPO = Path(__file__).resolve().parents[2]
SHARED_SCHEMAS = REPO.parent / "shared" / "chart-schemas"
SHIPPED_SCHEMAS = REPO / "src" / "heliohub" / "render" / "helm" / "schemas"

LB = "a1b2c3-1234567890.us-east-1.elb.amazonaws.com"


def schemas_dir() -> Path:
    """The charts' schemas beside the repo (`../shared/chart-schemas`), else heliohub's copy."""
    return SHARED_SCHEMAS if SHARED_SCHEMAS.is_dir() else SHIPPED_SCHEMAS


def outputs(**overrides: Any) -> EksPlatform:
    """The EKS platform the AWS provider builds from a deployment's stack outputs."""
    base = {
        "region": "us-east-1",
        "cluster_name": "heliohub",
        "cluster_endpoint": "https://ABCDEF.gr7.us-east-1.eks.amazonaws.com",
        "cluster_ca_data": "LS0tLS1CRUdJTi==",
        "efs_id": "fs-0123456789abcdef0",
        "efs_access_point_id": "fsap-0123456789abcdef0",
        "user_pool_client_id": "3n4b5urk1ft4fl3mg5e62d9ado",
        "user_pool_domain": "heliohub-auth",
        "hosted_zone_id": None,
    }
    base.update(overrides)
    return EksPlatform(**base)


# name -> (config data, outputs or None): the configs every render test runs over.
CONFIGS: dict[str, tuple[dict[str, Any], EksPlatform | None]] = {
    "kubernetes-minimal": ({"provider": "kubernetes"}, None),
    "kubernetes-native-letsencrypt": (
        {
            "provider": "kubernetes",
            "auth": {"type": "native", "admin_users": ["admin"]},
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "admin@example.org"},
            "kubernetes": {
                "namespace": "hub",
                "storage_class": "nfs",
                "shared_storage_class": "nfs",
                "network_policy": False,
            },
            "storage": {"shared": {"enabled": True, "name": "efs"}},
        },
        None,
    ),
    "aws-heliocloud": (
        {
            "provider": "aws",
            "name": "heliohub",
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "admin@example.org"},
            "auth": {"type": "native", "admin_users": ["admin"]},
            "storage": {"shared": {"name": "efs"}, "s3_buckets": [{"name": "helio-public"}]},
        },
        outputs(),
    ),
    "aws-acm-no-gpu": (
        {
            "provider": "aws",
            "domain": "hub.example.org",
            "https": {
                "mode": "acm",
                "acm_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            },
            "auth": {"type": "native"},
            "aws": {
                "node_pools": [
                    {
                        "name": "services",
                        "instance_types": ["t3a.medium"],
                        "min_size": 1,
                        "max_size": 2,
                        "labels": {"hub.jupyter.org/node-purpose": "core"},
                    },
                    {
                        "name": "user",
                        "instance_types": ["m5.xlarge"],
                        "max_size": 5,
                        "labels": {"hub.jupyter.org/node-purpose": "user"},
                        "taints": [{"key": "hub.jupyter.org/dedicated", "value": "user"}],
                    },
                    {
                        "name": "burst",
                        "instance_types": ["m5.8xlarge"],
                        "max_size": 4,
                        "capacity": "spot",
                        "labels": {"k8s.dask.org/node-purpose": "worker"},
                        "taints": [{"key": "k8s.dask.org/dedicated", "value": "worker"}],
                    },
                ]
            },
            "dask": {"gpu_worker_node_pool": None},
            "profiles": [
                {
                    "name": "small",
                    "display_name": "Small",
                    "cpu": {"guarantee": 1, "limit": 2},
                    "memory_gib": {"guarantee": 1, "limit": 4},
                },
                {
                    "name": "big",
                    "display_name": "Big",
                    "cpu": {"guarantee": 2, "limit": 4},
                    "memory_gib": {"guarantee": 4, "limit": 8},
                    "default": True,
                },
            ],
        },
        outputs(),
    ),
    "aws-before-first-deploy": ({"provider": "aws"}, None),
}


def config(name: str) -> tuple[HubConfig, EksPlatform | None]:
    data, outs = CONFIGS[name]
    return parse(data), outs


class Journal(list[str]):
    """What the fakes were asked, in order."""


class FakeKube:
    """The Kube protocol over dicts: objects applied, services with load balancer hostnames."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.lb_after_polls = 0  # proxy-public gets its hostname after this many polls
        self.lb_hostname: str | None = None
        self.service_present = False
        self.service_gone_after_polls = 0
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self.pods_list: list[PodInfo] = []
        self.events_list: list[EventInfo] = []
        self.nodes_list: list[NodeInfo] = []
        self.claims_list: list[ClaimInfo] = []
        self._polls = 0

    def server_version(self) -> str:
        return "v1.34.2"

    def apply(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.journal.append(f"apply {obj['kind']} {meta['name']}")
        self.objects[(obj["kind"], meta.get("namespace", ""), meta["name"])] = obj
        if obj["kind"] == "Secret":
            self.secrets[(meta.get("namespace", ""), meta["name"])] = dict(
                obj.get("stringData", {})
            )

    def delete(self, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.journal.append(f"delete {obj['kind']} {meta['name']}")
        self.objects.pop((obj["kind"], meta.get("namespace", ""), meta["name"]), None)

    def service_exists(self, namespace: str, name: str) -> bool:
        self._polls += 1
        gone = self._polls > self.service_gone_after_polls
        self.journal.append(f"poll service {name}: {'gone' if gone else 'present'}")
        return not gone

    def load_balancer_hostname(self, namespace: str, name: str) -> str | None:
        self._polls += 1
        ready = self.lb_hostname if self._polls > self.lb_after_polls else None
        self.journal.append(f"poll lb: {ready}")
        return ready

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get((namespace, name))

    def delete_pods(self, namespace: str, labels: dict[str, str]) -> list[str]:
        self.journal.append(f"delete pods {labels.get('component')}")
        return [f"{labels.get('component')}-7d9f"]

    def pods(self, namespace: str) -> list[PodInfo]:
        return self.pods_list

    def events(self, namespace: str) -> list[EventInfo]:
        return self.events_list

    def nodes(self) -> list[NodeInfo]:
        return self.nodes_list

    def claims(self, namespace: str) -> list[ClaimInfo]:
        return self.claims_list

    def logs(self, namespace: str, labels: dict[str, str]) -> list[str]:
        return []


class FakeHelm:
    """Records `helm` argument lists; reads the values files each upgrade was given."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.calls: list[list[str]] = []
        self.values_seen: dict[str, bytes] = {}
        self.dir_modes: set[int] = set()
        self.installed: list[ReleaseInfo] = []

    def version(self) -> str:
        return "v3.19.0+gfake"

    def run(self, args: list[str]) -> str:
        self.calls.append(list(args))
        self.journal.append(
            f"helm {args[0]} {args[2] if args[0] == 'upgrade' else args[1]}"
            + (" https-pending" if any("https-pending" in a for a in args) else "")
        )
        for i, a in enumerate(args):
            if a == "--values":
                path = Path(args[i + 1])
                self.values_seen[path.name] = path.read_bytes()
                self.dir_modes.add(path.parent.stat().st_mode & 0o777)
        return ""

    def releases(self, namespace: str) -> list[ReleaseInfo]:
        return [r for r in self.installed if r.namespace == namespace]


class FakeClock(Clock):
    """Time passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(monotonic=lambda: self.now, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.now += seconds


class StubResolver:
    """name -> addresses, where the domain starts resolving at a chosen time of the FakeClock."""

    def __init__(self, journal: Journal, clock: FakeClock, lb_addresses: set[str]) -> None:
        self.journal = journal
        self.clock = clock
        self.lb_addresses = lb_addresses
        self.domain_resolves_at: float | None = 0.0
        self.domain = "hub.example.org"

    def __call__(self, name: str) -> set[str]:
        if name == self.domain:
            on = self.domain_resolves_at is not None and self.clock.now >= self.domain_resolves_at
            self.journal.append(f"resolve {name}: {'lb' if on else 'nxdomain'}")
            return set(self.lb_addresses) if on else set()
        return set(self.lb_addresses)


class StubCertProbe:
    """Valid only after autohttps was restarted `restarts_needed` times (or never)."""

    def __init__(self, journal: Journal, kube: FakeKube, valid_after_restarts: int | None) -> None:
        self.journal = journal
        self.kube = kube
        self.valid_after_restarts = valid_after_restarts

    def __call__(self, host: str) -> CertInfo:
        restarts = sum(1 for j in self.journal if j == "delete pods autohttps")
        valid = self.valid_after_restarts is not None and restarts >= self.valid_after_restarts
        self.journal.append(f"probe cert: {'valid' if valid else 'none'}")
        if valid:
            return CertInfo(valid=True, issuer="Let's Encrypt / R11")
        return CertInfo(valid=False, error="TRAEFIK DEFAULT CERT")
