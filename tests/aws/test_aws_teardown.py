"""`down` against the AWS emulator: reverse order, data kept or deleted, and the leftover check."""

from __future__ import annotations

import aws_test_stacks as ts
import pytest

from heliohub.errors import UserError
from heliohub.providers.aws import teardown
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.engine import DeployEngine
from heliohub.providers.base import SilentReporter

TAG = "heliohub:deployment"


def engine(aws: AWSClients, reporter: SilentReporter | None = None) -> DeployEngine:
    return DeployEngine(
        aws, reporter or SilentReporter(), ts.stages(), {TAG: ts.NAME}, poll_seconds=0.02
    )


def tagged(aws: AWSClients) -> list[str]:
    return teardown.tagged_resources(aws, TAG, ts.NAME)


def test_down_leaves_exactly_the_retained_data(aws: AWSClients) -> None:
    """Emulator: after down only the data stack and its file system still carry the deployment
    tag; each is reported as retained on purpose, nothing as unexpected."""
    outputs = engine(aws).apply()
    before = tagged(aws)
    assert any(":vpc/" in a for a in before) and any(":security-group/" in a for a in before)
    assert any(a.startswith("arn:aws:s3:::emu-app-") for a in before)

    reporter = SilentReporter()
    report = teardown.destroy(engine(aws, reporter), False, TAG, ts.NAME)
    stages = [line for line in reporter.lines if line.startswith("stage:")]
    assert stages == ["stage: delete stack emu-app", "stage: delete stack emu-network"]
    assert "emu-data: kept (data)" in reporter.lines

    fs_arn = next(a for a in before if a.endswith(f"file-system/{outputs['data']['FileSystemId']}"))
    data_stack = next(a for a in before if ":stack/emu-data/" in a)
    assert sorted(tagged(aws)) == sorted([fs_arn, data_stack])
    assert sorted(arn for arn, _ in report.retained) == sorted([fs_arn, data_stack])
    assert report.unexpected == []
    teardown.check_report(report, reporter)  # does not raise
    assert any("HomeFileSystem of the data stack" in line for line in reporter.lines)
    cfn = aws.client("cloudformation")
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["emu-data"]

    again = teardown.destroy(engine(aws), False, TAG, ts.NAME)  # down twice is fine
    assert again.unexpected == [] and len(again.retained) == 2


def test_anything_else_left_tagged_is_an_error(aws: AWSClients) -> None:
    """Emulator: a tagged resource no stack owns (here a volume made outside heliohub) is
    reported as unexpected, and down fails naming it."""
    engine(aws).apply()
    volume = aws.client("ec2").create_volume(
        AvailabilityZone="us-east-1a",
        Size=1,
        TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": TAG, "Value": ts.NAME}]}],
    )["VolumeId"]
    report = teardown.destroy(engine(aws), False, TAG, ts.NAME)
    assert len(report.unexpected) == 1 and report.unexpected[0].endswith(f"volume/{volume}")
    with pytest.raises(UserError, match=volume):
        teardown.check_report(report, SilentReporter())


def test_down_delete_data_removes_the_retained_resources(aws: AWSClients) -> None:
    """Emulator: with --delete-data the data stack goes too, then heliohub deletes what its
    Retain policies kept: the file system now, the KMS key after KMS's waiting period."""
    outputs = engine(aws).apply()
    fs_id = outputs["data"]["FileSystemId"]
    key_arn = outputs["data"]["SecretsKeyArn"]
    reporter = SilentReporter()
    report = teardown.destroy(engine(aws, reporter), True, TAG, ts.NAME)
    assert report.unexpected == []
    assert tagged(aws) == []
    assert aws.client("cloudformation").describe_stacks()["Stacks"] == []
    assert aws.client("efs").describe_file_systems()["FileSystems"] == []
    state = aws.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"]
    assert state == "PendingDeletion"
    assert f"EFS {fs_id}: deleted with all homes" in reporter.lines
    assert any("scheduled for deletion in 7 days" in line for line in reporter.lines)


def test_user_pool_with_protection_and_domain_is_deleted(aws: AWSClients) -> None:
    """Emulator: the retained user pool is deleted with its hosted domain, deletion protection
    turned off first."""
    idp = aws.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="emu", DeletionProtection="ACTIVE")["UserPool"]["Id"]
    idp.create_user_pool_domain(Domain="emu-login", UserPoolId=pool)
    reporter = SilentReporter()
    teardown.delete_retained(
        aws,
        reporter,
        [{"ResourceType": "AWS::Cognito::UserPool", "PhysicalResourceId": pool}],
    )
    assert reporter.lines == [f"user pool {pool}: deleted with all accounts"]
    assert idp.list_user_pools(MaxResults=10)["UserPools"] == []
    assert idp.describe_user_pool_domain(Domain="emu-login")["DomainDescription"] == {}


def test_unknown_retained_type_is_a_warning_not_silence(aws: AWSClients) -> None:
    """Emulator: a retained resource heliohub has no deleter for is named in a warning."""
    reporter = SilentReporter()
    teardown.delete_retained(
        aws, reporter, [{"ResourceType": "AWS::S3::Bucket", "PhysicalResourceId": "kept-bucket"}]
    )
    assert reporter.lines == [
        "warning: AWS::S3::Bucket kept-bucket was retained; heliohub cannot delete it, "
        "do it by hand"
    ]
