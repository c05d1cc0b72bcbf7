"""The login settings from `render.auth` as jupyterhub chart values.

Plain traits go to `hub.config`. A trait whose value is a secret (EnvValue) is read from the hub's
environment by a `hub.extraConfig` snippet, and the environment variable comes from the
Kubernetes Secret the provider creates from the config's secret references.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from heliohub.render.auth import AuthSettings, EnvValue
from heliohub.render.helm.wiring import AUTH_SECRET


@dataclass(frozen=True)
class HubAuth:
    config: dict[str, dict[str, Any]]
    extra_config: str
    extra_env: dict[str, Any]
    # environment variable names the auth Secret must hold, sorted
    secret_keys: list[str]
    # hub.extraFiles: heliohub modules the hub image lacks
    extra_files: dict[str, Any] = field(default_factory=dict)


def _check_no_nested(value: Any, where: str) -> None:
    if isinstance(value, EnvValue):
        raise ValueError(f"{where}: EnvValue is only supported as a whole trait value")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_no_nested(v, f"{where}.{k}")
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_no_nested(v, f"{where}[{i}]")


# The hub image has no heliohub; an authenticator class of ours is mounted into it from here.
HUB_LIB = "/usr/local/etc/heliohub"


def _hub_modules(settings: AuthSettings) -> tuple[dict[str, Any], str]:
    """(hub.extraFiles, code putting them on sys.path) for heliohub modules the login uses."""
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
        return {}, ""
    files: dict[str, Any] = {
        "heliohub-init": {
            "mountPath": f"{HUB_LIB}/heliohub/__init__.py",
            "stringData": "# heliohub modules mounted into the hub pod\n",
        }
    }
    for module in modules:
        name = module.split(".", 1)[1]
        # Package data of heliohub itself: the same bytes for the same version.
        source = resources.files("heliohub").joinpath(f"{name.replace('.', '/')}.py").read_text()
        files[f"heliohub-{name.replace('.', '-')}"] = {
            "mountPath": f"{HUB_LIB}/heliohub/{name.replace('.', '/')}.py",
            "stringData": source,
        }
    code = f"import sys\nsys.path.insert(0, {json.dumps(HUB_LIB)})\n"
    return files, code


def hub_auth(settings: AuthSettings) -> HubAuth:
    config: dict[str, dict[str, Any]] = {}
    from_env: list[tuple[str, str, str]] = []
    for cls, traits in settings.traitlets.items():
        for trait, value in traits.items():
            if isinstance(value, EnvValue):
                from_env.append((cls, trait, value.name))
                continue
            _check_no_nested(value, f"{cls}.{trait}")
            config.setdefault(cls, {})[trait] = value
    keys = sorted({name for _, _, name in from_env} | set(settings.secrets))
    lines = ["# heliohub: secret traits, from the auth Secret via the environment", "import os"]
    for cls, trait, name in sorted(from_env):
        lines.append(f"c.{cls}.{trait} = os.environ[{json.dumps(name)}]")
    extra_config = "\n".join(lines) + "\n" if from_env else ""
    extra_files, path_code = _hub_modules(settings)
    extra_config = path_code + extra_config
    extra_env = {
        name: {"valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": name}}} for name in keys
    }
    return HubAuth(
        config=config,
        extra_config=extra_config,
        extra_env=extra_env,
        secret_keys=keys,
        extra_files=extra_files,
    )
