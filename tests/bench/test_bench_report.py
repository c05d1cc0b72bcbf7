"""The harness's pure parts: statistics, results on disk, and the report's text.

No timing is asserted anywhere: the figures themselves live in docs/BENCHMARKS.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report, results, stats


def test_percentiles_interpolate_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert stats.percentile(values, 50) == 3.0
    assert stats.percentile(values, 95) == pytest.approx(4.8)
    assert stats.percentile([7.0], 95) == 7.0


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        stats.percentile([1.0], 101)


def test_summary_and_ratio() -> None:
    s = stats.summarize([2.0, 4.0, 6.0])
    assert s == stats.Summary(n=3, median=4.0, p95=pytest.approx(5.8), min=2.0, max=6.0)
    assert stats.summarize([]) is None
    assert stats.ratio([3.0, 3.0], [2.0]) == 1.5
    assert stats.ratio([3.0], []) is None


def _run() -> results.BenchRun:
    run = results.BenchRun(started="2026-01-01 00:00 UTC", repeat=2)
    run.figures.append(
        results.Figure(
            key="up",
            group="up",
            title="up until healthy",
            unit="s",
            ours=[3.0, 3.0],
            floor=[2.0, 2.0],
            floor_title="bare hub",
            how="wall time",
            errors=["round 2: boom"],
        )
    )
    run.figures.append(
        results.Figure(key="mem", group="memory", title="memory", unit="MiB", ours=[100.0])
    )
    run.details["down"] = [1.25]
    return run


def test_results_round_trip(tmp_path: Path) -> None:
    run = _run()
    results.save(run, tmp_path / "bench.json")
    again = results.load_bench(tmp_path / "bench.json")
    assert again == run
    load = results.LoadRun(started="x", users=3, timeline=[(0.0, 1, 2.0, 3.0)])
    load.failures.append(results.Failure(user="u", step="start server", reason="HTTP 500"))
    results.save(load, tmp_path / "load.json")
    assert results.load_load(tmp_path / "load.json") == load
    assert results.load_bench(tmp_path / "missing.json") is None


def test_report_shows_figures_ratios_and_failures(tmp_path: Path) -> None:
    plots = {"up": tmp_path / "bench" / "up.png"}
    text = report.render_report(_run(), None, "## Findings\n\nwhy.", plots, {}, tmp_path)
    row = next(line for line in text.splitlines() if line.startswith("| up until healthy"))
    assert "| 2 / 2 |" in row
    assert "3.00 s" in row and "2.00 s" in row
    assert row.endswith("1.50x ⚠ |")
    # a figure without a floor has no ratio
    mem = next(line for line in text.splitlines() if line.startswith("| memory"))
    assert mem.endswith("| - |") and "100 MiB" in mem
    assert "![up](bench/up.png)" in text
    assert "failure: round 2: boom" in text
    assert "## Findings" in text and "Not run yet" in text  # no load test yet


def test_units_are_formatted_for_reading() -> None:
    assert report.fmt(0.0421, "s") == "42 ms"
    assert report.fmt(12.345, "s") == "12.35 s"
    assert report.fmt(135.4, "MiB") == "135 MiB"
    assert report.fmt(None, "s") == "-"


def test_load_section_groups_failures_by_reason(tmp_path: Path) -> None:
    run = results.LoadRun(started="a", finished="b", users=2, concurrency=1)
    run.steps = {"log in": [0.1, 0.2], "start server": [5.0]}
    run.attempts = {"log in": 2, "start server": 2}
    run.failures = [results.Failure(user="load-001", step="start server", reason="HTTP 500 x")]
    run.completed_users = 1
    text = report.load_section(run, {}, tmp_path)
    assert "**1 of 2**" in text
    assert "| start server | 2 | 1 | 1 |" in text
    assert "| start server | HTTP 500 x | 1 |" in text


def test_a_partial_run_keeps_the_other_groups_of_the_previous_run() -> None:
    previous = _run()
    previous.details["memory.gateway.scheduler"] = [80.0]
    run = results.BenchRun(started="2026-02-01 00:00 UTC", repeat=1)
    run.figures.append(
        results.Figure(key="startup-help", group="startup", title="help", unit="s", ours=[0.2])
    )
    run.details["up.hand-run"] = [9.0]
    previous.details["startup.cpu.help"] = [0.5]  # measured again now: not carried over
    previous.notes = ["memory: measured while a build ran", "this run measured memory only"]
    previous.machine = {"cpu": "Old CPU", "cores": 4}
    previous.loadavg_before = [0.5, 0.4, 0.3]
    run.machine = {"cpu": "New CPU", "cores": 2}
    results.keep_unmeasured(previous, run, ("startup", "up"))
    assert [f.key for f in run.figures] == ["mem", "startup-help"]
    assert run.details == {
        "up.hand-run": [9.0],
        "down": [1.25],
        "memory.gateway.scheduler": [80.0],
    }
    assert run.notes == ["memory: measured while a build ran"]
    assert results.provenance(run) == [
        "the figures of memory are from the run of 2026-01-01 00:00 UTC on another machine "
        "(Old CPU, 4 cores), load average [0.5, 0.4, 0.3] before it"
    ]


def test_figures_keep_the_run_that_measured_them_through_partial_runs() -> None:
    """Two partial runs in a row: a figure kept twice still names the first run, not the one
    in between; a group split between runs names its figures; this run's figures name none."""
    first = _run()
    first.machine = {"cpu": "Old CPU", "cores": 4}
    first.figures.append(
        results.Figure(key="worker-mem", group="memory", title="worker", unit="MiB", ours=[1.0])
    )
    second = results.BenchRun(started="2026-02-01 00:00 UTC", machine={"cpu": "New CPU"})
    second.figures.append(results.Figure(key="up", group="up", title="up", unit="s", ours=[1]))
    results.keep_unmeasured(first, second, ("up",))
    third = results.BenchRun(started="2026-03-01 00:00 UTC", machine={"cpu": "New CPU"})
    third.figures.append(results.Figure(key="mem", group="memory", title="m", unit="MiB"))
    kept = [f for f in second.figures if f.key != "mem"]
    results.keep_unmeasured(
        results.BenchRun(started=second.started, machine=second.machine, figures=kept),
        third,
        ("startup",),
    )
    assert results.provenance(third) == [
        "the figures of memory (worker-mem) are from the run of 2026-01-01 00:00 UTC on another "
        "machine (Old CPU, 4 cores), load average [] before it",
        "the figures of up are from the run of 2026-02-01 00:00 UTC, load average [] before it",
    ]
    text = report.bench_section(third, {}, Path("docs"))
    assert "- note: the figures of up are from the run of 2026-02-01 00:00 UTC" in text


def test_a_partial_run_without_a_previous_one_is_left_alone() -> None:
    run = results.BenchRun(started="2026-02-01 00:00 UTC")
    results.keep_unmeasured(None, run, ("startup",))
    assert run.figures == [] and run.notes == []
