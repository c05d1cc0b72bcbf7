"""One PNG per group of figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.results import BenchRun, Figure, LoadRun

OURS = "#1f77b4"
FLOOR = "#aaaaaa"
GROUP_TITLES = {
    "up": "Start: `heliohub up --detach` vs a bare jupyterhub",
    "spawn": "Spawn latency per server vs bare jupyterhub-singleuser",
    "gateway": "Gateway cluster with 2 workers vs dask scheduler + 2 workers",
    "memory": "Idle memory (PSS)",
    "config": "validate / render of the largest config",
    "recover": "Supervision: up vs hub, proxy and gateway by hand; kill -9 until healthy",
}


def plot_group(group: str, figures: list[Figure], out: Path) -> Path | None:
    figures = [f for f in figures if f.ours or f.floor]
    if not figures:
        return None
    data, labels, colours = [], [], []
    for f in figures:
        for values, who, colour in ((f.floor, "floor", FLOOR), (f.ours, "heliohub", OURS)):
            data.append(values or [float("nan")])
            labels.append(f"{f.key} ({who})")
            colours.append(colour)
    height = 1.2 + 0.55 * len(data)
    fig, ax = plt.subplots(figsize=(9, height))
    parts = ax.boxplot(data, vert=False, patch_artist=True, widths=0.6, showfliers=False)
    for patch, colour in zip(parts["boxes"], colours, strict=True):
        patch.set_facecolor(colour)
        patch.set_alpha(0.6)
    for i, values in enumerate(data, start=1):
        ax.scatter(values, [i] * len(values), s=10, color="black", alpha=0.6, zorder=3)
    ax.set_yticks(range(1, len(data) + 1), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(figures[0].unit)
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(GROUP_TITLES.get(group, group), fontsize=10)
    fig.tight_layout()
    path = out / f"{group}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_bench(run: BenchRun, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    groups: dict[str, list[Figure]] = {}
    for f in run.figures:
        groups.setdefault(f.group, []).append(f)
    made = {}
    for group, figures in groups.items():
        path = plot_group(group, figures, out)
        if path:
            made[group] = path
    return made


def plot_load(run: LoadRun, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    steps = [(name, values) for name, values in run.steps.items() if values]
    if steps:
        fig, ax = plt.subplots(figsize=(9, 1.2 + 0.45 * len(steps)))
        ax.boxplot([v for _, v in steps], vert=False, showfliers=True, widths=0.6)
        ax.set_yticks(range(1, len(steps) + 1), [n for n, _ in steps], fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("s (log scale)")
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(f"Load test: latency per step, {run.users} users", fontsize=10)
        fig.tight_layout()
        made["load-steps"] = out / "load-steps.png"
        fig.savefig(made["load-steps"], dpi=110)
        plt.close(fig)
    if run.timeline:
        t = [p[0] for p in run.timeline]
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ax.plot(t, [p[1] for p in run.timeline], color=OURS, label="servers running")
        ax.set_xlabel("s since start")
        ax.set_ylabel("servers running", color=OURS)
        ax2 = ax.twinx()
        ax2.plot(t, [p[2] / 1024 for p in run.timeline], color="#d62728", label="available")
        ax2.plot(t, [p[3] / 1024 for p in run.timeline], color="#2ca02c", label="deployment PSS")
        ax2.set_ylabel("GiB: available (red), deployment PSS (green)")
        ax2.set_ylim(bottom=0)
        ax.set_title("Load test: servers and memory over time", fontsize=10)
        fig.tight_layout()
        made["load-timeline"] = out / "load-timeline.png"
        fig.savefig(made["load-timeline"], dpi=110)
        plt.close(fig)
    return made
