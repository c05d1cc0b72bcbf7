"""The charts' extraConfig run as the charts run it, against heliohub's rendered values.

- dask-gateway: the chart execs gateway.extraConfig inside its dask_gateway_config.py, a
  traitlets config file (`c`, `get_config`), in the gateway pod, whose environment holds
  gateway.env.
- jupyterhub: the chart execs hub.extraConfig inside its jupyterhub_config.py, where
  `z2jh.get_config` reads the chart values and the pod's environment holds hub.extraEnv.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Mapping
from typing import Any
from unittest import mock

from traitlets.config import Config


def gateway_config(values: dict[str, Any]) -> Config:
    """The gateway's config after its extraConfig ran, with gateway.env as its environment."""
    gateway = values["gateway"]
    env = {e["name"]: e["value"] for e in gateway.get("env", [])}
    c = Config()
    with mock.patch.dict(os.environ, env):
        for _key, code in sorted(gateway["extraConfig"].items()):
            namespace = {"c": c, "get_config": lambda: c}
            exec(compile(code, "gateway.extraConfig", "exec"), namespace)
    return c


def _z2jh(values: dict[str, Any]) -> types.ModuleType:
    """z2jh's get_config over these values (a dotted path; default when absent)."""

    def get_config(key: str, default: Any = None) -> Any:
        value: Any = values
        for level in key.split("."):
            if not isinstance(value, dict) or level not in value:
                return default
            value = value[level]
        return value

    module = types.ModuleType("z2jh")
    module.get_config = get_config  # type: ignore[attr-defined]
    return module


def hub_config(values: dict[str, Any], environ: Mapping[str, str]) -> Config:
    """The hub's config after hub.config and its extraConfig, with environ as the pod's."""
    c = Config()
    for cls, traits in values["hub"].get("config", {}).items():
        for trait, value in traits.items():
            setattr(c[cls], trait, value)
    saved_path = list(sys.path)
    try:
        with (
            mock.patch.dict(os.environ, dict(environ)),
            mock.patch.dict(sys.modules, {"z2jh": _z2jh(values)}),
        ):
            for _key, code in sorted(values["hub"].get("extraConfig", {}).items()):
                exec(compile(code, "hub.extraConfig", "exec"), {"c": c})
    finally:
        sys.path[:] = saved_path
    return c
