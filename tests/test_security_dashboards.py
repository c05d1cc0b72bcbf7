"""Dask dashboards answer only to their owner and admins, in `system-users` mode (needs root),
attacked as user A would: B's dashboards through the public proxy with no credentials, with A's
hub cookie and with A's token; and B's scheduler and worker ports (dashboards and comms) on
loopback, from a process of A's OS user and from code in A's kernel. B and an admin get
B's dashboards.

The deployment and its users come from the security matrix's fixture.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psutil
import pytest
import requests
from test_security_matrix import ADMIN, PREFIX, A, B, Matrix, _os_user, _start_server, matrix

from heliohub.check import run_in_kernel
from heliohub.inhub import firewall

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="system-users isolation needs root"),
]
__all__ = ["matrix"]  # the fixture, imported for this module's own deployment

# A system Python that every OS user can run, for the probes run as A and B.
PROBE_PYTHON = "/usr/bin/python3"
PROBE = """
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5).close()
    print("open")
except OSError as exc:
    print("refused", type(exc).__name__)
"""


@dataclass
class Cluster:
    name: str

    @property
    def status_path(self) -> str:
        return f"/services/dask-gateway/clusters/{self.name}/status"


def _listening_ports(uid: int) -> set[int]:
    """TCP ports that uid's processes listen on (B runs nothing here but the cluster)."""
    pids = {p.pid for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid}
    return {
        c.laddr.port
        for c in psutil.net_connections(kind="tcp")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    }


@pytest.fixture(scope="module")
def b_cluster(matrix: Matrix) -> Iterator[Cluster]:
    """A running cluster of B's with one worker."""
    matrix.token(B)  # made here: the hub API calls are synchronous
    uid_b = _os_user(B).pw_uid

    async def start() -> str:
        async with matrix.gateway(B) as gateway:
            name = await gateway.submit()
            deadline = time.monotonic() + 120
            while (await gateway.get_cluster(name)).status.name != "RUNNING":
                assert time.monotonic() < deadline, "B's cluster did not start"
                await asyncio.sleep(0.5)
            await gateway.scale_cluster(name, 1)
            return name

    async def stop(name: str) -> None:
        async with matrix.gateway(B) as gateway:
            await gateway.stop_cluster(name)

    name = asyncio.run(start())
    try:
        # Scheduler: comm, dashboard, gateway API; worker: nanny, comm, dashboard.
        deadline = time.monotonic() + 180
        while len(_listening_ports(uid_b)) < 6:
            assert time.monotonic() < deadline, _listening_ports(uid_b)
            time.sleep(0.5)
        yield Cluster(name)
    finally:
        if matrix.hub.started:  # the last test stops the deployment itself
            asyncio.run(stop(name))


def _is_dashboard(resp: requests.Response) -> bool:
    return resp.status_code == 200 and "<title>Dask" in resp.text


def _title(resp: requests.Response) -> str:
    found = re.search(r"<title>(.*?)</title>", resp.text, re.S)
    return found.group(1).strip() if found else ""


def test_no_credentials_get_no_dashboard(matrix: Matrix, b_cluster: Cluster) -> None:
    url = matrix.hub.url + b_cluster.status_path
    first = requests.get(url, allow_redirects=False, timeout=30)
    # A browser is sent to log in with the hub, like for any hub service.
    assert first.status_code == 302, first.text[:300]
    assert first.headers["location"].startswith("/hub/api/oauth2/authorize?")
    followed = requests.get(url, timeout=30)
    assert not _is_dashboard(followed)
    assert "/hub/login" in followed.url
    # A program without a browser gets 401, never the page.
    for path in ("individual-task-stream", "info/main/workers.html", "json/counts.json"):
        resp = requests.get(
            f"{matrix.hub.url}/services/dask-gateway/clusters/{b_cluster.name}/{path}",
            headers={"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"},
            allow_redirects=False,
            timeout=30,
        )
        assert resp.status_code in (302, 401), (path, resp.status_code)
    # A token the hub does not know is refused, not sent to log in.
    forged = requests.get(
        url, headers={"Authorization": "token not-a-hub-token"}, allow_redirects=False, timeout=30
    )
    assert forged.status_code == 401 and not _is_dashboard(forged)
    # Nor does the gateway's own port on loopback serve it without credentials.
    direct = requests.get(
        f"http://127.0.0.1:{matrix.hub.gateway_port()}{b_cluster.status_path}",
        allow_redirects=False,
        timeout=30,
    )
    assert direct.status_code == 302 and not _is_dashboard(direct)


def test_a_token_gets_no_dashboard_of_b(matrix: Matrix, b_cluster: Cluster) -> None:
    base = f"{matrix.hub.url}/services/dask-gateway/clusters/{b_cluster.name}"
    as_a = {"Authorization": f"token {matrix.token(A)}"}
    for path in ("status", "individual-task-stream", "info/main/workers.html", "json/counts.json"):
        resp = requests.get(f"{base}/{path}", headers=as_a, allow_redirects=False, timeout=30)
        assert resp.status_code == 404, (path, resp.status_code, resp.text[:200])
    # The one page open to all: the names of the plots (the JupyterLab extension checks a
    # link with it from the user's server, which has no hub login). It names routes only.
    plots = requests.get(f"{base}/individual-plots.json", headers=as_a, timeout=30)
    assert plots.status_code == 200
    routes = plots.json().values()
    assert all(re.fullmatch(r"(/statics)?/individual-[a-z-]+(\.html)?", r) for r in routes), routes
    assert b_cluster.name not in plots.text


def test_a_cookie_gets_no_dashboard_of_b(matrix: Matrix, b_cluster: Cluster) -> None:
    # A's logged-in browser session goes through the hub's OAuth and comes back as A.
    resp = matrix.sessions[A.username].get(matrix.hub.url + b_cluster.status_path, timeout=60)
    assert resp.status_code == 404, (resp.url, resp.status_code, resp.text[:300])
    assert resp.url == matrix.hub.url + b_cluster.status_path
    assert not _is_dashboard(resp)


def test_owner_and_admin_get_the_dashboard(matrix: Matrix, b_cluster: Cluster) -> None:
    url = matrix.hub.url + b_cluster.status_path
    for user in (B, ADMIN):
        by_cookie = matrix.sessions[user.username].get(url, timeout=60)
        assert _is_dashboard(by_cookie), (user.username, by_cookie.status_code, by_cookie.url)
        by_token = requests.get(
            url, headers={"Authorization": f"token {matrix.token(user)}"}, timeout=60
        )
        assert _is_dashboard(by_token), (user.username, by_token.status_code)
        assert _title(by_token) == _title(by_cookie)
    # The page's data comes through too, for the owner.
    plots = requests.get(
        url.replace("/status", "/individual-plots.json"),
        headers={"Authorization": f"token {matrix.token(B)}"},
        timeout=60,
    )
    assert plots.status_code == 200 and "Individual Task Stream" in plots.json()


def _probe(uid: int | None, port: int) -> str:
    prefix = (
        [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    )
    proc = subprocess.run(
        [*prefix, PROBE_PYTHON, "-c", PROBE, str(port)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_cannot_reach_b_cluster_ports_on_loopback(matrix: Matrix, b_cluster: Cluster) -> None:
    uid_a, uid_b = _os_user(A).pw_uid, _os_user(B).pw_uid
    ports = _listening_ports(uid_b)
    assert len(ports) >= 6, ports
    for port in sorted(ports):
        assert _probe(uid_a, port).startswith("refused"), f"A reached B's port {port}"
        # The same probe succeeds for B and for root: the rule is about who asks.
        assert _probe(uid_b, port) == "open", port
        assert _probe(None, port) == "open", port
    # The firewall names B's OS user and no one else's who has no cluster.
    listing = subprocess.run(
        ["nft", "list", "table", "inet", firewall.table_name(matrix.hub.deployment_id)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"heliohub-owner-{uid_b}" in listing
    assert f"heliohub-owner-{uid_a}" not in listing


KERNEL_PROBE = """
import socket, urllib.request
for port in {ports}:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        print("PORT", port, "open")
    except OSError as exc:
        print("PORT", port, "refused", type(exc).__name__)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{{port}}/status", timeout=5)
        print("HTTP", port, "answered")
    except Exception as exc:
        print("HTTP", port, "failed", type(exc).__name__)
"""


def test_a_kernel_cannot_reach_b_dashboards_on_loopback(matrix: Matrix, b_cluster: Cluster) -> None:
    """The same attack from a notebook: code in A's kernel, as A's OS user."""
    ports = sorted(_listening_ports(_os_user(B).pw_uid))
    _start_server(matrix, A)
    result = run_in_kernel(
        matrix.hub.url, A.username, matrix.token(A), KERNEL_PROBE.format(ports=ports)
    )
    assert result.error is None, result.error
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("PORT")]) == len(ports), lines
    assert all(" open" not in line and "answered" not in line for line in lines), lines


def test_rules_go_with_the_last_cluster_and_with_down(matrix: Matrix) -> None:
    """Runs last: stops B's cluster, then the deployment."""
    uid_b = _os_user(B).pw_uid
    table = firewall.table_name(matrix.hub.deployment_id)

    def listing() -> str:
        proc = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else ""

    async def stop_all() -> None:
        async with matrix.gateway(B) as gateway:
            for report in await gateway.list_clusters():
                await gateway.stop_cluster(report.name)

    matrix.token(B)
    asyncio.run(stop_all())
    deadline = time.monotonic() + 60
    while f"heliohub-owner-{uid_b}" in listing():
        assert time.monotonic() < deadline, listing()
        time.sleep(0.5)
    assert "ct mark set" in listing(), "the table itself stays while the gateway runs"
    matrix.hub.down()
    assert listing() == ""
    assert PREFIX  # OS users are removed by the matrix fixture
