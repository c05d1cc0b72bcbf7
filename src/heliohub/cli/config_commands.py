"""Commands that only read the config: init, validate, schema, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import console, err_console
from heliohub.errors import UserError

ProviderName = Literal["local", "aws", "kubernetes"]


@handle_errors
def init(
    provider: Annotated[str, typer.Option(help="local, aws or kubernetes")] = "local",
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write.")] = Path(
        "heliohub.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config."""
    from heliohub.config.starter import starter

    if provider not in ("local", "aws", "kubernetes"):
        raise UserError(f"--provider: {provider!r} is not allowed; allowed: local, aws, kubernetes")
    if output.exists() and not force:
        raise UserError(f"{output} exists; pass --force to overwrite it")
    output.write_text(starter(provider), encoding="utf-8")  # type: ignore[arg-type]
    err_console.print(f"wrote {output}; check it with `heliohub validate -c {output}`")


@handle_errors
def validate(
    config: ConfigOption = None,
    online: Annotated[
        bool, typer.Option("--online", help="Also check the cloud account (provider aws).")
    ] = False,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Check as `up --insecure` would (public bind, no TLS)."),
    ] = False,
) -> None:
    """Check the config and everything `up` checks before starting. Exit 0 when valid, 2 with
    one line per problem when not."""
    from heliohub.errors import ConfigError
    from heliohub.providers import offline_problems

    loaded = load_config(config)
    problems = offline_problems(loaded, insecure)
    if problems:
        raise ConfigError(problems, loaded.source)
    if online:
        from heliohub.cli.output import RichReporter
        from heliohub.cli.preflight import run_preflight
        from heliohub.providers import get_provider

        run_preflight(loaded, get_provider(loaded, RichReporter(quiet=True)))
        return
    # Through click, which is loaded anyway: Rich would add tens of milliseconds to every
    # `validate` for one line.
    valid = typer.style("valid", fg="green")
    typer.echo(f"{valid}: {loaded.source} (provider {loaded.config.provider})", err=True)


def schema() -> None:
    """Print the JSON Schema of the config file, for editor completion."""
    from heliohub.config import HubConfig

    console.print_json(json.dumps(HubConfig.model_json_schema()))


@handle_errors
def render(
    config: ConfigOption = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Directory to write to.")] = Path(
        "rendered"
    ),
) -> None:
    """Write every generated artifact for the configured provider, deterministically."""
    from heliohub.render import render as render_all
    from heliohub.render.files import write_tree

    loaded = load_config(config)
    changes = write_tree(render_all(loaded.config), output)
    for path, what in changes:
        colour = {"created": "green", "updated": "yellow", "deleted": "red"}.get(what, "dim")
        err_console.print(f"[{colour}]{what:>9}[/] {path}")
    err_console.print(f"{len(changes)} file(s) in {output}")
