"""Commands that act on a deployment: up, down, status, logs, plan, check."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import RichReporter, console, err_console
from heliohub.errors import UserError

if TYPE_CHECKING:
    from heliohub.providers.base import Plan, Provider, Status

# LSB init-script status codes: 1 for a deployment that runs but is degraded, 3 not running.
STATUS_EXIT = {"partial": 1, "stopped": 3, "unknown": 4}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _provider(config: ConfigOption, quiet: bool = False) -> Provider:
    from heliohub.providers import get_provider

    return get_provider(load_config(config), RichReporter(quiet=quiet))


def show_status(status: Status) -> None:
    from rich.table import Table

    colour = {"running": "green", "partial": "yellow"}.get(status.state, "red")
    console.print(f"[bold]{status.name}[/] ({status.provider}): [{colour}]{status.state}[/]")
    if status.url:
        console.print(f"  url: {status.url}")
    if status.components:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("component")
        table.add_column("state")
        table.add_column("detail", overflow="fold")
        for c in status.components:
            table.add_row(c.name, c.state, c.detail)
        console.print(table)
    for note in status.notes:
        console.print(f"  {note}", markup=False)


@handle_errors
def up(
    config: ConfigOption = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Return once healthy.")] = False,
    insecure: Annotated[
        bool, typer.Option(help="Allow a public bind without TLS or real login. Dangerous.")
    ] = False,
    allow_data_loss: Annotated[
        bool, typer.Option(help="Apply changes that replace or delete data resources.")
    ] = False,
    during_maintenance: Annotated[
        bool,
        typer.Option(
            help="Upgrades: replace nodes even while user servers run (they restart). "
            "Without it, `up` asks, or refuses when it cannot ask."
        ),
    ] = False,
    ignore_insights: Annotated[
        bool, typer.Option(help="Upgrades: go on although EKS upgrade insights report errors.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Stop users' sessions without asking when `up` cannot keep them."
        ),
    ] = False,
) -> None:
    """Start the deployment, or bring it in line with the config (upgrades step by step)."""
    from heliohub.providers.base import UpOptions

    provider = _provider(config)
    with provider.operation_lock("up"):
        status = provider.up(
            UpOptions(
                detach=detach,
                insecure=insecure,
                allow_data_loss=allow_data_loss,
                during_maintenance=during_maintenance,
                ignore_insights=ignore_insights,
                confirm=_ask if sys.stdin.isatty() else None,
                yes=yes,
            )
        )
    show_status(status)


def _ask(question: str) -> bool:
    return typer.confirm(question, default=False)


@handle_errors
def down(
    config: ConfigOption = None,
    delete_data: Annotated[
        bool, typer.Option(help="Also delete data (homes, user pool). Asks for the name.")
    ] = False,
    yes: Annotated[
        str | None,
        typer.Option(help="With --delete-data: the deployment name, instead of typing it."),
    ] = None,
) -> None:
    """Stop everything `up` started. Data is kept unless --delete-data."""
    loaded = load_config(config)
    confirmed = None
    if delete_data:
        name = loaded.config.name
        confirmed = yes
        if confirmed is None:
            confirmed = typer.prompt(f"This deletes all data of '{name}'. Type its name to confirm")
        if confirmed != name:
            raise UserError(f"confirmation did not match '{name}'; nothing was deleted")
    from heliohub.providers import get_provider
    from heliohub.providers.base import DownOptions

    provider = get_provider(loaded, RichReporter())
    with provider.operation_lock("down"):
        provider.down(DownOptions(delete_data=delete_data, confirmed_name=confirmed))
    err_console.print("[green]down[/]: stopped; data kept" if not delete_data else "[green]down[/]")


@handle_errors
def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what is running and where. Exit 0 when healthy, 1 when degraded, 3 when stopped."""
    result = _provider(config, quiet=True).status()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        show_status(result)
    if result.state != "running":
        raise typer.Exit(STATUS_EXIT.get(result.state, 1))


@handle_errors
def logs(
    config: ConfigOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Lines of each log to start with.")
    ] = 200,
) -> None:
    """Print the logs of everything `up` started."""
    # Colour codes the components wrote are kept for a terminal only, never put into a pipe.
    plain = not sys.stdout.isatty()
    for line in _provider(config, quiet=True).logs(follow, lines):
        print(ANSI_ESCAPE.sub("", line) if plain else line, flush=True)


def show_plan(plan: Plan) -> None:
    from rich.table import Table

    if plan.steps:
        console.print(f"[bold]upgrade in {len(plan.steps)} steps[/], in this order:")
        for number, step in enumerate(plan.steps, 1):
            console.print(f"  {number:>2}. {step}", markup=False)
    for release in plan.releases:
        console.print(release.headline, markup=False)
        for line in release.diff.splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            console.print(f"  {line}", style=style or None, markup=False)
    if not plan.changes and not plan.releases:
        console.print("no changes")
    table = Table(show_header=True, header_style="bold", box=None)
    for col in ("stack", "action", "resource", "type"):
        table.add_column(col)
    for c in plan.changes:
        style = "red" if c.data_loss else {"add": "green", "remove": "red"}.get(c.action, "yellow")
        label = f"{c.action} (DATA LOSS)" if c.data_loss else c.action
        table.add_row(c.stack, f"[{style}]{label}[/]", c.resource, c.resource_type)
    if plan.changes:
        console.print(table)
    for note in plan.notes:
        console.print(note, markup=False)


@handle_errors
def plan(config: ConfigOption = None) -> None:
    """List every change `up` would make, with data loss in red."""
    show_plan(_provider(config).plan())


@handle_errors
def check(config: ConfigOption = None) -> None:
    """Health check as a user: log in, start a server, compute on Dask, clean up."""
    # The journey is a library beside the providers: they are handed it, never import it.
    from heliohub.check import run_check

    report = _provider(config).check(run_check)
    for step in report.steps:
        mark = "[green]✓[/]" if step.ok else "[red]✗[/]"
        console.print(f"{mark} {step.name} [dim]{step.seconds:.2f}s[/] {step.detail}")
    if not report.ok:
        raise typer.Exit(1)
