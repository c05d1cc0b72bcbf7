"""The load test: N users through a real local deployment, bounded in count and time.

Each user logs in with the shared password (the browser's way: _xsrf cookie, form POST),
starts a server, creates a token, and calls the hub API and its own server with it; a fraction
also start a 1-worker gateway cluster and check a computed value. When every user is through,
everyone stops. At most `concurrency` journeys run at once; no user starts after the deadline
or while memory is short, and the reason is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from bench import machine
from bench.deployment import Deployment
from bench.hubapi import Hub, HubError
from bench.measure import log
from bench.procs import MIB, pss_mib
from bench.results import Failure, LoadRun
from bench.stats import summarize
from heliohub.inhub import hub_config

SPAWN_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 60.0
GATEWAY_TIMEOUT_S = 300.0
# A server needs about this much once running (measured by `make bench`); the guard keeps
# this much per journey in flight on top of the reserve.
SERVER_ESTIMATE_MIB = 150.0
SAMPLE_EVERY_S = 3.0
PSS_EVERY_S = 15.0


@dataclass
class Settings:
    users: int = 100
    gateway_fraction: float = 0.1
    concurrency: int = 10
    deadline_s: float = 1200.0
    memory_reserve_mib: float = 2048.0


@dataclass
class _State:
    run: LoadRun
    t0: float
    dep: Deployment
    running: int = 0
    in_flight: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    last_pss: float = 0.0

    def ok(self, step: str, seconds: float) -> None:
        self.run.attempts[step] = self.run.attempts.get(step, 0) + 1
        self.run.steps.setdefault(step, []).append(round(seconds, 4))

    def fail(self, user: str, step: str, reason: str) -> None:
        self.run.attempts[step] = self.run.attempts.get(step, 0) + 1
        self.run.steps.setdefault(step, [])
        self.run.failures.append(Failure(user=user, step=step, reason=_generalize(reason)))


def _generalize(reason: str) -> str:
    """Failure reasons without user names and numbers, so equal causes group together."""
    reason = re.sub(r"load-\d+", "<user>", reason)
    return re.sub(r"\b\d+(\.\d+)? ?s\b", "<n> s", reason)[:200]


async def _timed(state: _State, user: str, step: str, coro: Awaitable[Any]) -> Any:
    t0 = time.perf_counter()
    try:
        result = await coro
    except (HubError, aiohttp.ClientError, TimeoutError, OSError, AssertionError) as exc:
        state.fail(user, step, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        raise _StepFailed from exc
    state.ok(step, time.perf_counter() - t0)
    return result


class _StepFailed(Exception):
    pass


def _gateway_journey(state: _State, user: str, token: str) -> None:
    """Runs in a thread: the dask-gateway client is synchronous here, as in a notebook."""
    import dask.array as da
    from dask_gateway import Gateway
    from dask_gateway.auth import JupyterHubAuth

    gateway = Gateway(
        address=state.dep.gateway_address,
        proxy_address=state.dep.gateway_proxy,
        auth=JupyterHubAuth(api_token=token),
    )
    step = "gateway: new cluster"
    cluster = None
    try:
        t = time.perf_counter()
        cluster = gateway.new_cluster()
        state.ok(step, time.perf_counter() - t)
        step = "gateway: 1 worker connected"
        t = time.perf_counter()
        cluster.scale(1)
        client = cluster.get_client(set_as_default=False)
        client.wait_for_workers(1, timeout=GATEWAY_TIMEOUT_S)
        state.ok(step, time.perf_counter() - t)
        step = "gateway: compute, value checked"
        t = time.perf_counter()
        n = 1_000_000
        value = int(client.compute(da.arange(n, chunks=n // 10).sum()).result())
        if value != n * (n - 1) // 2:
            raise AssertionError(f"sum was {value}, expected {n * (n - 1) // 2}")
        state.ok(step, time.perf_counter() - t)
        client.close()
        step = "gateway: cluster shut down"
        t = time.perf_counter()
        cluster.shutdown()
        cluster = None
        state.ok(step, time.perf_counter() - t)
    except Exception as exc:
        state.fail(user, step, f"{type(exc).__name__}: {exc}")
    finally:
        if cluster is not None:
            try:
                cluster.shutdown()
            except Exception as exc:
                state.run.notes.append(f"{user}: cluster shutdown after a failure: {exc}")
        gateway.close()


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=SPAWN_TIMEOUT_S),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies on an IP address (127.0.0.1)
    )


async def _journey(state: _State, user: str, gateway: bool, password: str) -> bool:
    """Phase one of one user; True when every step succeeded. The server stays running."""
    async with _session() as session:
        hub = Hub(session, state.dep.url)
        try:
            await _timed(state, user, "log in", hub.login(user, password))
            state.in_flight += 1
            try:
                await _timed(state, user, "start server", hub.spawn(user, SPAWN_TIMEOUT_S))
                state.running += 1
            finally:
                state.in_flight -= 1
            token = await _timed(state, user, "create token", hub.create_token(user))
            assert isinstance(token, str)
            state.tokens[user] = token
            api = Hub(session, state.dep.url, token)
            for path in ("/hub/api/user", f"/hub/api/users/{user}", "/hub/api/"):
                await _timed(state, user, "hub API call", api.request("GET", path))
            await _timed(
                state, user, "own server API call", api.request("GET", f"/user/{user}/api/status")
            )
        except _StepFailed:
            return False
    if gateway:
        failures = len(state.run.failures)
        await asyncio.to_thread(_gateway_journey, state, user, token)
        return len(state.run.failures) == failures
    return True


async def _stop(state: _State, user: str) -> None:
    async with _session() as session:
        hub = Hub(session, state.dep.url, state.tokens.get(user) or state.dep.admin_token)
        try:
            await _timed(state, user, "stop server", hub.stop(user, REQUEST_TIMEOUT_S * 2))
            state.running -= 1
        except _StepFailed:
            pass


async def _sampler(state: _State, stop: asyncio.Event) -> None:
    next_pss = 0.0
    while not stop.is_set():
        now = time.monotonic() - state.t0
        if now >= next_pss:
            state.last_pss = await asyncio.to_thread(state.dep.pss_mib)
            next_pss = now + PSS_EVERY_S
        available = psutil.virtual_memory().available / MIB
        state.run.timeline.append((round(now, 1), state.running, round(available), state.last_pss))
        state.run.peak_servers = max(state.run.peak_servers, state.running)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY_S)


async def _drive(state: _State, settings: Settings) -> None:
    run = state.run
    password = state.dep.password
    every = round(1 / settings.gateway_fraction) if settings.gateway_fraction > 0 else 0
    slots = asyncio.Semaphore(settings.concurrency)
    started: list[str] = []

    async def one(i: int) -> None:
        user = f"load-{i:03d}"
        async with slots:
            if time.monotonic() - state.t0 > settings.deadline_s:
                reason = f"deadline: no new user after {settings.deadline_s:.0f} s"
                run.not_started[reason] = run.not_started.get(reason, 0) + 1
                return
            available = psutil.virtual_memory().available / MIB
            needed = settings.memory_reserve_mib + SERVER_ESTIMATE_MIB * (state.in_flight + 1)
            if available < needed:
                reason = (
                    f"memory: less than {settings.memory_reserve_mib:.0f} MiB reserve + "
                    f"{SERVER_ESTIMATE_MIB:.0f} MiB per starting server would stay available"
                )
                run.not_started[reason] = run.not_started.get(reason, 0) + 1
                return
            started.append(user)
            if await _journey(state, user, bool(every) and i % every == 0, password):
                run.completed_users += 1

    stop = asyncio.Event()
    sampler = asyncio.create_task(_sampler(state, stop))
    try:
        await asyncio.gather(*(one(i) for i in range(settings.users)))
        log(f"load: phase one done: {state.running} servers running; measuring the peak")
        run.peak = await asyncio.to_thread(_peak, state)
        slots = asyncio.Semaphore(settings.concurrency)

        async def stop_one(user: str) -> None:
            async with slots:
                await _stop(state, user)

        await asyncio.gather(*(stop_one(u) for u in started))
    finally:
        stop.set()
        await sampler


def _peak(state: _State) -> dict[str, float]:
    servers = [pss_mib(state.dep.server_processes(f"load-{i:03d}")) for i in range(state.run.users)]
    servers = [s for s in servers if s > 0]
    per_server = summarize(servers)
    vm = psutil.virtual_memory()
    return {
        "servers": float(len(servers)),
        "deployment PSS mib": state.dep.pss_mib(),
        "median server PSS mib": per_server.median if per_server else 0.0,
        "available mib": vm.available / MIB,
        "total mib": vm.total / MIB,
    }


def _hub_settings(dep: Deployment, peak: dict[str, float]) -> dict[str, str]:
    rendered = dep.data_dir / "state" / "rendered" / "local" / "hub.json"
    settings = json.loads(rendered.read_text())
    mem_limit = settings["spawner"]["mem_limit"]
    out = {
        "c.JupyterHub.concurrent_spawn_limit": str(settings["hub"]["concurrent_spawn_limit"]),
        "c.Spawner.http_timeout": str(hub_config.HTTP_TIMEOUT_S),
        "c.Spawner.start_timeout": str(hub_config.START_TIMEOUT_S),
        "c.Spawner.mem_limit": json.dumps(mem_limit) if mem_limit else "not set (no limit)",
    }
    out["c.JupyterHub.concurrent_spawn_limit"] += " (config: `local.concurrent_spawn_limit`)"
    out["c.Spawner.mem_limit"] += " (config: `local.server_memory_limit_gib`; not enforced locally)"
    per_server = peak.get("median server PSS mib", 0.0)
    if per_server:
        total = peak.get("total mib", 0.0)
        base = peak.get("deployment PSS mib", 0.0) - per_server * peak.get("servers", 0.0)
        out["memory per idle server (PSS, measured at the peak)"] = f"{per_server:.0f} MiB"
        out["servers this machine's memory could hold idle (estimate)"] = (
            f"{(total - max(base, 0.0)) / per_server:.0f} (total {total / 1024:.1f} GiB, "
            "minus the hub's own, over the PSS per server; kernels and work need more)"
        )
    return out


ANSI = re.compile(r"\x1b\[[0-9;]*m")
HUB_STAMP = re.compile(r"^\[\w (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
PROXY_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d+Z")
# Hub lines at level E or C, the proxy's errors, and tracebacks.
ERROR_LINE = re.compile(r"^\[(E|C) |^\w+(\.\w+)*(Error|Exception): |\[ConfigProxy\] error:")


def _hub_log_errors(dep: Deployment, since: float, until: float) -> list[str]:
    """Error lines (and traceback heads) the hub's log got between since and until (epoch s)."""
    path = dep.data_dir / "logs" / "jupyterhub.log"
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    out = []
    inside = False
    for raw in lines:
        line = ANSI.sub("", raw)
        stamp = HUB_STAMP.match(line) or PROXY_STAMP.match(line)
        if stamp:
            inside = since <= _epoch(stamp.group(1)) <= until
        if inside and ERROR_LINE.search(line):
            out.append(line[:300])
    return out


def _epoch(stamp: str) -> float:
    """A log timestamp (hub: local time, proxy: UTC with Z) as seconds since the epoch."""
    if "T" in stamp:
        parsed = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return parsed.timestamp()
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S"))


def run_load(workdir: Path, proxy_cache: Path, settings: Settings, started: str) -> LoadRun:

    dep = Deployment(workdir / "heliohub")
    dep.write_config()
    dep.link_proxy(proxy_cache)
    run = LoadRun(
        started=started,
        users=settings.users,
        gateway_fraction=settings.gateway_fraction,
        concurrency=settings.concurrency,
        deadline_s=settings.deadline_s,
        memory_reserve_mib=settings.memory_reserve_mib,
        machine=machine.describe(),
        versions=machine.versions(
            proxy_cache / "node_modules" / ".bin" / "configurable-http-proxy"
        ),
        loadavg_before=machine.loadavg(),
    )
    log(f"load: {settings.users} users, {settings.concurrency} at once")
    dep.up()
    t0 = time.monotonic()
    wall_t0 = time.time()
    state = _State(run=run, t0=t0, dep=dep)
    try:
        # The whole run is bounded: the deadline for new users, plus time to finish and stop.
        hard_limit = settings.deadline_s + SPAWN_TIMEOUT_S + GATEWAY_TIMEOUT_S + 600
        asyncio.run(asyncio.wait_for(_drive(state, settings), hard_limit))
    except TimeoutError:
        run.notes.append("the run hit its hard time limit; remaining journeys were cancelled")
    finally:
        run.duration_s = time.monotonic() - t0
        run.hub_settings = _hub_settings(dep, run.peak)
        run.hub_log_errors = _hub_log_errors(dep, wall_t0, time.time())
        run.loadavg_after = machine.loadavg()
        dep.down()
    return run
