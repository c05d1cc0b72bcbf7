"""The one error family users see. Only the CLI prints or exits."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: the message says what broke and how to fix it."""

    exit_code = 1


class ConfigError(UserError):
    """The config is invalid. Each problem is one line: path, what is wrong, what is allowed."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(f"{len(problems)} problem(s){where}:\n" + "\n".join(problems))


class RefusedError(UserError):
    """heliohub refuses to act because acting would be unsafe (exposure, data loss)."""

    exit_code = 3
