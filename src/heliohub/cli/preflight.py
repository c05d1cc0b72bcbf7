"""`heliohub validate --online`: the AWS account checks, one line each, with the fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from heliohub.cli.output import console
from heliohub.config import LoadedConfig
from heliohub.errors import UserError

if TYPE_CHECKING:
    from heliohub.providers.aws.clients import AWSClients


def run_preflight(loaded: LoadedConfig, clients: AWSClients | None = None) -> None:
    """Print each check as pass or FAIL with its fix; UserError (exit 1) when any failed."""
    from heliohub.providers.aws.clients import AWSClients
    from heliohub.providers.aws.preflight import run_checks
    from heliohub.providers.aws.state import read_outputs

    config = loaded.config
    if config.provider != "aws":
        raise UserError(
            f"validate --online checks an AWS account; {loaded.source} has provider "
            f"{config.provider!r}. Plain `heliohub validate` checks it offline"
        )
    state = read_outputs(loaded.data_dir / "state")
    clients = clients or AWSClients(region=config.aws.region)
    results = run_checks(config, clients, state.user_pool_id if state else None)
    for r in results:
        mark = "[green]pass[/]" if r.ok else "[red]FAIL[/]"
        console.print(f"{mark} {r.name}: ", end="")
        console.print(r.detail, markup=False, highlight=False)
        for note in r.notes:
            console.print(f"     note: {note}", markup=False)
        if not r.ok and r.fix:
            console.print(f"     fix: {r.fix}", markup=False)
    failed = [r.name for r in results if not r.ok]
    if failed:
        raise UserError(f"{len(failed)} online check(s) failed: {', '.join(failed)}")
    console.print(f"[green]ready[/]: {loaded.source} can be deployed to {config.aws.region}")
