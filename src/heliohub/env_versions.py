"""Which Dask and Dask Gateway versions work together, on every provider.

A notebook, its cluster's workers and the gateway fit when:
- the notebook and the workers run the same dask and distributed (distributed refuses or
  misbehaves across releases, and pickled tasks need the same code on both sides);
- dask-gateway, in the notebook and on the workers, is the gateway's release (year.month):
  the scheduler runs dask-gateway's plugin against the gateway's API.
"""

from __future__ import annotations

import re

# The packages whose versions are compared and reported.
DASK_PACKAGES = ("dask", "distributed", "dask-gateway")


def release(version: str) -> tuple[int, ...]:
    """The first two numbers of a version: 2026.3.0 -> (2026, 3)."""
    return tuple(int(p) for p in re.findall(r"\d+", version)[:2])


def same_release(a: str, b: str) -> bool:
    return release(a) == release(b)


def mismatches(
    notebook: dict[str, str | None], workers: dict[str, str | None], gateway: str | None
) -> list[str]:
    """One line per way the notebook, workers and gateway do not fit; empty when they do."""
    out = []
    for name in ("dask", "distributed"):
        if notebook.get(name) != workers.get(name):
            out.append(
                f"{name}: {notebook.get(name) or 'missing'} in the notebook but "
                f"{workers.get(name) or 'missing'} on the workers"
            )
    if gateway:
        for where, versions in (("notebook", notebook), ("workers", workers)):
            client = versions.get("dask-gateway")
            if not client or not same_release(client, gateway):
                out.append(
                    f"dask-gateway: {client or 'missing'} in the {where}, but the gateway runs "
                    f"{gateway}; install dask-gateway=={gateway} there"
                )
    return out


def describe(versions: dict[str, str | None]) -> str:
    parts = [f"{n} {versions.get(n) or 'missing'}" for n in DASK_PACKAGES]
    if versions.get("python"):
        parts.append(f"Python {versions['python']}")
    return ", ".join(parts)
