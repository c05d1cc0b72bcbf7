"""Dask Gateway pieces of the local hub, loaded by its config (gateway_config.py).

- cluster_options(): the worker options users may choose, refused outside the configured range
  with a message naming the option and the range.
- SameUserBackend (isolation none): clusters run as the gateway's own user.
- SystemUserBackend (isolation system-users): each cluster runs as its owner's OS user, created
  on first use if the owner never spawned a server. The gateway runs as root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import tempfile
from pathlib import Path
from typing import Any

from dask_gateway_server.backends.base import PublicException
from dask_gateway_server.backends.local import UnsafeLocalBackend
from dask_gateway_server.models import User
from dask_gateway_server.options import Float, Integer, Options
from dask_gateway_server.utils import FrozenAttrDict
from traitlets import Integer as IntTrait
from traitlets import Unicode

from heliohub.hubspec.spec import ClusterOptions
from heliohub.inhub.dashboards import DashboardAuthBackend, OwnerPortsBackend
from heliohub.inhub.registry import AccountRefused
from heliohub.inhub.users import Homes, ensure_home, ensure_os_user, os_username

# A directory made by root a moment ago: never follow a link in its place.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW


class _Bounded:
    """A number option whose refusal says the allowed range."""

    field: str
    min: Any
    max: Any

    def _check(self, x: Any) -> Any:
        if (self.min is not None and x < self.min) or (self.max is not None and x > self.max):
            raise ValueError(
                f"{self.field} must be between {self.min:g} and {self.max:g} (the range this "
                f"hub offers), got {x:g}"
            )
        return x


class BoundedInteger(_Bounded, Integer):
    def validate(self, x: Any) -> Any:
        if isinstance(x, bool) or not isinstance(x, int):
            raise TypeError(f"{self.field} must be a whole number, got {x!r}")
        return self._check(x)


class BoundedFloat(_Bounded, Float):
    def validate(self, x: Any) -> Any:
        if isinstance(x, int) and not isinstance(x, bool):
            x = float(x)
        if not isinstance(x, float):
            raise TypeError(f"{self.field} must be a number, got {x!r}")
        return self._check(x)


def _to_config(options: FrozenAttrDict) -> dict[str, Any]:
    # The hub spec's semantics of a choice, the same as the chart's handler.
    return dict(ClusterOptions.worker_settings(options.worker_cores, options.worker_memory))


def cluster_options(
    worker_cores: tuple[int, int, int], worker_memory_gib: tuple[float, float, float]
) -> Options:
    """Options for (min, max, default) worker cores and memory in GiB."""
    cores_min, cores_max, cores_default = worker_cores
    mem_min, mem_max, mem_default = worker_memory_gib
    return Options(
        BoundedInteger(
            "worker_cores",
            default=cores_default,
            min=cores_min,
            max=cores_max,
            label="Worker cores",
        ),
        BoundedFloat(
            "worker_memory",
            default=float(mem_default),
            min=float(mem_min),
            max=float(mem_max),
            label="Worker memory (GiB)",
        ),
        handler=_to_config,
    )


class ClusterLimitBackend(DashboardAuthBackend):
    """Refuses a new cluster when its owner already has max_clusters_per_user running.

    Both backends below derive from it, so their dashboards answer only to the cluster's owner
    and hub admins (see dashboards.py).
    """

    max_clusters_per_user = IntTrait(0, help="0: no limit").tag(config=True)

    async def start_cluster(self, user: User, cluster_options: dict[str, Any]) -> str:
        if self.max_clusters_per_user:
            active = await self.list_clusters(username=user.name)  # pending or running
            if len(active) >= self.max_clusters_per_user:
                raise PublicException(
                    f"{user.name} already has {len(active)} cluster(s) running; this hub allows "
                    f"{self.max_clusters_per_user} per user. Shut one down first."
                )
        return await super().start_cluster(user, cluster_options)


class SameUserBackend(UnsafeLocalBackend, ClusterLimitBackend):
    """Isolation none: clusters run as the gateway's user, like everything else."""

    homes_dir = Unicode("", help="directory that holds every home; empty: keep HOME").tag(
        config=True
    )

    def get_env(self, cluster: Any) -> dict[str, str]:
        env = super().get_env(cluster)
        if self.homes_dir:
            # The owner's server runs with this HOME: packages installed there with
            # `pip install --user` reach the workers too.
            homes = Homes(homes_dir=Path(self.homes_dir), shared_dir=None, shared_name="")
            env["HOME"] = str(ensure_home(homes, cluster.username))
        return env


class SystemUserBackend(OwnerPortsBackend, ClusterLimitBackend):
    """Isolation system-users: a cluster's processes run as its owner's OS user, and answer
    on loopback only to that user and root."""

    user_prefix = Unicode("jupyter-").tag(config=True)
    homes_dir = Unicode().tag(config=True)
    shared_dir = Unicode("").tag(config=True)
    shared_name = Unicode("shared").tag(config=True)
    users_file = Unicode().tag(config=True)

    def _os_user(self, hub_name: str) -> pwd.struct_passwd:
        homes = Homes(
            homes_dir=Path(self.homes_dir),
            shared_dir=Path(self.shared_dir) if self.shared_dir else None,
            shared_name=self.shared_name,
        )
        try:
            return ensure_os_user(self.user_prefix, hub_name, homes, Path(self.users_file))
        except AccountRefused as exc:
            self.log.error("not starting a cluster of %s: %s", hub_name, exc)
            raise PublicException(str(exc)) from None

    def owner_uid(self, cluster: Any) -> int:
        return self._os_user(cluster.username).pw_uid

    def setup_working_directory(self, cluster: Any) -> str:
        # Replaces the upstream method, which chowns by path (following links the user may
        # plant once the first directory is theirs) and whose list of paths to chown also
        # holds the single characters of the certificate paths ("/" among them). Here
        # everything is made through descriptors while the tree is still root's, and the
        # working directory itself is handed over last, so no path the user controls is
        # ever resolved by root.
        entry = self._os_user(cluster.username)
        if self.clusters_directory:
            workdir = os.path.join(self.clusters_directory, cluster.name)
            os.mkdir(workdir, 0o700)
        else:
            workdir = tempfile.mkdtemp(prefix="dask", suffix=cluster.name)
        certs = os.path.basename(self.get_certs_directory(workdir))
        logs = os.path.basename(self.get_logs_directory(workdir))
        cert_name, key_name = (os.path.basename(p) for p in self._get_tls_paths(workdir))
        owner = (entry.pw_uid, entry.pw_gid)
        work_fd = os.open(workdir, _DIR_FLAGS)
        try:
            for sub in (certs, logs):
                os.mkdir(sub, 0o700, dir_fd=work_fd)
            certs_fd = os.open(certs, _DIR_FLAGS, dir_fd=work_fd)
            try:
                for name, data in ((cert_name, cluster.tls_cert), (key_name, cluster.tls_key)):
                    fd = os.open(name, _NEW_FILE_FLAGS, 0o600, dir_fd=certs_fd)
                    with os.fdopen(fd, "wb") as fil:
                        fil.write(data)
                        os.fchown(fil.fileno(), *owner)
                os.fchown(certs_fd, *owner)
            finally:
                os.close(certs_fd)
            logs_fd = os.open(logs, _DIR_FLAGS, dir_fd=work_fd)
            try:
                os.fchown(logs_fd, *owner)
            finally:
                os.close(logs_fd)
            os.fchown(work_fd, *owner)
        finally:
            os.close(work_fd)
        return workdir

    def set_file_permissions(self, paths: list[str], username: str) -> None:
        raise NotImplementedError("setup_working_directory sets ownership itself")

    def _preexec(self, cluster: Any, log_name: str | None) -> Any:
        entry = self._os_user(cluster.username)
        gids = os.getgrouplist(entry.pw_name, entry.pw_gid)
        workdir = cluster.state["workdir"]
        logs = os.path.basename(self.get_logs_directory(workdir))

        def preexec() -> None:
            os.setgid(entry.pw_gid)
            os.setgroups(gids)
            os.setuid(entry.pw_uid)
            os.chdir(workdir)
            if log_name is not None:
                # Opened as the cluster's owner: a link planted in its logs directory can
                # lead only where that user may write anyway.
                fd = os.open(os.path.join(logs, log_name), _LOG_FLAGS, 0o600)
                os.dup2(fd, 1)
                os.dup2(fd, 2)
                os.close(fd)

        return preexec

    def make_preexec_fn(self, cluster: Any) -> Any:
        return self._preexec(cluster, None)

    async def start_process(
        self, cluster: Any, cmd: list[str], env: dict[str, str], name: str
    ) -> int:
        # Upstream opens the log file as root inside the user's working directory; here the
        # new process opens it itself, after switching to the user.
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            preexec_fn=self._preexec(cluster, name + ".log"),
            start_new_session=True,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return proc.pid

    def get_env(self, cluster: Any) -> dict[str, str]:
        env = super().get_env(cluster)
        os_name = os_username(self.user_prefix, cluster.username)
        env["USER"] = os_name
        env["HOME"] = pwd.getpwnam(os_name).pw_dir
        return env
