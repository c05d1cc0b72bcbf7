"""The supervisor of a running local deployment, and what survives when parts of it die.

supervisord (see heliohub.render.local_supervision) restarts the proxy, the hub, the gateway
and the culler. Users' servers, kernels and Dask clusters are nobody's children that matter: a
restarted hub and gateway find them again, and a restarted proxy gets its routes back from the
hub.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from pathlib import Path

import psutil

from heliohub.providers.local import processes

# Roles (processes.role) of the deployment's machinery; everything else is users' work.
INFRASTRUCTURE = ("supervisor", "hub", "proxy", "gateway", "gateway-proxy", "idle-culler")
SESSIONS = ("server", "kernel", "scheduler", "worker")


def ensure_fernet_key(path: Path) -> bool:
    """A key for the gateway's database (Fernet: 32 random bytes, url-safe base64), 0600.

    True when it was created now. An existing key is kept: a new one would make the gateway
    unable to read its clusters' secrets.
    """
    if path.exists():
        return False
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return True


def split(procs: list[psutil.Process]) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(infrastructure, users' work) among a deployment's processes."""
    infra, work = [], []
    for p in procs:
        (infra if processes.role(p) in INFRASTRUCTURE else work).append(p)
    return infra, work


def sessions(procs: list[psutil.Process]) -> dict[str, int]:
    """How many servers, kernels, schedulers and workers, by role."""
    counts = dict.fromkeys(SESSIONS, 0)
    for p in procs:
        r = processes.role(p)
        if r in counts:
            counts[r] += 1
    return counts


def describe(counts: dict[str, int]) -> str:
    parts = [f"{n} {role}(s)" for role, n in counts.items() if n]
    return ", ".join(parts) or "nothing"


def nudge(sock: Path, timeout: float = 10.0) -> bool:
    """Make a starting supervisord start its programs now.

    supervisord starts them in its main loop, after a poll that waits up to 1 s for something
    to do: a connection to its control socket is something, so they start up to a second
    sooner (docs/BENCHMARKS.md). False when the socket did not answer within timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(str(sock))
                return True
        except OSError:
            time.sleep(0.02)
    return False


def supervisorctl(bin_dir: Path, conf: Path, env: dict[str, str], *args: str) -> str:
    """Ask the running supervisord (over its 0700 unix socket); output, or "" when it fails."""
    try:
        out = subprocess.run(
            [str(bin_dir / "supervisorctl"), "-c", str(conf), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout
