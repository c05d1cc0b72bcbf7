"""Which OS user heliohub created for which hub user: the record that makes the mapping one to
one for ever.

The names are derived from hub names (users.os_username), but a derived name can still meet an
account that exists already (a system account, another tool's user, a hash collision a hostile
user searched for). The record, a root-owned 0600 JSON file in the state directory, is the
proof: an existing account is handed only to the hub user heliohub created it for, with the uid
it had then. The hub and the gateway both use it, so every change happens under a lock.

Runs inside the hub and the gateway (root), so it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

LOGIN_DEFS = Path("/etc/login.defs")
# What shadow-utils uses when /etc/login.defs does not say.
DEFAULT_UID_MIN = 1000


class AccountRefused(Exception):
    """An OS account heliohub must not hand to this hub user; the message says why."""


@dataclass(frozen=True)
class Account:
    hub_user: str
    uid: int
    home: str


def uid_min(login_defs: Path = LOGIN_DEFS) -> int:
    """The lowest uid of ordinary users on this system (UID_MIN in /etc/login.defs)."""
    try:
        text = login_defs.read_text(errors="replace")
    except OSError:
        return DEFAULT_UID_MIN
    match = re.search(r"^\s*UID_MIN\s+(\d+)\s*$", text, re.MULTILINE)
    return int(match.group(1)) if match else DEFAULT_UID_MIN


def check_uid(os_name: str, uid: int, login_defs: Path = LOGIN_DEFS) -> None:
    lowest = uid_min(login_defs)
    if uid == 0 or uid < lowest:
        raise AccountRefused(
            f"OS user {os_name} has uid {uid}, a system account's (ordinary users start at "
            f"UID_MIN {lowest}); heliohub never runs a hub user as it"
        )


class Registry:
    """The record file; read and change it only inside `locked()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.accounts: dict[str, Account] = {}
        self._dirty = False

    @contextlib.contextmanager
    def locked(self) -> Iterator[Registry]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(
            self.path.with_name(self.path.name + ".lock"),
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
            0o600,
        )
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            self._load()
            yield self
            if self._dirty:
                self._save()
        finally:
            os.close(lock_fd)

    def read(self) -> Registry:
        """The record as it is now, without the lock and without creating anything: for checks
        (writers replace the file whole, so it is never seen half-written)."""
        self._load()
        return self

    def _load(self) -> None:
        self._dirty = False
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.accounts = {}
            return
        self.accounts = {name: Account(**rec) for name, rec in data["accounts"].items()}

    def _save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {"accounts": {n: asdict(a) for n, a in sorted(self.accounts.items())}}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._dirty = False

    def record(self, os_name: str, account: Account) -> None:
        self.accounts[os_name] = account
        self._dirty = True

    def claim(self, os_name: str, hub_user: str, home: str) -> Account | None:
        """The record of os_name for hub_user (None: not created yet); refuses another's name
        or home."""
        account = self.accounts.get(os_name)
        if account is not None and account.hub_user != hub_user:
            raise AccountRefused(
                f"hub user {hub_user!r} would run as OS user {os_name}, which heliohub created "
                f"for hub user {account.hub_user!r}; two hub users never share an OS user. An "
                "admin can rename one of them"
            )
        for other_name, other in self.accounts.items():
            if other.home == home and other.hub_user != hub_user:
                raise AccountRefused(
                    f"hub user {hub_user!r} would get the home {home}, which belongs to hub user "
                    f"{other.hub_user!r} (OS user {other_name}); an admin can rename one of them"
                )
        return account

    def created_by_us(self, os_name: str) -> bool:
        return os_name in self.accounts
