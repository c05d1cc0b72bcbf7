"""The Kubernetes minor versions heliohub runs on EKS: the EKS release calendar, and what is
pinned per minor (the cluster-autoscaler image, which must match the control plane's minor).

No dependencies, so config, render and the providers can all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The dates below are the EKS Kubernetes release calendar as published on this day; AWS may
# move them. `heliohub status` says which day the table is from.
CALENDAR_AS_OF = date(2026, 4, 24)


@dataclass(frozen=True)
class EksRelease:
    minor: str
    released: date
    end_of_standard_support: date
    end_of_extended_support: date


CALENDAR: dict[str, EksRelease] = {
    r.minor: r
    for r in (
        EksRelease("1.29", date(2024, 1, 23), date(2025, 3, 23), date(2026, 3, 23)),
        EksRelease("1.30", date(2024, 5, 23), date(2025, 7, 23), date(2026, 7, 23)),
        EksRelease("1.31", date(2024, 9, 26), date(2025, 11, 26), date(2026, 11, 26)),
        EksRelease("1.32", date(2025, 1, 23), date(2026, 3, 23), date(2027, 3, 23)),
        EksRelease("1.33", date(2025, 5, 29), date(2026, 7, 29), date(2027, 7, 29)),
        EksRelease("1.34", date(2025, 10, 2), date(2026, 12, 2), date(2027, 12, 2)),
        EksRelease("1.35", date(2026, 1, 27), date(2027, 3, 27), date(2028, 3, 27)),
    )
}

# The cluster-autoscaler image of each minor: the newest patch release of that line, from the
# kubernetes/autoscaler repository's tags. The keys are the minors heliohub supports.
AUTOSCALER_IMAGE_TAGS: dict[str, str] = {
    "1.30": "v1.30.7",
    "1.31": "v1.31.5",
    "1.32": "v1.32.7",
    "1.33": "v1.33.6",
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
    "1.36": "v1.36.1",
}
SUPPORTED: tuple[str, ...] = tuple(AUTOSCALER_IMAGE_TAGS)


def minor_number(version: str) -> int:
    """'1.34' -> 34. Kubernetes 1.x is the only major line EKS offers."""
    major, _, minor = version.partition(".")
    if major != "1" or not minor.isdigit():
        raise ValueError(f"not a Kubernetes minor version: {version!r}")
    return int(minor)


def minor_name(number: int) -> str:
    return f"1.{number}"


def minors_between(current: str, target: str) -> list[str]:
    """The minors after `current` up to and including `target`: 1.32 -> 1.34 is [1.33, 1.34]."""
    return [minor_name(n) for n in range(minor_number(current) + 1, minor_number(target) + 1)]


def support_line(minor: str, policy: str, today: date) -> str:
    """One line for `status`: where `minor` stands in the EKS calendar on `today`."""
    release = CALENDAR.get(minor)
    source = f"EKS release calendar as of {CALENDAR_AS_OF.isoformat()}"
    if release is None:
        return f"Kubernetes {minor}: not in heliohub's {source}; see the EKS documentation"
    std, ext = release.end_of_standard_support, release.end_of_extended_support
    if today <= std:
        state = f"standard support until {std.isoformat()}"
    elif today <= ext:
        state = (
            f"standard support ended {std.isoformat()}; extended support until {ext.isoformat()}"
        )
    else:
        state = f"extended support ended {ext.isoformat()}; EKS upgrades it on its own"
    if policy == "standard" and std < today <= ext:
        state += " (support_policy standard: EKS upgrades the control plane on its own)"
    elif policy == "standard" and today <= std:
        state += f" (support_policy standard: EKS upgrades it on its own after {std.isoformat()})"
    return f"Kubernetes {minor}: {state} ({source})"
