"""The heliohub figures, each measured next to its floor (bench.floors) in the same run.

Floor and heliohub alternate within each repetition, so a slow moment of the machine does not
fall on one side only.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import psutil

from bench import bigconfig, floors
from bench.deployment import Deployment
from bench.hubapi import Hub
from bench.procs import Spawned, await_http, cmd_of, pss_mib, tree, wait_http
from bench.results import BenchRun, Figure
from heliohub.hubspec.names import SERVER_MODULE

SPAWN_TIMEOUT_S = 600.0
# Servers, workers and hubs settle for this long before their memory is read.
IDLE_S = 5.0
# What a gateway worker gets by default (dask.worker_cores / worker_memory_gib defaults).
WORKER_THREADS = 1
WORKER_MEMORY = "2GiB"


@dataclass
class Plan:
    """How many times each figure is measured."""

    repeat: int = 5
    spawn_sizes: tuple[int, ...] = (1, 10, 50)
    # rounds per spawn size: the samples are per server, so big sizes need fewer rounds
    spawn_rounds: dict[int, int] = field(default_factory=lambda: {1: 5, 10: 2, 50: 1})
    config_repeat: int = 10
    groups: tuple[str, ...] = ("up", "spawn", "gateway", "config", "startup")

    @classmethod
    def quick(cls, groups: tuple[str, ...]) -> Plan:
        return cls(repeat=1, spawn_rounds={1: 1, 10: 1, 50: 1}, config_repeat=1, groups=groups)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, workdir: Path, proxy_cache: Path, plan: Plan, run: BenchRun) -> None:
        self.workdir = workdir
        self.proxy_cache = proxy_cache
        self.proxy_command = proxy_cache / "node_modules" / ".bin" / "configurable-http-proxy"
        self.plan = plan
        self.run = run
        self.dep = Deployment(workdir / "heliohub")
        self.dep.write_config()
        self.dep.link_proxy(proxy_cache)
        # Figures and details this run has started, so each is emptied once (see figure()).
        self._figures: set[str] = set()
        self._details: set[str] = set()

    def figure(self, key: str, **kw: str) -> Figure:
        """A figure this run measures. Memory figures and details such as `down` or
        `memory.component.*` belong to no group of their own (they are taken during up, spawn
        or gateway), so `--only` carries them over from the earlier run: that copy is dropped
        here, or its samples would mix with this run's (or, being non-empty, keep a figure
        from being measured at all)."""
        if key not in self._figures:
            self._figures.add(key)
            self.run.figures = [f for f in self.run.figures if f.key != key]
        fig = self.run.figure(key)
        if fig is None:
            fig = Figure(key=key, **kw)
            self.run.figures.append(fig)
        return fig

    def detail(self, key: str, value: float) -> None:
        if key not in self._details:
            self._details.add(key)
            self.run.details.pop(key, None)  # carried over by `--only`: see figure()
        self.run.details.setdefault(key, []).append(round(value, 4))

    # ----- up, and the idle memory of what it starts ----------------------------------------

    def up_figures(self) -> None:
        up = self.figure(
            "up",
            group="up",
            title="`heliohub up --detach` until healthy",
            unit="s",
            floor_title="bare `jupyterhub` (same authenticator and proxy) until /hub/health "
            "answers through the proxy",
            how="wall time of the CLI command (it returns once the hub's /hub/health and the "
            "gateway's /api/health answer); same data directory each time, after one warm-up",
        )
        mem = self.figure(
            "idle-memory",
            group="memory",
            title="idle memory (PSS) of everything `up` starts",
            unit="MiB",
            floor_title="bare hub + proxy",
            how=f"sum of PSS over every process carrying the deployment's marker, {IDLE_S:g} s "
            "after `up` returned, no user servers",
        )
        floor_hub = floors.BareHub(self.workdir / "floor-hub", self.proxy_command)
        log("up: warm-up (not recorded)")
        floor_hub.start()
        floor_hub.stop()
        self.dep.up()
        self._hand_run_env = self.dep.hub_env()
        self._hand_run_cmd = cmd_of(psutil.Process(self.dep.state()["hub_pid"]))
        self.dep.down()
        for i in range(self.plan.repeat):
            log(f"up: round {i + 1}/{self.plan.repeat}")
            up.floor.append(floor_hub.start())
            if i == 0:
                time.sleep(IDLE_S)
                mem.floor.append(floor_hub.pss_mib())
            floor_hub.stop()
            seconds, stages = self.dep.up()
            up.ours.append(seconds)
            for name, value in stages.items():
                self.detail(f"up.stage.{name}", value)
            if i == 0:
                time.sleep(IDLE_S)
                mem.ours.append(self.dep.pss_mib())
                for name, value in self._components().items():
                    self.detail(f"memory.component.{name}", value)
            self.detail("down", self.dep.down())
            self.detail("up.hand-run", self._hand_run())

    def _components(self) -> dict[str, float]:
        """PSS per kind of process, to say where the idle memory goes."""
        out: dict[str, float] = {}
        for p in self.dep.processes():
            cmd = " ".join(cmd_of(p))
            if "configurable-http-proxy" in cmd:
                name = "configurable-http-proxy"
            elif "dask-gateway-proxy" in cmd:
                name = "dask-gateway-proxy (Go)"
            elif "dask-gateway-server" in cmd:
                name = "dask-gateway-server"
            elif "idle-culler" in cmd:
                name = "jupyterhub-idle-culler"
            elif " -f " in cmd and ("jupyterhub" in cmd or "heliohub.inhub.run_hub" in cmd):
                name = "jupyterhub"
            elif "supervisord" in cmd:
                name = "supervisord"
            else:
                name = "other"
            out[name] = out.get(name, 0.0) + pss_mib([p])
        return out

    def _hand_run(self) -> float:
        """The files `up` rendered, started by hand with the hub's environment: seconds until
        the hub and the gateway answer. Separates the CLI's own cost from the services'."""
        env = dict(self._hand_run_env)
        gateway = f"http://127.0.0.1:{env['HELIOHUB_GATEWAY_PORT']}/services/dask-gateway"
        t0 = time.perf_counter()
        proc = Spawned.start(
            self._hand_run_cmd, self.workdir / "hand-run.log", env=env, cwd=self.dep.data_dir
        )
        try:
            wait_http(f"{self.dep.url}/hub/health", 120, alive=proc.alive)
            t1 = wait_http(f"{gateway}/api/health", 120, alive=proc.alive)
        finally:
            proc.stop(30)
            # Whatever the hub left behind carries the deployment's marker: `down` sweeps it.
            self.dep.down()
        return t1 - t0

    # ----- spawn latency, and the memory of a user server -----------------------------------

    def spawn_figures(self) -> None:
        floor_hub = floors.BareHub(self.workdir / "floor-hub", self.proxy_command)
        floor_hub.start()
        self.dep.up()
        try:
            for size in self.plan.spawn_sizes:
                self._spawn_size(size, floor_hub)
        finally:
            self.dep.down()
            floor_hub.stop()

    def _spawn_size(self, size: int, floor_hub: floors.BareHub) -> None:
        fig = self.figure(
            f"spawn-{size}",
            group="spawn",
            title=f"spawn latency, {size} user{'s' if size > 1 else ''} at once",
            unit="s",
            floor_title=f"{size} bare `jupyterhub-singleuser` started at once, until each answers",
            how="per server: from the POST /hub/api/users/<name>/server until /user/<name>/api "
            "answers 200 through the public proxy (the spawn's progress stream is followed "
            "until ready first)",
        )
        mem = self.figure(
            "server-memory",
            group="memory",
            title="idle memory (PSS) per user server",
            unit="MiB",
            floor_title="a bare `jupyterhub-singleuser`",
            how=f"PSS of each server's process tree, {IDLE_S:g} s after 10 servers were ready",
        )
        rounds = self.plan.spawn_rounds.get(size, 1)
        for r in range(rounds):
            log(f"spawn {size}: round {r + 1}/{rounds}, floor")
            latencies, bare = floors.start_servers(
                floor_hub, self.workdir / f"floor-servers-{size}-{r}", size
            )
            fig.floor.extend(latencies)
            if size == 10 and not mem.floor:
                time.sleep(IDLE_S)
                mem.floor.extend(bare.pss_each_mib())
            bare.stop()
            time.sleep(2)
            log(f"spawn {size}: round {r + 1}/{rounds}, heliohub")
            users = [f"s{size}-{r}-{i:03d}" for i in range(size)]
            if size == 1:
                latencies, errors = asyncio.run(self._spawn_traced(users[0]))
            else:
                latencies, errors = asyncio.run(self._spawn_many(users))
            fig.ours.extend(latencies)
            # Failures are recorded and reported; the run goes on.
            fig.errors.extend(f"round {r + 1}: {e}" for e in errors)
            if size == 10 and not mem.ours:
                time.sleep(IDLE_S)
                mem.ours.extend(pss_mib(self.dep.server_processes(u)) for u in users)
            asyncio.run(self._stop_many(users))
            time.sleep(2)

    async def _spawn_many(self, users: list[str]) -> tuple[list[float], list[str]]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            admin = Hub(session, self.dep.url, self.dep.admin_token)
            await admin.create_users(users)

            async def one(user: str) -> float:
                t0 = time.perf_counter()
                return await admin.spawn(user, SPAWN_TIMEOUT_S) - t0

            results = await asyncio.gather(*(one(u) for u in users), return_exceptions=True)
        latencies = [r for r in results if isinstance(r, float)]
        errors = [
            f"{u}: {r or type(r).__name__}"
            for u, r in zip(users, results, strict=True)
            if isinstance(r, BaseException)
        ]
        return latencies, errors

    async def _spawn_traced(self, user: str) -> tuple[list[float], list[str]]:
        """One spawn, also timing when the server itself first answers (polled directly, as
        the floor is), to split the latency into the server's start and the hub's share."""
        async with aiohttp.ClientSession() as session:
            admin = Hub(session, self.dep.url, self.dep.admin_token)
            await admin.create_users([user])
            t0 = time.perf_counter()
            spawn = asyncio.create_task(admin.spawn(user, SPAWN_TIMEOUT_S))
            done = threading.Event()
            spawn.add_done_callback(lambda _: done.set())
            t_server = None
            try:
                url = await asyncio.to_thread(_server_url, user, done)
                t_server = await await_http(session, url + "api", 120.0)
            except (TimeoutError, RuntimeError) as exc:
                self.run.notes.append(f"spawn trace of {user}: {exc}")
            try:
                t_ready = await spawn
            except Exception as exc:
                return [], [f"{user}: {exc}"]
        if t_server is not None:
            self.detail("spawn.server-answers", t_server - t0)
            self.detail("spawn.hub-share", t_ready - t_server)
        return [t_ready - t0], []

    async def _stop_many(self, users: list[str]) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            admin = Hub(session, self.dep.url, self.dep.admin_token)
            await asyncio.gather(*(admin.stop(u, 300) for u in users), return_exceptions=True)
            for u in users:
                await admin.request("DELETE", f"/hub/api/users/{u}", expect=(204, 404, 400))

    # ----- gateway clusters, and the memory of a worker -------------------------------------

    def gateway_figures(self) -> None:
        fig = self.figure(
            "gateway",
            group="gateway",
            title="gateway cluster created until 2 workers are connected",
            unit="s",
            floor_title="`dask scheduler` + 2 `dask worker` started at once, until a client "
            "sees 2 workers",
            how="`Gateway().new_cluster()`, `cluster.scale(2)`, `client.wait_for_workers(2)` "
            "with a user's token, through the hub's proxy; workers with 1 thread and 2 GiB "
            "(the gateway's defaults), the same for the floor",
        )
        mem = self.figure(
            "worker-memory",
            group="memory",
            title="idle memory (PSS) per Dask worker",
            unit="MiB",
            floor_title="a bare `dask worker`",
            how=f"PSS of each `dask worker` (its nanny and the worker process), {IDLE_S:g} s "
            "after 2 workers connected",
        )
        self.dep.up()
        try:
            token = asyncio.run(self._user_token("gateway-user"))
            self._gateway_once(token, record=False)  # warm-up: first imports, first TLS setup
            for i in range(self.plan.repeat):
                log(f"gateway: round {i + 1}/{self.plan.repeat}")
                seconds, bare = floors.start_dask(
                    self.workdir / "floor-dask", 2, WORKER_THREADS, WORKER_MEMORY
                )
                fig.floor.append(seconds)
                if i == 0:
                    time.sleep(IDLE_S)
                    mem.floor.extend(bare.worker_pss_mib())
                    self.detail("memory.floor.scheduler", bare.scheduler_pss_mib())
                bare.stop()
                try:
                    fig.ours.append(self._gateway_once(token, measure_memory=(i == 0)))
                except Exception as exc:
                    fig.errors.append(f"round {i + 1}: {exc}")
        finally:
            self.dep.down()

    async def _user_token(self, user: str) -> str:
        async with aiohttp.ClientSession() as session:
            admin = Hub(session, self.dep.url, self.dep.admin_token)
            await admin.create_users([user])
            return await admin.create_token(user)

    def _gateway_once(self, token: str, measure_memory: bool = False, record: bool = True) -> float:
        from dask_gateway import Gateway
        from dask_gateway.auth import JupyterHubAuth

        gateway = Gateway(
            address=self.dep.gateway_address,
            proxy_address=self.dep.gateway_proxy,
            auth=JupyterHubAuth(api_token=token),
        )
        try:
            t0 = time.perf_counter()
            cluster = gateway.new_cluster()
            t_cluster = time.perf_counter()
            try:
                cluster.scale(2)
                client = cluster.get_client(set_as_default=False)
                client.wait_for_workers(2, timeout=300)
                t1 = time.perf_counter()
                if record:
                    self.detail("gateway.new-cluster", t_cluster - t0)
                    self.detail("gateway.scale-to-2-workers", t1 - t_cluster)
                if measure_memory:
                    time.sleep(IDLE_S)
                    mem = self.run.figure("worker-memory")
                    assert mem is not None
                    # Each `dask worker` is a nanny with the worker as its child: count both,
                    # as for the floor.
                    workers = self.dep.dask_processes("worker")
                    mem.ours.extend(pss_mib(tree(p.pid)) for p in workers)
                    schedulers = self.dep.dask_processes("scheduler")
                    self.detail("memory.gateway.scheduler", pss_mib(schedulers))
                client.close()
            finally:
                cluster.shutdown()
        finally:
            gateway.close()
        return t1 - t0

    # ----- validate and render the largest realistic config ---------------------------------

    def config_figures(self) -> None:
        cfg_dir = self.workdir / "config"
        cfg_dir.mkdir(parents=True, exist_ok=True)
        heliohub = str(floors.bin_dir() / "heliohub")
        floor_cmd = [
            sys.executable,
            "-c",
            "import sys, yaml; yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)",
        ]
        floor_title = "`python -c` that only parses the same YAML file (PyYAML, libyaml loader)"
        for provider in ("local", "kubernetes", "aws"):
            path = cfg_dir / f"big-{provider}.yaml"
            path.write_text(bigconfig.big_config_yaml(provider))
            for what, cmd in (
                ("validate", [heliohub, "validate", "-c", str(path)]),
                ("render", [heliohub, "render", "-c", str(path), "-o", str(cfg_dir / provider)]),
            ):
                if what == "validate" and provider != "local":
                    continue  # one validate: the models are the same for every provider
                fig = self.figure(
                    f"{what}-{provider}",
                    group="config",
                    title=f"`heliohub {what}` ({provider}), "
                    f"{0 if provider == 'local' else bigconfig.PROFILES} profiles, "
                    f"{bigconfig.NODE_POOLS} node pools",
                    unit="s",
                    floor_title=floor_title,
                    how="wall time of the CLI command, a new process each time",
                )
                for _ in range(self.plan.config_repeat):
                    fig.floor.append(_timed([*floor_cmd, str(path)]))
                    try:
                        fig.ours.append(_timed(cmd))
                    except RuntimeError as exc:
                        fig.errors.append(str(exc))
                        break
            self._in_process(provider, path)
        # The same command on a 3-line config: what the CLI costs whatever the config's size.
        for _ in range(self.plan.config_repeat):
            self.detail(
                "config.cli.validate-minimal",
                _timed([heliohub, "validate", "-c", str(self.dep.config)]),
            )

    # ----- start-up: what the CLI costs before it does anything -----------------------------

    def startup_figures(self) -> None:
        """`heliohub --help` and `validate` of a minimal config, next to a bare interpreter."""
        heliohub = str(floors.bin_dir() / "heliohub")
        floor_cmd = [sys.executable, "-c", "pass"]
        for key, title, cmd in (
            ("startup-help", "`heliohub --help`", [heliohub, "--help"]),
            (
                "startup-validate",
                "`heliohub validate` of a 3-line config",
                [heliohub, "validate", "-c", str(self.dep.config)],
            ),
        ):
            fig = self.figure(
                key,
                group="startup",
                title=title,
                unit="s",
                floor_title="`python -c pass` with the same interpreter",
                how="wall time of the command, a new process each time",
            )
            for _ in range(self.plan.config_repeat):
                wall, cpu = _timed_cpu(floor_cmd)
                fig.floor.append(wall)
                self.detail("startup.cpu.python-c-pass", cpu)
                try:
                    wall, cpu = _timed_cpu(cmd)
                except RuntimeError as exc:
                    fig.errors.append(str(exc))
                    break
                fig.ours.append(wall)
                # CPU time (user + system) of the process: on a shared machine it moves far
                # less with the load than the wall time does.
                self.detail(f"{key.replace('-', '.cpu.', 1)}", cpu)

    def _in_process(self, provider: str, path: Path) -> None:
        """load() and render() inside one warm process: the part the CLI cannot hide."""
        from heliohub.config.load import load
        from heliohub.render import render

        for _ in range(max(3, self.plan.config_repeat)):
            t0 = time.perf_counter()
            loaded = load(path)
            t1 = time.perf_counter()
            try:
                render(loaded.config)
            except Exception as exc:
                self.run.notes.append(f"render ({provider}) in process failed: {exc}")
                return
            t2 = time.perf_counter()
            self.detail(f"config.in-process.load.{provider}", t1 - t0)
            self.detail(f"config.in-process.render.{provider}", t2 - t1)


def _server_url(user: str, spawned: threading.Event) -> str:
    """The URL a user's new server listens on, from its process's environment."""
    seen: set[int] = set()
    while True:
        # Checked before a scan: a server found after its spawn returned is still timed right.
        last_scan = spawned.is_set()
        for pid in psutil.pids():
            if pid in seen:
                continue
            try:
                proc = psutil.Process(pid)
                cmd = " ".join(proc.cmdline())
                if "jupyterhub-singleuser" not in cmd and SERVER_MODULE not in cmd:
                    # The hub's fork shows the hub's command line until it execs the server.
                    if "jupyterhub" not in cmd:
                        seen.add(pid)
                    continue
                env = proc.environ()
            except psutil.Error:
                continue  # gone, or not readable yet: looked at again next time
            if env.get("JUPYTERHUB_USER") == user and env.get("JUPYTERHUB_SERVICE_URL"):
                return env["JUPYTERHUB_SERVICE_URL"]
        if last_scan:
            raise RuntimeError(f"no server process of {user} found before its spawn returned")
        time.sleep(0.02)


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {out.returncode}: {out.stderr[-300:]}")
    return elapsed


def _timed_cpu(cmd: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = _timed(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run_bench(
    workdir: Path, proxy_cache: Path, plan: Plan, run: BenchRun, on_step: Callable[[], None]
) -> None:
    """Every group of figures in the plan; on_step saves progress after each group."""
    bench = Bench(workdir, proxy_cache, plan, run)
    steps = {
        "up": bench.up_figures,
        "spawn": bench.spawn_figures,
        "gateway": bench.gateway_figures,
        "config": bench.config_figures,
        "startup": bench.startup_figures,
    }
    for group in plan.groups:
        log(f"== {group}")
        try:
            steps[group]()
        except Exception as exc:
            run.notes.append(f"{group}: stopped by an error: {exc}")
            log(f"{group} failed: {exc}")
            with contextlib.suppress(Exception):
                bench.dep.down()
        on_step()
