"""The cluster stack: EKS, its access, add-ons, node groups, EFS mount targets, pod roles,
and the Cognito hosted domain and app client.

It takes the ids of the other stacks as parameters (filled in by the deploy engine from their
outputs, or from `aws.network.existing`), so deleting and recreating it never touches them.
"""

from __future__ import annotations

import json

from awacs import sts
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from troposphere import (
    Equals,
    GetAtt,
    Not,
    Output,
    Parameter,
    Ref,
    Select,
    Sub,
    Template,
    efs,
    eks,
    iam,
    logs,
)
from troposphere import ec2 as ec2r

from heliohub.config import HubConfig
from heliohub.render.cloudformation.cognito_client import add_cognito_client
from heliohub.render.cloudformation.naming import (
    EBS_CSI_SERVICE_ACCOUNT,
    EFS_CSI_SERVICE_ACCOUNT,
    cluster_name,
    managed_cognito,
)
from heliohub.render.cloudformation.nodegroups import add_node_groups, pool_id
from heliohub.render.cloudformation.pod_identity import (
    add_autoscaler_role,
    add_ebs_csi_role,
    add_efs_csi_role,
    add_user_s3_role,
)
from heliohub.render.cloudformation.tagging import tags
from heliohub.render.cloudformation.versions import ClusterVersions, config_versions, pin_versions

# Parameters the deploy engine fills in.
VPC_ID = "VpcId"
PRIVATE_SUBNETS = "PrivateSubnetIds"
FILE_SYSTEM_ID = "FileSystemId"
SECRETS_KEY_ARN = "SecretsKeyArn"
USER_POOL_ID = "UserPoolId"
DEPLOYER = "DeployerPrincipalArn"

ADMIN_POLICY = "arn:${AWS::Partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def private_subnet_count(config: HubConfig) -> int:
    existing = config.aws.network.existing
    return len(existing.private_subnet_ids) if existing else config.aws.network.availability_zones


def cluster_template(config: HubConfig, versions: ClusterVersions | None = None) -> Template:
    """The cluster stack; `versions` (default: all at aws.kubernetes_version) pins the control
    plane, node groups and add-ons, so an upgrade can render each of its steps."""
    name = cluster_name(config)
    versions = versions or config_versions(config)
    t = Template(
        Description=f"heliohub {config.name}: EKS {versions.control_plane} cluster, "
        "node groups, EFS mount targets, pod roles, Cognito app client"
    )
    t.add_parameter(Parameter(VPC_ID, Type="AWS::EC2::VPC::Id"))
    private = t.add_parameter(Parameter(PRIVATE_SUBNETS, Type="List<AWS::EC2::Subnet::Id>"))
    t.add_parameter(Parameter(FILE_SYSTEM_ID, Type="String"))
    t.add_parameter(Parameter(SECRETS_KEY_ARN, Type="String"))
    t.add_parameter(
        Parameter(
            DEPLOYER,
            Type="String",
            Default="",
            Description="IAM role or user running heliohub; empty when it is an admin role already",
        )
    )
    t.add_condition("HasDeployer", Not(Equals(Ref(DEPLOYER), "")))

    cluster_role = t.add_resource(
        iam.Role(
            "ClusterRole",
            Description=f"heliohub {config.name}: EKS control plane",
            AssumeRolePolicyDocument=_trust("eks.amazonaws.com"),
            ManagedPolicyArns=[Sub("arn:${AWS::Partition}:iam::aws:policy/AmazonEKSClusterPolicy")],
            Tags=tags(config),
        )
    )
    # EKS would create this log group on its own and leave it behind after deletion.
    log_group = t.add_resource(
        logs.LogGroup(
            "ClusterLogGroup",
            LogGroupName=f"/aws/eks/{name}/cluster",
            RetentionInDays=30,
            Tags=tags(config),
        )
    )
    cluster = t.add_resource(
        eks.Cluster(
            "Cluster",
            DependsOn=[log_group.title],
            Name=name,
            Version=versions.control_plane,
            RoleArn=GetAtt(cluster_role, "Arn"),
            ResourcesVpcConfig=eks.ResourcesVpcConfig(
                SubnetIds=Ref(private), EndpointPublicAccess=True, EndpointPrivateAccess=True
            ),
            EncryptionConfig=[
                eks.EncryptionConfig(
                    Provider=eks.Provider(KeyArn=Ref(SECRETS_KEY_ARN)), Resources=["secrets"]
                )
            ],
            # Access entries, not the aws-auth configmap; the deployer gets an explicit entry.
            AccessConfig=eks.AccessConfig(
                AuthenticationMode="API", BootstrapClusterCreatorAdminPermissions=False
            ),
            # The networking add-ons below are managed by EKS, not installed unmanaged.
            BootstrapSelfManagedAddons=False,
            KubernetesNetworkConfig=eks.KubernetesNetworkConfig(IpFamily="ipv4"),
            Logging=eks.Logging(
                ClusterLogging=eks.ClusterLogging(
                    EnabledTypes=[
                        eks.LoggingTypeConfig(Type="audit"),
                        eks.LoggingTypeConfig(Type="authenticator"),
                    ]
                )
            ),
            # Explicit, so what happens at the end of standard support is the config's choice.
            UpgradePolicy=eks.UpgradePolicy(SupportType=config.aws.support_policy.upper()),
            Tags=tags(config),
        )
    )
    _access_entries(t, config, cluster)

    node_role = t.add_resource(
        iam.Role(
            "NodeRole",
            Description=f"heliohub {config.name}: EKS nodes",
            AssumeRolePolicyDocument=_trust("ec2.amazonaws.com"),
            ManagedPolicyArns=[
                Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{p}")
                for p in (
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEKS_CNI_Policy",
                    "AmazonEC2ContainerRegistryPullOnly",
                )
            ],
            Tags=tags(config),
        )
    )
    # Nodes only become Ready with networking in place; DNS and the EFS driver need nodes.
    before_nodes = [
        # The chart's NetworkPolicies are only enforced when the VPC CNI runs its policy agent.
        _addon(
            t,
            config,
            cluster,
            "vpc-cni",
            ConfigurationValues=json.dumps({"enableNetworkPolicy": "true"}),
        ),
        _addon(t, config, cluster, "kube-proxy"),
        _addon(t, config, cluster, "eks-pod-identity-agent"),
    ]
    add_node_groups(
        t, config, cluster, GetAtt(node_role, "Arn"), Ref(private), [a.title for a in before_nodes]
    )
    pools = [pool_id(p) for p in config.aws.node_pools]
    _addon(t, config, cluster, "coredns", after=pools)
    efs_role = add_efs_csi_role(t, config)
    _addon(
        t,
        config,
        cluster,
        "aws-efs-csi-driver",
        after=pools,
        PodIdentityAssociations=[
            eks.PodIdentityAssociationProperty(
                ServiceAccount=EFS_CSI_SERVICE_ACCOUNT, RoleArn=GetAtt(efs_role, "Arn")
            )
        ],
    )
    ebs_role = add_ebs_csi_role(t, config)
    _addon(
        t,
        config,
        cluster,
        "aws-ebs-csi-driver",
        after=pools,
        PodIdentityAssociations=[
            eks.PodIdentityAssociationProperty(
                ServiceAccount=EBS_CSI_SERVICE_ACCOUNT, RoleArn=GetAtt(ebs_role, "Arn")
            )
        ],
    )
    add_autoscaler_role(t, config, cluster)
    add_user_s3_role(t, config, cluster)
    _mount_targets(t, config, cluster)
    if managed_cognito(config):
        add_cognito_client(t, config)

    t.add_output(Output("ClusterName", Value=Ref(cluster)))
    t.add_output(Output("ClusterEndpoint", Value=GetAtt(cluster, "Endpoint")))
    t.add_output(
        Output("ClusterCertificateAuthorityData", Value=GetAtt(cluster, "CertificateAuthorityData"))
    )
    t.add_output(Output("ClusterSecurityGroupId", Value=GetAtt(cluster, "ClusterSecurityGroupId")))
    t.add_output(Output("NodeRoleArn", Value=GetAtt(node_role, "Arn")))
    pin_versions(t, config, versions)
    return t


def _trust(service: str) -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Effect=Allow,
                Principal=Principal("Service", service),
                Action=[sts.AssumeRole, sts.TagSession],
            )
        ],
    )


def _access_entries(t: Template, config: HubConfig, cluster: eks.Cluster) -> None:
    def admin() -> list[eks.AccessPolicy]:
        return [
            eks.AccessPolicy(
                PolicyArn=Sub(ADMIN_POLICY), AccessScope=eks.AccessScope(Type="cluster")
            )
        ]

    t.add_resource(
        eks.AccessEntry(
            "DeployerAccess",
            Condition="HasDeployer",
            ClusterName=Ref(cluster),
            PrincipalArn=Ref(DEPLOYER),
            Type="STANDARD",
            AccessPolicies=admin(),
            Tags=tags(config),
        )
    )
    for i, arn in enumerate(sorted(set(config.aws.admin_role_arns))):
        t.add_resource(
            eks.AccessEntry(
                f"AdminAccess{i}",
                ClusterName=Ref(cluster),
                PrincipalArn=arn,
                Type="STANDARD",
                AccessPolicies=admin(),
                Tags=tags(config),
            )
        )


def _addon(
    t: Template,
    config: HubConfig,
    cluster: eks.Cluster,
    name: str,
    after: list[str] | None = None,
    **props: object,
) -> eks.Addon:
    # AddonVersion: set by pin_versions.
    extra: dict[str, object] = {"DependsOn": after} if after else {}
    return t.add_resource(
        eks.Addon(
            "Addon" + "".join(p.capitalize() for p in name.split("-")),
            AddonName=name,
            ClusterName=Ref(cluster),
            ResolveConflicts="OVERWRITE",
            Tags=tags(config),
            **extra,
            **props,
        )
    )


def _mount_targets(t: Template, config: HubConfig, cluster: eks.Cluster) -> None:
    """NFS from the cluster's nodes only, one mount target per private subnet."""
    sg = t.add_resource(
        ec2r.SecurityGroup(
            "EfsSecurityGroup",
            GroupDescription=f"heliohub {config.name}: NFS from the EKS cluster to EFS",
            VpcId=Ref(VPC_ID),
            SecurityGroupIngress=[
                ec2r.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=2049,
                    ToPort=2049,
                    SourceSecurityGroupId=GetAtt(cluster, "ClusterSecurityGroupId"),
                    Description="NFS from EKS nodes",
                )
            ],
            Tags=tags(config, f"{config.name}-efs"),
        )
    )
    for i in range(private_subnet_count(config)):
        t.add_resource(
            efs.MountTarget(
                f"EfsMountTarget{i}",
                FileSystemId=Ref(FILE_SYSTEM_ID),
                SubnetId=Select(i, Ref(PRIVATE_SUBNETS)),
                SecurityGroups=[Ref(sg)],
            )
        )
