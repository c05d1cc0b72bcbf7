"""The one contract every provider fulfils: up, down, status, logs, check, doctor (and plan,
preflight). A verb that truly does not apply to a provider raises NotOnProvider, a UserError
that says so and names what to use instead."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel

# The health check (heliohub.check) is a library beside the providers: the CLI hands its runner
# to `check`, and providers know only its report types.
from heliohub.check_report import CheckReport as CheckReport
from heliohub.check_report import CheckStep as CheckStep
from heliohub.config import LoadedConfig
from heliohub.errors import UserError

# Progress reporting lives apart, so the offline checks need not load this contract.
from heliohub.providers.reporting import Reporter as Reporter
from heliohub.providers.reporting import SilentReporter as SilentReporter


class CheckRunner(Protocol):
    """The user's journey through a hub (heliohub.check.run_check), given to `Provider.check`."""

    def __call__(
        self, hub_url: str, token: str, *, username: str | None = None, verify_tls: bool = True
    ) -> CheckReport: ...


@dataclass(frozen=True)
class UpOptions:
    detach: bool = False
    insecure: bool = False
    allow_data_loss: bool = False
    # An upgrade that replaces nodes while user servers run needs one of these two.
    during_maintenance: bool = False
    confirm: Callable[[str], bool] | None = None
    # Upgrade even when EKS upgrade insights report errors.
    ignore_insights: bool = False
    # Stop users' sessions without asking when `up` cannot keep them.
    yes: bool = False


@dataclass(frozen=True)
class DownOptions:
    delete_data: bool = False
    confirmed_name: str | None = None


class Component(BaseModel):
    name: str
    state: Literal["running", "stopped", "failed", "pending", "unknown"]
    detail: str = ""


class Status(BaseModel):
    name: str
    provider: str
    state: Literal["running", "stopped", "partial", "unknown"]
    url: str | None = None
    components: list[Component] = []
    notes: list[str] = []


@dataclass(frozen=True)
class Finding:
    """One thing `doctor` looked at: fine, worth a look, or broken (then with its fix)."""

    level: Literal["ok", "warning", "error"]
    what: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.level == "ok"


@dataclass
class PreflightResult:
    """One online check of the account `up` would deploy to (`validate --online`)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    notes: list[str] = field(default_factory=list)


class NotOnProvider(UserError):
    """A verb that does not apply to this provider; the message says what to use instead."""

    def __init__(self, verb: str, provider: str, instead: str) -> None:
        super().__init__(f"`heliohub {verb}` is not available on provider {provider}; {instead}")


@dataclass
class PlanChange:
    stack: str
    action: Literal["add", "modify", "remove", "replace"]
    resource: str
    resource_type: str
    data_loss: bool = False


@dataclass
class ReleasePlan:
    """A helm release: its chart version change and the diff of its values."""

    headline: str
    diff: str = ""


@dataclass
class Plan:
    changes: list[PlanChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # An upgrade: the steps `up` takes, in order (empty when there is none).
    steps: list[str] = field(default_factory=list)
    # The helm releases, compared with what the last `up` gave them.
    releases: list[ReleasePlan] = field(default_factory=list)

    @property
    def data_loss(self) -> list[PlanChange]:
        return [c for c in self.changes if c.data_loss]


class Provider(abc.ABC):
    """Side effects behind the CLI. Library code raises UserError; it never prints or exits."""

    def __init__(self, loaded: LoadedConfig, reporter: Reporter) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.reporter = reporter

    @abc.abstractmethod
    def up(self, options: UpOptions) -> Status:
        """Bring the deployment to match the config; with detach=False, block until stopped."""

    @abc.abstractmethod
    def down(self, options: DownOptions) -> None:
        """Stop what up started. Data is kept unless options.delete_data."""

    @abc.abstractmethod
    def status(self) -> Status: ...

    @abc.abstractmethod
    def check(self, run: CheckRunner) -> CheckReport:
        """A user's journey (`run`): log in, start a server, compute on a Dask cluster, clean
        up; the provider finds the hub's address and the check service's token."""

    def operation_lock(self, what: str) -> AbstractContextManager[None]:
        """One `up`, `down` or upgrade at a time; the CLI holds it around each of them."""
        from heliohub.providers import oplock

        return oplock.hold(self.loaded.data_dir / "state", what)

    @abc.abstractmethod
    def doctor(self) -> list[Finding]:
        """Every check that explains a problem, each with its fix."""

    def offline_problems(self, insecure: bool) -> list[str]:
        """What `up` would refuse that can be known without starting or asking the cloud."""
        return []

    def plan(self) -> Plan:
        return Plan(notes=[f"provider {self.config.provider} has nothing to plan: `up` applies"])

    def logs(self, follow: bool, lines: int = 200) -> Iterator[str]:
        """The last `lines` lines of each component's log; with follow, then new ones."""
        raise NotOnProvider("logs", self.config.provider, "use `heliohub status` and `doctor`")

    def preflight(self) -> list[PreflightResult]:
        """Online checks of the account `up` would deploy to, without changing anything."""
        raise NotOnProvider(
            "validate --online",
            self.config.provider,
            "it checks a cloud account; plain `heliohub validate` checks this config",
        )
