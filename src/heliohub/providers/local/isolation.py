"""Which isolation a run uses, and what system-users needs from this machine."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Literal

from heliohub.config import REAL_AUTH_TYPES, HubConfig
from heliohub.errors import UserError
from heliohub.inhub import firewall
from heliohub.inhub.users import foreign_accounts

Isolation = Literal["none", "system-users"]

_TOOLS = ("useradd", "groupadd", "gpasswd")
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"


def resolve(config: HubConfig, euid: int) -> Isolation:
    """`auto` is system-users when run as root with a real login, else none.

    With shared-password anyone may log in under any name, so separate OS users would
    separate nothing: `auto` gives none (the config refuses an explicit system-users).
    """
    wanted = config.local.isolation
    if wanted == "auto":
        real_login = config.auth.type in REAL_AUTH_TYPES
        return "system-users" if euid == 0 and real_login else "none"
    if wanted == "system-users" and euid != 0:
        raise UserError(
            "local.isolation: 'system-users' creates one OS user per hub user and runs their "
            "servers and Dask clusters as them, which needs root. Run `sudo heliohub up`, or "
            "set local.isolation to 'none' (everything runs as you)"
        )
    return wanted


def _others_can_enter(path: Path) -> bool:
    mode = path.stat().st_mode
    return bool(mode & stat.S_IXOTH)


def check_system_users(data_dir: Path, bin_dir: Path | None) -> None:
    """Other users must reach their homes and run the user environment's programs.

    bin_dir None: that environment is still to be built (from an interpreter checked apart).
    """
    missing = [t for t in _TOOLS if shutil.which(t, path=_SBIN_PATH) is None]
    if missing:
        raise UserError(
            f"isolation 'system-users' needs {', '.join(missing)} (package passwd); install it"
        )
    places: tuple[tuple[str, Path], ...] = (("the data directory", data_dir),)
    if bin_dir is not None:
        places += (
            ("the user environment", bin_dir),
            ("the user environment's Python interpreter", (bin_dir / "python").resolve()),
        )
    for what, path in places:
        for parent in [path, *path.parents]:
            if parent.exists() and not _others_can_enter(parent):
                raise UserError(
                    f"isolation 'system-users': {parent} is closed to other users (mode "
                    f"{stat.S_IMODE(parent.stat().st_mode):o}), so hub users cannot reach "
                    f"{what} ({path}). Move it somewhere they can enter (e.g. under /srv; "
                    "for the interpreter, create the virtualenv from a system Python such as "
                    f"/usr/bin/python3), or allow entering with `chmod o+x {parent}`"
                )
    for exe in ("jupyterhub-singleuser", "dask") if bin_dir is not None else ():
        target = bin_dir / exe
        if not os.access(target, os.X_OK) or not target.stat().st_mode & stat.S_IXOTH:
            raise UserError(f"isolation 'system-users': other users cannot run {target}")
    firewall.check_available()


def check_user_prefix(prefix: str, users_file: Path) -> None:
    """No existing account that heliohub did not create may start with the prefix: a hub user
    whose name completes it (`r` + `oot`) would otherwise reach that account."""
    foreign = foreign_accounts(prefix, users_file)
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise UserError(
            f"local.user_prefix: {prefix!r} is the start of existing OS accounts that heliohub "
            f"did not create for this deployment ({shown}); a hub user whose name completes "
            "the prefix would reach such an account. Choose a prefix no account starts with "
            "(the default is 'jupyter-'), or remove those accounts (userdel)"
        )


def fallback_reason(
    config: HubConfig, euid: int, data_dir: Path, bin_dir: Path | None
) -> str | None:
    """Why `auto` cannot give system-users on this machine, or None when it can (or needn't).

    `auto` promises the safest mode that works; an explicit 'system-users' still fails hard.
    """
    if config.local.isolation != "auto" or resolve(config, euid) != "system-users":
        return None
    try:
        check_system_users(data_dir, bin_dir)
    except UserError as exc:
        return str(exc)
    return None
