"""IAM roles for pods through EKS Pod Identity: user S3 access, the autoscaler, the EFS driver."""

from __future__ import annotations

from awacs import s3
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import GetAtt, Output, Ref, Sub, Template, eks, iam

from heliohub.config import HubConfig
from heliohub.render.cloudformation import autoscaler
from heliohub.render.cloudformation.naming import USER_SERVICE_ACCOUNT, cluster_name
from heliohub.render.cloudformation.tagging import tags

PODS_PRINCIPAL = "pods.eks.amazonaws.com"


def pod_role(t: Template, config: HubConfig, rid: str, purpose: str, **props: object) -> iam.Role:
    return t.add_resource(
        iam.Role(
            rid,
            Description=f"heliohub {config.name}: {purpose}",
            AssumeRolePolicyDocument={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": PODS_PRINCIPAL},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                        # Only this account's EKS Pod Identity, not a confused deputy acting for
                        # another account.
                        "Condition": {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}},
                    }
                ],
            },
            Tags=tags(config),
            **props,
        )
    )


def add_efs_csi_role(t: Template, config: HubConfig) -> iam.Role:
    role = pod_role(
        t,
        config,
        "EfsCsiDriverRole",
        "EFS CSI driver (access points, mounts)",
        ManagedPolicyArns=[
            Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy")
        ],
    )
    t.add_output(Output("EfsCsiRoleArn", Value=GetAtt(role, "Arn")))
    return role


def add_ebs_csi_role(t: Template, config: HubConfig) -> iam.Role:
    """The hub's database lives on an EBS volume: SQLite on NFS is not safe to lock."""
    return pod_role(
        t,
        config,
        "EbsCsiDriverRole",
        "EBS CSI driver (the hub database volume)",
        ManagedPolicyArns=[
            Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy")
        ],
    )


def add_autoscaler_role(t: Template, config: HubConfig, cluster: eks.Cluster) -> None:
    role = pod_role(
        t,
        config,
        "ClusterAutoscalerRole",
        "cluster-autoscaler",
        Policies=[
            iam.Policy(
                PolicyName="cluster-autoscaler",
                PolicyDocument=autoscaler.policy(cluster_name(config)),
            )
        ],
    )
    t.add_resource(
        eks.PodIdentityAssociation(
            "ClusterAutoscalerIdentity",
            ClusterName=Ref(cluster),
            Namespace=autoscaler.NAMESPACE,
            ServiceAccount=autoscaler.SERVICE_ACCOUNT,
            RoleArn=GetAtt(role, "Arn"),
            Tags=tags(config),
        )
    )
    t.add_output(Output("AutoscalerRoleArn", Value=GetAtt(role, "Arn")))


def s3_policy(config: HubConfig) -> PolicyDocument:
    buckets = sorted(config.storage.s3_buckets, key=lambda b: b.name)
    statements = []
    for access in ("read-only", "read-write"):
        names = [b.name for b in buckets if b.access == access]
        if not names:
            continue
        word = "Read" if access == "read-only" else "ReadWrite"
        bucket_actions = [s3.ListBucket, s3.GetBucketLocation]
        object_actions = [s3.GetObject]
        if access == "read-write":
            bucket_actions.append(s3.ListBucketMultipartUploads)
            object_actions += [
                s3.PutObject,
                s3.DeleteObject,
                s3.AbortMultipartUpload,
                s3.ListMultipartUploadParts,
            ]
        statements += [
            Statement(
                Sid=f"{word}Buckets",
                Effect=Allow,
                Action=bucket_actions,
                Resource=[Sub(f"arn:${{AWS::Partition}}:s3:::{n}") for n in names],
            ),
            Statement(
                Sid=f"{word}Objects",
                Effect=Allow,
                Action=object_actions,
                Resource=[Sub(f"arn:${{AWS::Partition}}:s3:::{n}/*") for n in names],
            ),
        ]
    return PolicyDocument(Version="2012-10-17", Statement=statements)


def add_user_s3_role(t: Template, config: HubConfig, cluster: eks.Cluster) -> None:
    """The role of user servers and Dask workers, when the config lists buckets."""
    if not config.storage.s3_buckets:
        return
    role = pod_role(
        t,
        config,
        "UserS3Role",
        "S3 access of user servers and Dask workers",
        Policies=[iam.Policy(PolicyName="s3-buckets", PolicyDocument=s3_policy(config))],
    )
    t.add_resource(
        eks.PodIdentityAssociation(
            "UserS3Identity",
            ClusterName=Ref(cluster),
            Namespace=config.kubernetes.namespace,
            ServiceAccount=USER_SERVICE_ACCOUNT,
            RoleArn=GetAtt(role, "Arn"),
            Tags=tags(config),
        )
    )
    t.add_output(Output("UserS3RoleArn", Value=GetAtt(role, "Arn")))
