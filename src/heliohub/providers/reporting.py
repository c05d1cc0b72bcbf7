"""Where providers send progress: the Reporter protocol, and a SilentReporter that keeps it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class Reporter(Protocol):
    """Where providers send progress; the CLI shows it with Rich, tests record it."""

    def stage(self, name: str) -> AbstractContextManager[None]:
        """A named long step; its duration and outcome are shown when it ends."""

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


class SilentReporter:
    """A Reporter that keeps what it was told, for tests and library use."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, name: str) -> AbstractContextManager[None]:
        from contextlib import nullcontext

        self.lines.append(f"stage: {name}")
        return nullcontext()

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(f"warning: {message}")
