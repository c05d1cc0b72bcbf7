"""What every account directory offers, and what it answers."""

from __future__ import annotations

from pydantic import BaseModel

from heliohub.errors import UserError


class Account(BaseModel):
    name: str
    admin: bool | None = None  # None: the directory does not know
    status: str = "active"
    groups: list[str] = []
    last_activity: str | None = None


class Outcome(BaseModel):
    """What an action did; `secret` (an initial password) is shown once and never stored."""

    message: str
    secret: str | None = None
    notes: list[str] = []


class Directory:
    """Accounts as one system keeps them. Every action a system cannot do says why and where
    it is done instead; nothing is silently skipped."""

    #: Shown above listings, e.g. "Cognito user pool us-east-1_abc".
    where: str = ""

    def refuse(self, action: str, why: str) -> UserError:
        return UserError(f"{self.where} cannot {action}: {why}")

    def list(self) -> list[Account]:
        raise self.refuse("list accounts", "not supported")

    def add(self, name: str, admin: bool = False) -> Outcome:
        raise self.refuse("add accounts", "not supported")

    def remove(self, name: str) -> Outcome:
        raise self.refuse("remove accounts", "not supported")

    def set_admin(self, name: str, admin: bool) -> Outcome:
        raise self.refuse("change admin rights", "not supported")

    def approve(self, name: str) -> Outcome:
        raise self.refuse("approve sign-ups", "this login method has no sign-ups to approve")

    def set_enabled(self, name: str, enabled: bool) -> Outcome:
        raise self.refuse(
            "disable or enable accounts", "remove the account instead, or disable it where it lives"
        )

    def groups(self) -> dict[str, list[str]]:
        raise self.refuse("list groups", "not supported")

    def join(self, name: str, group: str) -> Outcome:
        raise self.refuse("change groups", "not supported")

    def leave(self, name: str, group: str) -> Outcome:
        raise self.refuse("change groups", "not supported")

    def notes(self) -> list[str]:
        """Where accounts are managed when not here (printed with listings)."""
        return []
