"""Who may reach the hub: anything beyond loopback needs TLS and a real login."""

from __future__ import annotations

from heliohub.config import REAL_AUTH_TYPES, HubConfig
from heliohub.config.local import is_loopback, split_bind
from heliohub.errors import RefusedError
from heliohub.providers.reporting import Reporter


def check_exposure(
    config: HubConfig, isolation: str, euid: int, insecure: bool, reporter: Reporter
) -> None:
    """Refuse an unsafe bind; --insecure overrides all but root without isolation."""
    host, _port = split_bind(config.local.bind)
    if is_loopback(host):
        return
    if isolation == "none" and euid == 0:
        raise RefusedError(
            f"local.bind: {config.local.bind} reaches beyond this machine, and with isolation "
            "'none' as root every user's code would run as root. heliohub never allows that, "
            "not even with --insecure. Bind to 127.0.0.1, or use isolation 'system-users'"
        )
    problems = []
    if config.https.mode != "files":
        problems.append("TLS (https.mode: files, with cert_file and key_file)")
    if config.auth.type not in REAL_AUTH_TYPES:
        problems.append(
            f"a real login (auth.type one of {', '.join(sorted(REAL_AUTH_TYPES))}; "
            f"'{config.auth.type}' is not one)"
        )
    if not problems:
        return
    if insecure:
        reporter.warn(
            "!!! INSECURE: the hub at "
            f"{config.local.bind} is reachable from other machines without "
            + " and without ".join(problems)
            + ". Anyone who can reach it may run code on this machine. !!!"
        )
        return
    raise RefusedError(
        f"local.bind: {config.local.bind} reaches beyond this machine, which needs "
        + " and ".join(problems)
        + ". Bind to 127.0.0.1, or configure both; `up --insecure` overrides this check"
    )
