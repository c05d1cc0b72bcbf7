"""Change sets: create one, wait for it, read its changes, or discard it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heliohub.errors import UserError

PREFIX = "heliohub-"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class ChangeSet:
    stack: str
    name: str
    changes: list[dict[str, Any]]  # empty: nothing to do (the change set is already deleted)


def as_params(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]


def as_tags(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(values.items())]


def parse_template(body: Any) -> dict[str, Any] | None:
    """A template body as CloudFormation returns it (dict for JSON, else str) as a dict."""
    if isinstance(body, dict):
        return json.loads(json.dumps(body))
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def discard_stale(cfn: Any, stack: str) -> None:
    """Delete change sets an interrupted run left behind (ours only)."""
    kwargs: dict[str, Any] = {"StackName": stack}
    while True:
        page = cfn.list_change_sets(**kwargs)
        for summary in page.get("Summaries", []):
            if summary.get("StackName", stack) != stack:
                continue
            if summary.get("ExecutionStatus") in ("EXECUTE_COMPLETE", "EXECUTE_IN_PROGRESS"):
                continue
            if summary["ChangeSetName"].startswith(PREFIX):
                cfn.delete_change_set(StackName=stack, ChangeSetName=summary["ChangeSetName"])
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def create(
    cfn: Any,
    stack: str,
    template: str,
    parameters: dict[str, str],
    tags: dict[str, str],
    create_stack: bool,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    source: Callable[[str, str], dict[str, str]] | None = None,
) -> ChangeSet:
    """source: TemplateBody or TemplateURL for (stack, template); default inline."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType="CREATE" if create_stack else "UPDATE",
        **(source(stack, template) if source else {"TemplateBody": template}),
        Parameters=as_params(parameters),
        Tags=as_tags(tags),
        Capabilities=["CAPABILITY_IAM"],
        Description="heliohub",
    )
    while True:
        desc = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        status = desc["Status"]
        if status == "CREATE_COMPLETE":
            break
        if status == "FAILED":
            reason = desc.get("StatusReason") or ""
            cfn.delete_change_set(StackName=stack, ChangeSetName=name)
            if any(marker in reason for marker in _NO_CHANGES):
                return ChangeSet(stack, name, [])
            raise UserError(f"stack {stack}: CloudFormation rejected the change: {reason}")
        sleep(poll_seconds)
    changes = list(desc.get("Changes", []))
    while desc.get("NextToken"):
        desc = cfn.describe_change_set(
            StackName=stack, ChangeSetName=name, NextToken=desc["NextToken"]
        )
        changes += desc.get("Changes", [])
    return ChangeSet(stack, name, [c for c in changes if c.get("Type") == "Resource"])
