"""`heliohub validate --online`: the provider's account checks, one line each, with the fix."""

from __future__ import annotations

from heliohub.cli.output import console
from heliohub.config import LoadedConfig
from heliohub.errors import UserError
from heliohub.providers.base import Provider


def run_preflight(loaded: LoadedConfig, provider: Provider) -> None:
    """Print each check as pass or FAIL with its fix; UserError (exit 1) when any failed."""
    results = provider.preflight()
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
    console.print(f"[green]ready[/]: {loaded.source} can be deployed")
