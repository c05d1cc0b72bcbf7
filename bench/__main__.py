"""`python -m bench` (the figures), `python -m bench load` (the load test), `... report`."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
DATA = DOCS / "bench"
FINDINGS = Path(__file__).resolve().parent / "findings.md"
GROUPS = ("up", "spawn", "gateway", "config", "startup")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _proxy(cache: Path) -> Path:
    """configurable-http-proxy installed once, exactly as the provider installs it."""
    from heliohub.providers.base import SilentReporter
    from heliohub.providers.local.proxy_install import ensure_proxy

    ensure_proxy(cache, SilentReporter(), dict(os.environ))
    return cache


def _wait_quiet(limit_s: float, threshold: float = 0.5) -> None:
    """Other work on the machine disturbs timings: wait (up to limit_s) for a quiet minute."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and os.getloadavg()[0] > threshold:
        time.sleep(10)


def write_report() -> Path:
    from bench import plots, report, results

    bench_run = results.load_bench(DATA / results.BENCH_FILE)
    load_run = results.load_load(DATA / results.LOAD_FILE)
    bench_plots = plots.plot_bench(bench_run, DATA) if bench_run else {}
    load_plots = plots.plot_load(load_run, DATA) if load_run else {}
    findings = FINDINGS.read_text() if FINDINGS.exists() else ""
    text = report.render_report(bench_run, load_run, findings, bench_plots, load_plots, DOCS)
    out = DOCS / "BENCHMARKS.md"
    out.write_text(text)
    return out


def _workdir(arg: str | None) -> tuple[Path, bool]:
    if arg:
        path = Path(arg).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path, False
    return Path(tempfile.mkdtemp(prefix="heliohub-bench-")), True


def cmd_bench(args: argparse.Namespace) -> int:
    from bench import machine, measure, results

    groups = tuple(args.only.split(",")) if args.only else GROUPS
    unknown = set(groups) - set(GROUPS)
    if unknown:
        print(f"--only: unknown group(s) {', '.join(sorted(unknown))}; allowed: {GROUPS}")
        return 2
    plan = measure.Plan.quick(groups) if args.quick else measure.Plan(groups=groups)
    if args.repeat:
        plan.repeat = args.repeat
        plan.spawn_rounds[1] = args.repeat
    if args.spawn_sizes:
        plan.spawn_sizes = tuple(int(x) for x in args.spawn_sizes.split(","))
    _wait_quiet(args.wait_quiet)
    workdir, temporary = _workdir(args.workdir)
    proxy = _proxy(Path(args.proxy_cache).expanduser())
    run = results.BenchRun(
        started=_now(),
        quick=args.quick,
        repeat=plan.repeat,
        machine=machine.describe(),
        versions=machine.versions(proxy / "node_modules" / ".bin" / "configurable-http-proxy"),
        loadavg_before=machine.loadavg(),
    )

    if args.only:
        results.keep_unmeasured(results.load_bench(DATA / results.BENCH_FILE), run, groups)

    def save() -> None:
        run.finished = _now()
        run.loadavg_after = machine.loadavg()
        results.save(run, DATA / results.BENCH_FILE)
        write_report()

    try:
        measure.run_bench(workdir, proxy, plan, run, on_step=save)
    finally:
        save()
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {DOCS / 'BENCHMARKS.md'}")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from bench import load

    _wait_quiet(args.wait_quiet)
    workdir, temporary = _workdir(args.workdir)
    proxy = _proxy(Path(args.proxy_cache).expanduser())
    settings = load.Settings(
        users=args.users,
        gateway_fraction=args.gateway_fraction,
        concurrency=args.concurrency,
        deadline_s=args.deadline,
        memory_reserve_mib=args.memory_reserve_mib,
    )
    try:
        run = load.run_load(workdir, proxy, settings, started=_now())
        run.finished = _now()
        from bench import results

        results.save(run, DATA / results.LOAD_FILE)
        write_report()
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {DOCS / 'BENCHMARKS.md'}: {run.completed_users}/{run.users} users through")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Started in the background of a script, SIGINT arrives ignored, and every process started
    # from here would inherit that: restore Ctrl-C (children then get the default on exec).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("bench", "load", "report"):
        argv.insert(0, "bench")  # the figures are the default command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", help="where deployments run (default: a new temp dir)")
    common.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    common.add_argument(
        "--proxy-cache",
        default="~/.cache/heliohub-bench/proxy",
        help="configurable-http-proxy is installed here once and reused by every deployment",
    )
    common.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        help="first wait up to this many seconds for a 1-minute load average below 0.5",
    )
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", parents=[common], help="the figures (default)")
    bench.add_argument("--quick", action="store_true", help="one repetition of everything")
    bench.add_argument("--repeat", type=int, default=0, help="repetitions (default 5)")
    bench.add_argument("--only", help=f"comma-separated groups of {', '.join(GROUPS)}")
    bench.add_argument("--spawn-sizes", help="users spawning at once (default 1,10,50)")
    load_p = sub.add_parser("load", parents=[common], help="the load test")
    load_p.add_argument("--users", type=int, default=100)
    load_p.add_argument("--gateway-fraction", type=float, default=0.1)
    load_p.add_argument("--concurrency", type=int, default=10, help="journeys at once")
    load_p.add_argument("--deadline", type=float, default=1200, help="no new users after (s)")
    load_p.add_argument(
        "--memory-reserve-mib",
        type=float,
        default=2048,
        help="start no user while less than this would stay available",
    )
    sub.add_parser("report", help="rewrite docs/BENCHMARKS.md from docs/bench/*.json")
    args = parser.parse_args(argv)
    if args.command == "load":
        return cmd_load(args)
    if args.command == "report":
        print(f"wrote {write_report()}")
        return 0
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
