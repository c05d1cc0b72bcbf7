"""The root Typer app."""

from __future__ import annotations

import signal

import typer

from heliohub.cli import (
    config_commands,
    cost_commands,
    kube_commands,
    lifecycle_commands,
    users_commands,
)

app = typer.Typer(
    name="heliohub",
    help="One config file and one CLI for a multi-user Jupyter + Dask platform (DaskHub).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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
app.command()(cost_commands.cost)
app.add_typer(users_commands.app)


def run() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python keeps it ignored; Ctrl-C
    # (or a supervisor's SIGINT) must still stop `up` and clean up, so restore it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    app()
