"""`python -m bench.recover [--quick]`: supervision figures, merged into docs/bench/bench.json.

- `up --detach` next to its floor: a bare hub, a bare configurable-http-proxy and a bare
  dask-gateway-server started by hand side by side, until the hub answers through the proxy
  and the gateway answers;
- for the hub, the proxy and the gateway: seconds from `kill -9` until the deployment is
  healthy again (a new process in its place, /hub/health through the proxy and the gateway's
  /api/health answering), with no command given. Its floor: the same component started by hand.
- for the idle culler (a detail: it answers nothing a floor could be timed against): seconds
  from `kill -9` until a new culler runs.

Only these figures are replaced in bench.json; the others are kept as they were measured.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import floors, machine, results
from bench.__main__ import DATA, _now, _proxy, write_report
from bench.deployment import Deployment
from bench.procs import Spawned, free_port, http_status, wait_http

GATEWAY_CONFIG = """\
import os
c = get_config()  # noqa: F821
c.DaskGateway.address = "127.0.0.1:" + os.environ["FLOOR_GATEWAY_API_PORT"]
c.Proxy.address = "127.0.0.1:" + os.environ["FLOOR_GATEWAY_PORT"]
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.SimpleAuthenticator"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
"""


def log(message: str) -> None:
    print(f"[recover {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BareGateway:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: Spawned | None = None
        self.port = 0

    def spawn(self) -> float:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "dask_gateway_config.py"
        config.write_text(GATEWAY_CONFIG)
        self.port = free_port()
        env = {
            **os.environ,
            "FLOOR_GATEWAY_PORT": str(self.port),
            "FLOOR_GATEWAY_API_PORT": str(free_port()),
        }
        t0 = time.perf_counter()
        self.proc = Spawned.start(
            [str(floors.bin_dir() / "dask-gateway-server"), "--config", str(config)],
            self.workdir / "gateway.log",
            env=env,
            cwd=self.workdir,
        )
        return t0

    def wait(self) -> float:
        assert self.proc is not None
        return wait_http(f"http://127.0.0.1:{self.port}/api/health", 120, alive=self.proc.alive)

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


class BareProxy:
    """configurable-http-proxy alone, until its REST API answers."""

    def __init__(self, workdir: Path, command: Path) -> None:
        self.workdir = workdir
        self.command = command
        self.proc: Spawned | None = None
        self.api_port = 0
        self.token = ""

    def spawn(self) -> float:
        import secrets

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()
        self.token = secrets.token_hex(16)
        env = {**os.environ, "CONFIGPROXY_AUTH_TOKEN": self.token}
        t0 = time.perf_counter()
        self.proc = Spawned.start(
            [
                str(self.command),
                *("--ip", "127.0.0.1", "--port", str(free_port())),
                *("--api-ip", "127.0.0.1", "--api-port", str(self.api_port)),
            ],
            self.workdir / "proxy.log",
            env=env,
            cwd=self.workdir,
        )
        return t0

    def wait(self) -> float:
        assert self.proc is not None
        url = f"http://127.0.0.1:{self.api_port}/api/routes"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if http_status(url, headers={"Authorization": f"token {self.token}"}) == 200:
                return time.perf_counter()
            if not self.proc.alive():
                raise RuntimeError(f"bare proxy exited\n{self.proc.tail()}")
            time.sleep(0.02)
        raise TimeoutError("bare proxy did not answer within 60 s")

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
            self.proc = None


def side_by_side(
    workdir: Path, proxy_command: Path, without_grammar: bool = False
) -> tuple[float, float, float]:
    """Proxy, hub and gateway started by hand at once: (all, hub, gateway) seconds."""
    hub = floors.BareHub(
        workdir / "hub", proxy_command, external_proxy=True, without_grammar=without_grammar
    )
    gateway = BareGateway(workdir / "gateway")
    t0 = gateway.spawn()
    try:
        hub_s = hub.start()  # blocks until the hub answers through its proxy
        t_gateway = gateway.wait()
        both = max(time.perf_counter(), t_gateway) - t0
        return both, hub_s, t_gateway - t0
    finally:
        hub.stop()
        gateway.stop()


def _role_pids(dep: Deployment, role: str) -> list[int]:
    from heliohub.providers.local.processes import role as role_of

    return [p.pid for p in dep.processes() if role_of(p) == role]


def _launched(dep: Deployment, role: str) -> bool:
    """The program itself runs, not heliohub's launcher that starts it."""
    from heliohub.providers.local.processes import role as role_of

    return any(
        role_of(p) == role and "heliohub.inhub.launch" not in p.cmdline() for p in dep.processes()
    )


def kill_to_healthy(dep: Deployment, role: str, timeout: float = 180) -> float:
    [pid] = _role_pids(dep, role)
    gateway = f"http://127.0.0.1:{dep.state()['ports']['gateway']}/services/dask-gateway"
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    while time.perf_counter() - t0 < timeout:
        pids = _role_pids(dep, role)
        if (
            role == "idle-culler"
            and pids
            and pid not in pids
            and _launched(dep, role)
            and http_status(f"{dep.url}/hub/health") == 200
        ):
            return time.perf_counter() - t0
        if (
            role != "idle-culler"
            and pids
            and pid not in pids
            and http_status(f"{dep.url}/hub/health") == 200
            and http_status(f"{gateway}/api/health") == 200
        ):
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise TimeoutError(f"not healthy {timeout}s after kill -9 of the {role}")


def bare_component(workdir: Path, proxy_command: Path, role: str) -> float:
    """The floor of a recovery: the same component started by hand, until it answers."""
    if role == "proxy":
        proxy = BareProxy(workdir / "proxy", proxy_command)
        t0 = proxy.spawn()
        try:
            return proxy.wait() - t0
        finally:
            proxy.stop()
    if role == "gateway":
        gateway = BareGateway(workdir / "gateway")
        t0 = gateway.spawn()
        try:
            return gateway.wait() - t0
        finally:
            gateway.stop()
    hub = floors.BareHub(workdir / "hub", proxy_command)
    try:
        return hub.start()
    finally:
        hub.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recover", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--proxy-cache", default="~/.cache/heliohub-bench/proxy")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    proxy = _proxy(Path(args.proxy_cache).expanduser())
    proxy_command = proxy / "node_modules" / ".bin" / "configurable-http-proxy"
    path = DATA / results.BENCH_FILE
    run = results.load_bench(path) or results.BenchRun(started=_now())
    run.details.pop("recover.idle-culler", None)  # measured again below
    up = results.Figure(
        key="up-side-by-side",
        group="recover",
        title="`heliohub up --detach` next to hub, proxy and gateway started by hand",
        unit="s",
        floor_title="bare `jupyterhub`, bare `configurable-http-proxy` and bare "
        "`dask-gateway-server` started by hand at once, until the hub answers through the proxy "
        "and the gateway answers",
        how="wall time of the CLI command until the hub (through the proxy) and the gateway answer",
    )
    # The same, against a floor whose hub also skips the import heliohub's hub skips
    # (heliohub.inhub.run_hub): what supervision and the CLI themselves cost.
    like = results.Figure(
        key="up-side-by-side-like-for-like",
        group="recover",
        title="`heliohub up --detach` next to the same floor, its hub also without rfc3987-syntax",
        unit="s",
        floor_title="the floor above, the bare hub started as `jupyterhub` with "
        "`rfc3987_syntax` marked absent (as heliohub.inhub.run_hub does)",
        how="the same `up --detach` runs as the figure above",
    )
    figures = [up, like]
    kills = {}
    for role in ("hub", "proxy", "gateway"):
        kills[role] = results.Figure(
            key=f"recover-{role}",
            group="recover",
            title=f"`kill -9` of the {role} until healthy again, no command given",
            unit="s",
            floor_title=f"the {role} started by hand"
            + (" (it starts its proxy)" if role == "hub" else "")
            + (", until its REST API answers" if role == "proxy" else ""),
            how="seconds from SIGKILL until a new process has its place and /hub/health "
            "(through the proxy) and the gateway's /api/health answer 200, polled every 50 ms",
        )
        figures.append(kills[role])
    load_before = machine.loadavg()
    with tempfile.TemporaryDirectory(prefix="heliohub-recover-") as tmp:
        work = Path(tmp)
        dep = Deployment(work / "heliohub")
        dep.write_config()
        dep.link_proxy(proxy)
        log("warm-up")
        side_by_side(work / "floor", proxy_command)
        dep.up()
        dep.down()
        for i in range(repeat):
            log(f"round {i + 1}/{repeat}")
            both, _hub_s, _gw_s = side_by_side(work / "floor", proxy_command)
            up.floor.append(both)
            like.floor.append(side_by_side(work / "floor", proxy_command, True)[0])
            seconds, _stages = dep.up()
            up.ours.append(seconds)
            like.ours.append(seconds)
            try:
                for role, fig in kills.items():
                    fig.floor.append(bare_component(work / "floor", proxy_command, role))
                    try:
                        fig.ours.append(kill_to_healthy(dep, role))
                    except (TimeoutError, ValueError) as exc:
                        fig.errors.append(str(exc))
                seconds = kill_to_healthy(dep, "idle-culler")
                run.details.setdefault("recover.idle-culler", []).append(round(seconds, 4))
            finally:
                dep.down()
    origin = (
        f"`python -m bench.recover` of {_now()} ({'--quick, ' if args.quick else ''}{repeat} "
        f"round(s)), load average {load_before} before and {machine.loadavg()} after"
    )
    for fig in figures:
        fig.origin = origin
    keys = {f.key for f in figures}
    run.figures = [f for f in run.figures if f.key not in keys] + figures
    # Said by the figures' origin now (older files have it as a note).
    run.notes = [n for n in run.notes if not n.startswith("recover:")]
    results.save(run, path)
    print(f"wrote {write_report()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
