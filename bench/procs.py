"""Processes the harness starts by hand (the floors), HTTP readiness polls, and memory (PSS).

Only processes started here are stopped here, by their own process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

MIB = 2**20
# How often readiness is polled; small next to what is measured (seconds).
POLL_S = 0.02


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Spawned:
    """A process started by the harness in its own session, logging to a file."""

    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Spawned:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(proc, log)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the process group, SIGKILL after grace seconds."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        # Children may outlive the leader (the proxy of a hub): sweep the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(5)


def http_status(url: str, timeout: float = 2.0, headers: dict[str, str] | None = None) -> int:
    """The status code of a GET, 0 when nothing answers."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def wait_http(
    url: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    ok: Callable[[int], bool] = lambda s: s == 200,
    interval: float = POLL_S,
) -> float:
    """Poll url until ok(status); returns the perf_counter time it first answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok(http_status(url, timeout=min(2.0, timeout))):
            return time.perf_counter()
        if not alive():
            raise RuntimeError(f"process exited before {url} answered")
        time.sleep(interval)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


async def await_http(
    session: aiohttp.ClientSession,
    url: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = POLL_S,
    headers: dict[str, str] | None = None,
) -> float:
    """Like wait_http, inside an event loop (many servers polled at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with session.get(
                url, headers=headers, allow_redirects=False, timeout=aiohttp.ClientTimeout(5)
            ) as resp:
                if resp.status == 200:
                    return time.perf_counter()
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass
        if not alive():
            raise RuntimeError(f"process exited before {url} answered")
        await asyncio.sleep(interval)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def tree(pid: int) -> list[psutil.Process]:
    """pid and all its descendants that still exist."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def pss_mib(procs: Iterable[psutil.Process]) -> float:
    """Proportional set size: shared pages are split among the processes that map them."""
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            total += p.memory_full_info().pss
    return total / MIB


def env_of(p: psutil.Process) -> dict[str, str]:
    try:
        return p.environ()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return {}


def cmd_of(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def with_env(name: str, value: str) -> list[psutil.Process]:
    """Every live process whose environment has name=value (a deployment's marker)."""
    found = []
    for p in psutil.process_iter():
        if env_of(p).get(name) == value:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    found.append(p)
            except psutil.Error:
                pass
    return found
