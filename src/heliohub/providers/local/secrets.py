"""Secret files under <data_dir>/secrets (directory 0700, files 0600), and secret references."""

from __future__ import annotations

import os
import secrets as random_secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from heliohub.config.base import SecretRef
from heliohub.errors import UserError

CHECK_TOKEN_FILE = "check-service-token"
USERS_TOKEN_FILE = "users-service-token"


def ensure_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def ensure_secret_file(path: Path) -> bool:
    """Generate a random secret into path (0600) unless it exists; True if generated."""
    ensure_dir(path.parent)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, 0o600)
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(random_secrets.token_urlsafe(24) + "\n")
    return True


def read_secret_file(path: Path, what: str) -> str:
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        raise UserError(f"{what}: {path} does not exist; create it or fix the path") from None
    except OSError as exc:
        raise UserError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise UserError(f"{what}: {path} is empty; put the secret in it")
    return value


def resolve(ref: SecretRef, what: str, base_dir: Path, environ: Mapping[str, str]) -> str:
    """The value a SecretRef points at: an environment variable or a file (relative to base)."""
    if ref.env is not None:
        value = environ.get(ref.env, "")
        if not value:
            raise UserError(f"{what}: environment variable {ref.env} is not set or empty; set it")
        return value
    assert ref.file is not None
    path = Path(ref.file).expanduser()
    return read_secret_file(path if path.is_absolute() else base_dir / path, what)
