"""Spawners of the local hub, loaded by its config (hub_config.py) inside the hub.

- SameUserSpawner (isolation none): every server runs as the hub's own user.
- SystemUserSpawner (isolation system-users): each hub user runs as its own OS user, created on
  first spawn; the hub runs as root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
from pathlib import Path
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner
from tornado import web
from traitlets import Float, Unicode

from heliohub.inhub.registry import AccountRefused
from heliohub.inhub.users import (
    Homes,
    ensure_home,
    ensure_os_user,
    os_username,
    set_membership,
)


class HeliohubSpawner(LocalProcessSpawner):
    """Homes under <data_dir>/homes, each with a link to the shared directory."""

    homes_dir = Unicode(help="directory that holds every home").tag(config=True)
    shared_dir = Unicode("", help="the shared directory; empty: none").tag(config=True)
    shared_name = Unicode("shared", help="the shared directory's name in each home").tag(
        config=True
    )

    @property
    def homes(self) -> Homes:
        return Homes(
            homes_dir=Path(self.homes_dir),
            shared_dir=Path(self.shared_dir) if self.shared_dir else None,
            shared_name=self.shared_name,
        )

    @property
    def home(self) -> Path:
        return self.homes.home_of(self.user.name)

    ready_poll_interval = Float(
        0.05, help="seconds between checks whether a starting server listens yet"
    ).tag(config=True)

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        # Jupyter's runtime files and the kernel's cwd follow HOME.
        env["HOME"] = str(self.home)
        return env

    async def start(self) -> Any:
        # The hub polls a new server with exponential backoff and full jitter (up to 5 s
        # between tries), which added 1.6 s to a 4 s spawn on average (docs/BENCHMARKS.md).
        # Its first try is immediate, so waiting here with a short interval removes that lag;
        # the hub's start_timeout bounds this wait, and a server that exits fails at once
        # instead of after the whole http_timeout.
        ip, port = await super().start()
        while True:
            try:
                _, writer = await asyncio.open_connection(ip, port)
            except OSError:
                status = await self.poll()
                if status is not None:
                    raise RuntimeError(
                        f"the server of {self.user.name} exited with status {status} before "
                        "it answered; see the hub's log"
                    ) from None
                await asyncio.sleep(self.ready_poll_interval)
                continue
            writer.close()
            await writer.wait_closed()
            return ip, port


class SameUserSpawner(HeliohubSpawner):
    """Isolation none: no setuid, the hub user's identity, a home per hub user."""

    def make_preexec_fn(self, name: str):
        home = str(self.home)

        def preexec() -> None:
            os.chdir(home)

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = pwd.getpwuid(os.getuid()).pw_name
        env["SHELL"] = "/bin/bash"
        return env

    async def move_certs(self, paths: dict[str, Any]) -> dict[str, Any]:
        return paths

    async def start(self) -> Any:
        ensure_home(self.homes, self.user.name)
        self.notebook_dir = str(self.home)
        return await super().start()


class SystemUserSpawner(HeliohubSpawner):
    """Isolation system-users: one OS user per hub user, created on first spawn."""

    user_prefix = Unicode("jupyter-", help="prefix of each OS user's name").tag(config=True)
    users_file = Unicode(help="the record of which OS user belongs to which hub user").tag(
        config=True
    )
    writers_group = Unicode(
        "", help="OS group that may write the shared directory; admins are members"
    ).tag(config=True)
    managed_writers_group = Unicode(
        "", help="when set to writers_group, non-admins are removed from it at spawn"
    ).tag(config=True)

    @property
    def os_name(self) -> str:
        return os_username(self.user_prefix, self.user.name)

    def make_preexec_fn(self, name: str):
        # The hub user's name is not the OS user's: always switch to the mapped one.
        return super().make_preexec_fn(self.os_name)

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        entry = pwd.getpwnam(self.os_name)
        env["USER"] = self.os_name
        env["SHELL"] = entry.pw_shell or "/bin/bash"
        return env

    async def move_certs(self, paths: dict[str, Any]) -> dict[str, Any]:
        return paths

    async def start(self) -> Any:
        try:
            ensure_os_user(self.user_prefix, self.user.name, self.homes, Path(self.users_file))
        except AccountRefused as exc:
            self.log.error("not starting %s's server: %s", self.user.name, exc)
            raise web.HTTPError(403, str(exc)) from None
        if self.writers_group:
            if self.user.admin:
                set_membership(self.os_name, self.writers_group, True)
            elif self.writers_group == self.managed_writers_group:
                set_membership(self.os_name, self.writers_group, False)
        self.notebook_dir = str(self.home)
        return await super().start()


def create_os_user_on_login(
    prefix: str, homes_dir: str, shared_dir: str, shared_name: str, users_file: str
) -> Any:  # the hook signature is jupyterhub's, untyped there
    """An Authenticator.post_auth_hook that creates the OS user at first login, and refuses
    the login of a hub user that would get an account that is not theirs."""
    homes = Homes(
        homes_dir=Path(homes_dir),
        shared_dir=Path(shared_dir) if shared_dir else None,
        shared_name=shared_name,
    )

    def hook(authenticator: Any, handler: Any, authentication: dict[str, Any]) -> dict[str, Any]:
        name = authenticator.normalize_username(authentication["name"])
        try:
            ensure_os_user(prefix, name, homes, Path(users_file))
        except AccountRefused as exc:
            authenticator.log.error("refusing the login of %r: %s", name, exc)
            raise web.HTTPError(403, str(exc)) from None
        return authentication

    return hook
