"""The root Typer app."""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from heliohub.cli import (
    config_commands,
    cost_commands,
    kube_commands,
    lifecycle_commands,
    service_commands,
    users_commands,
)

app = typer.Typer(
    name="heliohub",
    help="One config file and one CLI for a multi-user Jupyter + Dask platform (DaskHub).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help: flags without a `<bool>` placeholder, and nothing boxed in a pipe.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"heliohub {version('heliohub')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """One config file and one CLI for a multi-user Jupyter + Dask platform (DaskHub)."""


app.command()(config_commands.init)
app.command()(config_commands.validate)
app.command()(config_commands.schema)
app.command()(config_commands.render)
app.command()(lifecycle_commands.up)
app.command()(lifecycle_commands.down)
app.command()(lifecycle_commands.status)
app.command()(lifecycle_commands.logs)
app.command()(lifecycle_commands.plan)
app.command()(lifecycle_commands.check)
app.command()(kube_commands.doctor)
app.command("kube-credentials")(kube_commands.kube_credentials)
app.add_typer(service_commands.app, name="service")
app.command()(cost_commands.cost)
app.add_typer(users_commands.app)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps it ignored; Ctrl-C
    # (or a supervisor's SIGINT) must still stop `up` and clean up, so restore it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # `kill`, a closed terminal and Ctrl-C all take the same way out: whatever `up` started
    # is stopped before the CLI exits.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        app()
    except BrokenPipeError:
        pass
    finally:
        try:
            sys.stdout.flush()
        except OSError:
            # The reader is gone (`heliohub logs | head`): say nothing more at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
