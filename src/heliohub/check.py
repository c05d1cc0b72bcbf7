"""The health check: a user's journey through any DaskHub, given its URL and an admin token.

Creates a temporary user, starts its server, creates a token for it, and in a kernel of that
server creates a Dask Gateway cluster with `Gateway()` and no arguments, scales it to two
workers and checks a computed value; then cleans everything up. Each step is timed.

Only the hub's REST API and the Jupyter server's kernel API are used (HTTP and websocket), so
the same check runs against a local hub and a hub on Kubernetes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.websocket import websocket_connect

from heliohub import env_versions
from heliohub.check_report import CheckReport, CheckStep
from heliohub.hubspec import GATEWAY_SCOPE

RESULT_MARK = "HELIOHUB-CHECK-RESULT "

# Runs inside the user's server. The numbers are exact, so the comparison is too.
DASK_JOURNEY = """
import json, time
import dask.array as da
from dask_gateway import Gateway

out = {}
t = time.monotonic()
gateway = Gateway()
cluster = gateway.new_cluster()
out["cluster_s"] = time.monotonic() - t
try:
    t = time.monotonic()
    cluster.scale(2)
    client = cluster.get_client()
    client.wait_for_workers(2, timeout=%(timeout)d)
    out["workers"] = len(client.scheduler_info()["workers"])
    out["scale_s"] = time.monotonic() - t
    t = time.monotonic()
    n = 4_000_000
    out["value"] = int(da.arange(n, chunks=n // 8).sum().compute())
    out["expected"] = n * (n - 1) // 2
    out["compute_s"] = time.monotonic() - t

    def versions():
        import sys, dask, distributed, dask_gateway
        return {"python": sys.version.split()[0], "dask": dask.__version__,
                "distributed": distributed.__version__, "dask-gateway": dask_gateway.__version__}

    out["notebook_versions"] = versions()
    out["worker_versions"] = client.submit(versions, pure=False).result()
    try:
        out["gateway_version"] = gateway.get_versions()["server"]["version"]
    except Exception as exc:
        out["gateway_version_error"] = repr(exc)
    client.close()
finally:
    t = time.monotonic()
    cluster.shutdown()
    out["shutdown_s"] = time.monotonic() - t
print("%(mark)s" + json.dumps(out))
"""


class CheckFailed(Exception):
    """A step failed; the message says what happened."""


@dataclass
class KernelResult:
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # "Name: value" plus the last traceback lines


@dataclass
class _Journey:
    steps: list[CheckStep] = field(default_factory=list)

    def add(self, name: str, ok: bool, seconds: float, detail: str = "") -> None:
        self.steps.append(CheckStep(name=name, ok=ok, seconds=round(seconds, 3), detail=detail))


class HubClient:
    """The hub's REST API with one token."""

    def __init__(self, hub_url: str, token: str, verify_tls: bool = True) -> None:
        self.base = hub_url.rstrip("/")
        self.token = token
        self.verify_tls = verify_tls
        self.http = AsyncHTTPClient()

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        timeout: float = 60,
    ) -> HTTPResponse:
        headers = {"Authorization": f"token {token or self.token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            data = ""
        return await self.http.fetch(
            HTTPRequest(
                self.base + path,
                method=method,
                headers=headers,
                body=data,
                validate_cert=self.verify_tls,
                request_timeout=timeout,
                follow_redirects=False,
            ),
            raise_error=False,
        )

    async def json(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        resp = await self.request(method, path, body, **kw)
        if resp.code >= 400 or resp.code < 200:
            raise CheckFailed(f"{method} {path}: HTTP {resp.code} {_reason(resp)}")
        return json.loads(resp.body) if resp.body else None


def _reason(resp: HTTPResponse) -> str:
    if resp.code == 599:
        return str(resp.error)
    try:
        message = json.loads(resp.body or b"{}").get("message")
    except ValueError:
        message = None
    return message or resp.reason or ""


def _ws_url(http_url: str) -> str:
    parts = urlsplit(http_url)
    return urlunsplit(parts._replace(scheme="wss" if parts.scheme == "https" else "ws"))


async def _execute(
    hub: HubClient, username: str, token: str, code: str, timeout: float
) -> KernelResult:
    server = f"/user/{quote(username)}/api"
    kernel = await hub.json("POST", f"{server}/kernels", {"name": "python3"}, token=token)
    kernel_id = kernel["id"]
    try:
        return await _run_code(hub, server, kernel_id, token, code, timeout)
    finally:
        await hub.request("DELETE", f"{server}/kernels/{kernel_id}", token=token)


async def _run_code(
    hub: HubClient, server: str, kernel_id: str, token: str, code: str, timeout: float
) -> KernelResult:
    session = uuid.uuid4().hex
    url = _ws_url(f"{hub.base}{server}/kernels/{kernel_id}/channels?session_id={session}")
    conn = await websocket_connect(
        HTTPRequest(
            url,
            headers={"Authorization": f"token {token}"},
            validate_cert=hub.verify_tls,
            request_timeout=60,
        )
    )
    msg_id = uuid.uuid4().hex
    conn.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "heliohub-check",
                    "session": session,
                    "version": "5.3",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    result = KernelResult()
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                raw = await asyncio.wait_for(conn.read_message(), remaining)
            except TimeoutError:
                raise CheckFailed(
                    f"the code did not finish within {timeout:.0f}s{_so_far(result)}"
                ) from None
            if raw is None:
                raise CheckFailed(
                    f"the kernel's websocket closed before the code finished{_so_far(result)}"
                )
            if isinstance(raw, bytes):
                continue  # binary frames: the v1 protocol, never chosen here
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            content = msg.get("content", {})
            if kind == "stream":
                if content.get("name") == "stderr":
                    result.stderr += content.get("text", "")
                else:
                    result.stdout += content.get("text", "")
            elif kind == "error":
                tb = "\n".join(content.get("traceback", [])[-3:])
                result.error = f"{content.get('ename')}: {content.get('evalue')}\n{_plain(tb)}"
            elif kind == "status" and content.get("execution_state") == "idle":
                return result
    finally:
        conn.close()


def _so_far(result: KernelResult, chars: int = 2000) -> str:
    """What the code printed before it stopped answering: where it got stuck."""
    parts = [
        f"\n{name} so far:\n{text[-chars:]}"
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr))
        if text
    ]
    return "".join(parts) or " (it printed nothing)"


def _plain(text: str) -> str:
    """Tracebacks come with ANSI colours."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def run_in_kernel(
    hub_url: str,
    username: str,
    token: str,
    code: str,
    *,
    timeout_s: float = 300,
    verify_tls: bool = True,
) -> KernelResult:
    """Run code in a new kernel of username's running server (token: one that may access it)."""

    async def go() -> KernelResult:
        return await _execute(
            HubClient(hub_url, token, verify_tls), username, token, code, timeout_s
        )

    return asyncio.run(go())


async def _wait_server(hub: HubClient, username: str, ready: bool, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        user = await hub.json("GET", f"/hub/api/users/{quote(username)}")
        server = (user.get("servers") or {}).get("")
        if ready and server and server.get("ready"):
            return
        if not ready and not server:
            return
        if ready and not server and not user.get("pending"):
            raise CheckFailed("the server stopped while starting; see the hub's log")
        if time.monotonic() > deadline:
            state = "ready" if ready else "stopped"
            raise CheckFailed(f"the server was not {state} within {timeout:.0f}s")
        await asyncio.sleep(0.5)


async def _step(j: _Journey, name: str, coro: Any) -> Any:
    start = time.monotonic()
    try:
        result = await coro
    except (TimeoutError, CheckFailed, OSError) as exc:
        j.add(name, False, time.monotonic() - start, str(exc) or exc.__class__.__name__)
        raise CheckFailed(name) from exc
    j.add(name, True, time.monotonic() - start)
    return result


async def _create_user(hub: HubClient, username: str) -> None:
    path = f"/hub/api/users/{quote(username)}"
    resp = await hub.request("POST", path)
    if resp.code == 409:
        # Left by an interrupted check: start from scratch.
        await hub.request("DELETE", f"{path}/server")
        await _wait_server(hub, username, ready=False, timeout=120)
        await hub.json("DELETE", path)
        resp = await hub.request("POST", path)
    if resp.code != 201:
        raise CheckFailed(f"POST {path}: HTTP {resp.code} {_reason(resp)}")


async def _start_server(hub: HubClient, username: str, timeout: float) -> None:
    resp = await hub.request("POST", f"/hub/api/users/{quote(username)}/server")
    if resp.code not in (201, 202):
        raise CheckFailed(f"start server: HTTP {resp.code} {_reason(resp)}")
    await _wait_server(hub, username, ready=True, timeout=timeout)


async def _create_token(hub: HubClient, username: str) -> str:
    body = {
        "note": "heliohub check",
        "expires_in": 1800,
        "scopes": [f"access:servers!user={username}", GATEWAY_SCOPE],
    }
    created = await hub.json("POST", f"/hub/api/users/{quote(username)}/tokens", body)
    return str(created["token"])


async def _dask_in_kernel(
    j: _Journey, hub: HubClient, username: str, token: str, timeout: float
) -> None:
    code = DASK_JOURNEY % {"timeout": int(timeout), "mark": RESULT_MARK}
    start = time.monotonic()
    try:
        result = await _execute(hub, username, token, code, timeout)
    except (TimeoutError, CheckFailed, OSError) as exc:
        j.add("run Dask in a kernel of the server", False, time.monotonic() - start, str(exc))
        raise CheckFailed("kernel") from exc
    elapsed = time.monotonic() - start
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if result.error or not lines:
        detail = result.error or f"no result printed; stderr: {result.stderr.strip()[-500:]}"
        j.add("run Dask in a kernel of the server", False, elapsed, detail.strip())
        raise CheckFailed("kernel")
    out = json.loads(lines[-1][len(RESULT_MARK) :])
    j.add("create gateway cluster (Gateway() in the server)", True, out["cluster_s"])
    j.add(
        "scale to 2 workers",
        out.get("workers") == 2,
        out["scale_s"],
        f"{out.get('workers')} worker(s) connected",
    )
    same = out["value"] == out["expected"]
    j.add(
        "compute a dask.array sum",
        same,
        out["compute_s"],
        f"got {out['value']}, expected {out['expected']}",
    )
    _versions_step(j, out)
    j.add("stop the cluster", True, out["shutdown_s"])


def _versions_step(j: _Journey, out: dict[str, Any]) -> None:
    """The notebook's, the workers' and the gateway's versions, side by side."""
    notebook = out.get("notebook_versions") or {}
    workers = out.get("worker_versions") or {}
    gateway = out.get("gateway_version")
    problems = env_versions.mismatches(notebook, workers, gateway)
    if not gateway:
        problems.append(f"the gateway's version is unknown: {out.get('gateway_version_error')}")
    detail = (
        f"notebook: {env_versions.describe(notebook)}; workers: "
        f"{env_versions.describe(workers)}; gateway: dask-gateway-server {gateway or '?'}"
    )
    if problems:
        detail += ". Mismatch: " + "; ".join(problems)
    j.add("versions: notebook, workers and gateway fit", not problems, 0.0, detail)


async def _journey(
    hub_url: str, token: str, username: str, timeout: float, verify_tls: bool
) -> CheckReport:
    hub = HubClient(hub_url, token, verify_tls)
    j = _Journey()
    created = False
    try:
        await _step(j, "hub answers", hub.json("GET", "/hub/api/"))
        await _step(j, f"create user {username}", _create_user(hub, username))
        created = True
        await _step(j, "start the user's server", _start_server(hub, username, timeout))
        user_token = await _step(j, "create a token for the user", _create_token(hub, username))
        await _dask_in_kernel(j, hub, username, user_token, timeout)
    except CheckFailed:
        pass
    finally:
        if created:
            await _cleanup(j, hub, username)
    return CheckReport(steps=j.steps)


async def _cleanup(j: _Journey, hub: HubClient, username: str) -> None:
    path = f"/hub/api/users/{quote(username)}"

    async def stop() -> None:
        resp = await hub.request("DELETE", f"{path}/server")
        if resp.code not in (202, 204, 400):  # 400: it was not running
            raise CheckFailed(f"stop server: HTTP {resp.code} {_reason(resp)}")
        await _wait_server(hub, username, ready=False, timeout=120)

    with contextlib.suppress(CheckFailed):
        await _step(j, "stop the server", stop())
    with contextlib.suppress(CheckFailed):
        await _step(j, f"delete user {username}", hub.json("DELETE", path))


def run_check(
    hub_url: str,
    token: str,
    *,
    username: str | None = None,
    timeout_s: float = 300,
    verify_tls: bool = True,
) -> CheckReport:
    """The journey against hub_url (e.g. https://hub.example.org) with an admin-capable token.

    The token needs the scopes admin:users, admin:servers, tokens, access:servers and
    access:services!service=dask-gateway. username defaults to a random temporary name.
    """
    name = username or f"heliohub-check-{secrets.token_hex(3)}"
    return asyncio.run(_journey(hub_url, token, name, timeout_s, verify_tls))
