"""Providers: where a deployment runs. Imported lazily so the CLI starts fast."""

from __future__ import annotations

from heliohub.config import LoadedConfig
from heliohub.providers.base import Provider, Reporter


def get_provider(loaded: LoadedConfig, reporter: Reporter) -> Provider:
    kind = loaded.config.provider
    if kind == "local":
        from heliohub.providers.local import LocalProvider

        return LocalProvider(loaded, reporter)
    if kind == "aws":
        from heliohub.providers.aws import AWSProvider

        return AWSProvider(loaded, reporter)
    from heliohub.providers.kubernetes import KubernetesProvider

    return KubernetesProvider(loaded, reporter)
