"""The deploy engine against the AWS emulator (moto, server mode, loopback).

The stacks are small ones of resource types the emulator's CloudFormation can create (see
aws_test_stacks.py); the engine is the real one.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import aws_test_stacks as ts
import pytest
from aws_emulator import cfn_backend

from heliohub.errors import RefusedError, UserError
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.engine import DeployEngine
from heliohub.providers.base import SilentReporter

TAGS = {"heliohub:deployment": ts.NAME}


class Recording:
    """A boto3 client that records the calls made through it."""

    def __init__(self, client: Any, calls: list[str], interrupt: str | None = None) -> None:
        self._client, self._calls, self._interrupt = client, calls, interrupt

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self._calls.append(name)
            if name == "execute_change_set" and kwargs.get("StackName") == self._interrupt:
                raise KeyboardInterrupt  # the user pressed Ctrl-C right here
            return method(**kwargs)

        return call


class RecordingClients(AWSClients):
    """Fault hook at the API boundary: records CloudFormation calls, may interrupt one stack."""

    def __init__(self, base: AWSClients, interrupt: str | None = None) -> None:
        super().__init__(
            region=base.region,
            endpoint_url=base.endpoint_url,
            access_key_id=base.access_key_id,
            secret_access_key=base.secret_access_key,
        )
        self.calls: list[str] = []
        self.interrupt = interrupt

    def client(self, service: str) -> Any:
        inner = super().client(service)
        if service != "cloudformation":
            return inner
        return Recording(inner, self.calls, self.interrupt)


def engine(clients: AWSClients, reporter: SilentReporter, **templates: Any) -> DeployEngine:
    return DeployEngine(clients, reporter, ts.stages(**templates), TAGS, poll_seconds=0.02)


def pending_change_sets(aws: AWSClients, stack: str) -> list[str]:
    """Change sets of this stack not run (the emulator also lists executed and other stacks')."""
    cfn = aws.client("cloudformation")
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    summaries = cfn.list_change_sets(StackName=stack)["Summaries"]
    return [
        s["ChangeSetName"]
        for s in summaries
        if s.get("StackId") == stack_id and s.get("ExecutionStatus") != "EXECUTE_COMPLETE"
    ]


def stack_status(aws: AWSClients, name: str) -> str:
    return aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]


def test_plan_apply_and_noop_reapply(aws: AWSClients) -> None:
    """Emulator: plan lists every resource, apply creates the stacks in order with outputs passed
    on as parameters, and a second apply with nothing changed makes no change set at all."""
    reporter = SilentReporter()
    plan = engine(aws, reporter).plan()
    assert {(c.stack, c.action, c.resource) for c in plan.changes} == {
        ("emu-data", "add", "HomeFileSystem"),
        ("emu-data", "add", "SecretsKey"),
        ("emu-network", "add", "Vpc"),
        ("emu-network", "add", "PrivateSubnet0"),
        ("emu-app", "add", "EfsSecurityGroup"),
        ("emu-app", "add", "ScratchBucket"),
    }
    assert not plan.data_loss
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []  # plan changed nothing

    outputs = engine(aws, reporter).apply()
    assert [line for line in reporter.lines if line.startswith("stage:")] == [
        "stage: stack emu-data",
        "stage: stack emu-network",
        "stage: stack emu-app",
    ]
    assert any("CREATE_COMPLETE" in line for line in reporter.lines)  # live stack events
    fs_id = outputs["data"]["FileSystemId"]
    assert aws.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    # The app stack received the data and network outputs as its parameters.
    sg = aws.client("ec2").describe_security_groups(GroupIds=[outputs["app"]["SecurityGroupId"]])
    assert sg["SecurityGroups"][0]["VpcId"] == outputs["network"]["VpcId"]
    tags = aws.client("s3").get_bucket_tagging(Bucket=outputs["app"]["ScratchBucket"])["TagSet"]
    assert {"Key": "file-system", "Value": fs_id} in tags

    recording = RecordingClients(aws)
    again = SilentReporter()
    start = time.monotonic()
    assert engine(recording, again).apply() == outputs
    assert time.monotonic() - start < 10
    assert "create_change_set" not in recording.calls
    assert "execute_change_set" not in recording.calls
    assert [line for line in again.lines if "unchanged" in line] == [
        "emu-data: unchanged",
        "emu-network: unchanged",
        "emu-app: unchanged",
    ]
    assert engine(aws, SilentReporter()).plan().changes == []


def test_a_change_is_planned_then_applied(aws: AWSClients) -> None:
    """Emulator: a modified resource shows up in plan as modify (not data loss), then applies."""
    engine(aws, SilentReporter()).apply()
    changed = ts.app_template(description="NFS from the cluster")
    plan = engine(aws, SilentReporter(), app=changed).plan()
    assert [(c.stack, c.action, c.resource, c.data_loss) for c in plan.changes] == [
        ("emu-app", "modify", "EfsSecurityGroup", False)
    ]
    assert pending_change_sets(aws, "emu-app") == []
    engine(aws, SilentReporter(), app=changed).apply()
    deployed = aws.client("cloudformation").get_template(StackName="emu-app")["TemplateBody"]
    assert json.loads(json.dumps(deployed)) == changed
    assert stack_status(aws, "emu-app") == "UPDATE_COMPLETE"


def test_data_loss_is_flagged_and_refused(aws: AWSClients) -> None:
    """Emulator: replacing the file system (a create-only property) or removing it is data loss:
    plan marks it, up refuses it and changes nothing, --allow-data-loss applies it."""
    outputs = engine(aws, SilentReporter()).apply()
    fs_id = outputs["data"]["FileSystemId"]
    replaced = ts.data_template(performance_mode="maxIO")
    plan = engine(aws, SilentReporter(), data=replaced).plan()
    assert [(c.action, c.resource, c.data_loss) for c in plan.data_loss] == [
        ("replace", "HomeFileSystem", True)
    ]
    assert any("--allow-data-loss" in n for n in plan.notes)

    with pytest.raises(RefusedError, match=r"replace HomeFileSystem \(AWS::EFS::FileSystem\)"):
        engine(aws, SilentReporter(), data=replaced).apply()
    fs = aws.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    assert fs["PerformanceMode"] == "generalPurpose"
    assert pending_change_sets(aws, "emu-data") == []

    removed = ts.data_template(with_fs=False)
    removal = engine(aws, SilentReporter(), data=removed).plan()
    assert [(c.action, c.resource) for c in removal.data_loss] == [("remove", "HomeFileSystem")]
    with pytest.raises(RefusedError):
        engine(aws, SilentReporter(), data=removed).apply()

    # The emulator cannot update an EFS file system in place, so only the data stack goes on.
    data_only = ts.stages(data=replaced)[:1]
    DeployEngine(aws, SilentReporter(), data_only, TAGS, poll_seconds=0.02).apply(
        allow_data_loss=True
    )
    deployed = aws.client("cloudformation").get_template(StackName="emu-data")["TemplateBody"]
    assert deployed["Resources"]["HomeFileSystem"]["Properties"]["PerformanceMode"] == "maxIO"


def test_interrupted_apply_is_resumed(aws: AWSClients) -> None:
    """Emulator: Ctrl-C after the app stack's change set was made but before it ran leaves the
    stack REVIEW_IN_PROGRESS; the next apply starts it over and finishes everything."""
    interrupted = RecordingClients(aws, interrupt="emu-app")
    with pytest.raises(KeyboardInterrupt):
        engine(interrupted, SilentReporter()).apply()
    assert stack_status(aws, "emu-data") == "CREATE_COMPLETE"
    assert stack_status(aws, "emu-app") == "REVIEW_IN_PROGRESS"

    reporter = SilentReporter()
    outputs = engine(aws, reporter).apply()
    assert "emu-data: unchanged" in reporter.lines and "emu-network: unchanged" in reporter.lines
    assert any("emu-app: never created; starting it over" in line for line in reporter.lines)
    assert stack_status(aws, "emu-app") == "CREATE_COMPLETE"
    assert outputs["app"]["SecurityGroupId"].startswith("sg-")
    assert pending_change_sets(aws, "emu-app") == []


def test_apply_waits_for_an_operation_in_progress(aws: AWSClients) -> None:
    """Emulator: a stack left mid-update by an interrupted run (simulated by setting the
    emulator's stack state) is waited for, with progress, before the engine goes on."""
    engine(aws, SilentReporter()).apply()
    stack = next(s for s in cfn_backend().stacks.values() if s.name == "emu-network")
    stack.status = "UPDATE_IN_PROGRESS"

    def finish() -> None:
        time.sleep(0.5)
        stack._add_stack_event("UPDATE_COMPLETE")
        stack.status = "UPDATE_COMPLETE"

    worker = threading.Thread(target=finish)
    worker.start()
    reporter = SilentReporter()
    engine(aws, reporter).apply()
    worker.join()
    assert "emu-network is UPDATE_IN_PROGRESS; waiting for it to finish" in reporter.lines
    assert any(line.endswith("UPDATE_COMPLETE") for line in reporter.lines)
    assert stack_status(aws, "emu-network") == "UPDATE_COMPLETE"


def test_failing_resource_is_reported_with_its_reason(aws: AWSClients) -> None:
    """Emulator: a subnet outside its VPC fails in the emulated EC2; up names the resource, its
    type and EC2's reason. After the fix, up recreates the rolled-back stack and finishes."""
    broken = ts.network_template(subnet_cidr="10.8.1.0/24")
    with pytest.raises(UserError) as failure:
        engine(aws, SilentReporter(), network=broken).apply()
    message = str(failure.value)
    assert "stack emu-network ended ROLLBACK_COMPLETE" in message
    assert "PrivateSubnet0 (AWS::EC2::Subnet) CREATE_FAILED" in message
    assert "10.8.1.0/24" in message and "invalid" in message
    assert "run `heliohub up` again" in message

    reporter = SilentReporter()
    outputs = engine(aws, reporter).apply()
    assert any("failed earlier; recreating it" in line for line in reporter.lines)
    assert stack_status(aws, "emu-network") == "CREATE_COMPLETE"
    subnet = outputs["network"]["PrivateSubnetIds"]
    cidr = aws.client("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["CidrBlock"]
    assert cidr == "10.7.1.0/24"
