"""The floors: the same work done by the bare components, started by hand.

- a bare `jupyterhub` with the same authenticator (shared password) and proxy (the same
  configurable-http-proxy executable), until /hub/health answers through the proxy;
- N bare `jupyterhub-singleuser` processes started at once, each until it answers;
- `dask scheduler` plus 2 `dask worker` processes until a client sees 2 workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.procs import Spawned, await_http, free_port, pss_mib, tree, wait_http
from heliohub.inhub.singleuser import NOT_LOADED

# What the bare hub runs: only what `heliohub up` would need to log users in and route them.
HUB_CONFIG = """\
import os
env = os.environ
c = get_config()  # noqa: F821
here = os.path.dirname(os.path.abspath(__file__))
c.JupyterHub.bind_url = "http://127.0.0.1:" + env["FLOOR_PUBLIC_PORT"] + "/"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["FLOOR_HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:" + env["FLOOR_PROXY_API_PORT"]
c.ConfigurableHTTPProxy.command = [env["FLOOR_PROXY_COMMAND"]]
c.ConfigurableHTTPProxy.pid_file = os.path.join(here, "proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(here, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(here, "cookie_secret")
c.JupyterHub.pid_file = os.path.join(here, "jupyterhub.pid")
c.JupyterHub.authenticator_class = "shared-password"
c.Authenticator.allow_all = True
c.Authenticator.admin_users = {"admin"}
c.SharedPasswordAuthenticator.user_password = env["FLOOR_SHARED_PASSWORD"]
if env.get("FLOOR_EXTERNAL_PROXY"):
    # The proxy started by hand beside the hub, as `heliohub up` runs it.
    c.ConfigurableHTTPProxy.should_start = False
"""

# The bare hub, minus the imports heliohub's hub skips (heliohub.inhub.run_hub), written out
# here so that this floor runs no heliohub code.
WITHOUT_GRAMMAR = (
    "import sys; "
    + "".join(f"sys.modules[{name!r}] = None; " for name in NOT_LOADED)
    + "from jupyterhub.app import main; sys.argv[0] = 'jupyterhub'; main()"
)


def bin_dir() -> Path:
    """The virtualenv's executables: the same jupyterhub, dask and singleuser heliohub runs."""
    return Path(sys.executable).parent


@dataclass
class BareHub:
    """A hand-started hub; stays up for the singleuser floor (its API answers their check)."""

    workdir: Path
    proxy_command: Path
    public_port: int = 0
    hub_port: int = 0
    proc: Spawned | None = None
    # Start configurable-http-proxy by hand at the same time, instead of by the hub.
    external_proxy: bool = False
    # Start the hub as heliohub.inhub.run_hub does: JupyterHub without loading rfc3987-syntax.
    without_grammar: bool = False
    proxy: Spawned | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    def start(self, timeout: float = 120.0) -> float:
        """Start it; seconds until /hub/health answers 200 through the proxy."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "jupyterhub_config.py"
        config.write_text(HUB_CONFIG)
        secret = self.workdir / "cookie_secret"
        if not secret.exists():
            secret.write_text(secrets.token_hex(32))
            secret.chmod(0o600)
        self.public_port, self.hub_port, api_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "FLOOR_PUBLIC_PORT": str(self.public_port),
            "FLOOR_HUB_PORT": str(self.hub_port),
            "FLOOR_PROXY_API_PORT": str(api_port),
            "FLOOR_PROXY_COMMAND": str(self.proxy_command),
            "FLOOR_SHARED_PASSWORD": secrets.token_urlsafe(16),
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
        }
        if self.external_proxy:
            env["FLOOR_EXTERNAL_PROXY"] = "1"
        t0 = time.perf_counter()
        if self.external_proxy:
            self.proxy = Spawned.start(
                [
                    str(self.proxy_command),
                    *("--ip", "127.0.0.1", "--port", str(self.public_port)),
                    *("--api-ip", "127.0.0.1", "--api-port", str(api_port)),
                    *("--error-target", f"http://127.0.0.1:{self.hub_port}/hub/error"),
                ],
                self.workdir / "proxy.log",
                env=env,
                cwd=self.workdir,
            )
        command = [str(bin_dir() / "jupyterhub"), "-f", str(config)]
        if self.without_grammar:
            command[:1] = [str(bin_dir() / "python"), "-c", WITHOUT_GRAMMAR]
        self.proc = Spawned.start(
            command,
            self.workdir / "jupyterhub.log",
            env=env,
            cwd=self.workdir,
        )
        try:
            t1 = wait_http(f"{self.url}/hub/health", timeout, alive=self.proc.alive)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"bare hub: {exc}\n{self.proc.tail()}") from None
        return t1 - t0

    def pss_mib(self) -> float:
        """Hub and proxy together."""
        return pss_mib(tree(self.proc.pid)) if self.proc else 0.0

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None
        if self.proxy:
            self.proxy.stop()
            self.proxy = None


def singleuser_env(hub: BareHub, user: str, port: int, home: Path) -> dict[str, str]:
    """What a hub's LocalProcessSpawner gives a server, with a token the server never needs."""
    prefix = f"/user/{user}/"
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "VIRTUAL_ENV")}
    env.update(
        {
            "HOME": str(home),
            "USER": user,
            "SHELL": "/bin/bash",
            "JUPYTERHUB_API_TOKEN": token,
            "JPY_API_TOKEN": token,
            "JUPYTERHUB_CLIENT_ID": f"jupyterhub-user-{user}",
            "JUPYTERHUB_HOST": "",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
            "JUPYTERHUB_OAUTH_SCOPES": json.dumps([f"access:servers!server={user}/"]),
            "JUPYTERHUB_OAUTH_ACCESS_SCOPES": json.dumps([f"access:servers!server={user}/"]),
            "JUPYTERHUB_USER": user,
            "JUPYTERHUB_SERVER_NAME": "",
            "JUPYTERHUB_API_URL": hub.api_url,
            "JUPYTERHUB_BASE_URL": "/",
            "JUPYTERHUB_SERVICE_PREFIX": prefix,
            "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}{prefix}",
            "JUPYTERHUB_DEFAULT_URL": "/lab",
        }
    )
    return env


def singleuser_cmd() -> list[str]:
    cmd = [str(bin_dir() / "jupyterhub-singleuser")]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


@dataclass
class BareServers:
    """N bare single-user servers started at once."""

    servers: list[tuple[str, Spawned]]

    def pss_each_mib(self) -> list[float]:
        return [pss_mib(tree(proc.pid)) for _, proc in self.servers]

    def stop(self) -> None:
        for _, proc in self.servers:
            proc.stop()


async def _start_servers(
    hub: BareHub, workdir: Path, count: int, timeout: float
) -> tuple[list[float], BareServers]:
    started: list[tuple[str, Spawned, float, str]] = []
    for i in range(count):
        user = f"floor-{i:03d}"
        home = workdir / "homes" / user
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        t0 = time.perf_counter()
        proc = Spawned.start(
            singleuser_cmd(),
            workdir / "logs" / f"{user}.log",
            env=singleuser_env(hub, user, port, home),
            cwd=home,
        )
        started.append((user, proc, t0, f"http://127.0.0.1:{port}/user/{user}/api"))
    servers = BareServers([(u, p) for u, p, _, _ in started])
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(
            *(await_http(session, url, timeout, alive=p.alive) for _, p, _, url in started),
            return_exceptions=True,
        )
    latencies = []
    for (user, proc, t0, _), res in zip(started, results, strict=True):
        if isinstance(res, BaseException):
            servers.stop()
            raise RuntimeError(f"bare server {user}: {res}\n{proc.tail()}")
        latencies.append(res - t0)
    return latencies, servers


def start_servers(
    hub: BareHub, workdir: Path, count: int, timeout: float = 300.0
) -> tuple[list[float], BareServers]:
    """Start count bare servers at once; each one's seconds until it answers, and the servers."""
    return asyncio.run(_start_servers(hub, workdir, count, timeout))


@dataclass
class BareDask:
    scheduler: Spawned
    workers: list[Spawned]

    def worker_pss_mib(self) -> list[float]:
        return [pss_mib(tree(w.pid)) for w in self.workers]

    def scheduler_pss_mib(self) -> float:
        return pss_mib(tree(self.scheduler.pid))

    def stop(self) -> None:
        for p in (*self.workers, self.scheduler):
            p.stop()


def start_dask(
    workdir: Path, workers: int, threads: int, memory: str, timeout: float = 120.0
) -> tuple[float, BareDask]:
    """`dask scheduler` and the workers started at once; seconds until a client sees them all."""
    from distributed import Client

    dask = str(bin_dir() / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    scheduler = Spawned.start(
        [
            dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dashboard-address",
            ":0",
        ],
        workdir / "scheduler.log",
        cwd=workdir,
    )
    procs = [
        Spawned.start(
            [
                dask,
                "worker",
                address,
                "--host",
                "127.0.0.1",
                "--nthreads",
                str(threads),
                "--memory-limit",
                memory,
                "--dashboard-address",
                ":0",
            ],
            workdir / f"worker-{i}.log",
            cwd=workdir,
        )
        for i in range(workers)
    ]
    bare = BareDask(scheduler, procs)
    try:
        with Client(address, timeout=timeout) as client:
            client.wait_for_workers(workers, timeout=timeout)
            t1 = time.perf_counter()
    except Exception as exc:
        bare.stop()
        raise RuntimeError(f"bare dask: {exc}\n{scheduler.tail()}") from None
    return t1 - t0, bare
