"""The AWS emulator for the tests: moto in server mode on loopback, plus three fixes.

moto 5.2's CloudFormation change sets differ from CloudFormation in ways that would make the
engine tests test moto instead of heliohub. `install_cloudformation_fixes` closes exactly these
gaps in the emulator (never in heliohub's code):

1. After a change set runs, moto keeps the stack's old outputs and parameters (it never
   recomputes them). Here the stack's template, parameters and outputs are refreshed, as
   CloudFormation does.
2. When a resource fails, moto's ExecuteChangeSet raises (HTTP 500) instead of recording a
   `CREATE_FAILED` event with the reason and rolling the stack back. Here the failure becomes
   that event and the stack ends `ROLLBACK_COMPLETE` (create) or `UPDATE_ROLLBACK_COMPLETE`
   (update), which is what the deploy engine must handle on AWS. The reason is the error the
   emulated service itself raised.
3. Nothing else: moto's change sets carry no `Replacement` field, so data-loss tests rely on
   heliohub's own template comparison (see providers/aws/dataloss.py).
"""

from __future__ import annotations

import logging
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.server import ThreadedMotoServer

from heliohub.providers.aws.clients import AWSClients

ACCOUNT = "123456789012"
_installed = False


class ResourceFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, cause: Exception) -> None:
        super().__init__(f"{logical_id}: {cause}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.cause = cause


def _wrap(fn: Any) -> Any:
    def wrapped(logical_id: str, resource_json: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(logical_id, resource_json, *args, **kwargs)
        except ResourceFailed:
            raise
        except Exception as exc:
            raise ResourceFailed(logical_id, resource_json.get("Type", "?"), exc) from exc

    return wrapped


def _event(stack: Any, logical: str, rtype: str, status: str, reason: str | None) -> None:
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical,
            physical_resource_id="",
            resource_type=rtype,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def install_cloudformation_fixes() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    parsing.parse_and_create_resource = _wrap(parsing.parse_and_create_resource)
    parsing.parse_and_update_resource = _wrap(parsing.parse_and_update_resource)
    original = cfn_models.CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
        )
        stack = self.stacks[change_set.stack_id]
        try:
            original(self, change_set_name, stack_name)
        except ResourceFailed as failure:
            kind = change_set.change_set_type
            reason = str(failure.cause)
            _event(stack, failure.logical_id, failure.resource_type, f"{kind}_FAILED", reason)
            final = "ROLLBACK_COMPLETE" if kind == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event(final)
            stack.status = final
            change_set.execution_status = "EXECUTE_FAILED"
            return
        stack.template = change_set.template
        stack._parse_template()
        if change_set.parameters:
            stack.parameters = change_set.parameters
        stack.output_map = stack._create_output_map()

    cfn_models.CloudFormationBackend.execute_change_set = execute_change_set


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator() -> Iterator[str]:
    """moto on 127.0.0.1 (a free port); yields its endpoint URL."""
    install_cloudformation_fixes()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def reset(endpoint: str) -> None:
    """Forget every emulated resource (all servers in this process share moto's state)."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def clients(endpoint: str, region: str = "us-east-1") -> AWSClients:
    """Clients of the emulator with fake credentials, never the user's."""
    return AWSClients(
        region=region,
        endpoint_url=endpoint,
        access_key_id="testing",
        secret_access_key="testing",
    )


def cfn_backend(region: str = "us-east-1") -> Any:
    """The emulator's CloudFormation state (in this process), to simulate another operation."""
    return cfn_models.cloudformation_backends[ACCOUNT][region]
