"""configurable-http-proxy, installed from npm into <data_dir>/proxy when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from heliohub.errors import UserError
from heliohub.providers.base import Reporter

PACKAGE = "configurable-http-proxy"
VERSION = "5.3.0"


def proxy_command(proxy_dir: Path) -> Path:
    return proxy_dir / "node_modules" / ".bin" / PACKAGE


def ensure_proxy(proxy_dir: Path, reporter: Reporter, environ: dict[str, str]) -> Path:
    """The proxy's executable; installs it with npm first if it is not there."""
    command = proxy_command(proxy_dir)
    if command.exists():
        return command
    npm = shutil.which("npm", path=environ.get("PATH"))
    if npm is None:
        raise UserError(
            f"npm is not installed: heliohub needs it once to install {PACKAGE} into "
            f"{proxy_dir}. Install Node.js 18 or newer (with npm), then run `heliohub up` again"
        )
    if shutil.which("node", path=environ.get("PATH")) is None:
        raise UserError(f"node is not installed: {PACKAGE} runs on Node.js; install Node.js 18+")
    reporter.info(f"installing {PACKAGE} {VERSION} with npm into {proxy_dir} (once)")
    proxy_dir.mkdir(parents=True, exist_ok=True)
    with reporter.stage(f"install {PACKAGE} {VERSION}"):
        result = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(proxy_dir),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"{PACKAGE}@{VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=environ,
            timeout=600,
        )
    if result.returncode != 0 or not command.exists():
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise UserError(
            f"npm could not install {PACKAGE}@{VERSION} into {proxy_dir} "
            f"(exit {result.returncode}):\n{tail}\nCheck that the npm registry is reachable, "
            "then run `heliohub up` again"
        )
    os.chmod(proxy_dir, 0o755)
    return command
