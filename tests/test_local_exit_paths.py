"""Every way a foreground `up` can end leaves nothing running and prints no traceback: Ctrl-C
with its output pipe already closed (`make up 2>&1 | tee log`, then Ctrl-C), SIGTERM, SIGHUP
(a closed terminal), `down` from another shell, and two `up` at once.

One deployment directory is reused by every test, one start each (isolation none).
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_hub import LocalHub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path) -> Iterator[LocalHub]:
    deployment = LocalHub(tmp_path_factory.mktemp("exit-paths"), {"name": "exits"})
    deployment.share_proxy(proxy_dir)
    yield deployment
    deployment.down()
    assert deployment.processes() == []


def _start_foreground(hub: LocalHub) -> subprocess.Popen[str]:
    """`heliohub up` in the foreground, waited until it says it runs."""
    proc = hub.up_foreground()
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "running in the foreground" in line:
            return proc
    proc.kill()
    raise AssertionError("`up` did not get to the foreground:\n" + "".join(seen))


def _finish(hub: LocalHub, proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out = ""
    if proc.stdout is not None and not proc.stdout.closed:
        out, _ = proc.communicate(timeout=timeout)
    else:
        proc.wait(timeout=timeout)
    hub.foreground = None
    return out


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_with_the_output_pipe_closed_stops_everything(
    hub: LocalHub, sig: signal.Signals
) -> None:
    proc = _start_foreground(hub)
    assert hub.processes(), "the deployment should be running"
    # What `tee` does when Ctrl-C reaches it too: the reading end goes away first.
    assert proc.stdout is not None
    proc.stdout.close()
    proc.send_signal(sig)
    _finish(hub, proc)
    # Its output is gone with the pipe; a traceback would have made it exit 1.
    assert proc.returncode == 0
    assert hub.processes() == [], [p.cmdline() for p in hub.processes()]
    assert not (hub.data_dir / "state" / "deployment.json").exists()


def test_down_from_another_shell_ends_the_foreground_up_with_0(hub: LocalHub) -> None:
    proc = _start_foreground(hub)
    down = hub.cli("down")
    assert "Traceback" not in down.stderr
    out = _finish(hub, proc)
    assert proc.returncode == 0, out
    assert "stopped by `heliohub down`" in out
    assert "stopped on its own" not in out
    assert "Traceback" not in out
    assert hub.processes() == []


def test_two_up_at_once_leave_one_deployment_and_no_traceback(hub: LocalHub) -> None:
    results: list[subprocess.CompletedProcess[str]] = []

    def up() -> None:
        results.append(hub.cli("up", "--detach", check=False))

    threads = [threading.Thread(target=up) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert "Traceback" not in r.stdout + r.stderr, r.stderr
    codes = sorted(r.returncode for r in results)
    # One started it; the other was told it is busy, or found it already running.
    assert codes[0] == 0, [r.stderr for r in results]
    loser = max(results, key=lambda r: r.returncode)
    if loser.returncode != 0:
        assert "is working on this deployment" in loser.stderr, loser.stderr
    else:
        assert "already running" in loser.stderr
    status = hub.status()
    assert status["state"] == "running", status
    hubs = [p for p in hub.processes() if "jupyterhub" in " ".join(p.cmdline()[:2])]
    assert len([p for p in hubs if p.cmdline()[1:2] != ["-m"]]) >= 1
    hub.cli("down")
    assert hub.processes() == []
