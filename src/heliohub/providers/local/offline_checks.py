"""What `validate` and `up` both check before anything starts: exposure, TLS files, data_dir,
the OS user prefix.

Each check returns problem lines (`path: what is wrong; how to fix it`), so `validate` can list
them all and exit 2, and `up` refuses with the same words before it touches anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from heliohub.config import LoadedConfig
from heliohub.errors import RefusedError, UserError
from heliohub.inhub.layout import Layout
from heliohub.providers.local import exposure, isolation, user_env
from heliohub.providers.reporting import SilentReporter


def data_dir_problem(data_dir: Path) -> str | None:
    """Whether data_dir is a directory heliohub can write, or can be created."""
    if data_dir.exists():
        if not data_dir.is_dir():
            return f"local.data_dir: {data_dir} is a file, not a directory; choose another path"
        if not os.access(data_dir, os.W_OK | os.X_OK):
            return f"local.data_dir: {data_dir} is not writable by this user; choose another path"
        return None
    parent = data_dir.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return (
            f"local.data_dir: {data_dir} cannot be created: {parent} is a file, not a "
            "directory; choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        return (
            f"local.data_dir: {data_dir} cannot be created: {parent} is not writable by this "
            "user; create it first or choose another path"
        )
    return None


def tls_problems(loaded: LoadedConfig) -> list[str]:
    https = loaded.config.https
    if https.mode != "files":
        return []
    problems = []
    for field, value in (("cert_file", https.cert_file), ("key_file", https.key_file)):
        path = loaded.resolve(value or "")
        if not path.is_file():
            problems.append(f"https.{field}: {path} does not exist; point it at a PEM file")
            continue
        try:
            with path.open("rb") as f:
                f.read(1)
        except OSError as exc:
            problems.append(f"https.{field}: {path} cannot be read ({exc.strerror})")
    return problems


def exposure_problem(loaded: LoadedConfig, euid: int, insecure: bool) -> str | None:
    try:
        iso = isolation.resolve(loaded.config, euid)
        # Decided as `up` decides it: by what hub users will run, the user environment.
        if user_env.isolation_fallback(loaded, euid, Layout(loaded.data_dir).user_env_dir):
            iso = "none"
        exposure.check_exposure(loaded.config, iso, euid, insecure, SilentReporter())
    except (RefusedError, UserError) as exc:
        return str(exc)
    return None


def user_prefix_problem(loaded: LoadedConfig, euid: int) -> str | None:
    """With system-users, no existing account heliohub did not create may start with the
    prefix (read from this machine's accounts and the deployment's record, changing nothing)."""
    try:
        iso = isolation.resolve(loaded.config, euid)
    except UserError:
        return None  # exposure_problem reports it
    if iso != "system-users" or user_env.isolation_fallback(
        loaded, euid, Layout(loaded.data_dir).user_env_dir
    ):
        return None
    try:
        isolation.check_user_prefix(
            loaded.config.local.user_prefix, Layout(loaded.data_dir).users_file
        )
    except UserError as exc:
        return str(exc)
    return None


def offline_problems(loaded: LoadedConfig, euid: int, insecure: bool) -> list[str]:
    """Every check `up` makes that needs neither a start nor the network."""
    problems = [
        p
        for p in (
            exposure_problem(loaded, euid, insecure),
            user_prefix_problem(loaded, euid),
        )
        if p
    ]
    problems += tls_problems(loaded)
    python = user_env.existing_python(loaded)
    if python is not None:
        problems += [p for p in (user_env.python_problem(python),) if p]
    data_dir = data_dir_problem(loaded.data_dir)
    if data_dir:
        problems.append(data_dir)
    return problems
