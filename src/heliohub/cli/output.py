"""Rich output: the console, progress for long stages, and error display."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _console(**options: Any) -> Console:
    from rich.console import Console

    class _Console(Console):
        """A console whose reader may be gone: `up | tee log` after Ctrl-C, a closed terminal.

        A message that cannot be shown is dropped, so the cleanup that follows it still runs.
        """

        def on_broken_pipe(self) -> None:
            # Rich's own answer is SystemExit, which would skip the cleanup: go quiet instead.
            self.quiet = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.file.fileno())
            os.close(devnull)

        def print(self, *args: Any, **kwargs: Any) -> None:
            # BrokenPipeError from a closed pipe, EIO from a hung-up terminal.
            with contextlib.suppress(OSError):
                super().print(*args, **kwargs)

    return _Console(**options)


class _LazyConsole:
    """The console, made on first use: Rich takes tens of milliseconds to import, and
    `heliohub --help` prints nothing through it."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._made: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = _console(**self._options)
        return getattr(self._made, name)


console: Console = _LazyConsole(highlight=False)  # type: ignore[assignment]
err_console: Console = _LazyConsole(stderr=True, highlight=False)  # type: ignore[assignment]


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
