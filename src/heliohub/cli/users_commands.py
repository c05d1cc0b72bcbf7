"""`heliohub users`: accounts, admins, approvals and groups, wherever the login keeps them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import console
from heliohub.errors import UserError

if TYPE_CHECKING:
    from heliohub.users.model import Directory, Outcome

app = typer.Typer(
    name="users",
    help="Who may use the hub: list, add, remove, admin, approve, groups.",
    no_args_is_help=True,
)
groups_app = typer.Typer(
    name="groups", help="Groups: list them, add or remove a member.", no_args_is_help=True
)
app.add_typer(groups_app)

Name = Annotated[str, typer.Argument(help="User name (for Cognito: the e-mail address).")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _directory(config: ConfigOption) -> Directory:
    from heliohub.users.select import directory

    return directory(load_config(config))


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not typer.confirm(question, default=False, err=True):
        raise UserError("nothing was changed")


def _show(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print(outcome.model_dump_json(indent=2))
        return
    console.print(f"[green]✓[/] {outcome.message}", soft_wrap=True)
    if outcome.secret:
        console.print(f"  initial password: {outcome.secret}", markup=False)
    for note in outcome.notes:
        console.print(f"  {note}", markup=False, soft_wrap=True)


@app.command("list")
@handle_errors
def list_users(config: ConfigOption = None, as_json: Json = False) -> None:
    """List accounts with their admin flag, status and groups."""
    d = _directory(config)
    accounts = d.list()
    if as_json:
        print(json.dumps([a.model_dump() for a in accounts], indent=2))
        return
    console.print(f"[bold]{d.where}[/]: {len(accounts)} account(s)")
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    for col in ("name", "admin", "status", "groups", "last activity"):
        table.add_column(col)
    for a in accounts:
        admin = "?" if a.admin is None else ("yes" if a.admin else "")
        when = (a.last_activity or "")[:16].replace("T", " ")
        table.add_row(a.name, admin, a.status, ", ".join(a.groups), when)
    if accounts:
        console.print(table)
    for note in d.notes():
        console.print(f"  {note}", markup=False, soft_wrap=True)


@app.command()
@handle_errors
def add(
    name: Name,
    config: ConfigOption = None,
    admin: Annotated[bool, typer.Option(help="Make them an admin too.")] = False,
    as_json: Json = False,
) -> None:
    """Add an account (Cognito: invite by e-mail; native: with an initial password)."""
    _show(_directory(config).add(name, admin=admin), as_json)


@app.command()
@handle_errors
def remove(
    name: Name, config: ConfigOption = None, yes: Yes = False, as_json: Json = False
) -> None:
    """Delete an account and stop its server. Asks first."""
    d = _directory(config)
    _confirm(f"Delete {name} from {d.where}?", yes)
    _show(d.remove(name), as_json)


@app.command("admin")
@handle_errors
def make_admin(name: Name, config: ConfigOption = None, as_json: Json = False) -> None:
    """Give an account admin rights."""
    _show(_directory(config).set_admin(name, True), as_json)


@app.command()
@handle_errors
def unadmin(
    name: Name, config: ConfigOption = None, yes: Yes = False, as_json: Json = False
) -> None:
    """Take admin rights away. Asks first."""
    d = _directory(config)
    _confirm(f"Take admin rights from {name}?", yes)
    _show(d.set_admin(name, False), as_json)


@app.command()
@handle_errors
def approve(name: Name, config: ConfigOption = None, as_json: Json = False) -> None:
    """Approve a sign-up (native login)."""
    _show(_directory(config).approve(name), as_json)


@app.command()
@handle_errors
def disable(
    name: Name, config: ConfigOption = None, yes: Yes = False, as_json: Json = False
) -> None:
    """Stop an account from logging in, keeping it (Cognito). Asks first."""
    d = _directory(config)
    _confirm(f"Disable {name} in {d.where}?", yes)
    _show(d.set_enabled(name, False), as_json)


@app.command()
@handle_errors
def enable(name: Name, config: ConfigOption = None, as_json: Json = False) -> None:
    """Let a disabled account log in again (Cognito)."""
    _show(_directory(config).set_enabled(name, True), as_json)


@groups_app.command("list")
@handle_errors
def list_groups(config: ConfigOption = None, as_json: Json = False) -> None:
    """List groups and their members."""
    d = _directory(config)
    groups = d.groups()
    if as_json:
        print(json.dumps(groups, indent=2))
        return
    console.print(f"[bold]{d.where}[/]: {len(groups)} group(s)")
    from rich.table import Table

    table = Table(header_style="bold", box=None)
    table.add_column("group")
    table.add_column("members")
    for group, members in sorted(groups.items()):
        table.add_row(group, ", ".join(members))
    if groups:
        console.print(table)


@groups_app.command("add")
@handle_errors
def join(
    name: Name,
    group: Annotated[str, typer.Argument(help="Group name; created if missing.")],
    config: ConfigOption = None,
    as_json: Json = False,
) -> None:
    """Add an account to a group."""
    _show(_directory(config).join(name, group), as_json)


@groups_app.command("remove")
@handle_errors
def leave(
    name: Name,
    group: Annotated[str, typer.Argument(help="Group name.")],
    config: ConfigOption = None,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove an account from a group. Asks first."""
    d = _directory(config)
    _confirm(f"Remove {name} from group {group}?", yes)
    _show(d.leave(name, group), as_json)
