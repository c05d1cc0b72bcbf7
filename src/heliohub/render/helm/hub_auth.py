"""The hub spec's login (`hubspec.login`) as jupyterhub chart values.

Plain traits go to `hub.config`. A trait whose value is a secret (EnvValue) is named in
`custom.heliohub.traits_from_env`, and `hub.extraConfig` (heliohub.inhub's chart_hub_config.py,
the same text for every deployment) reads it from the hub's environment, which gets it from the
Kubernetes Secret the provider creates from the config's secret references.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from heliohub.hubspec.login import AuthSettings
from heliohub.render.helm.wiring import AUTH_SECRET


@dataclass(frozen=True)
class HubAuth:
    config: dict[str, dict[str, Any]]
    # the chart's custom.heliohub, read by the constant hub.extraConfig
    custom: dict[str, Any]
    extra_env: dict[str, Any]
    # environment variable names the auth Secret must hold, sorted
    secret_keys: list[str]
    # hub.extraFiles: heliohub modules the hub image lacks
    extra_files: dict[str, Any] = field(default_factory=dict)


# The hub image has no heliohub; an authenticator class of ours is mounted into it from here.
HUB_LIB = "/usr/local/etc/heliohub"


def extra_config() -> str:
    """hub.extraConfig: constant, the values are in custom.heliohub."""
    return resources.files("heliohub.inhub").joinpath("chart_hub_config.py").read_text()


def _hub_modules(settings: AuthSettings) -> dict[str, Any]:
    """hub.extraFiles: heliohub modules the login uses, with their packages."""
    modules = sorted(
        {
            str(value).rsplit(".", 1)[0]
            for traits in settings.traitlets.values()
            for trait, value in traits.items()
            if trait == "authenticator_class"
            and isinstance(value, str)
            and value.startswith("heliohub.")
        }
    )
    if not modules:
        return {}
    files: dict[str, Any] = {
        "heliohub-init": {
            "mountPath": f"{HUB_LIB}/heliohub/__init__.py",
            "stringData": "# heliohub modules mounted into the hub pod\n",
        }
    }
    packages = sorted({m.rsplit(".", 1)[0] for m in modules} - {"heliohub"})
    for package in packages:
        name = package.split(".", 1)[1]
        source = resources.files(package).joinpath("__init__.py").read_text()
        files[f"heliohub-{name.replace('.', '-')}-init"] = {
            "mountPath": f"{HUB_LIB}/heliohub/{name.replace('.', '/')}/__init__.py",
            "stringData": source,
        }
    for module in modules:
        name = module.split(".", 1)[1]
        # Package data of heliohub itself: the same bytes for the same version.
        source = resources.files("heliohub").joinpath(f"{name.replace('.', '/')}.py").read_text()
        files[f"heliohub-{name.replace('.', '-')}"] = {
            "mountPath": f"{HUB_LIB}/heliohub/{name.replace('.', '/')}.py",
            "stringData": source,
        }
    return files


def hub_auth(settings: AuthSettings) -> HubAuth:
    config, from_env = settings.split()
    keys = sorted(set(from_env.values()) | set(settings.secrets))
    extra_files = _hub_modules(settings)
    custom: dict[str, Any] = {"traits_from_env": from_env}
    if extra_files:
        custom["lib"] = HUB_LIB
    extra_env = {
        name: {"valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": name}}} for name in keys
    }
    return HubAuth(
        config=config,
        custom=custom,
        extra_env=extra_env,
        secret_keys=keys,
        extra_files=extra_files,
    )
