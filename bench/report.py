"""docs/BENCHMARKS.md from the saved results of `make bench` and `make load`. Pure text."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bench.results import BenchRun, Figure, LoadRun, provenance
from bench.stats import Summary, ratio, summarize

# Above this ratio a figure needs a fix or an explanation (issue 6).
RATIO_LIMIT = 1.2


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    return f"{value:g} {unit}"


def _cells(summary: Summary | None, unit: str) -> list[str]:
    if summary is None:
        return ["-"] * 4
    return [
        fmt(summary.median, unit),
        fmt(summary.p95, unit),
        fmt(summary.min, unit),
        fmt(summary.max, unit),
    ]


def fmt_ratio(fig: Figure) -> str:
    r = ratio(fig.ours, fig.floor)
    if r is None:
        return "-"
    mark = " ⚠" if r > RATIO_LIMIT else ""
    return f"{r:.2f}x{mark}"


def _table(rows: Iterable[list[str]], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def figures_table(run: BenchRun) -> str:
    rows = []
    for f in run.figures:
        ours, floor = summarize(f.ours), summarize(f.floor)
        n = f"{ours.n if ours else 0} / {floor.n if floor else 0}"
        rows.append([f.title, n, *_cells(ours, f.unit), *_cells(floor, f.unit), fmt_ratio(f)])
    header = [
        "figure",
        "n (heliohub / floor)",
        "median",
        "p95",
        "min",
        "max",
        "floor median",
        "floor p95",
        "floor min",
        "floor max",
        "ratio",
    ]
    return _table(rows, header)


def _machine(machine: dict, versions: dict) -> str:
    lines = [
        f"- CPU: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores",
        f"- memory: {machine.get('memory_gib', '?')} GiB",
        f"- OS: {machine.get('os', '?')}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
    ]
    return "\n".join(lines)


def _details(run: BenchRun) -> str:
    if not run.details:
        return ""
    rows = []
    for key, values in sorted(run.details.items()):
        unit = "MiB" if key.startswith("memory.") else "s"
        s = summarize(values)
        rows.append([f"`{key}`", str(len(values)), *_cells(s, unit)])
    return _table(rows, ["measurement", "n", "median", "p95", "min", "max"])


def bench_section(run: BenchRun, plots: dict[str, Path], docs: Path) -> str:
    load = ", ".join(str(x) for x in run.loadavg_before)
    load_after = ", ".join(str(x) for x in run.loadavg_after)
    out = [
        "## Figures (`make bench`)",
        "",
        f"Run {run.started} - {run.finished}; "
        f"{'**quick** (1 repetition)' if run.quick else f'{run.repeat} repetitions'}; "
        f"load average (1, 5, 15 min) before: {load}, after: {load_after}.",
        "",
        _machine(run.machine, run.versions),
        "",
        "Median, p95, min and max over the repetitions (for spawns: over every server). The "
        f"ratio is heliohub's median over the floor's median; ⚠ marks a ratio above "
        f"{RATIO_LIMIT}, each explained or fixed under *Findings*.",
        "",
        figures_table(run),
        "",
    ]
    groups: dict[str, list[Figure]] = {}
    for f in run.figures:
        groups.setdefault(f.group, []).append(f)
    for group, figures in groups.items():
        out.append(f"### {group}")
        out.append("")
        if group in plots:
            out.append(f"![{group}]({plots[group].relative_to(docs).as_posix()})")
            out.append("")
        for f in figures:
            out.append(f"- **{f.title}** — {f.how}. Floor: {f.floor_title}.")
            for err in f.errors[:10]:
                out.append(f"  - failure: {err}")
            if len(f.errors) > 10:
                out.append(f"  - … and {len(f.errors) - 10} more failures")
        out.append("")
    details = _details(run)
    if details:
        out += [
            "### Breakdowns",
            "",
            "Side measurements that explain the figures: `up.stage.*` are the CLI's own stage "
            "timings; `up.hand-run` is the same rendered hub config started by hand with the "
            "same environment, until the hub and the gateway answer (the cost of the services, "
            "without the CLI); `down` is `heliohub down`; `memory.component.*` splits the idle "
            "memory; `spawn.server-answers` is the time until a 1-user spawn's server itself "
            "answers (polled directly, like the floor) and `spawn.hub-share` the rest until it "
            "answers through the proxy; `gateway.*` splits the cluster figure at "
            "`new_cluster()`'s return; `config.in-process.*` is load() and render() in a warm "
            "process and `config.cli.validate-minimal` is `heliohub validate` of a 3-line config.",
            "",
            details,
            "",
        ]
    for note in [*provenance(run), *run.notes]:
        out.append(f"- note: {note}")
    return "\n".join(out).rstrip() + "\n"


def load_section(run: LoadRun, plots: dict[str, Path], docs: Path) -> str:
    failures_by_reason: dict[tuple[str, str], int] = {}
    for f in run.failures:
        key = (f.step, f.reason)
        failures_by_reason[key] = failures_by_reason.get(key, 0) + 1
    rows = []
    for step, values in run.steps.items():
        s = summarize(values)
        attempts = run.attempts.get(step, len(values))
        failed = sum(1 for f in run.failures if f.step == step)
        rows.append([step, str(attempts), str(len(values)), str(failed), *_cells(s, "s")])
    out = [
        "## Load test (`make load`)",
        "",
        f"Run {run.started} - {run.finished} ({run.duration_s:.0f} s); load average before: "
        f"{', '.join(map(str, run.loadavg_before))}, after: "
        f"{', '.join(map(str, run.loadavg_after))}.",
        "",
        _machine(run.machine, run.versions),
        "",
        f"{run.users} users; each logs in with the shared password, starts its server, creates "
        f"a token and calls the hub API and its own server with it; "
        f"{run.gateway_fraction:.0%} also start a 1-worker gateway cluster and check a computed "
        "value; once every user is through, everyone stops their server. The client runs at "
        f"most **{run.concurrency} journeys at once**, stops starting users after "
        f"{run.deadline_s:.0f} s, and starts none while less than {run.memory_reserve_mib:.0f} "
        "MiB would be left available.",
        "",
        f"- users through every step: **{run.completed_users} of {run.users}**",
        f"- servers running at the peak: {run.peak_servers}",
    ]
    for reason, count in run.not_started.items():
        out.append(f"- not started: {count} ({reason})")
    if run.peak:
        out.append(
            "- at the peak: "
            + ", ".join(
                f"{k} {v:.0f} MiB" if "mib" in k else f"{k} {v:g}" for k, v in run.peak.items()
            )
        )
    out += [
        "",
        _table(rows, ["step", "attempts", "ok", "failed", "median", "p95", "min", "max"]),
        "",
    ]
    if failures_by_reason:
        out += ["Failures by reason:", ""]
        fail_rows = [[step, reason, str(n)] for (step, reason), n in failures_by_reason.items()]
        out += [_table(fail_rows, ["step", "reason", "users"]), ""]
    else:
        out += ["No step failed.", ""]
    if run.hub_settings:
        out += ["Hub settings that govern how many servers this machine holds:", ""]
        out += [f"- `{k}`: {v}" for k, v in run.hub_settings.items()]
        out.append("")
    if run.hub_log_errors:
        out += [f"Error lines in the hub's log during the run ({len(run.hub_log_errors)}):", ""]
        out += ["```", *run.hub_log_errors[:15], "```", ""]
    for key in ("load-steps", "load-timeline"):
        if key in plots:
            out += [f"![{key}]({plots[key].relative_to(docs).as_posix()})", ""]
    for note in run.notes:
        out.append(f"- note: {note}")
    return "\n".join(out).rstrip() + "\n"


HEADER = """\
# Benchmarks

How fast heliohub's local provider gets people to work, and how many it serves on one machine,
each figure measured next to its *floor*: the same work done by the bare components started by
hand, in the same run. Regenerate with `make bench` (figures, well under 30 minutes on 2 cores;
`python -m bench --quick` for one repetition) and `make load` (the load test). Both write this
file from `docs/bench/*.json`; nothing here is typed by hand except *Findings*, which comes from
`bench/findings.md`.
"""


def render_report(
    bench: BenchRun | None,
    load: LoadRun | None,
    findings: str,
    bench_plots: dict[str, Path],
    load_plots: dict[str, Path],
    docs: Path,
) -> str:
    parts = [HEADER]
    if bench:
        parts.append(bench_section(bench, bench_plots, docs))
    else:
        parts.append("## Figures (`make bench`)\n\nNot run yet.\n")
    if findings.strip():
        parts.append(findings.strip() + "\n")
    if load:
        parts.append(load_section(load, load_plots, docs))
    else:
        parts.append("## Load test (`make load`)\n\nNot run yet.\n")
    return "\n".join(parts)
