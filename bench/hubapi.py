"""A small asynchronous client of a JupyterHub, as a browser or a script would use it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import aiohttp


class HubError(Exception):
    """A request got an answer it should not have; the message is the failure's reason."""


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _reason(resp: aiohttp.ClientResponse) -> str:
    body = await resp.text()
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return f"HTTP {resp.status} {_short(message or resp.reason or body)}"


class Hub:
    """One identity (a token, or a login cookie) talking to the hub's public URL."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str = "") -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.token = token
        self.xsrf = ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        elif self.xsrf:
            headers["X-XSRFToken"] = self.xsrf
        return headers

    async def request(
        self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": self._headers(), "allow_redirects": False}
        if body is not None:
            # Serialized here: aiohttp sends an empty dict as application/octet-stream.
            kwargs["data"] = json.dumps(body)
            kwargs["headers"]["Content-Type"] = "application/json"
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            if resp.status not in expect:
                raise HubError(f"{method} {path.split('?')[0]}: {await _reason(resp)}")
            text = await resp.text()
            return resp.status, (json.loads(text) if text.strip() else None)

    async def login(self, username: str, password: str) -> None:
        """The browser's way in: GET the form for its _xsrf cookie, POST it back."""
        async with self.session.get(f"{self.base}/hub/login", allow_redirects=False) as resp:
            if resp.status != 200:
                raise HubError(f"GET /hub/login: {await _reason(resp)}")
        xsrf = self._cookie("_xsrf")
        if not xsrf:
            raise HubError("GET /hub/login set no _xsrf cookie")
        form = {"username": username, "password": password, "_xsrf": xsrf}
        async with self.session.post(
            f"{self.base}/hub/login?next=", data=form, allow_redirects=False
        ) as resp:
            if resp.status != 302:
                raise HubError(f"POST /hub/login: {await _reason(resp)}")
        self.xsrf = self._cookie("_xsrf") or xsrf

    def _cookie(self, name: str) -> str:
        for cookie in self.session.cookie_jar:
            if cookie.key == name:
                return cookie.value
        return ""

    async def create_users(self, names: list[str]) -> None:
        await self.request("POST", "/hub/api/users", {"usernames": names}, expect=(201, 409))

    async def spawn(self, user: str, timeout: float) -> float:
        """POST the server, follow its progress until ready, then until the proxy routes to it.

        Returns the perf_counter time the server first answered through the public proxy.
        """
        # A JSON body even when empty: cookie-authenticated POSTs need that content type.
        await self.request("POST", f"/hub/api/users/{quote(user)}/server", {}, expect=(201, 202))
        await self._progress(user, timeout)
        return await self.until_routed(user, timeout)

    async def _progress(self, user: str, timeout: float) -> None:
        url = f"{self.base}/hub/api/users/{quote(user)}/server/progress"
        headers = self._headers({"Accept": "text/event-stream"})
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with self.session.get(url, headers=headers, timeout=client_timeout) as resp:
            if resp.status != 200:
                raise HubError(f"progress of {user}: {await _reason(resp)}")
            async for raw in resp.content:
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                if event.get("failed"):
                    raise HubError(f"spawn failed: {_short(event.get('message', ''))}")
                if event.get("ready"):
                    return
        # The stream ends without an event when the server was already ready.
        _, model = await self.request("GET", f"/hub/api/users/{quote(user)}")
        server = (model.get("servers") or {}).get("")
        if not (server and server.get("ready")):
            raise HubError("progress stream ended before the server was ready")

    async def until_routed(self, user: str, timeout: float, interval: float = 0.02) -> float:
        """Until /user/<name>/api answers through the proxy (not the hub's redirect)."""
        url = f"{self.base}/user/{quote(user)}/api"
        deadline = time.monotonic() + timeout
        while True:
            async with self.session.get(url, allow_redirects=False) as resp:
                if resp.status == 200:
                    return time.perf_counter()
            if time.monotonic() > deadline:
                raise HubError(f"{url} not routed to the server within {timeout:.0f} s")
            await asyncio.sleep(interval)

    async def stop(self, user: str, timeout: float) -> None:
        """DELETE the server and wait until the hub reports it gone."""
        status, _ = await self.request(
            "DELETE", f"/hub/api/users/{quote(user)}/server", expect=(202, 204)
        )
        deadline = time.monotonic() + timeout
        while status == 202:
            _, model = await self.request("GET", f"/hub/api/users/{quote(user)}")
            if not model.get("servers") and not model.get("pending"):
                return
            if time.monotonic() > deadline:
                raise HubError(f"server of {user} still stopping after {timeout:.0f} s")
            await asyncio.sleep(0.1)

    async def create_token(self, user: str, scopes: list[str] | None = None) -> str:
        body: dict[str, Any] = {"note": "heliohub bench", "expires_in": 3600}
        if scopes:
            body["scopes"] = scopes
        _, created = await self.request(
            "POST", f"/hub/api/users/{quote(user)}/tokens", body, expect=(200, 201)
        )
        return str(created["token"])
