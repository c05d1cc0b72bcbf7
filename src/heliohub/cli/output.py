"""Rich output: the console, progress for long stages, and error display."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class RichReporter:
    """Shows each long stage with a spinner, then its duration and outcome."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        if self.quiet:
            yield
            return
        try:
            with err_console.status(f"[bold]{name}[/]…", spinner="dots"):
                yield
        except BaseException:
            err_console.print(f"[red]✗[/] {name} [dim]({time.monotonic() - start:.1f}s)[/]")
            raise
        err_console.print(f"[green]✓[/] {name} [dim]({time.monotonic() - start:.1f}s)[/]")

    def info(self, message: str) -> None:
        if not self.quiet:
            err_console.print(f"  {message}", markup=False)

    def warn(self, message: str) -> None:
        err_console.print(f"[yellow]warning:[/] {message}")
