"""Small stacks of resource types the emulator's CloudFormation can create, shaped like the real
ones: a data stack with Retain resources, a network stack, and an app stack fed by parameters.
"""

from __future__ import annotations

import json
from typing import Any

from heliohub.providers.aws.stack_outputs import DataOutputs, NetworkOutputs
from heliohub.providers.aws.stages import StackStage, StageContext

NAME = "emu"
TAG = {"Key": "heliohub:deployment", "Value": NAME}


def data_template(performance_mode: str = "generalPurpose", with_fs: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {
        # moto 5.2 cannot create a KMS key with Tags from CloudFormation (its tagger expects
        # TagKey/TagValue), so this key is untagged in the emulator; the real template tags it.
        "SecretsKey": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": "emulated secrets key",
                # A JSON string, not an object: moto's DescribeKey fails on an object policy.
                "KeyPolicy": json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": "*"},
                                "Action": "kms:*",
                                "Resource": "*",
                            }
                        ],
                    }
                ),
            },
        },
    }
    outputs: dict[str, Any] = {"SecretsKeyArn": {"Value": {"Fn::GetAtt": ["SecretsKey", "Arn"]}}}
    if with_fs:
        resources["HomeFileSystem"] = {
            "Type": "AWS::EFS::FileSystem",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Encrypted": True,
                "PerformanceMode": performance_mode,
                "FileSystemTags": [TAG, {"Key": "Name", "Value": f"{NAME}-homes"}],
            },
        }
        outputs["FileSystemId"] = {"Value": {"Ref": "HomeFileSystem"}}
    return {"Resources": resources, "Outputs": outputs}


def network_template(subnet_cidr: str = "10.7.1.0/24") -> dict[str, Any]:
    return {
        "Resources": {
            "Vpc": {
                "Type": "AWS::EC2::VPC",
                "Properties": {"CidrBlock": "10.7.0.0/16", "Tags": [TAG]},
            },
            "PrivateSubnet0": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {
                    "VpcId": {"Ref": "Vpc"},
                    "CidrBlock": subnet_cidr,
                    "AvailabilityZone": "us-east-1a",
                    "Tags": [TAG],
                },
            },
        },
        "Outputs": {
            "VpcId": {"Value": {"Ref": "Vpc"}},
            "PrivateSubnetIds": {"Value": {"Ref": "PrivateSubnet0"}},
        },
    }


CLUSTER_OUTPUTS = {
    "ClusterName": {"Value": f"{NAME}-cluster"},
    "ClusterEndpoint": {"Value": "https://emu-cluster.invalid"},
    "ClusterCertificateAuthorityData": {"Value": "ZW11bGF0ZWQ="},
}


def app_template(description: str = "NFS to the file system") -> dict[str, Any]:
    return {
        "Parameters": {
            "VpcId": {"Type": "String"},
            "FileSystemId": {"Type": "String"},
        },
        "Resources": {
            "EfsSecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": description,
                    "VpcId": {"Ref": "VpcId"},
                    "Tags": [TAG],
                },
            },
            "ScratchBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "Tags": [TAG, {"Key": "file-system", "Value": {"Ref": "FileSystemId"}}],
                },
            },
        },
        "Outputs": {
            "SecurityGroupId": {"Value": {"Ref": "EfsSecurityGroup"}},
            "ScratchBucket": {"Value": {"Ref": "ScratchBucket"}},
            # What the cluster stack must output, as literals: the emulator cannot create EKS.
            **CLUSTER_OUTPUTS,
        },
    }


def app_parameters(ctx: StageContext) -> dict[str, str]:
    network = NetworkOutputs.parse(f"{NAME}-network", ctx.outputs.get("network"))
    data = DataOutputs.parse(f"{NAME}-data", ctx.outputs.get("data"))
    return {"VpcId": network.vpc_id, "FileSystemId": data.file_system_id}


def stages(
    data: dict[str, Any] | None = None,
    network: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
    app_key: str = "app",
) -> list[StackStage]:
    """The three stages; `app_key="cluster"` makes the provider treat the app as the cluster."""
    return [
        StackStage("data", f"{NAME}-data", json.dumps(data or data_template()), keep_on_down=True),
        StackStage("network", f"{NAME}-network", json.dumps(network or network_template())),
        StackStage(
            app_key, f"{NAME}-app", json.dumps(app or app_template()), parameters=app_parameters
        ),
    ]
