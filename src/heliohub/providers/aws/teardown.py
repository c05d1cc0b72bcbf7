"""`down`: delete the stacks in reverse order, then prove nothing was left behind.

Without --delete-data the data stack stays, and with it EFS, the KMS key and the user pool.
With --delete-data the data stack is deleted too. Its Retain policies make CloudFormation
leave those resources in place, so heliohub deletes them itself afterwards, by the physical ids
it read from the stack just before deleting it. This is explicit on purpose: flipping the
policies to Delete would first need an update of the data stack, which is one more place to
fail half-way with the data already unprotected. KMS never deletes a key at once: it is
scheduled for deletion after the shortest waiting period (7 days) and reported as such.

Afterwards the Resource Groups Tagging API lists everything still tagged with the deployment;
each entry is either retained on purpose (and said why) or an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from heliohub.errors import UserError
from heliohub.providers.aws.changeset import parse_template
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.engine import DeployEngine
from heliohub.providers.aws.events import describe_stack
from heliohub.providers.base import Reporter

KMS_PENDING_DAYS = 7


@dataclass
class TeardownReport:
    retained: list[tuple[str, str]] = field(default_factory=list)  # (ARN, why)
    unexpected: list[str] = field(default_factory=list)  # ARNs nobody meant to keep


def destroy(
    engine: DeployEngine, delete_data: bool, tag_key: str, tag_value: str
) -> TeardownReport:
    """Delete the stacks (reverse order), then list what is still tagged with the deployment."""
    kept: list[dict[str, Any]] = []  # resources of stacks kept on purpose
    kept_stacks: list[str] = []
    for stage in reversed(engine.stages):
        if stage.keep_on_down and not delete_data:
            stack = describe_stack(engine.cfn, stage.stack_name)
            if stack is not None:
                kept += engine.stack_resources(stage)
                kept_stacks.append(stack["StackId"])
                engine.reporter.info(f"{stage.stack_name}: kept (data)")
            continue
        with engine.reporter.stage(f"delete stack {stage.stack_name}"):
            retained = [
                r
                for r in engine.stack_resources(stage)
                if r["LogicalResourceId"] in _retained_ids(engine, stage.stack_name)
            ]
            engine.destroy_stage(stage)
            if retained:
                delete_retained(engine.clients, engine.reporter, retained, engine.sleep)
    return leftovers(engine.clients, tag_key, tag_value, kept, kept_stacks)


def _retained_ids(engine: DeployEngine, stack: str) -> set[str]:
    try:
        body = engine.cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    except ClientError:
        return set()
    template = parse_template(body) or {}
    return {
        rid
        for rid, res in template.get("Resources", {}).items()
        if res.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
    }


# -- deleting what Retain kept -----------------------------------------------------------------


def delete_retained(
    clients: AWSClients,
    reporter: Reporter,
    resources: list[dict[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    for r in resources:
        kind, pid = r["ResourceType"], r.get("PhysicalResourceId")
        if not pid:
            continue
        deleter = _DELETERS.get(kind)
        if deleter is None:
            reporter.warn(f"{kind} {pid} was retained; heliohub cannot delete it, do it by hand")
            continue
        reporter.info(deleter(clients, pid, sleep))


def _delete_file_system(clients: AWSClients, fs_id: str, sleep: Callable[[float], None]) -> str:
    efs = clients.client("efs")
    try:
        targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    except ClientError as exc:
        if "FileSystemNotFound" in str(exc):
            return f"EFS {fs_id}: already gone"
        raise
    for mt in targets:
        efs.delete_mount_target(MountTargetId=mt["MountTargetId"])
    for point in efs.describe_access_points(FileSystemId=fs_id).get("AccessPoints", []):
        efs.delete_access_point(AccessPointId=point["AccessPointId"])
    for _ in range(60):
        if not efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]:
            break
        sleep(5)
    efs.delete_file_system(FileSystemId=fs_id)
    return f"EFS {fs_id}: deleted with all homes"


def _delete_user_pool(clients: AWSClients, pool_id: str, sleep: Callable[[float], None]) -> str:
    idp = clients.client("cognito-idp")
    try:
        pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except ClientError as exc:
        if "ResourceNotFound" in str(exc):
            return f"user pool {pool_id}: already gone"
        raise
    if pool.get("Domain"):
        idp.delete_user_pool_domain(Domain=pool["Domain"], UserPoolId=pool_id)
    if pool.get("DeletionProtection") == "ACTIVE":
        # UpdateUserPool resets every setting not passed; harmless for a pool about to go.
        idp.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=pool_id)
    return f"user pool {pool_id}: deleted with all accounts"


def _delete_key(clients: AWSClients, key_id: str, sleep: Callable[[float], None]) -> str:
    kms = clients.client("kms")
    state = kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]
    if state != "PendingDeletion":
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=KMS_PENDING_DAYS)
    return f"KMS key {key_id}: scheduled for deletion in {KMS_PENDING_DAYS} days (KMS minimum)"


_DELETERS: dict[str, Callable[[AWSClients, str, Callable[[float], None]], str]] = {
    "AWS::EFS::FileSystem": _delete_file_system,
    "AWS::Cognito::UserPool": _delete_user_pool,
    "AWS::KMS::Key": _delete_key,
}


# -- what is left ------------------------------------------------------------------------------


def tagged_resources(clients: AWSClients, tag_key: str, tag_value: str) -> list[str]:
    api = clients.client("resourcegroupstaggingapi")
    arns: list[str] = []
    kwargs: dict[str, Any] = {"TagFilters": [{"Key": tag_key, "Values": [tag_value]}]}
    while True:
        page = api.get_resources(**kwargs)
        arns += [r["ResourceARN"] for r in page.get("ResourceTagMappingList", [])]
        token = page.get("PaginationToken")
        if not token:
            return sorted(arns)
        kwargs["PaginationToken"] = token


def _matches(arn: str, physical_id: str) -> bool:
    if not physical_id:
        return False
    return arn == physical_id or arn.endswith((f"/{physical_id}", f":{physical_id}"))


def leftovers(
    clients: AWSClients,
    tag_key: str,
    tag_value: str,
    kept: list[dict[str, Any]],
    kept_stacks: list[str],
) -> TeardownReport:
    report = TeardownReport()
    for arn in tagged_resources(clients, tag_key, tag_value):
        if arn in kept_stacks:
            report.retained.append((arn, "the data stack, kept until `down --delete-data`"))
            continue
        owner = next(
            (
                r
                for r in kept
                if r.get("PhysicalResourceId") and _matches(arn, r["PhysicalResourceId"])
            ),
            None,
        )
        if owner is not None:
            report.retained.append(
                (arn, f"{owner['LogicalResourceId']} of the data stack, kept until --delete-data")
            )
            continue
        why = _gone_or_going(clients, arn)
        if why:
            report.retained.append((arn, why))
        else:
            report.unexpected.append(arn)
    return report


def _gone_or_going(clients: AWSClients, arn: str) -> str | None:
    """Tagged resources that are already on their way out (the tagging API lags behind)."""
    service = arn.split(":")[2] if arn.count(":") >= 5 else ""
    try:
        if service == "kms":
            meta = clients.client("kms").describe_key(KeyId=arn)["KeyMetadata"]
            if meta["KeyState"] == "PendingDeletion":
                return f"KMS key scheduled for deletion ({meta.get('DeletionDate', 'soon')})"
        if service == "ec2" and ":volume/" in arn:
            # The hub database's volume: its claim was deleted, the EBS CSI driver deletes it.
            volume_id = arn.rsplit("/", 1)[1]
            found = clients.client("ec2").describe_volumes(VolumeIds=[volume_id])["Volumes"]
            if found and found[0]["State"] in ("deleting", "deleted"):
                return "EBS volume already being deleted"
        if service == "ec2" and ":instance/" in arn:
            instance_id = arn.rsplit("/", 1)[1]
            res = clients.client("ec2").describe_instances(InstanceIds=[instance_id])
            states = [i["State"]["Name"] for r in res["Reservations"] for i in r["Instances"]]
            if states and all(s in ("terminated", "shutting-down") for s in states):
                return "EC2 instance already terminated"
    except ClientError:
        return None
    return None


def check_report(report: TeardownReport, reporter: Reporter) -> None:
    for arn, why in report.retained:
        reporter.info(f"retained: {arn} ({why})")
    if report.unexpected:
        raise UserError(
            f"{len(report.unexpected)} resource(s) still carry the deployment tag after `down` "
            "and were not meant to stay:\n  "
            + "\n  ".join(report.unexpected)
            + "\nDelete them in the AWS console (they cost money), or run `heliohub down` again "
            "if a deletion was still in progress."
        )
