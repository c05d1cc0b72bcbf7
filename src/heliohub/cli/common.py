"""What every command shares: the -c option, loading the config, and turning errors into exits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from heliohub.cli.output import err_console
from heliohub.errors import ConfigError, UserError

if TYPE_CHECKING:
    from heliohub.config import LoadedConfig

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "-c",
        "--config",
        help="Config file. Default: $HELIOHUB_CONFIG, then ./heliohub.yaml, then built-in local.",
        show_default=False,
    ),
]

P = ParamSpec("P")
R = TypeVar("R")


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """UserError becomes a clear message and its exit code; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            where = f" ({exc.source})" if exc.source else ""
            err_console.print(f"[red]invalid config[/]{where}:", soft_wrap=True)
            for line in exc.problems:
                err_console.print(f"  {line}", markup=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except UserError as exc:
            err_console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


def load_config(path: Path | None) -> LoadedConfig:
    # Imported here: the config models (pydantic) are the slowest import, and `--help` never
    # needs them.
    from heliohub.config import load

    return load(path)
