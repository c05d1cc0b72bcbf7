"""The `local` and `kubernetes` sections."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from heliohub.config.base import PositiveInt, Strict


def split_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# A PEP 508 requirement as users write it: a name, optional extras, an optional version rule.
# URLs and paths are left out on purpose: the managed environment is rebuilt from the index.
REQUIREMENT = (
    r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?"
    r"( ?(===|==|!=|~=|>=|<=|>|<) ?[A-Za-z0-9.*+!_-]+( ?, ?(===|==|!=|~=|>=|<=|>|<) ?"
    r"[A-Za-z0-9.*+!_-]+)*)?$"
)
Requirement = Annotated[
    str,
    Field(
        pattern=REQUIREMENT,
        description="a package from the index, optionally with a version rule, e.g. "
        "'astropy' or 'sunpy[all]>=6'",
    ),
]


def package_name(requirement: str) -> str:
    """The normalised name (PEP 503) of a requirement, for comparing."""
    name = re.split(r"[\[ =!~<>]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


class UserEnvironment(Strict):
    """The Python environment user servers and Dask workers run from, apart from heliohub's."""

    packages: list[Requirement] | None = Field(
        default=None,
        description="science packages of an environment heliohub creates and updates with uv, "
        "next to what servers and workers need; unset with no python: none beyond those",
    )
    python: str | None = Field(
        default=None,
        min_length=1,
        description="the python of an existing environment, used as it is (relative to the "
        "config file); heliohub checks its Jupyter and Dask packages",
    )

    @field_validator("packages")
    @classmethod
    def _once(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        names = [package_name(p) for p in value]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"each package once, got {', '.join(dupes)} more than once")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if self.python is not None and self.packages is not None:
            raise ValueError(
                "give either 'packages' (an environment heliohub manages) or 'python' (an "
                "existing environment, used as it is), not both; add the packages to that "
                "environment yourself"
            )
        return self

    @property
    def managed(self) -> bool:
        return self.python is None


class Local(Strict):
    """Everything on this machine, no Kubernetes."""

    bind: str = Field(
        default="127.0.0.1:8000",
        description="host:port of the public proxy; internal ports are chosen free at start",
    )
    data_dir: str = Field(
        default="./.heliohub",
        min_length=1,
        description="homes, shared data, state, logs and secrets (relative to the config file)",
    )
    isolation: Literal["auto", "none", "system-users"] = Field(
        default="auto",
        description="'none': everything runs as you; 'system-users': one OS user per hub user "
        "(needs root and a real login); 'auto': system-users when run as root with a login other "
        "than shared-password, else none",
    )
    user_prefix: str = Field(
        default="jupyter-",
        pattern=r"^[a-z][a-z0-9_-]{0,15}$",
        description="prefix of the OS user created for each hub user (system-users)",
    )
    concurrent_spawn_limit: PositiveInt = 100
    server_memory_limit_gib: float | None = Field(
        default=None, gt=0, description="memory limit per user server; unset: none"
    )
    user_environment: UserEnvironment = Field(
        default_factory=UserEnvironment,
        description="what user servers and Dask workers run from; default: an environment "
        "heliohub manages, with no extra packages",
    )

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"must be host:port with a port from 1 to 65535, got {value!r}")
        host = host.strip("[]")
        if host != "localhost":
            try:
                ipaddress.ip_address(host)
            except ValueError as exc:
                raise ValueError(
                    f"host must be an IP address or 'localhost', got {host!r}"
                ) from exc
        return value


class Kubernetes(Strict):
    """An existing cluster (provider kubernetes), or the EKS cluster (provider aws)."""

    context: str | None = Field(default=None, description="kubeconfig context; default current")
    kubeconfig: str | None = Field(default=None, description="kubeconfig path; default ~/.kube")
    namespace: str = Field(default="daskhub", pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
    storage_class: str | None = Field(
        default=None, description="StorageClass for homes; default the cluster's default"
    )
    shared_storage_class: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$",
        description="a StorageClass that offers ReadWriteMany (EFS, Filestore, Azure Files, an "
        "NFS provisioner), for storage.shared on provider kubernetes. The default classes of "
        "EKS, GKE, AKS, kind and k3s offer only ReadWriteOnce; without this class the shared "
        "folder is off on provider kubernetes",
    )
    home_size_gib: PositiveInt = 10
    network_policy: bool = True
