"""The data stack: what outlives the cluster. Kept by `heliohub down`.

EFS (homes and the shared directory), the KMS key that encrypts Kubernetes secrets, and the
Cognito user pool (the accounts). Each is Retain on delete and on replacement, so neither a
stack deletion nor an update that would replace it can take the data with it.
"""

from __future__ import annotations

import hashlib

from awacs import kms as kms_actions
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from troposphere import GetAtt, Output, Ref, Sub, Template, cognito, efs, kms

from heliohub.config import HubConfig
from heliohub.render.cloudformation.budget import add_budget
from heliohub.render.cloudformation.naming import (
    EFS_ROOT_PATH,
    creates_user_pool,
    managed_cognito,
)
from heliohub.render.cloudformation.tagging import tag_map, tags

RETAIN = "Retain"
# Kept on stack deletion, except when the stack's creation itself failed: a first `up` that
# rolls back then leaves no orphans behind (they would fail every later teardown scan), and no
# data existed yet to lose.
RETAIN_EXCEPT_ON_CREATE = "RetainExceptOnCreate"

# Logical ids the deploy engine treats as data: replacing or removing one is data loss.
FILE_SYSTEM = "HomeFileSystem"
SECRETS_KEY = "SecretsKey"
USER_POOL = "UserPool"


def data_template(config: HubConfig) -> Template:
    t = Template(
        Description=f"heliohub {config.name}: data that outlives the cluster "
        "(EFS homes, KMS key for Kubernetes secrets, Cognito user pool)"
    )
    _secrets_key(t, config)
    _file_system(t, config)
    if creates_user_pool(config):
        _user_pool(t, config)
    add_budget(t, config)
    return t


def _secrets_key(t: Template, config: HubConfig) -> None:
    key = t.add_resource(
        kms.Key(
            SECRETS_KEY,
            Description=f"heliohub {config.name}: envelope encryption of Kubernetes secrets",
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            # The account root delegates to IAM: principals allowed by their IAM policies
            # (the deployer, EKS through grants) may use the key.
            KeyPolicy=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="AccountAdministers",
                        Effect=Allow,
                        Principal=Principal(
                            "AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
                        ),
                        Action=[kms_actions.Action("*")],
                        Resource=["*"],
                    )
                ],
            ),
            Tags=tags(config, f"{config.name}-secrets"),
            DeletionPolicy=RETAIN_EXCEPT_ON_CREATE,
            UpdateReplacePolicy=RETAIN,
        )
    )
    t.add_resource(
        kms.Alias(
            "SecretsKeyAlias",
            AliasName=f"alias/heliohub/{config.name}/kubernetes-secrets",
            TargetKeyId=Ref(key),
        )
    )
    t.add_output(Output("SecretsKeyArn", Value=GetAtt(key, "Arn")))


def _file_system(t: Template, config: HubConfig) -> None:
    fs = t.add_resource(
        efs.FileSystem(
            FILE_SYSTEM,
            Encrypted=True,
            BackupPolicy=efs.BackupPolicy(Status="ENABLED"),
            PerformanceMode="generalPurpose",
            ThroughputMode="elastic",
            LifecyclePolicies=[
                efs.LifecyclePolicy(TransitionToIA="AFTER_30_DAYS"),
                efs.LifecyclePolicy(TransitionToPrimaryStorageClass="AFTER_1_ACCESS"),
            ],
            FileSystemTags=tags(config, f"{config.name}-homes"),
            DeletionPolicy=RETAIN_EXCEPT_ON_CREATE,
            UpdateReplacePolicy=RETAIN,
        )
    )
    home = config.storage.home
    # Every mount goes through this access point: files are owned by the notebook user
    # (jovyan, uid 1000 / gid 100 by default) instead of root.
    ap = t.add_resource(
        efs.AccessPoint(
            "HomeAccessPoint",
            FileSystemId=Ref(fs),
            PosixUser=efs.PosixUser(Uid=str(home.uid), Gid=str(home.gid)),
            RootDirectory=efs.RootDirectory(
                Path=EFS_ROOT_PATH,
                CreationInfo=efs.CreationInfo(
                    OwnerUid=str(home.uid), OwnerGid=str(home.gid), Permissions="0775"
                ),
            ),
            AccessPointTags=tags(config, f"{config.name}-homes"),
        )
    )
    t.add_output(Output("FileSystemId", Value=Ref(fs)))
    t.add_output(Output("AccessPointId", Value=Ref(ap)))


def _user_pool(t: Template, config: HubConfig) -> None:
    auth = managed_cognito(config)
    assert auth is not None
    pool = t.add_resource(
        cognito.UserPool(
            USER_POOL,
            UserPoolName=config.name,
            # Nobody signs up on their own: admins invite users.
            AdminCreateUserConfig=cognito.AdminCreateUserConfig(AllowAdminCreateUserOnly=True),
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            UsernameConfiguration=cognito.UsernameConfiguration(CaseSensitive=False),
            MfaConfiguration="OPTIONAL",
            EnabledMfas=["SOFTWARE_TOKEN_MFA"],
            AccountRecoverySetting=cognito.AccountRecoverySetting(
                RecoveryMechanisms=[cognito.RecoveryOption(Name="verified_email", Priority=1)]
            ),
            Policies=cognito.Policies(
                PasswordPolicy=cognito.PasswordPolicy(
                    MinimumLength=12,
                    RequireLowercase=True,
                    RequireUppercase=True,
                    RequireNumbers=True,
                    RequireSymbols=False,
                    TemporaryPasswordValidityDays=7,
                )
            ),
            DeletionProtection="ACTIVE",
            UserPoolTags=tag_map(config),
            DeletionPolicy=RETAIN_EXCEPT_ON_CREATE,
            UpdateReplacePolicy=RETAIN,
        )
    )
    # Groups named in the config exist in the pool, so nobody creates them by hand.
    for group in sorted({*auth.admin_groups, *auth.allowed_groups}):
        digest = hashlib.sha256(group.encode()).hexdigest()[:10]
        t.add_resource(
            cognito.UserPoolGroup(
                f"Group{digest}",
                GroupName=group,
                UserPoolId=Ref(pool),
                Description=f"heliohub {config.name}: "
                + ("admins" if group in auth.admin_groups else "allowed users"),
            )
        )
    t.add_output(Output("UserPoolId", Value=Ref(pool)))
    t.add_output(Output("UserPoolArn", Value=GetAtt(pool, "Arn")))
