"""Dask Gateway pieces of the local hub, loaded by the generated dask_gateway_config.py.

- cluster_options(): the worker options users may choose, refused outside the configured range
  with a message naming the option and the range.
- SameUserBackend (isolation none): clusters run as the gateway's own user.
- SystemUserBackend (isolation system-users): each cluster runs as its owner's OS user, created
  on first use if the owner never spawned a server. The gateway runs as root.
"""

from __future__ import annotations

import os
import pwd
import tempfile
from pathlib import Path
from typing import Any

from dask_gateway_server.backends.base import PublicException
from dask_gateway_server.backends.local import LocalBackend, UnsafeLocalBackend
from dask_gateway_server.models import User
from dask_gateway_server.options import Float, Integer, Options
from dask_gateway_server.utils import FrozenAttrDict
from traitlets import Integer as IntTrait
from traitlets import Unicode

from heliohub.providers.local.users import Homes, ensure_os_user, os_username

GIB = 2**30


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
    return {
        "worker_cores": options.worker_cores,
        "worker_threads": options.worker_cores,
        "worker_memory": int(options.worker_memory * GIB),
    }


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


class ClusterLimitBackend(LocalBackend):
    """Refuses a new cluster when its owner already has max_clusters_per_user running."""

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


class SystemUserBackend(ClusterLimitBackend):
    """Isolation system-users: a cluster's processes run as its owner's OS user."""

    user_prefix = Unicode("jupyter-").tag(config=True)
    homes_dir = Unicode().tag(config=True)
    shared_dir = Unicode("").tag(config=True)
    shared_name = Unicode("shared").tag(config=True)

    def _os_user(self, hub_name: str) -> pwd.struct_passwd:
        homes = Homes(
            homes_dir=Path(self.homes_dir),
            shared_dir=Path(self.shared_dir) if self.shared_dir else None,
            shared_name=self.shared_name,
        )
        return ensure_os_user(self.user_prefix, hub_name, homes)

    def setup_working_directory(self, cluster: Any) -> str:
        # Replaces the upstream method, whose list of paths to chown also holds the single
        # characters of the certificate paths ("/" among them): as root that would hand the
        # file system root to the user. Here exactly the cluster's own paths are chowned.
        if self.clusters_directory:
            workdir = os.path.join(self.clusters_directory, cluster.name)
        else:
            workdir = tempfile.mkdtemp(prefix="dask", suffix=cluster.name)
        certsdir = self.get_certs_directory(workdir)
        logsdir = self.get_logs_directory(workdir)
        for path in (workdir, certsdir, logsdir):
            os.makedirs(path, 0o700, exist_ok=True)
        cert_path, key_path = self._get_tls_paths(workdir)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        for path, data in ((cert_path, cluster.tls_cert), (key_path, cluster.tls_key)):
            with os.fdopen(os.open(path, flags, 0o600), "wb") as fil:
                fil.write(data)
        entry = self._os_user(cluster.username)
        for path in (workdir, certsdir, logsdir, cert_path, key_path):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return workdir

    def set_file_permissions(self, paths: list[str], username: str) -> None:
        raise NotImplementedError("setup_working_directory sets ownership itself")

    def make_preexec_fn(self, cluster: Any) -> Any:
        os_name = os_username(self.user_prefix, cluster.username)
        self._os_user(cluster.username)
        entry = pwd.getpwnam(os_name)
        gids = os.getgrouplist(os_name, entry.pw_gid)
        workdir = cluster.state["workdir"]

        def preexec() -> None:
            os.setgid(entry.pw_gid)
            os.setgroups(gids)
            os.setuid(entry.pw_uid)
            os.chdir(workdir)

        return preexec

    def get_env(self, cluster: Any) -> dict[str, str]:
        env = super().get_env(cluster)
        os_name = os_username(self.user_prefix, cluster.username)
        env["USER"] = os_name
        env["HOME"] = pwd.getpwnam(os_name).pw_dir
        return env
