"""Shared fixtures. Importing this file starts no process; the fixtures that do are requested
only by tests marked `integration`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """configurable-http-proxy installed once per session (npm), shared by local deployments."""
    from heliohub.providers.base import SilentReporter
    from heliohub.providers.local.proxy_install import ensure_proxy

    target = tmp_path_factory.mktemp("proxy")
    ensure_proxy(target, SilentReporter(), dict(os.environ))
    return target
