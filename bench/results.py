"""What a run measured, saved as JSON next to the report so either command can rebuild it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_FILE = "bench.json"
LOAD_FILE = "load.json"


@dataclass
class Figure:
    """One figure and its floor, both measured in the same run."""

    key: str
    group: str  # figures of one group share a plot
    title: str
    unit: str  # "s" or "MiB"
    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    floor_title: str = ""
    how: str = ""
    errors: list[str] = field(default_factory=list)
    # Where a figure kept from an earlier run (`--only`, `bench.recover`) was measured; "" when
    # the run it is saved with measured it.
    origin: str = ""


@dataclass
class BenchRun:
    started: str
    finished: str = ""
    quick: bool = False
    repeat: int = 0
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    loadavg_before: list[float] = field(default_factory=list)
    loadavg_after: list[float] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    # Side measurements that explain a figure (e.g. a breakdown of `up`), key -> samples.
    details: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


@dataclass
class Failure:
    user: str
    step: str
    reason: str


@dataclass
class LoadRun:
    started: str
    finished: str = ""
    users: int = 0
    gateway_fraction: float = 0.0
    concurrency: int = 0
    deadline_s: float = 0.0
    memory_reserve_mib: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    hub_settings: dict[str, Any] = field(default_factory=dict)
    loadavg_before: list[float] = field(default_factory=list)
    loadavg_after: list[float] = field(default_factory=list)
    # step -> latencies (s) of the users for whom it succeeded
    steps: dict[str, list[float]] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    completed_users: int = 0
    not_started: dict[str, int] = field(default_factory=dict)  # reason -> users
    peak_servers: int = 0
    peak: dict[str, float] = field(default_factory=dict)  # memory figures at the peak
    # (seconds since start, running servers, available MiB, PSS MiB of the deployment)
    timeline: list[tuple[float, int, float, float]] = field(default_factory=list)
    hub_log_errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def save(obj: BenchRun | LoadRun, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(obj), indent=1) + "\n")


def load_bench(path: Path) -> BenchRun | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["figures"] = [Figure(**f) for f in data.get("figures", [])]
    return BenchRun(**data)


def load_load(path: Path) -> LoadRun | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["failures"] = [Failure(**f) for f in data.get("failures", [])]
    data["timeline"] = [tuple(t) for t in data.get("timeline", [])]
    return LoadRun(**data)


def keep_unmeasured(previous: BenchRun | None, run: BenchRun, groups: tuple[str, ...]) -> None:
    """A run of some groups only (`--only`): carry over the previous run's other figures and
    the details this run did not measure, so the report keeps them, each figure with the run
    that measured it (`Figure.origin`, kept through any number of partial runs)."""
    if previous is None:
        return
    kept = [f for f in previous.figures if f.group not in groups]
    if not kept:
        return
    where = ""
    if previous.machine and previous.machine != run.machine:
        m = previous.machine
        where = f" on another machine ({m.get('cpu', '?')}, {m.get('cores', '?')} cores)"
    for f in kept:
        f.origin = f.origin or (
            f"the run of {previous.started}{where}, load average {previous.loadavg_before} "
            "before it"
        )
    run.figures = kept + run.figures
    for key, samples in previous.details.items():
        # A detail of a group measured now comes from this run alone, never a mix of both.
        if key.split(".", 1)[0] not in groups:
            run.details.setdefault(key, list(samples))
    # What the earlier run noted about the figures it keeps (the provenance line of older
    # files is replaced by the figures' origins).
    run.notes += [n for n in previous.notes if not n.startswith("this run measured")]


def provenance(run: BenchRun) -> list[str]:
    """One line per earlier run that figures were kept from: which groups (and, for a group
    split between runs, which figures) it measured."""
    by_origin: dict[str, list[Figure]] = {}
    for f in run.figures:
        if f.origin:
            by_origin.setdefault(f.origin, []).append(f)
    lines = []
    for origin, figures in by_origin.items():
        labels = []
        for group in sorted({f.group for f in figures}):
            mine = [f.key for f in figures if f.group == group]
            whole = len(mine) == len([f for f in run.figures if f.group == group])
            labels.append(group if whole else f"{group} ({', '.join(mine)})")
        lines.append(f"the figures of {', '.join(labels)} are from {origin}")
    return lines
