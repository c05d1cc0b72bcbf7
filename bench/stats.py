"""Summary statistics of repeated measurements. Pure: no clock, no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    min: float
    max: float


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float]) -> Summary | None:
    """Median, p95, min and max; None when nothing was measured."""
    if not values:
        return None
    return Summary(
        n=len(values),
        median=percentile(values, 50),
        p95=percentile(values, 95),
        min=min(values),
        max=max(values),
    )


def ratio(ours: Sequence[float], floor: Sequence[float]) -> float | None:
    """Median over median: how many times the floor heliohub takes."""
    a, b = summarize(ours), summarize(floor)
    if a is None or b is None or b.median <= 0:
        return None
    return a.median / b.median
