"""Processes of a deployment: start the hub, wait for health, find and stop what it started.

Every process a deployment starts carries MARKER_ENV=<deployment id> in its environment (the
hub passes it on to the proxy, services, servers, kernels, schedulers and workers), so `down`
can sweep whatever a graceful stop left behind.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from heliohub.hubspec.names import SERVER_MODULE

MARKER_ENV = "HELIOHUB_DEPLOYMENT_ID"


def _default_signals() -> None:
    # An ignored SIGINT is inherited through exec: `nohup heliohub up &` from a script would
    # pass it to the hub, its servers and services, and every graceful stop would then wait
    # out its whole interrupt timeout (`down` took 35 s instead of 4, docs/BENCHMARKS.md).
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def start_detached(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> int:
    """Start cmd in its own session (Ctrl-C in the terminal does not reach it), logging to log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    finally:
        os.close(fd)
    return proc.pid


@functools.cache
def _unverified_tls() -> ssl.SSLContext:
    # Built once and without loading the system's CA bundle: create_default_context() at every
    # poll cost ~50 ms of CPU each, a third of a core while `up` waited (docs/BENCHMARKS.md).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether url answers 2xx; our own loopback endpoints, so TLS names are not checked."""
    context = _unverified_tls() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


# Each poll is a refused or quick loopback request: polling often costs the starting hub
# little, and `up` returns sooner after the deployment answers.
POLL_S = 0.05


def wait_for(condition: Callable[[], bool], timeout: float, alive: Callable[[], bool]) -> bool:
    """Poll condition until true; False on timeout or as soon as alive() turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if not alive():
            return False
        time.sleep(POLL_S)
    return condition()


def has_marker(proc: psutil.Process, deployment_id: str) -> bool:
    try:
        return proc.environ().get(MARKER_ENV) == deployment_id
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return False


def is_ours(pid: int, deployment_id: str) -> bool:
    """pid is alive and belongs to this deployment (not a reused pid)."""
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and has_marker(proc, deployment_id)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _protected() -> set[int]:
    """This process and its ancestors: never swept, even when run from inside the hub."""
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents())}


def marked(deployment_id: str) -> list[psutil.Process]:
    protected = _protected()
    found = []
    for proc in psutil.process_iter():
        if proc.pid in protected:
            continue
        if has_marker(proc, deployment_id):
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:
                continue
            found.append(proc)
    return found


def cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


# The deployment's own programs, by executable name (see supervision.INFRASTRUCTURE).
_MACHINERY = {
    "supervisord": "supervisor",
    "jupyterhub": "hub",
    "heliohub.inhub.run_hub": "hub",  # `python -m` it
    "configurable-http-proxy": "proxy",
    "dask-gateway-server": "gateway",
    "dask-gateway-proxy": "gateway-proxy",
    "ipykernel_launcher": "kernel",
}


# heliohub.inhub.launch's first argument: the service it starts ("--after-hub": the culler,
# waiting for the hub).
_LAUNCHED = {
    "proxy": "proxy",
    "dask-gateway": "gateway",
    "idle-culler": "idle-culler",
    "--after-hub": "idle-culler",
}


def role(proc: psutil.Process) -> str:
    """What a process of a deployment is, from its command line."""
    try:
        args = proc.cmdline()
    except psutil.Error:
        return "unknown"
    names = [Path(a).name for a in args[:3]]
    if names[1:3] == ["-m", "heliohub.inhub.launch"] and len(args) > 3:
        # heliohub's launcher, before it becomes the program it starts.
        return _LAUNCHED.get(args[3], "other")
    if "jupyterhub-singleuser" in names or SERVER_MODULE in args[1:4]:
        return "server"
    if "jupyterhub-idle-culler" in names:
        return "idle-culler"
    for name, what in _MACHINERY.items():
        if name in names:
            return what
    if "dask" in names:
        rest = args[names.index("dask") + 1 :]
        if rest and rest[0] in ("scheduler", "worker"):
            return rest[0]
    return "other"


def terminate(procs: Iterable[psutil.Process], grace: float) -> list[psutil.Process]:
    """SIGTERM, then SIGKILL after grace seconds; returns what is still alive."""
    procs = list(procs)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    _, alive = psutil.wait_procs(alive, timeout=5)
    return alive


def stop_hub(pid: int, deployment_id: str, timeout: float) -> None:
    """Ask the hub to stop (it stops servers, services and the proxy), wait up to timeout."""
    if not is_ours(pid, deployment_id):
        return
    proc = psutil.Process(pid)
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        pass
    except psutil.Error:
        pass


def sweep(deployment_id: str, grace: float = 5.0) -> list[psutil.Process]:
    """Stop every process still marked with the deployment id; returns survivors."""
    survivors: list[psutil.Process] = []
    for _ in range(3):
        found = marked(deployment_id)
        if not found:
            return []
        survivors = terminate(found, grace)
    return survivors
