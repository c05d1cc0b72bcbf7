"""Fault injection against a real local deployment: `kill -9` of the hub, of the proxy, of the
gateway and of the idle culler while alice has a server with a kernel holding a variable and a
running Dask cluster. Each time: back healthy without any command, the same server process with
the variable intact, the same cluster listed and usable. The proxy outlives the hub: the same
process, with alice's route, while the hub is down and after; a new proxy gets alice's route
back from the hub. Then `up` again stops no session, and alice can still stop her cluster.

Then supervisord itself is killed: the deployment is degraded, and `up` takes users' work
over. One deployment (isolation none) is shared by the module, the tests run in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from local_hub import LocalHub, api, login, start_server

from heliohub.check import HubClient, _run_code

pytestmark = [
    pytest.mark.integration,
    # dask_gateway's Gateway.__del__ trips over distributed's loop runner after close().
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SECRET = "4242424242"
RECOVERY_TIMEOUT_S = 180


def _role_pids(hub: LocalHub, role: str) -> list[int]:
    from heliohub.providers.local.processes import role as role_of

    return [p.pid for p in hub.processes() if role_of(p) == role]


def _kernel(hub: LocalHub, token: str, code: str, kernel_id: str | None = None) -> str:
    """Run code in alice's kernel kernel_id (a new one when None); returns (id, stdout)."""

    async def go() -> str:
        client = HubClient(hub.url, token, True)
        server = "/user/alice/api"
        kid = kernel_id
        if kid is None:
            kid = (await client.json("POST", f"{server}/kernels", {"name": "python3"}))["id"]
        result = await _run_code(client, server, kid, token, code, 120)
        assert result.error is None, result.error
        return f"{kid}\n{result.stdout}"

    return asyncio.run(go())


def _gateway(hub: LocalHub, token: str) -> Any:
    from dask_gateway import Gateway, JupyterHubAuth

    return Gateway(
        address=f"{hub.url}/services/dask-gateway",
        proxy_address=f"gateway://127.0.0.1:{hub.gateway_port()}",
        auth=JupyterHubAuth(api_token=token),
    )


def _proxy_routes(hub: LocalHub) -> dict[str, Any]:
    """The routes in the proxy's table, from its REST API (loopback, with its token)."""
    ports = json.loads((hub.data_dir / "state" / "deployment.json").read_text())["ports"]
    token = (hub.data_dir / "secrets" / "proxy-auth-token").read_text().strip()
    resp = requests.get(
        f"http://127.0.0.1:{ports['proxy_api']}/api/routes",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    resp.raise_for_status()
    return dict(resp.json())


def _wait_for_route(hub: LocalHub, route: str) -> None:
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if route in _proxy_routes(hub):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the proxy has no route {route}\n{hub.log_tail()}")


def _wait_healthy(hub: LocalHub, killed: int, role: str) -> None:
    """Until status says running and a new process has taken the killed one's role."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        pids = _role_pids(hub, role)
        if pids and killed not in pids and hub.status()["state"] == "running":
            return
        time.sleep(0.5)
    raise AssertionError(
        f"not healthy {RECOVERY_TIMEOUT_S}s after killing the {role}\n"
        f"{hub.status()}\n{hub.log_tail()}"
    )


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path
) -> Iterator[dict[str, Any]]:
    hub = LocalHub(
        tmp_path_factory.mktemp("survival"),
        {"name": "survive", "dask": {"cluster_idle_timeout_s": 0}},
    )
    hub.share_proxy(proxy_dir)
    hub.cli("up", "--detach")
    try:
        session = login(hub.url, "alice", hub.admin_password)
        start_server(session, hub.url, "alice")
        resp = api(session, hub.url, "POST", "/users/alice/tokens", json={"note": "survival"})
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        kernel_id = _kernel(hub, token, f"secret = {SECRET}").split("\n")[0]
        gateway = _gateway(hub, token)
        cluster = gateway.new_cluster()
        cluster.scale(1)
        [server_pid] = _role_pids(hub, "server")
        yield {
            "hub": hub,
            "token": token,
            "kernel": kernel_id,
            "cluster": cluster.name,
            "server_pid": server_pid,
        }
        gateway.close()
    finally:
        hub.down()
        assert hub.processes() == []


def _assert_work_intact(d: dict[str, Any]) -> None:
    hub: LocalHub = d["hub"]
    assert psutil.pid_exists(d["server_pid"])
    assert _role_pids(hub, "server") == [d["server_pid"]]
    out = _kernel(hub, d["token"], "print(secret)", d["kernel"])
    assert out.split("\n", 1)[1].strip() == SECRET
    gateway = _gateway(hub, d["token"])
    try:
        assert [c.name for c in gateway.list_clusters()] == [d["cluster"]]
        cluster = gateway.connect(d["cluster"])
        client = cluster.get_client()
        client.wait_for_workers(1, timeout=120)
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6
        client.close()
        cluster.close(shutdown=False)
    finally:
        gateway.close()


def test_the_proxy_and_its_routes_outlive_the_hub(deployment: dict[str, Any]) -> None:
    hub: LocalHub = deployment["hub"]
    [proxy_pid] = _role_pids(hub, "proxy")
    assert "/user/alice" in _proxy_routes(hub)
    [pid] = _role_pids(hub, "hub")
    os.kill(pid, signal.SIGKILL)
    # While no hub runs, the proxy still holds alice's route to her server.
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=30)
    assert "/user/alice" in _proxy_routes(hub)
    _wait_healthy(hub, pid, "hub")
    assert _role_pids(hub, "proxy") == [proxy_pid]
    _assert_work_intact(deployment)
    assert _role_pids(hub, "proxy") == [proxy_pid]


@pytest.mark.parametrize("role", ["proxy", "gateway", "idle-culler"])
def test_kill_9_is_healed_without_a_command(deployment: dict[str, Any], role: str) -> None:
    hub: LocalHub = deployment["hub"]
    [pid] = _role_pids(hub, role)
    os.kill(pid, signal.SIGKILL)
    _wait_healthy(hub, pid, role)
    # A new proxy starts with an empty table; the hub puts alice's route back by itself.
    _wait_for_route(hub, "/user/alice")
    _assert_work_intact(deployment)


def test_up_heals_a_deployment_whose_supervisor_died(deployment: dict[str, Any]) -> None:
    """Everything but supervisord runs on: degraded, and `up` takes users' work over."""
    hub: LocalHub = deployment["hub"]
    [pid] = _role_pids(hub, "supervisor")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    status = hub.cli("status", check=False)
    assert status.returncode == 1, status.stdout
    assert "partial" in status.stdout
    result = hub.cli("up", "--detach")
    assert "keeping users' work running" in result.stderr, result.stderr
    assert "stopping" not in result.stderr
    _assert_work_intact(deployment)


def test_up_again_stops_no_session_and_the_owner_stops_her_cluster(
    deployment: dict[str, Any],
) -> None:
    hub: LocalHub = deployment["hub"]
    result = hub.cli("up", "--detach")
    assert "stopping" not in result.stderr, result.stderr
    assert "already running" in result.stderr
    _assert_work_intact(deployment)
    gateway = _gateway(hub, deployment["token"])
    try:
        gateway.stop_cluster(deployment["cluster"])
        deadline = time.monotonic() + 60
        while gateway.list_clusters() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert gateway.list_clusters() == []
    finally:
        gateway.close()
    deadline = time.monotonic() + 60
    while _role_pids(hub, "scheduler") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _role_pids(hub, "scheduler") == []
