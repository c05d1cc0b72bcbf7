"""A heliohub deployment driven through its CLI, as a user would: `up --detach` and `down`."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.floors import bin_dir
from bench.procs import cmd_of, env_of, free_port, http_status, pss_mib, with_env

MARKER_ENV = "HELIOHUB_DEPLOYMENT_ID"
CONFIG = """\
name: bench
local:
  bind: "127.0.0.1:{port}"
  data_dir: ./data
  isolation: none
  # Servers and workers from the same virtualenv as the bare components measured beside them.
  user_environment: {{python: "{python}"}}
auth: {{type: shared-password, admin_users: [admin]}}
"""
STAGE = re.compile(r"✓ (?P<name>.+?) \((?P<seconds>[0-9.]+)s\)")


def dask_role(cmd: list[str]) -> str:
    """'scheduler' or 'worker' for a `dask scheduler|worker` command line, else ''."""
    for i, arg in enumerate(cmd[:-1]):
        if Path(arg).name == "dask":
            return cmd[i + 1]
    return ""


class DeploymentError(RuntimeError):
    pass


@dataclass
class Deployment:
    workdir: Path
    port: int = 0

    @property
    def config(self) -> Path:
        return self.workdir / "heliohub.yaml"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self, extra_yaml: str = "") -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        python = bin_dir() / "python"
        self.config.write_text(CONFIG.format(port=self.port, python=python) + extra_yaml)

    def link_proxy(self, cache: Path) -> None:
        """Reuse a proxy installed once for every run (the provider skips npm when present)."""
        target = self.data_dir / "proxy"
        if not target.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            target.symlink_to(cache, target_is_directory=True)

    def _cli(self, *args: str, timeout: float) -> tuple[float, str]:
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(bin_dir() / "heliohub"), *args, "-c", str(self.config)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.workdir,
        )
        elapsed = time.perf_counter() - t0
        if out.returncode != 0:
            raise DeploymentError(
                f"heliohub {args[0]} exited {out.returncode}:\n{out.stderr[-2000:]}"
            )
        return elapsed, out.stderr

    def up(self, timeout: float = 300) -> tuple[float, dict[str, float]]:
        """`heliohub up --detach` until it returns, then until healthy (it already should be).

        Returns the seconds and the CLI's own stage durations.
        """
        t0 = time.perf_counter()
        _, stderr = self._cli("up", "--detach", timeout=timeout)
        if http_status(f"{self.url}/hub/health") != 200:
            raise DeploymentError("`up --detach` returned but /hub/health does not answer 200")
        elapsed = time.perf_counter() - t0
        stages = {m["name"]: float(m["seconds"]) for m in STAGE.finditer(stderr)}
        return elapsed, stages

    def down(self, timeout: float = 300) -> float:
        elapsed, _ = self._cli("down", timeout=timeout)
        return elapsed

    # ----- what is running --------------------------------------------------------------

    def state(self) -> dict:
        return json.loads((self.data_dir / "state" / "deployment.json").read_text())

    def secret(self, name: str) -> str:
        return (self.data_dir / "secrets" / name).read_text().strip()

    @property
    def admin_token(self) -> str:
        """The token of the managed `heliohub-check` service: admin:users, admin:servers..."""
        return self.secret("check-service-token")

    @property
    def password(self) -> str:
        return self.secret("shared-password")

    @property
    def gateway_address(self) -> str:
        return f"{self.url}/services/dask-gateway"

    @property
    def gateway_proxy(self) -> str:
        return f"gateway://127.0.0.1:{self.state()['ports']['gateway']}"

    def processes(self) -> list[psutil.Process]:
        """Everything this deployment started (each process carries its marker)."""
        return with_env(MARKER_ENV, self.state()["deployment_id"])

    def pss_mib(self) -> float:
        return pss_mib(self.processes())

    def server_processes(self, user: str) -> list[psutil.Process]:
        """A user's server and its children (kernels, if any)."""
        found = []
        for p in self.processes():
            if env_of(p).get("JUPYTERHUB_USER") == user:
                found.append(p)
        return found

    def dask_processes(self, role: str) -> list[psutil.Process]:
        """role: 'scheduler' or 'worker' (gateway clusters run `dask scheduler|worker`)."""
        return [p for p in self.processes() if dask_role(cmd_of(p)) == role]

    def hub_env(self) -> dict[str, str]:
        return env_of(psutil.Process(self.state()["hub_pid"]))
