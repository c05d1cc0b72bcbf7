"""The root of the one config file."""

from __future__ import annotations

import re
from typing import Annotated, Any, Self

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from heliohub.config.auth import (
    Auth,
    CognitoAuth,
    SharedPasswordAuth,
    default_domain_prefix,
    fold_username,
    reserved_domain_words,
    username_regex,
)
from heliohub.config.aws import AWS
from heliohub.config.base import Name, Strict
from heliohub.config.compute import DEFAULT_IMAGE, Dask, Profile, _reference_profiles
from heliohub.config.local import Kubernetes, Local
from heliohub.config.provider_rules import (
    SECTIONS,
    SHARED_LOCAL_KEYS,
    ProviderName,
    honour_problems,
    section_problems,
)
from heliohub.config.storage import HTTPS, Culling, Storage

Hostname = Annotated[
    str,
    Field(
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="a fully qualified lower-case host name, e.g. hub.example.org",
    ),
]

# Root-level rules name their own fields; several problems travel in one ValueError.
PROBLEM_SEPARATOR = "\n"

Provider = ProviderName


class HubConfig(Strict):
    """A heliohub deployment: one DaskHub, wherever it runs."""

    name: Name = "heliohub"
    provider: Provider = "local"
    image: str = Field(default=DEFAULT_IMAGE, description="default image for servers and workers")
    auth: Auth = Field(default_factory=SharedPasswordAuth)
    profiles: list[Profile] = Field(default_factory=_reference_profiles, min_length=1)
    dask: Dask = Dask()
    storage: Storage = Storage()
    culling: Culling = Culling()
    domain: Hostname | None = None
    https: HTTPS = HTTPS()
    aws: AWS = AWS()
    kubernetes: Kubernetes = Kubernetes()
    local: Local = Local()

    @model_validator(mode="before")
    @classmethod
    def _shared_default(cls, data: Any) -> Any:
        """On kubernetes the shared folder is off unless a ReadWriteMany class is named:
        a ReadWriteMany claim on a cluster's default class stays Pending, and so would every
        user server that mounts it."""
        if not isinstance(data, dict) or data.get("provider") != "kubernetes":
            return data
        k8s, storage = data.get("kubernetes") or {}, data.get("storage") or {}
        if not (isinstance(k8s, dict) and isinstance(storage, dict)):
            return data
        shared = storage.get("shared") or {}
        if k8s.get("shared_storage_class") or not isinstance(shared, dict) or "enabled" in shared:
            return data
        return {**data, "storage": {**storage, "shared": {**shared, "enabled": False}}}

    @model_validator(mode="after")
    def _isolation(self) -> Self:
        if isinstance(self.auth, SharedPasswordAuth) and self.local.isolation == "system-users":
            raise ValueError(
                "local.isolation: 'system-users' keeps users apart, but with auth.type "
                "'shared-password' everyone knows the one password and can log in as anyone "
                "(and every new name creates an OS account). Use a login that proves who a "
                "person is (native, oidc, github or cognito), or isolation 'none' for one "
                "trusted person or a demo"
            )
        return self

    @model_validator(mode="after")
    def _user_names(self) -> Self:
        auth = self.auth
        regex = re.compile(username_regex(auth.username_pattern, auth.username_max_length))
        problems = [
            f"auth.{field}: {name!r} is not a valid user name: it must match "
            f"auth.username_pattern, have at most auth.username_max_length "
            f"({auth.username_max_length}) characters and no control character"
            for field in ("admin_users", "allowed_users")
            for name in getattr(auth, field)
            if not regex.match(fold_username(name))
        ]
        if problems:
            raise ValueError(PROBLEM_SEPARATOR.join(problems))
        return self

    @model_validator(mode="before")
    @classmethod
    def _gpu_profile_default(cls, data: Any) -> Any:
        """The reference GPU profile only where GPU nodes exist: on kubernetes heliohub cannot
        know (add a GPU profile yourself), on aws only with a pool that has GPUs. A server
        asking for a GPU no node has stays Pending."""
        if not isinstance(data, dict) or "profiles" in data:
            return data
        provider = data.get("provider")
        aws = data.get("aws") or {}
        pools = aws.get("node_pools") if isinstance(aws, dict) else None
        no_gpus = provider == "kubernetes" or (
            provider == "aws"
            and isinstance(pools, list)
            and not any(isinstance(p, dict) and p.get("gpus_per_node") for p in pools)
        )
        if not no_gpus:
            return data
        cpu_only = [p.model_dump() for p in _reference_profiles() if not p.gpus]
        return {**data, "profiles": cpu_only}

    @model_validator(mode="after")
    def _profiles(self) -> Self:
        problems = []
        names = [p.name for p in self.profiles]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"profiles: names must be unique, got {', '.join(dupes)} twice")
        defaults = [p.name for p in self.profiles if p.default]
        if len(defaults) > 1:
            problems.append(
                f"profiles: at most one profile may be the default, got {', '.join(defaults)}"
            )
        if problems:
            raise ValueError(PROBLEM_SEPARATOR.join(problems))
        return self

    @model_validator(mode="after")
    def _cloud(self) -> Self:
        # Every problem is collected, so validate names them all at once.
        problems = section_problems(self) + honour_problems(self)
        if (
            self.provider == "local"
            and "profiles" in self.model_fields_set
            and self.profiles != _reference_profiles()
        ):
            # The defaults are the cloud reference sizes and mean nothing locally (a dumped
            # config carries them back); profiles of the user's own would be silently ignored.
            problems.append(
                "profiles: the local provider cannot enforce server sizes (CPU and memory "
                "limits); remove `profiles`, or use provider kubernetes or aws"
            )
        if isinstance(self.auth, CognitoAuth) and self.provider != "aws":
            # Only on aws does heliohub create the pool and client, and so know these.
            missing = [f for f in ("client_id", "client_secret") if getattr(self.auth, f) is None]
            if not self.auth.endpoint_base and not (self.auth.domain_prefix and self.auth.region):
                missing.append("domain_prefix and region (or endpoint_base)")
            if missing:
                problems.append(
                    f"auth: cognito on provider {self.provider} needs {', '.join(missing)}; "
                    "only provider aws creates the user pool and app client itself"
                )
        if (
            self.provider == "kubernetes"
            and self.storage.shared.enabled
            and not self.kubernetes.shared_storage_class
        ):
            problems.append(
                "storage.shared.enabled: on provider kubernetes the shared folder needs "
                "kubernetes.shared_storage_class, a StorageClass that offers ReadWriteMany (EFS, "
                "Filestore, Azure Files, NFS); the default classes of EKS, GKE, AKS, kind and "
                "k3s do not, and every user server would stay Pending. Set it, or set "
                "storage.shared.enabled: false"
            )
        prefix = self.cognito_domain_prefix()
        if (
            prefix is not None
            and isinstance(self.auth, CognitoAuth)
            and not self.auth.domain_prefix
        ):
            try:
                reserved_domain_words(prefix, " (the default: name plus a hash of domain)")
            except ValueError as exc:
                problems.append(f"auth.domain_prefix: {exc}; set auth.domain_prefix")
        if self.provider == "aws" and not any(p.gpus_per_node for p in self.aws.node_pools):
            problems += [
                f"profiles.{p.name}.gpus: no node pool has GPUs (aws.node_pools[].gpus_per_node), "
                "so this server would never start; remove the profile or add a GPU pool"
                for p in self.profiles
                if p.gpus
            ][:1]
        if self.provider == "aws":
            pools = {p.name for p in self.aws.node_pools}
            problems += [
                f"profiles.{p.name}.node_pool: no node pool named '{p.node_pool}'; "
                f"allowed: {', '.join(sorted(pools))}"
                for p in self.profiles
                if p.node_pool and p.node_pool not in pools
            ]
            for field in ("worker_node_pool", "gpu_worker_node_pool"):
                value = getattr(self.dask, field)
                if value and value not in pools:
                    problems.append(
                        f"dask.{field}: no node pool named '{value}'; "
                        f"allowed: {', '.join(sorted(pools))}"
                    )
        if problems:
            raise ValueError(PROBLEM_SEPARATOR.join(problems))
        return self

    def cognito_domain_prefix(self) -> str | None:
        """The hosted UI prefix of the user pool heliohub creates (aws, cognito); else the
        configured one, or None."""
        auth = self.auth
        if not isinstance(auth, CognitoAuth):
            return None
        if auth.domain_prefix is not None:
            return auth.domain_prefix
        if self.provider == "aws" and auth.client_id is None and self.domain:
            return default_domain_prefix(self.name, self.domain)
        return None

    @model_serializer(mode="wrap")
    def _provider_sections(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave out what the provider does not read, so a dumped config validates again."""
        data = handler(self)
        if isinstance(data, dict):
            for name in ("aws", "kubernetes"):
                if name not in SECTIONS[self.provider]:
                    data.pop(name, None)
            if self.provider != "local" and isinstance(data.get("local"), dict):
                data["local"] = {k: v for k, v in data["local"].items() if k in SHARED_LOCAL_KEYS}
            if self.provider == "aws" and isinstance(data.get("kubernetes"), dict):
                for key in ("context", "kubeconfig"):
                    data["kubernetes"].pop(key, None)
        return data

    @property
    def default_profile(self) -> Profile:
        return next((p for p in self.profiles if p.default), self.profiles[0])

    def profile_pool(self, profile: Profile) -> str:
        """The aws node pool a profile runs on."""
        if profile.node_pool:
            return profile.node_pool
        gpu_pools = [p.name for p in self.aws.node_pools if p.gpus_per_node > 0]
        if profile.gpus and gpu_pools:
            return gpu_pools[0]
        user = [p.name for p in self.aws.node_pools if p.name == "user"]
        return user[0] if user else self.aws.node_pools[0].name
