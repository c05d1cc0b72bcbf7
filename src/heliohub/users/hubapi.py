"""The hub's REST API with one service token, synchronous, for `heliohub users`."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode

from heliohub.errors import UserError

PAGINATION = "application/jupyterhub-pagination+json"


class HubAPI:
    def __init__(self, hub_url: str, token: str, verify_tls: bool = True) -> None:
        self.base = hub_url.rstrip("/") + "/hub/api"
        self.token = token
        self.context: ssl.SSLContext | None = None
        if not verify_tls:
            self.context = ssl.create_default_context()
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE

    def call(
        self, method: str, path: str, body: Any = None, accept: str = "application/json"
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data if data is not None else (b"" if method in ("POST", "PATCH") else None),
            method=method,
            headers={
                "Authorization": f"token {self.token}",
                "Accept": accept,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=60, context=self.context) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            raise UserError(f"the hub refused {method} {path}: {_message(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UserError(f"cannot reach the hub at {self.base}: {exc}") from None
        return json.loads(text) if text else None

    def users(self) -> list[dict[str, Any]]:
        return self._all_pages("/users")

    def user(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("GET", f"/users/{quote(name, safe='')}")  # type: ignore[no-any-return]
        except UserError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def groups(self) -> list[dict[str, Any]]:
        return self._all_pages("/groups")

    def _all_pages(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paginated list; the hub caps each page."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.call("GET", f"{path}?{urlencode({'offset': offset})}", accept=PAGINATION)
            out += page["items"]
            nxt = page.get("_pagination", {}).get("next")
            if not nxt:
                return out
            offset = int(nxt["offset"])


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(exc.read().decode()).get("message", "")
    except (ValueError, AttributeError, OSError):
        detail = ""
    return f"HTTP {exc.code}" + (f": {detail}" if detail else "")
