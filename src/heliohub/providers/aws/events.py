"""Follow a stack operation through its events: live progress, then the outcome.

Failures are summarised from the events of this operation: the first resource that failed with
a reason is the cause; "cancelled" events that follow it are noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from heliohub.providers.base import Reporter

SUCCESS = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE", "DELETE_COMPLETE"})
_NOISE = ("Resource creation cancelled", "Resource update cancelled", "Resource deletion cancelled")


def in_progress(status: str) -> bool:
    return status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def describe_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist (deleted stacks are found by id only)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0] if stacks else None


class StackWatcher:
    """Polls one stack, reports each new event, and returns when the operation is over."""

    def __init__(
        self,
        cfn: Any,
        stack_id: str,
        reporter: Reporter,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 3 * 3600,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfn = cfn
        self.stack_id = stack_id
        self.reporter = reporter
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep
        self.seen: set[str] = set()
        self.events: list[dict[str, Any]] = []

    def baseline(self) -> None:
        """Events that exist now belong to earlier operations."""
        page = self.cfn.describe_stack_events(StackName=self.stack_id)
        self.seen.update(e["EventId"] for e in page["StackEvents"])

    def _new_events(self) -> list[dict[str, Any]]:
        fresh: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StackName": self.stack_id}
        while True:
            page = self.cfn.describe_stack_events(**kwargs)
            for event in page["StackEvents"]:  # newest first
                if event["EventId"] in self.seen:
                    return list(reversed(fresh))
                fresh.append(event)
            if not page.get("NextToken"):
                return list(reversed(fresh))
            kwargs["NextToken"] = page["NextToken"]

    def poll(self) -> str:
        # Status first: every event written before that status is then in the listing below.
        status = self.cfn.describe_stacks(StackName=self.stack_id)["Stacks"][0]["StackStatus"]
        for event in self._new_events():
            self.seen.add(event["EventId"])
            self.events.append(event)
            self.reporter.info(format_event(event))
        return str(status)

    def wait(self) -> str:
        """Poll until the stack leaves *_IN_PROGRESS; return its final status."""
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            status = self.poll()
            if not in_progress(status):
                return status
            if time.monotonic() > deadline:
                return status
            self.sleep(self.poll_seconds)

    def failures(self) -> list[str]:
        """'Resource (Type) STATUS: reason' for each failed resource, the cause first."""
        lines = []
        for e in self.events:
            reason = e.get("ResourceStatusReason") or ""
            if not e.get("ResourceStatus", "").endswith("_FAILED") or not reason:
                continue
            if reason.startswith(_NOISE) or e.get("ResourceType") == "AWS::CloudFormation::Stack":
                continue
            lines.append(
                f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}) "
                f"{e['ResourceStatus']}: {reason}"
            )
        return lines


def format_event(event: dict[str, Any]) -> str:
    reason = event.get("ResourceStatusReason")
    text = f"{event['LogicalResourceId']} {event.get('ResourceType', '')} {event['ResourceStatus']}"
    return f"{text}: {reason}" if reason else text
