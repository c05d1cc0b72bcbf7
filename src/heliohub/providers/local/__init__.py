"""The local provider: a real DaskHub (JupyterHub, proxy, Dask Gateway) on this machine.

The hub and the gateway import the spawner and backend modules of this package; LocalProvider
is imported lazily so they do not pull in the CLI side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heliohub.providers.local.provider import LocalProvider

__all__ = ["LocalProvider"]


def __getattr__(name: str) -> Any:
    if name == "LocalProvider":
        from heliohub.providers.local.provider import LocalProvider

        return LocalProvider
    raise AttributeError(name)
