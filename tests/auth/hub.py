"""A real local hub started with the CLI (`heliohub up --detach`), and HTTP login helpers.

Built on the local provider tests' LocalHub (tests/local_hub.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
import yaml
from local_hub import LocalHub


class Hub(LocalHub):
    """A local deployment (see local_hub.LocalHub) with the login tests' conveniences."""

    def __init__(
        self,
        workdir: Path,
        config: dict[str, Any],
        proxy_dir: Path | None = None,
        heliohub: str | None = None,
    ) -> None:
        super().__init__(
            workdir, {"name": "authtest", **config}, **({"heliohub": heliohub} if heliohub else {})
        )
        self.proxy_dir = proxy_dir
        self.started = False

    @property
    def url(self) -> str:
        scheme = "https" if self.config.get("https", {}).get("mode") == "files" else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def write_config(self) -> None:
        """After changing self.config (e.g. once a provider's port is known)."""
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def up(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        if self.proxy_dir is not None:
            self.share_proxy(self.proxy_dir)
        self.started = True
        return self.cli("up", "--detach", *args, timeout=timeout)

    def down(self) -> None:
        if self.started:
            super().down()
            self.started = False

    def log_files(self) -> list[Path]:
        """Every log file under the data directory."""
        if not self.data_dir.exists():
            return []
        return sorted(
            p
            for p in self.data_dir.rglob("*")
            if p.is_file() and (p.suffix == ".log" or "logs" in p.parts)
        )


def xsrf_headers(session: requests.Session) -> dict[str, str]:
    token = session.cookies.get("_xsrf")
    return {"X-XSRFToken": token} if token else {}


def api(
    session: requests.Session, hub_url: str, method: str, path: str, **kw: Any
) -> requests.Response:
    """A hub API call authenticated by the login cookie, as the browser makes it."""
    headers = {**xsrf_headers(session), **kw.pop("headers", {})}
    return session.request(method, f"{hub_url}/hub/api{path}", headers=headers, timeout=30, **kw)


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def oauth_login(
    session: requests.Session,
    hub_url: str,
    username: str,
    password: str,
    next_url: str = "/hub/home",
) -> requests.Response:
    """The authorization-code flow as a browser runs it: hub -> provider's form -> hub callback.

    Returns the last response: the hub page after a successful login, or the hub's refusal.
    """
    page = session.get(f"{hub_url}/hub/oauth_login", params={"next": next_url}, timeout=30)
    page.raise_for_status()
    match = _FORM_ACTION.search(page.text)
    assert match, f"no login form at {page.url}:\n{page.text[:500]}"
    return session.post(
        urljoin(page.url, match.group(1)),
        data={"username": username, "password": password},
        timeout=60,
    )


def password_login(
    session: requests.Session, hub_url: str, username: str, password: str
) -> requests.Response:
    """The hub's own login form (shared-password, native)."""
    session.get(f"{hub_url}/hub/login", timeout=30).raise_for_status()
    return session.post(
        f"{hub_url}/hub/login?next=/hub/home",
        data={
            "username": username,
            "password": password,
            "_xsrf": session.cookies.get("_xsrf", ""),
        },
        timeout=60,
    )


def signup(hub: Hub, username: str, password: str, confirmation: str | None = None) -> str:
    """The sign-up form as a browser posts it; returns the message the page shows."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/signup", timeout=30).raise_for_status()
    page = session.post(
        f"{hub.url}/hub/signup",
        data={
            "username": username,
            "signup_password": password,
            "signup_password_confirmation": password if confirmation is None else confirmation,
            "_xsrf": session.cookies.get("_xsrf", ""),
        },
        timeout=30,
    )
    assert page.status_code in (200, 403), page.text[:500]
    return alert(page)


def alert(page: requests.Response) -> str:
    """The alert a nativeauthenticator page shows, as "<alert class>: <text>"."""
    match = re.search(r'<div class="alert (alert-\w+)[^"]*"[^>]*>(.*?)</div>', page.text, re.S)
    assert match, page.text[:2000]
    text = " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())
    return f"{match.group(1)}: {text}"
