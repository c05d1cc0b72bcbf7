"""The hub's public URL: how users reach it, per kind of provider, formatted in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heliohub.config import HubConfig

# Without a domain the Kubernetes hub's address is its load balancer's, known only once it runs.
LOAD_BALANCER_PLACEHOLDER = "<proxy-public load balancer>"


def _url(scheme: str, host: str, port: int | None = None) -> str:
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + ("" if port in (None, default_port) else f":{port}")


def local_public_url(config: HubConfig) -> str:
    """provider local: the bind address (or the domain that points at it), TLS with `files`."""
    from heliohub.config.local import split_bind

    host, port = split_bind(config.local.bind)
    scheme = "https" if config.https.mode == "files" else "http"
    if config.domain:
        host = config.domain
    elif host in ("0.0.0.0", "::", ""):
        host = "localhost"
    return _url(scheme, host, port)


def cluster_public_url(config: HubConfig, host: str | None = None) -> str:
    """kubernetes and aws: the domain, else the load balancer's host name."""
    scheme = "https" if config.https.mode in ("letsencrypt", "acm") else "http"
    return _url(scheme, config.domain or host or LOAD_BALANCER_PLACEHOLDER)
