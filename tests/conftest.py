"""Shared fixtures. Importing this file starts no process; the fixtures that do are requested
only by tests marked `integration`."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    # A run stopped with SIGTERM (a CI job's time limit, `kill`) takes the Ctrl-C way out:
    # pytest then still tears the fixtures down, which stop the deployments they started and
    # delete the OS users and firewall tables those made. The default action kills at once.
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configurable-http-proxy installed once per session (npm), shared by local deployments."""
    from heliohub.providers.base import SilentReporter
    from heliohub.providers.local.proxy_install import ensure_proxy

    target = tmp_path_factory.mktemp("proxy")
    ensure_proxy(target, SilentReporter(), dict(os.environ))
    return target
