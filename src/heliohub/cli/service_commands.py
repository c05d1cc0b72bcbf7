"""`heliohub service install`: run the local deployment as systemd units."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import RichReporter, err_console
from heliohub.errors import UserError

app = typer.Typer(help="Run the local deployment as systemd services.", no_args_is_help=True)


@app.command()
@handle_errors
def install(
    config: ConfigOption = None,
    unit_dir: Annotated[
        Path | None,
        typer.Option(
            "--unit-dir",
            help="Only write the units there (default: /etc/systemd/system, then start them).",
        ),
    ] = None,
) -> None:
    """Write systemd units that restart the hub, gateway and culler on failure, and start them."""
    from heliohub.providers import get_provider
    from heliohub.providers.local import LocalProvider
    from heliohub.providers.local.service import install as install_units

    loaded = load_config(config)
    provider = get_provider(loaded, RichReporter())
    if not isinstance(provider, LocalProvider):
        raise UserError(
            f"`heliohub service install` is for provider local; {loaded.source} has "
            f"provider {loaded.config.provider}, whose platform restarts its pods itself"
        )
    with provider.operation_lock("service install"):
        done = install_units(provider, unit_dir, start=unit_dir is None)
    for path in done.units:
        err_console.print(f"[green]wrote[/] {path}")
    err_console.print(f"[green]wrote[/] {done.env_file} (mode 0600)")
    if done.started:
        err_console.print(f"[green]started[/] {done.target}; `systemctl status {done.target}`")
    else:
        err_console.print(
            f"start with: systemctl daemon-reload && systemctl enable --now {done.target}"
        )
