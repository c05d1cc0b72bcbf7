"""Providers: where a deployment runs, one registry entry each.

Each provider package is imported only when it is chosen, and `validate` imports only the
provider's offline checks, so the CLI starts fast. Adding a provider means: its sections in
`config/provider_rules.py`, a package here with a Provider subclass, and one REGISTRY entry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heliohub.config import LoadedConfig
from heliohub.errors import UserError

if TYPE_CHECKING:
    # For the types only: `validate` needs no provider contract (nor its pydantic models).
    from heliohub.providers.base import Provider, Reporter


def _no_offline_checks(loaded: LoadedConfig, insecure: bool) -> list[str]:
    return []


@dataclass(frozen=True)
class ProviderEntry:
    """How to make a provider, and the checks `validate` runs without making one."""

    create: Callable[[LoadedConfig, Reporter], Provider]
    offline_problems: Callable[[LoadedConfig, bool], list[str]] = _no_offline_checks


def _local(loaded: LoadedConfig, reporter: Reporter) -> Provider:
    from heliohub.providers.local import LocalProvider

    return LocalProvider(loaded, reporter)


def _local_offline(loaded: LoadedConfig, insecure: bool) -> list[str]:
    from heliohub.providers.local.offline_checks import offline_problems

    # The same checks LocalProvider.offline_problems makes, without importing the provider.
    return offline_problems(loaded, os.geteuid(), insecure)


def _kubernetes(loaded: LoadedConfig, reporter: Reporter) -> Provider:
    from heliohub.providers.kubernetes import KubernetesProvider

    return KubernetesProvider(loaded, reporter)


def _aws(loaded: LoadedConfig, reporter: Reporter) -> Provider:
    from heliohub.providers.aws import AWSProvider

    return AWSProvider(loaded, reporter)


REGISTRY: dict[str, ProviderEntry] = {
    "local": ProviderEntry(_local, _local_offline),
    "kubernetes": ProviderEntry(_kubernetes),
    "aws": ProviderEntry(_aws),
}


def _entry(loaded: LoadedConfig) -> ProviderEntry:
    kind = loaded.config.provider
    entry = REGISTRY.get(kind)
    if entry is None:
        # The config model allows only registered names; a config built around it lands here.
        raise UserError(f"provider: {kind!r} is unknown; allowed: {', '.join(REGISTRY)}")
    return entry


def get_provider(loaded: LoadedConfig, reporter: Reporter) -> Provider:
    return _entry(loaded).create(loaded, reporter)


def offline_problems(loaded: LoadedConfig, insecure: bool) -> list[str]:
    """What `up` would refuse that can be known without starting anything or asking a cloud."""
    return _entry(loaded).offline_problems(loaded, insecure)
