"""The local provider for real: `heliohub up --detach` on a free loopback port, a user's whole
journey (login, server, token, Dask Gateway from outside and from a kernel), `status`, `check`,
a second deployment side by side, and `down` leaving no process behind.

Isolation `none` (as CI runs as root, this is the `--allow-root` path). One deployment is shared
by the module; the last test stops it.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from local_hub import LocalHub, api, login, start_server

from heliohub.check import run_in_kernel

pytestmark = [
    pytest.mark.integration,
    # dask_gateway's Gateway.__del__ trips over distributed's loop runner after close().
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

CONFIG = {
    "name": "itest",
    "provider": "local",
    "auth": {"type": "shared-password", "admin_users": ["alice"]},
    "dask": {
        "worker_cores": {"min": 1, "max": 2, "default": 1},
        "worker_memory_gib": {"min": 0.5, "max": 4, "default": 1},
        "max_workers_per_cluster": 4,
        "max_clusters_per_user": 1,
        "cluster_idle_timeout_s": 1800,
    },
    "culling": {"server_idle_timeout_s": 3600},
}
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHub]:
    deployment = LocalHub(tmp_path_factory.mktemp("local-hub"), CONFIG)
    start = time.monotonic()
    result = deployment.cli("up", "--detach")
    TIMINGS["up --detach until healthy (s)"] = time.monotonic() - start
    # The proxy was missing, so `up` installed it and said so.
    assert "installing configurable-http-proxy 5.3.0 with npm" in result.stderr, result.stderr
    yield deployment
    deployment.down()
    print("\nlocal provider timings:", json.dumps(TIMINGS, indent=2))


@pytest.fixture(scope="module")
def alice(hub: LocalHub) -> dict[str, Any]:
    """alice logged in over HTTP, her server started, and a token of hers."""
    session = login(hub.url, "alice", hub.admin_password)
    TIMINGS["spawn of alice's server (s)"] = start_server(session, hub.url, "alice")
    resp = api(session, hub.url, "POST", "/users/alice/tokens", json={"note": "itest"})
    assert resp.status_code == 201, resp.text
    return {"session": session, "token": resp.json()["token"]}


@contextmanager
def _gateway(hub: LocalHub, token: str) -> Iterator[Any]:
    from dask_gateway import Gateway, JupyterHubAuth

    gateway = Gateway(
        address=f"{hub.url}/services/dask-gateway",
        proxy_address=f"gateway://127.0.0.1:{hub.gateway_port()}",
        auth=JupyterHubAuth(api_token=token),
    )
    try:
        yield gateway
    finally:
        gateway.close()
        del gateway
        # Collected now, under this module's warning filter (see pytestmark).
        gc.collect()


def test_up_files_and_permissions(hub: LocalHub) -> None:
    data = hub.data_dir
    assert (data / "proxy" / "node_modules" / ".bin" / "configurable-http-proxy").exists()
    assert (data / "secrets").stat().st_mode & 0o777 == 0o700
    for secret in (data / "secrets").iterdir():
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    assert (data / "logs" / "jupyterhub.log").exists()
    assert (data / "state" / "deployment.json").exists()
    # The files that run are exactly what `heliohub render` writes.
    rendered = hub.workdir / "rendered"
    hub.cli("render", "-o", str(rendered))
    for name in ("hub.json", "gateway.json", "jupyterhub_config.py", "dask_gateway_config.py"):
        running = data / "state" / "rendered" / "local" / name
        assert running.read_bytes() == (rendered / "local" / name).read_bytes()


def test_up_again_says_already_running(hub: LocalHub) -> None:
    result = hub.cli("up", "--detach")
    assert "already running" in result.stderr
    assert "running" in result.stdout


def test_status_json(hub: LocalHub) -> None:
    status = hub.status()
    assert status["state"] == "running"
    assert status["url"] == hub.url
    states = {c["name"]: c["state"] for c in status["components"]}
    assert states["hub"] == states["proxy"] == states["dask-gateway"] == "running"
    assert states["idle-culler"] == "running"
    # The environment servers and workers run from: an existing one here, as `up` found it.
    python = hub.config["local"]["user_environment"]["python"]
    versions = {n: importlib.metadata.version(n) for n in ("dask", "distributed", "dask-gateway")}
    assert (
        f"user environment: existing, {python}: dask {versions['dask']}, distributed "
        f"{versions['distributed']}, dask-gateway {versions['dask-gateway']}, Python "
        f"{platform.python_version()}"
    ) in status["notes"]


def test_cluster_from_outside_with_options(hub: LocalHub, alice: dict[str, Any]) -> None:
    """A cluster created from the test process with alice's token and chosen options."""
    import dask.array as da

    with _gateway(hub, alice["token"]) as gateway:
        options = gateway.cluster_options()
        options.worker_cores = 1
        options.worker_memory = 0.75
        start = time.monotonic()
        cluster = gateway.new_cluster(options)
        try:
            cluster.scale(2)
            client = cluster.get_client()
            client.wait_for_workers(2, timeout=120)
            TIMINGS["cluster created with 2 workers connected (s)"] = time.monotonic() - start
            workers = client.scheduler_info()["workers"].values()
            assert len(workers) == 2
            assert {w["nthreads"] for w in workers} == {1}
            assert {w["memory_limit"] for w in workers} == {int(0.75 * 2**30)}
            # Her workers get her home, as her server does: `pip install --user` reaches them.
            homes = client.run(lambda: os.environ.get("HOME"))
            assert set(homes.values()) == {str(hub.data_dir / "homes" / "alice")}
            x = da.arange(1_000_000, chunks=100_000)
            assert int(x.sum().compute()) == 1_000_000 * 999_999 // 2
            client.close()
            with pytest.raises(ValueError, match="allows 1 per user"):
                gateway.new_cluster()
        finally:
            cluster.shutdown()
        assert gateway.list_clusters() == []


def test_out_of_range_option_is_refused(hub: LocalHub, alice: dict[str, Any]) -> None:
    with (
        _gateway(hub, alice["token"]) as gateway,
        pytest.raises(ValueError, match=r"worker_cores must be between 1 and 2.*got 64"),
    ):
        gateway.new_cluster(worker_cores=64)
    # The gateway itself refuses, whatever the client does.
    resp = requests.post(
        f"{hub.url}/services/dask-gateway/api/v1/clusters/",
        json={"cluster_options": {"worker_memory": 64}},
        headers={"Authorization": f"jupyterhub {alice['token']}"},
        timeout=30,
    )
    assert resp.status_code == 422
    assert "worker_memory must be between 0.5 and 4" in resp.text
    with _gateway(hub, alice["token"]) as gateway:
        assert gateway.list_clusters() == []


KERNEL_CODE = """
import json, os
import dask.array as da
from dask_gateway import Gateway

gateway = Gateway()
options = gateway.cluster_options()
options.worker_cores = 2
cluster = gateway.new_cluster(options)
cluster.scale(2)
client = cluster.get_client()
client.wait_for_workers(2, timeout=120)
value = int(da.ones((2000, 2000), chunks=500).sum().compute())
workers = len(client.scheduler_info()["workers"])
client.close()
cluster.shutdown()
with open("written-by-alice.txt", "w") as f:
    f.write("alice was here")
print("RESULT " + json.dumps({"value": value, "workers": workers, "cwd": os.getcwd(),
      "left": len(gateway.list_clusters())}))
"""


def test_gateway_with_no_arguments_in_a_kernel(hub: LocalHub, alice: dict[str, Any]) -> None:
    result = run_in_kernel(hub.url, "alice", alice["token"], KERNEL_CODE, timeout_s=240)
    assert result.error is None, result.error
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RESULT "))
    out = json.loads(line.removeprefix("RESULT "))
    assert out["value"] == 4_000_000
    assert out["workers"] == 2
    assert out["left"] == 0
    home = hub.data_dir / "homes" / "alice"
    assert Path(out["cwd"]) == home
    assert (home / "written-by-alice.txt").read_text() == "alice was here"
    # The shared directory is visible from her home.
    assert (home / "shared").resolve() == (hub.data_dir / "shared").resolve()


def test_check_passes(hub: LocalHub) -> None:
    result = hub.cli("check", timeout=400)
    assert "✗" not in result.stdout, result.stdout
    for step in ("start the user's server", "scale to 2 workers", "compute a dask.array sum"):
        assert step in result.stdout


def test_second_deployment_side_by_side(
    hub: LocalHub, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Another data_dir and bind at the same time, run in the foreground and stopped by Ctrl-C.

    Its timeouts are short, to see an idle server culled and an idle cluster shut down.
    """
    config = {
        **CONFIG,
        "name": "itest-two",
        "dask": {**CONFIG["dask"], "cluster_idle_timeout_s": 5},
        "culling": {"server_idle_timeout_s": 10, "every_s": 3},
    }
    other = LocalHub(tmp_path_factory.mktemp("local-hub-2"), config)
    other.share_proxy(hub.data_dir / "proxy")
    other.up_foreground()
    try:
        status = other.wait_running()
        assert status["url"] == other.url != hub.url
        assert hub.status()["state"] == "running"
        assert other.gateway_port() != hub.gateway_port()
        session = login(other.url, "bob", other.password)
        assert api(session, other.url, "GET", "/user").json()["name"] == "bob"
        # bob does not exist on the first hub: separate databases.
        first = login(hub.url, "alice", hub.admin_password)
        assert api(first, hub.url, "GET", "/users/bob").status_code == 404
        procs = other.processes()
        assert procs
        start_server(session, other.url, "bob")
        token = api(session, other.url, "POST", "/users/bob/tokens", json={}).json()["token"]
        with _gateway(other, token) as gateway:
            gateway.new_cluster()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                clusters = gateway.list_clusters()
                servers = api(session, other.url, "GET", "/users/bob").json()["servers"]
                if not clusters and not servers:
                    break
                time.sleep(1)
            assert clusters == [], "the idle cluster was not shut down"
            assert servers == {}, "the idle server was not culled"
    finally:
        output = other.interrupt_foreground()
    assert other.foreground is not None and other.foreground.returncode == 0, output
    assert not [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert other.processes() == []
    assert hub.status()["state"] == "running"


def test_down_leaves_no_process_and_keeps_data(hub: LocalHub, alice: dict[str, Any]) -> None:
    """Last: a cluster and alice's server still run when `down` comes; nothing survives it."""
    with _gateway(hub, alice["token"]) as gateway:
        # Left running on purpose: `down` must stop it.
        cluster = gateway.new_cluster(shutdown_on_close=False)
        cluster.scale(1)
        client = cluster.get_client()
        client.wait_for_workers(1, timeout=120)
        client.close()
        cluster.close()
    details = {c["name"]: c["detail"] for c in hub.status()["components"]}
    assert details["user-servers"] == "1 running"
    # The gateway's own view (its database) agrees with the processes.
    assert details["dask-clusters"] == ("1 scheduler(s), 1 worker(s); the gateway lists 1 running")
    before = hub.processes()
    commands = [" ".join(p.cmdline()) for p in before]
    for needle in (
        "supervisord -c",
        "heliohub.inhub.run_hub -f",
        "configurable-http-proxy",
        "dask-gateway-server",
        "dask-gateway-proxy",
        "jupyterhub-idle-culler",
        "-m heliohub_singleuser",
        "dask scheduler",
        "dask worker",
    ):
        assert any(needle in c for c in commands), f"no {needle} among {commands}"

    start = time.monotonic()
    hub.cli("down")
    TIMINGS["down (s)"] = time.monotonic() - start
    alive = [p for p in before if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [" ".join(p.cmdline()) for p in alive]
    assert hub.processes() == []
    assert hub.status()["state"] == "stopped"
    assert (hub.data_dir / "homes" / "alice" / "written-by-alice.txt").exists()
    assert (hub.data_dir / "secrets" / "shared-password").exists()
