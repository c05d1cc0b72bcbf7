"""What heliohub asks of the Kubernetes API, as a small protocol with a kr8s implementation.

Tests inject their own class with the same methods; there is no cluster here.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from heliohub.errors import UserError


@dataclass(frozen=True)
class PodInfo:
    name: str
    phase: str
    ready: bool
    labels: dict[str, str] = field(default_factory=dict)
    # why it is not ready: a waiting container's reason, or the scheduler's message
    reason: str = ""


@dataclass(frozen=True)
class EventInfo:
    time: str
    type: str
    reason: str
    object: str
    message: str


@dataclass(frozen=True)
class NodeInfo:
    name: str
    ready: bool
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimInfo:
    name: str
    phase: str


class Kube(Protocol):
    def server_version(self) -> str: ...

    def apply(self, obj: dict[str, Any]) -> None:
        """Create the object, or patch it to match when it exists."""

    def delete(self, obj: dict[str, Any]) -> None:
        """Delete the object; gone already is fine."""

    def service_exists(self, namespace: str, name: str) -> bool: ...

    def load_balancer_hostname(self, namespace: str, name: str) -> str | None: ...

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None: ...

    def delete_pods(self, namespace: str, labels: dict[str, str]) -> list[str]: ...

    def pods(self, namespace: str) -> list[PodInfo]: ...

    def events(self, namespace: str) -> list[EventInfo]: ...

    def nodes(self) -> list[NodeInfo]: ...

    def claims(self, namespace: str) -> list[ClaimInfo]: ...

    def logs(self, namespace: str, labels: dict[str, str]) -> list[str]: ...


def _selector(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def pod_info(raw: dict[str, Any]) -> PodInfo:
    meta = raw.get("metadata", {})
    status = raw.get("status", {})
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready", {}).get("status") == "True"
    reason = ""
    scheduled = conditions.get("PodScheduled", {})
    if scheduled.get("status") == "False":
        reason = scheduled.get("message") or scheduled.get("reason") or "not scheduled"
    else:
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting:
                why = f"{waiting.get('reason', '')} {waiting.get('message', '')}"
                reason = f"{cs.get('name')}: {why}"
                break
            terminated = (cs.get("lastState") or {}).get("terminated")
            if terminated and not cs.get("ready"):
                reason = f"{cs.get('name')}: last exit {terminated.get('reason', '')}"
                break
    return PodInfo(
        name=meta.get("name", ""),
        phase=status.get("phase", "Unknown"),
        ready=ready or status.get("phase") == "Succeeded",
        labels=dict(meta.get("labels") or {}),
        reason=reason.strip(),
    )


def event_info(raw: dict[str, Any]) -> EventInfo:
    meta = raw.get("metadata", {})
    involved = raw.get("involvedObject") or raw.get("regarding") or {}
    time = (
        raw.get("lastTimestamp")
        or raw.get("eventTime")
        or raw.get("firstTimestamp")
        or meta.get("creationTimestamp")
        or ""
    )
    return EventInfo(
        time=str(time),
        type=raw.get("type", ""),
        reason=raw.get("reason", ""),
        object=f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        message=(raw.get("message") or raw.get("note") or "").strip(),
    )


class Kr8sKube:
    """The Kubernetes API through kr8s (no kubectl)."""

    def __init__(self, kubeconfig: Path | None = None, context: str | None = None) -> None:
        import kr8s

        try:
            self.api = kr8s.api(kubeconfig=str(kubeconfig) if kubeconfig else None, context=context)
        except Exception as exc:  # kr8s raises several types for a bad kubeconfig
            raise UserError(
                f"cannot use the kubeconfig ({kubeconfig or 'default'}, context "
                f"{context or 'current'}): {exc}. Fix kubernetes.kubeconfig / kubernetes.context "
                "in the config."
            ) from None

    def _obj(self, spec: dict[str, Any]) -> Any:
        from kr8s.objects import object_from_spec

        return object_from_spec(spec, api=self.api, allow_unknown_type=True)

    def server_version(self) -> str:
        v = self.api.version()
        return str(v.get("gitVersion", v))

    def apply(self, obj: dict[str, Any]) -> None:
        o = self._obj(obj)
        if o.exists():
            o.patch({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
        else:
            o.create()

    def delete(self, obj: dict[str, Any]) -> None:
        import kr8s

        with contextlib.suppress(kr8s.NotFoundError):
            self._obj(obj).delete()

    def _service(self, namespace: str, name: str) -> Any:
        import kr8s
        from kr8s.objects import Service

        try:
            return Service.get(name, namespace=namespace, api=self.api)
        except kr8s.NotFoundError:
            return None

    def service_exists(self, namespace: str, name: str) -> bool:
        return self._service(namespace, name) is not None

    def load_balancer_hostname(self, namespace: str, name: str) -> str | None:
        svc = self._service(namespace, name)
        if svc is None:
            return None
        ingress = (svc.raw.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
        for entry in ingress:
            if entry.get("hostname") or entry.get("ip"):
                return entry.get("hostname") or entry.get("ip")
        return None

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        import kr8s
        from kr8s.objects import Secret

        try:
            secret = Secret.get(name, namespace=namespace, api=self.api)
        except kr8s.NotFoundError:
            return None
        data = secret.raw.get("data") or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def delete_pods(self, namespace: str, labels: dict[str, str]) -> list[str]:
        names = []
        for pod in self.api.get("pods", namespace=namespace, label_selector=_selector(labels)):
            pod.delete()
            names.append(pod.name)
        return names

    def pods(self, namespace: str) -> list[PodInfo]:
        return [pod_info(p.raw) for p in self.api.get("pods", namespace=namespace)]

    def events(self, namespace: str) -> list[EventInfo]:
        return [event_info(e.raw) for e in self.api.get("events", namespace=namespace)]

    def nodes(self) -> list[NodeInfo]:
        out = []
        for n in self.api.get("nodes"):
            conds = {
                c.get("type"): c.get("status")
                for c in n.raw.get("status", {}).get("conditions") or []
            }
            out.append(NodeInfo(n.name, conds.get("Ready") == "True", dict(n.labels)))
        return out

    def claims(self, namespace: str) -> list[ClaimInfo]:
        return [
            ClaimInfo(c.name, c.raw.get("status", {}).get("phase", "Unknown"))
            for c in self.api.get("persistentvolumeclaims", namespace=namespace)
        ]

    def logs(self, namespace: str, labels: dict[str, str]) -> list[str]:
        lines: list[str] = []
        for pod in self.api.get("pods", namespace=namespace, label_selector=_selector(labels)):
            lines += [f"{pod.name}: {line}" for line in pod.logs(tail_lines=200)]
        return lines
