"""What a health check found: its timed steps. Below both the check and the providers."""

from __future__ import annotations

from pydantic import BaseModel


class CheckStep(BaseModel):
    name: str
    ok: bool
    seconds: float
    detail: str = ""


class CheckReport(BaseModel):
    steps: list[CheckStep] = []

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)
