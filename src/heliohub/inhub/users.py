"""Hub users on this machine: safe directory names, and OS users for `system-users` isolation.

Runs inside the hub and the gateway (both root in system-users mode) and in the CLI, so it
imports nothing heavier than the standard library.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from heliohub.inhub.registry import Account, AccountRefused, Registry, check_uid

# What useradd and every file system accept without surprises.
_SAFE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# What safe_name and os_username append: a name that ends like this is rewritten too.
_REWRITTEN = re.compile(r"-[0-9a-f]{8}$")
_SHORTENED = re.compile(r"-[0-9a-f]{6}$")
# Linux user names are limited to 32 characters.
MAX_OS_NAME = 32
# Where useradd lives even when PATH is a user's PATH without the sbin directories.
_SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"


def _digest(name: str, length: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def safe_name(hub_name: str) -> str:
    """A directory name for a hub user; names that are not plainly safe get a hash suffix.

    A rewritten name always carries the hash of the original, and a name is kept as it is only
    when it is safe and does not look like a rewritten one itself (`jürgen` becomes
    `j-rgen-19b720a9`; the hub user `j-rgen-19b720a9` is rewritten as well). Hash collisions
    that someone searched for are stopped by the registry (registry.py), not here.
    """
    if _SAFE.match(hub_name) and len(hub_name) <= MAX_OS_NAME and not _REWRITTEN.search(hub_name):
        return hub_name
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", hub_name.lower()).strip("-._")[:20] or "user"
    return f"{cleaned}-{_digest(hub_name, 8)}"


def os_username(prefix: str, hub_name: str) -> str:
    """The OS user of a hub user: prefix + safe name, shortened with a hash to fit 32 chars."""
    name = prefix + safe_name(hub_name)
    if len(name) < MAX_OS_NAME or (len(name) == MAX_OS_NAME and not _SHORTENED.search(name)):
        return name
    return f"{name[: MAX_OS_NAME - 7]}-{_digest(hub_name, 6)}"


def shared_writers_group(prefix: str) -> str:
    """The group heliohub manages for writing the shared directory.

    The '_' after the prefix cannot come out of os_username (safe names start with a letter or
    digit), so no hub user's own group can ever collide with it.
    """
    return f"{prefix}_writers"


@dataclass(frozen=True)
class Homes:
    """Where homes and the shared directory are, and how a home sees the shared one."""

    homes_dir: Path
    shared_dir: Path | None
    shared_name: str

    def home_of(self, hub_name: str) -> Path:
        return self.homes_dir / safe_name(hub_name)


def ensure_home(homes: Homes, hub_name: str, owner: pwd.struct_passwd | None = None) -> Path:
    """Create the home (0700, owned by owner when given) and its link to the shared directory.

    Runs as root on a directory its owner controls: everything inside it is done through a
    descriptor of the home and never follows a link the owner may have planted.
    """
    home = homes.home_of(hub_name)
    homes.homes_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(home, 0o700)
    # The homes directory is root's, so `home` itself cannot be swapped; O_NOFOLLOW refuses a
    # link left there by anything else.
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        if owner is not None:
            st = os.fstat(fd)
            if (st.st_uid, st.st_gid) != (owner.pw_uid, owner.pw_gid):
                os.fchown(fd, owner.pw_uid, owner.pw_gid)
        os.fchmod(fd, 0o700)
        if homes.shared_dir is not None:
            # Relative, so the link survives moving the whole data directory.
            _ensure_link(fd, homes.shared_name, os.path.relpath(homes.shared_dir, home))
    finally:
        os.close(fd)
    return home


def _ensure_link(dir_fd: int, name: str, target: str) -> None:
    """name -> target inside dir_fd, unless its owner put something else of their own there.

    The link stays root's: a link's owner grants nothing, and a chown by name could be turned
    onto another file by its owner in between.
    """
    try:
        current = os.readlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        current = None
    except OSError:  # not a link: the owner's own file or directory
        return
    if current == target:
        return
    if current is not None:
        os.unlink(name, dir_fd=dir_fd)
    with contextlib.suppress(FileExistsError):
        os.symlink(target, name, dir_fd=dir_fd)


def _run(cmd: list[str]) -> None:
    exe = shutil.which(cmd[0], path=_SBIN_PATH)
    if exe is None:
        raise RuntimeError(f"{cmd[0]} is not installed; system-users isolation needs it")
    result = subprocess.run(
        [exe, *cmd[1:]],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": _SBIN_PATH, "LANG": "C"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")


def lookup_user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def lookup_group(name: str) -> grp.struct_group | None:
    try:
        return grp.getgrnam(name)
    except KeyError:
        return None


def ensure_group(name: str) -> grp.struct_group:
    group = lookup_group(name)
    if group is None:
        _run(["groupadd", "--system", name])
        group = grp.getgrnam(name)
    return group


def ensure_os_user(prefix: str, hub_name: str, homes: Homes, registry: Path) -> pwd.struct_passwd:
    """The OS user of a hub user, created on first use (like The Littlest JupyterHub).

    An existing account is used only when the registry proves heliohub created it for this
    hub user (same name, same uid); anything else raises AccountRefused.
    """
    name = os_username(prefix, hub_name)
    home = homes.home_of(hub_name)
    with Registry(registry).locked() as reg:
        account = reg.claim(name, hub_name, str(home))
        user = lookup_user(name)
        if user is not None and account is None:
            raise AccountRefused(
                f"hub user {hub_name!r} would run as OS user {name}, which exists but was not "
                f"created by heliohub for this hub user (no record in {registry}); heliohub "
                "never adopts an existing account. Remove the account (userdel) or choose "
                "another local.user_prefix"
            )
        if user is not None and account is not None and user.pw_uid != account.uid:
            raise AccountRefused(
                f"OS user {name} has uid {user.pw_uid}, but heliohub created it for hub user "
                f"{hub_name!r} with uid {account.uid}: the account was replaced, so it is not "
                "handed over"
            )
        if user is None:
            _run(
                [
                    "useradd",
                    "--home-dir",
                    str(home),
                    "--no-create-home",
                    "--shell",
                    "/bin/bash",
                    "--comment",
                    f"heliohub user {safe_name(hub_name)}",
                    name,
                ]
            )
            user = pwd.getpwnam(name)
            check_uid(name, user.pw_uid)
            reg.record(name, Account(hub_user=hub_name, uid=user.pw_uid, home=str(home)))
        check_uid(name, user.pw_uid)
    ensure_home(homes, hub_name, owner=user)
    return user


def foreign_accounts(prefix: str, registry: Path) -> list[str]:
    """Existing OS accounts whose names start with prefix that heliohub did not create here.

    A hub user whose name completes the prefix to one of them (`r` + `oot`) must never get it;
    ensure_os_user refuses that at login, and `up` refuses such a prefix outright.
    """
    reg = Registry(registry).read()
    return sorted(
        e.pw_name
        for e in pwd.getpwall()
        if e.pw_name.startswith(prefix) and not reg.created_by_us(e.pw_name)
    )


def set_membership(os_name: str, group: str, member: bool) -> None:
    """Add or remove os_name from a supplementary group, only when that changes something."""
    current = os_name in grp.getgrnam(group).gr_mem
    if member and not current:
        _run(["gpasswd", "--add", os_name, group])
    elif not member and current:
        _run(["gpasswd", "--delete", os_name, group])


def prepare_shared_dir(shared_dir: Path, group: str) -> None:
    """Readable by everyone, writable by the group; new files inherit the group (setgid)."""
    gid = grp.getgrnam(group).gr_gid
    shared_dir.mkdir(parents=True, exist_ok=True)
    st = shared_dir.stat()
    if st.st_gid != gid:
        os.chown(shared_dir, 0, gid)
    os.chmod(shared_dir, 0o2775)
