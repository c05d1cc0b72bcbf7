"""Run the real OpenID Connect provider (tests/oidc/server.mjs, npm `oidc-provider`) on loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import requests

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class User:
    username: str
    password: str
    groups: list[str] = field(default_factory=list)

    @property
    def email(self) -> str:
        return f"{self.username}@example.org"


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"
    )


class OIDCProvider:
    """One provider process; flavor 'cognito' serves Cognito's routes and id-token groups."""

    def __init__(
        self,
        workdir: Path,
        clients: list[Client],
        users: list[User],
        flavor: Literal["oidc", "cognito"] = "oidc",
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.flavor = flavor
        self.clients = clients
        self.users = users
        self.log_path = workdir / f"oidc-{flavor}.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> OIDCProvider:
        node = shutil.which("node")
        if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(
                "the test identity provider needs Node.js and `npm install` in tests/oidc "
                "(bash tests/setup-system.sh)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / f"oidc-{self.flavor}.json"
        config.write_text(
            json.dumps(
                {
                    "port": self.port,
                    "flavor": self.flavor,
                    "clients": [asdict(c) for c in self.clients],
                    "users": [{**asdict(u), "email": u.email} for u in self.users],
                }
            )
        )
        config.chmod(0o600)
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [node, str(OIDC_DIR / "server.mjs"), str(config)],
            cwd=OIDC_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_ENV": "test"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the identity provider exited:\n{self.log()}")
            try:
                r = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
                if r.ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the identity provider did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
