"""Dask dashboards behind the hub's login, inside the gateway process.

Upstream dask-gateway routes `<prefix>/clusters/<name>/` straight from its proxy to the
scheduler's dashboard, with no authentication at all (dask/dask-gateway#570): anyone who can
reach the gateway reads everyone's task names, call stacks and logs. Here no such route is
given to the gateway's proxy. The request then reaches the gateway's own web application,
where DashboardGuard lets only the cluster's owner and hub admins through, and forwards the
request (HTTP or websocket) to the scheduler's dashboard itself.

Who is asking is decided by the hub, as for any hub service:
- a browser logs in with the hub's OAuth (the gateway's own OAuth client, which the hub
  creates because the gateway service has a URL) and gets a session cookie for the gateway's
  path only; the OAuth token stays in this process;
- a program sends `Authorization: token <hub API token>`.
Either way the token must carry `access:services!service=<gateway>`, as the gateway's API
requires.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from dask_gateway_server.backends.local import LocalBackend

from heliohub.inhub.firewall import OwnerFirewall

SESSION_COOKIE = "heliohub-dask-dashboards"
STATE_COOKIE = "heliohub-dask-dashboards-state"
# How long the hub's answer about a token is trusted before it is asked again: a revoked
# token or a removed admin flag stops working within this time.
IDENTITY_TTL_S = 60.0
SESSION_TTL_S = 12 * 3600.0
# Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1), and the
# credentials of the hub, which the scheduler (run by the user) has no business seeing.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
CREDENTIALS = frozenset({"authorization", "cookie"})
# The names of the dashboard's plots, the same for every cluster and holding no data of it.
# The JupyterLab extension fetches it from the user's server, which has no hub login, to tell
# whether a link is a dashboard; the plots themselves load in the browser, which has.
PUBLIC_PLOT_LIST = "individual-plots.json"


@dataclass(frozen=True)
class Identity:
    name: str
    admin: bool
    expires: float


@dataclass
class Session:
    token: str
    expires: float


class DashboardGuard:
    """Login, authorization and forwarding for the dashboards of one gateway."""

    def __init__(self, backend: LocalBackend, env: dict[str, str]) -> None:
        self.backend = backend
        self.log = backend.log
        self.api_url = env["JUPYTERHUB_API_URL"].rstrip("/")
        self.api_token = env["JUPYTERHUB_API_TOKEN"]
        self.service_name = env.get("JUPYTERHUB_SERVICE_NAME", "dask-gateway")
        self.client_id = env.get("JUPYTERHUB_CLIENT_ID", f"service-{self.service_name}")
        self.prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{self.service_name}/")
        self.callback_url = env.get(
            "JUPYTERHUB_OAUTH_CALLBACK_URL", self.prefix.rstrip("/") + "/oauth_callback"
        )
        # The hub's public paths: the browser follows these through the hub's proxy.
        base_url = env.get("JUPYTERHUB_BASE_URL", "/")
        self.authorize_url = base_url.rstrip("/") + "/hub/api/oauth2/authorize"
        self.access_scopes = {"access:services", f"access:services!service={self.service_name}"}
        self.sessions: dict[str, Session] = {}
        self.identities: dict[str, Identity] = {}
        self.http: aiohttp.ClientSession | None = None

    # ----- wiring ---------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth_callback", self.oauth_callback)
        app.router.add_route("*", "/clusters/{cluster_name}", self.add_slash)
        app.router.add_route("*", "/clusters/{cluster_name}/{tail:.*}", self.dashboard)
        app.on_cleanup.append(self._close)

    async def _client(self) -> aiohttp.ClientSession:
        if self.http is None:
            # Responses are passed on as they come: no decompression, no redirects followed.
            self.http = aiohttp.ClientSession(auto_decompress=False)
        return self.http

    async def _close(self, app: web.Application) -> None:
        if self.http is not None:
            await self.http.close()

    # ----- who is asking ----------------------------------------------------------------

    async def identity(self, token: str) -> Identity | None:
        """The hub user a token belongs to, if it may use the gateway; None otherwise."""
        now = time.monotonic()
        known = self.identities.get(token)
        if known is not None and known.expires > now:
            return known
        client = await self._client()
        async with client.get(
            f"{self.api_url}/user", headers={"Authorization": f"token {token}"}
        ) as resp:
            if resp.status in (401, 403, 404):
                self.identities.pop(token, None)
                return None
            resp.raise_for_status()
            model = await resp.json()
        if model.get("kind") != "user" or not self.access_scopes & set(model.get("scopes", [])):
            return None
        found = Identity(str(model["name"]), bool(model.get("admin")), now + IDENTITY_TTL_S)
        if len(self.identities) > 10_000:
            self.identities = {k: v for k, v in self.identities.items() if v.expires > now}
        self.identities[token] = found
        return found

    def _request_token(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer") and value.strip():
            return value.strip()
        sid = request.cookies.get(SESSION_COOKIE)
        session = self.sessions.get(sid) if sid else None
        if session is not None and session.expires > time.monotonic():
            return session.token
        return None

    # ----- OAuth with the hub -------------------------------------------------------------

    def _secure(self, request: web.Request) -> bool:
        return request.headers.get("X-Forwarded-Proto", request.scheme) == "https"

    def _login_redirect(self, request: web.Request, next_path: str) -> web.Response:
        state = secrets.token_urlsafe(24)
        query = urlencode(
            {
                "client_id": self.client_id,
                "redirect_uri": self.callback_url,
                "response_type": "code",
                "state": state,
            }
        )
        resp = web.HTTPFound(f"{self.authorize_url}?{query}")
        # The state ties the callback to this browser; it also carries where to go back to.
        resp.set_cookie(
            STATE_COOKIE,
            f"{state}:{quote(next_path, safe='/')}",
            path=self.prefix,
            max_age=600,
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
        )
        return resp

    async def oauth_callback(self, request: web.Request) -> web.StreamResponse:
        code = request.query.get("code", "")
        state = request.query.get("state", "")
        expected, _, next_path = request.cookies.get(STATE_COOKIE, "").partition(":")
        if not code or not expected or not hmac.compare_digest(state, expected):
            raise web.HTTPForbidden(text="OAuth state does not match; open the dashboard again")
        client = await self._client()
        async with client.post(
            f"{self.api_url}/oauth2/token",
            data={
                "client_id": self.client_id,
                "client_secret": self.api_token,
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.callback_url,
            },
        ) as resp:
            if resp.status >= 400:
                self.log.warning("OAuth code exchange with the hub failed: %s", resp.status)
                raise web.HTTPForbidden(text="the hub refused the login; open the dashboard again")
            token = (await resp.json())["access_token"]
        sid = secrets.token_urlsafe(32)
        now = time.monotonic()
        self.sessions = {k: s for k, s in self.sessions.items() if s.expires > now}
        self.sessions[sid] = Session(token, now + SESSION_TTL_S)
        # Only paths below this service are followed, never another site.
        target = next_path if next_path.startswith(self.prefix) else self.prefix
        out = web.HTTPFound(target)
        out.del_cookie(STATE_COOKIE, path=self.prefix)
        out.set_cookie(
            SESSION_COOKIE,
            sid,
            path=self.prefix,
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
        )
        return out

    # ----- the dashboards -------------------------------------------------------------------

    async def add_slash(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["cluster_name"]
        raise web.HTTPFound(f"{self.prefix}clusters/{quote(name)}/")

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["cluster_name"]
        if request.method == "GET" and request.match_info["tail"] == PUBLIC_PLOT_LIST:
            return await self._plot_list(request, name)
        token = self._request_token(request)
        who = await self.identity(token) if token else None
        if who is None:
            websocket = request.headers.get("Upgrade", "").lower() == "websocket"
            if request.method == "GET" and not websocket and "Authorization" not in request.headers:
                back = f"{self.prefix}clusters/{name}/{request.match_info['tail']}"
                if request.query_string:
                    back += f"?{request.query_string}"
                return self._login_redirect(request, back)
            raise web.HTTPUnauthorized(text="log in to the hub to see this dashboard")
        cluster = await self.backend.get_cluster(name)
        # Someone else's cluster looks exactly like one that does not exist.
        if cluster is None or not (who.admin or cluster.username == who.name):
            raise web.HTTPNotFound(text=f"no cluster {name} of yours")
        if not cluster.dashboard_address:
            raise web.HTTPServiceUnavailable(text=f"cluster {name} has no dashboard (yet)")
        path = "/" + request.match_info["tail"]
        if request.query_string:
            path += "?" + request.query_string
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, cluster.dashboard_address, path)
        return await self._http(request, cluster.dashboard_address + path)

    async def _plot_list(self, request: web.Request, name: str) -> web.StreamResponse:
        cluster = await self.backend.get_cluster(name)
        if cluster is None or not cluster.dashboard_address:
            raise web.HTTPNotFound(text=f"no cluster {name}")
        return await self._http(request, f"{cluster.dashboard_address}/{PUBLIC_PLOT_LIST}")

    def _forward_headers(self, request: web.Request) -> dict[str, str]:
        skip = HOP_BY_HOP | CREDENTIALS
        return {k: v for k, v in request.headers.items() if k.lower() not in skip}

    async def _http(self, request: web.Request, url: str) -> web.StreamResponse:
        client = await self._client()
        body = await request.read() if request.can_read_body else None
        try:
            upstream = await client.request(
                request.method,
                url,
                headers=self._forward_headers(request),
                data=body,
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            raise web.HTTPBadGateway(text=f"the dashboard does not answer: {exc}") from None
        async with upstream:
            headers = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in HOP_BY_HOP and k.lower() != "set-cookie"
            }
            out = web.StreamResponse(status=upstream.status, headers=headers)
            await out.prepare(request)
            async for chunk in upstream.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    async def _websocket(self, request: web.Request, base: str, path: str) -> web.StreamResponse:
        client = await self._client()
        headers = {}
        if "Origin" in request.headers:
            headers["Origin"] = request.headers["Origin"]
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        try:
            upstream = await client.ws_connect(
                "ws" + base[len("http") :] + path, headers=headers, protocols=protocols
            )
        except aiohttp.ClientError as exc:
            raise web.HTTPBadGateway(text=f"the dashboard does not answer: {exc}") from None
        downstream = web.WebSocketResponse(protocols=protocols)
        await downstream.prepare(request)

        async def pump(source: Any, sink: Any) -> None:
            async for msg in source:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(msg.data)
                else:
                    break

        tasks = [
            asyncio.ensure_future(pump(downstream, upstream)),
            asyncio.ensure_future(pump(upstream, downstream)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await upstream.close()
            await downstream.close()
        return downstream


class DashboardAuthBackend(LocalBackend):
    """A LocalBackend whose dashboards are served through DashboardGuard only."""

    async def setup(self, app: web.Application) -> None:
        DashboardGuard(self, dict(os.environ)).add_routes(app)
        await super().setup(app)

    async def _check_cluster_proxied(self, cluster: Any) -> None:
        # Upstream also adds `<prefix>/clusters/<name>` -> dashboard, unauthenticated; only the
        # scheduler's TLS route (authenticated by the cluster's certificate) is added here.
        if not cluster.added_to_proxies:
            await self.proxy.add_route(
                kind="SNI", sni=cluster.name, target=cluster.scheduler_address
            )
            cluster.added_to_proxies = True


class OwnerPortsBackend(LocalBackend):
    """system-users: a cluster's processes answer on loopback only to their owner and root.

    The subclass names the owner's OS uid (owner_uid). Rules are per OS user, not per port
    (see firewall.py): they are added before the user's first cluster starts and removed
    when the user's last cluster has stopped.
    """

    def owner_uid(self, cluster: Any) -> int:
        raise NotImplementedError

    async def do_setup(self) -> None:
        await super().do_setup()
        self.firewall = OwnerFirewall(os.environ["HELIOHUB_DEPLOYMENT_ID"])
        self.firewall.reset()
        # A restarted gateway takes over the clusters in its database: protect them again.
        for uid in {self.owner_uid(c) for c in self.db.active_clusters()}:
            self.firewall.protect(uid)
        self.log.info("Loopback firewall: nftables table inet %s", self.firewall.table)

    async def do_cleanup(self) -> None:
        await super().do_cleanup()
        # Clusters outlive a stopping gateway (stop_clusters_on_shutdown is off): their rules
        # stay until they stop; `heliohub down` removes the table with them.
        active = list(self.db.active_clusters()) if hasattr(self, "db") else []
        if getattr(self, "firewall", None) is not None and not active:
            self.firewall.remove()

    async def do_start_cluster(self, cluster: Any) -> Any:
        # Before the scheduler exists: there is never a moment its ports are open to all.
        self.firewall.protect(self.owner_uid(cluster))
        async for checkpoint in super().do_start_cluster(cluster):
            yield checkpoint

    async def do_stop_cluster(self, cluster: Any) -> None:
        await super().do_stop_cluster(cluster)
        others = [
            c for c in self.db.list_clusters(username=cluster.username) if c.name != cluster.name
        ]
        if not others:
            self.firewall.unprotect(self.owner_uid(cluster))
