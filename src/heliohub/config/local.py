"""The `local` and `kubernetes` sections."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

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
