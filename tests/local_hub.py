"""A real local deployment driven through the CLI, for integration tests; importing starts
nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import requests
import yaml

HELIOHUB = str(Path(sys.executable).parent / "heliohub")
MARKER_ENV = "HELIOHUB_DEPLOYMENT_ID"
# What the local provider runs from its virtualenv, besides heliohub itself.
LOCAL_EXECUTABLES = (
    "heliohub",
    "supervisord",
    "supervisorctl",
    "jupyterhub",
    "jupyterhub-singleuser",
    "jupyterhub-idle-culler",
    "dask",
    "dask-gateway-server",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def world_readable_venv(target: Path, python: str = "/usr/bin/python3") -> Path:
    """A virtualenv of a system Python that uses this environment's packages.

    For system-users tests when this environment's interpreter lives where other users cannot
    enter (e.g. under /root): the packages are shared through a .pth file and each executable
    the provider runs gets a small launcher. Returns the new bin directory.
    """
    import importlib.metadata
    import site

    subprocess.run([python, "-m", "venv", "--without-pip", str(target)], check=True)
    version = subprocess.run(
        [str(target / "bin" / "python"), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version != str(tuple(sys.version_info[:2])):
        raise RuntimeError(f"{python} is Python {version}, this environment is {sys.version}")
    site_dir = next((target / "lib").glob("python3*/site-packages"))
    # addsitedir also runs those directories' own .pth files (editable installs among them).
    lines = [f"import site; site.addsitedir({p!r})" for p in site.getsitepackages()]
    (site_dir / "shared-env.pth").write_text("\n".join(lines) + "\n")
    scripts = {ep.name: ep for ep in importlib.metadata.entry_points(group="console_scripts")}
    for name in LOCAL_EXECUTABLES:
        ep = scripts[name]
        launcher = target / "bin" / name
        launcher.write_text(
            f"#!{target / 'bin' / 'python'}\n"
            "import sys\n"
            f"from {ep.module} import {ep.attr.split('.')[0]} as entry\n"
            # multiprocessing's spawn (dask's nanny) imports __main__ again: guard it.
            "if __name__ == '__main__':\n"
            f"    sys.exit(entry{''.join('.' + a for a in ep.attr.split('.')[1:])}())\n"
        )
        launcher.chmod(0o755)
    # Jupyter finds its config (which server extensions, JupyterLab among them, are enabled)
    # and JupyterLab its assets under sys.prefix: give the new prefix copies of both.
    import shutil

    for rel in ("etc/jupyter", "share/jupyter"):
        if (Path(sys.prefix) / rel).is_dir():
            shutil.copytree(Path(sys.prefix) / rel, target / rel, dirs_exist_ok=True)
    return target / "bin"


def delete_os_users(prefix: str) -> None:
    """Remove the OS users and groups a system-users test made (all start with prefix)."""
    import grp
    import pwd

    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    for group in grp.getgrall():
        if group.gr_name.startswith(prefix):
            subprocess.run(["groupdel", group.gr_name], check=False, capture_output=True)


class LocalHub:
    """One deployment in workdir, configured by `config` (merged over a small local default)."""

    def __init__(
        self, workdir: Path, config: dict[str, Any] | None = None, heliohub: str = HELIOHUB
    ) -> None:
        config = config or {}
        self.workdir = workdir
        self.heliohub = heliohub
        self.port = free_port()
        self.config: dict[str, Any] = {
            "name": "itest",
            "provider": "local",
            "auth": {"type": "shared-password", "admin_users": ["alice"]},
            **config,
            "local": {
                "bind": f"127.0.0.1:{self.port}",
                "data_dir": "./data",
                "isolation": "none",
                # Servers and workers run from the environment heliohub runs in, as an existing
                # environment: building a managed one (tests/test_user_environment.py) for every
                # deployment would only add time to tests about other things.
                "user_environment": {"python": str(Path(heliohub).parent / "python")},
                **config.get("local", {}),
            },
        }
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "heliohub.yaml"
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.foreground: subprocess.Popen[str] | None = None

    # ----- paths and secrets ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def password(self) -> str:
        return (self.data_dir / "secrets" / "shared-password").read_text().strip()

    @property
    def admin_password(self) -> str:
        """What admin users log in with (shared-password)."""
        return (self.data_dir / "secrets" / "shared-admin-password").read_text().strip()

    @property
    def deployment_id(self) -> str:
        return (self.data_dir / "state" / "deployment-id").read_text().strip()

    def write_config(self) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))

    def share_proxy(self, proxy_dir: Path) -> None:
        """Use an already installed proxy instead of installing one with npm."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        link = self.data_dir / "proxy"
        if not link.exists():
            link.symlink_to(proxy_dir)

    # ----- the CLI -------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
        env.pop("HELIOHUB_CONFIG", None)
        return env

    def cli(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """stdin: what to type; given (even ""), the command's input is a pipe, never a TTY.
        env: variables to set or replace in the command's environment."""
        proc = subprocess.run(
            [self.heliohub, *args, "-c", str(self.config_path)],
            cwd=self.workdir,
            env={**self._env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            input=stdin,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"heliohub {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n{self.log_tail()}"
            )
        return proc

    def up_foreground(self) -> subprocess.Popen[str]:
        """`heliohub up` in the foreground, as a user runs it in a terminal."""
        self.foreground = subprocess.Popen(
            [self.heliohub, "up", "-c", str(self.config_path)],
            cwd=self.workdir,
            env=self._env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self.foreground

    def interrupt_foreground(self, timeout: float = 120) -> str:
        """Ctrl-C, as the terminal delivers it; returns what `up` printed."""
        assert self.foreground is not None
        self.foreground.send_signal(signal.SIGINT)
        out, _ = self.foreground.communicate(timeout=timeout)
        return out

    def status(self) -> dict[str, Any]:
        # Non-zero while degraded or stopped: the JSON says which.
        return json.loads(self.cli("status", "--json", check=False).stdout)

    def gateway_port(self) -> int:
        status = self.status()
        detail = next(c["detail"] for c in status["components"] if c["name"] == "dask-gateway")
        match = re.search(r"gateway://127\.0\.0\.1:(\d+)", detail)
        assert match, detail
        return int(match.group(1))

    def wait_running(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.data_dir / "state" / "deployment.json").exists():
                status = self.status()
                if status["state"] == "running":
                    return status
            if self.foreground is not None and self.foreground.poll() is not None:
                raise AssertionError(f"`heliohub up` exited:\n{self.foreground.stdout.read()}")  # type: ignore[union-attr]
            time.sleep(0.5)
        raise AssertionError(f"not running after {timeout}s\n{self.log_tail()}")

    def down(self) -> None:
        if self.foreground is not None and self.foreground.poll() is None:
            self.interrupt_foreground()
        if (self.data_dir / "state").exists():
            self.cli("down", check=False)

    # ----- processes and logs --------------------------------------------------------------

    def processes(self) -> list[psutil.Process]:
        """Every live process carrying this deployment's marker."""
        dep = self.deployment_id
        found = []
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(MARKER_ENV) == dep and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc)
            except (psutil.Error, OSError):
                continue
        return found

    def log_tail(self, chars: int = 4000) -> str:
        logs = self.data_dir / "logs"
        if not logs.exists():
            return ""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-chars:]}"
            for p in sorted(logs.glob("*.log"))
        )


# ----- a user, over HTTP, as a browser does it ---------------------------------------------


def login(hub_url: str, username: str, password: str) -> requests.Session:
    """The hub's login form: GET sets the _xsrf cookie, POST sends it back with the form."""
    session = requests.Session()
    session.get(f"{hub_url}/hub/login", timeout=30).raise_for_status()
    assert session.cookies.get("_xsrf"), "the login page set no _xsrf cookie"
    resp = session.post(
        f"{hub_url}/hub/login",
        data={"username": username, "password": password, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=60,
    )
    assert resp.status_code == 302, f"login refused: HTTP {resp.status_code} {resp.text[:300]}"
    return session


def api(session: requests.Session, hub_url: str, method: str, path: str, **kw: Any) -> Any:
    """A cookie-authenticated hub API call (needs the X-XSRFToken header)."""
    headers = {"X-XSRFToken": session.cookies.get("_xsrf", ""), **kw.pop("headers", {})}
    return session.request(method, f"{hub_url}/hub/api{path}", headers=headers, timeout=60, **kw)


def start_server(
    session: requests.Session, hub_url: str, username: str, timeout: float = 120
) -> float:
    """Start username's server and wait until it is ready; returns the seconds it took."""
    start = time.monotonic()
    resp = api(session, hub_url, "POST", f"/users/{username}/server")
    assert resp.status_code in (201, 202), resp.text
    while time.monotonic() - start < timeout:
        user = api(session, hub_url, "GET", f"/users/{username}").json()
        server = (user.get("servers") or {}).get("")
        if server and server.get("ready"):
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{username}'s server was not ready after {timeout}s")
