"""Values for the auth Secret, read at apply time from the config's secret references."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from heliohub.errors import UserError
from heliohub.hubspec.login import AuthSettings

# Secrets heliohub may invent; others (the Cognito app client's) are written by the aws provider.
GENERATED_HERE = frozenset({"shared-password", "shared-admin-password"})


def read_or_generate(path: Path) -> str:
    """The generated secret in path, created (mode 0600) on first use when heliohub may."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    if path.name not in GENERATED_HERE:
        raise UserError(
            f"{path} is missing: the aws provider writes it from the Cognito app client. "
            "Run `heliohub up` so the stacks and that file exist."
        )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value + "\n")
    return value


def secret_values(
    settings: AuthSettings,
    resolve: Callable[[str], Path],
    secrets_dir: Path,
    environ: Mapping[str, str],
    provided: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment variable -> secret value, for every secret the login needs."""
    provided = provided or {}
    values: dict[str, str] = {}
    for env, ref in sorted(settings.secrets.items()):
        if env in provided:
            values[env] = provided[env]
        elif ref is None:
            name = settings.generated.get(env)
            if not name:
                raise UserError(f"{env}: the login needs a secret that nothing provides")
            values[env] = read_or_generate(secrets_dir / name)
        elif ref.env is not None:
            value = environ.get(ref.env)
            if not value:
                raise UserError(
                    f"environment variable {ref.env} is empty or unset; the auth section "
                    "reads a secret from it. Export it and run the command again."
                )
            values[env] = value
        else:
            path = resolve(ref.file or "")
            try:
                values[env] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise UserError(f"cannot read secret file {path}: {exc.strerror}") from None
            if not values[env]:
                raise UserError(f"secret file {path} is empty")
    return values
