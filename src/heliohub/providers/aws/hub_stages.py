"""The stages of a real deployment: the rendered templates, wired by stack parameters."""

from __future__ import annotations

from botocore.exceptions import ClientError

from heliohub.config import HubConfig
from heliohub.errors import UserError
from heliohub.providers.aws.asg_tags import tag_node_groups
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.events import describe_stack
from heliohub.providers.aws.stack_outputs import (
    CLUSTER,
    DATA,
    NETWORK,
    ClusterOutputs,
    DataOutputs,
    MissingOutput,
    NetworkOutputs,
    RawOutputs,
)
from heliohub.providers.aws.stages import StackStage, StageContext
from heliohub.render.cloudformation import cluster as cl
from heliohub.render.cloudformation import template_body, templates
from heliohub.render.cloudformation.naming import cluster_name, managed_cognito, stack_name
from heliohub.render.cloudformation.nodegroups import exists_parameter, pool_asg_tags, pool_id
from heliohub.render.cloudformation.versions import ClusterVersions


def nodegroup_outputs(config: HubConfig) -> dict[str, str]:
    """Pool name -> the cluster stack output holding its node group's name."""
    return {p.name: f"{pool_id(p)}Name" for p in config.aws.node_pools}


SSO_ROLE_PATH = "aws-reserved/sso.amazonaws.com/"


def caller_role_arn(clients: AWSClients) -> str:
    """The current credentials as an IAM ARN: an assumed role as its role (path unknown)."""
    arn = clients.client("sts").get_caller_identity()["Arn"]
    parts = arn.split(":")
    account, resource = parts[4], parts[5]
    if resource == "root":
        raise UserError(
            "you are signed in as the account root user; EKS access entries need an IAM role or "
            "user. Use one (and keep root credentials for account administration)"
        )
    if resource.startswith("assumed-role/"):
        return f"arn:{parts[1]}:iam::{account}:role/{resource.split('/')[1]}"
    return arn


def deployer_arn(clients: AWSClients) -> str:
    """The IAM role or user behind the current credentials, as an access entry needs it: a
    role with its path (an SSO role's is aws-reserved/sso.amazonaws.com/...), read with
    iam:GetRole, since an entry without it matches no one."""
    arn = caller_role_arn(clients)
    if ":role/" not in arn:
        return arn
    role = arn.rsplit("/", 1)[1]
    try:
        return str(clients.client("iam").get_role(RoleName=role)["Role"]["Arn"])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise UserError(
            f"cannot read the path of your role {role} (iam:GetRole: {code}); the cluster's "
            "access entry needs the role's full ARN (an SSO role's path is "
            f"{SSO_ROLE_PATH}<region>/). Allow iam:GetRole on it, or put its full ARN in "
            "aws.admin_role_arns"
        ) from exc


def deployed_parameter(ctx: StageContext, stack: str, key: str) -> str | None:
    deployed = describe_stack(ctx.clients.client("cloudformation"), stack)
    if deployed is None:
        return None
    values = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in deployed.get("Parameters", [])
    }
    return values.get(key)


def existing_node_groups(ctx: StageContext, stack: str) -> set[str]:
    """The node group outputs of the deployed cluster stack: those groups exist already.

    Only the names of its outputs, not stack_outputs.ClusterOutputs: a stack in any state counts
    here, one whose creation failed (no outputs at all) included."""
    deployed = describe_stack(ctx.clients.client("cloudformation"), stack)
    if deployed is None:
        return set()
    return {o["OutputKey"] for o in deployed.get("Outputs", [])}


def _same_principal(a: str, b: str) -> bool:
    def short(arn: str) -> str:
        head, _, name = arn.rpartition("/")
        kind = head.split(":")[-1].split("/")[0]
        return f"{arn.split(':')[4]}:{kind}/{name}"

    return a == b or short(a) == short(b)


def hub_stages(config: HubConfig, versions: ClusterVersions | None = None) -> list[StackStage]:
    """The stacks of `config`; the cluster stack pins `versions` (default: the config's)."""
    rendered = templates(config, versions)
    stages = [
        StackStage(
            key=DATA,
            stack_name=stack_name(config, DATA),
            template=template_body(rendered[DATA]),
            keep_on_down=True,
        )
    ]
    if NETWORK in rendered:
        stages.append(
            StackStage(
                key=NETWORK,
                stack_name=stack_name(config, NETWORK),
                template=template_body(rendered[NETWORK]),
            )
        )

    def cluster_parameters(ctx: StageContext) -> dict[str, str]:
        data = DataOutputs.parse(stack_name(config, DATA), ctx.outputs.get(DATA))
        existing = config.aws.network.existing
        if existing is not None:
            vpc, private = existing.vpc_id, ",".join(existing.private_subnet_ids)
        else:
            network = NetworkOutputs.parse(stack_name(config, NETWORK), ctx.outputs.get(NETWORK))
            vpc, private = network.vpc_id, ",".join(network.private_subnet_ids)
        admins = config.aws.admin_role_arns
        caller = caller_role_arn(ctx.clients)
        # One principal, one access entry (and no iam:GetRole needed for a listed admin).
        listed = any(_same_principal(caller, a) for a in admins)
        deployer = "" if listed else deployer_arn(ctx.clients)
        previous = deployed_parameter(ctx, stack_name(config, CLUSTER), cl.DEPLOYER)
        if (
            previous
            and not _same_principal(previous, caller)
            and not any(_same_principal(previous, a) for a in admins)
        ):
            # The deployer's entry follows whoever runs up: it would silently lock out the
            # operator who ran it last.
            raise UserError(
                f"the cluster's admin access entry is for {previous}, who ran up last; running "
                f"up as {deployer or caller} would take that access away. List every operator "
                "who keeps cluster access in aws.admin_role_arns, then run up again"
            )
        params = {
            cl.VPC_ID: vpc,
            cl.PRIVATE_SUBNETS: private,
            cl.FILE_SYSTEM_ID: data.file_system_id,
            cl.SECRETS_KEY_ARN: data.secrets_key_arn,
            cl.DEPLOYER: deployer,
        }
        auth = managed_cognito(config)
        if auth is not None:
            pool = auth.user_pool_id or data.user_pool_id
            if not pool:
                raise MissingOutput(stack_name(config, DATA), "UserPoolId")
            params["UserPoolId"] = pool
        built = existing_node_groups(ctx, stack_name(config, CLUSTER))
        for pool in config.aws.node_pools:
            params[exists_parameter(pool)] = "true" if f"{pool_id(pool)}Name" in built else "false"
        return params

    def tag_asgs(ctx: StageContext, outputs: RawOutputs) -> None:
        stack = stack_name(config, CLUSTER)
        cluster = ClusterOutputs.parse(stack, outputs, nodegroup_outputs(config))
        groups = nodegroup_outputs(config)
        missing = sorted(key for pool, key in groups.items() if pool not in cluster.node_groups)
        if missing:
            raise MissingOutput(stack, missing[0])
        names = dict(cluster.node_groups)
        wanted = {p.name: pool_asg_tags(config, p) for p in config.aws.node_pools}
        changes = tag_node_groups(ctx.clients, cluster_name(config), names, wanted)
        for asg, changed in changes.items():
            ctx.reporter.info(
                f"autoscaler tags on {asg}: {len(changed)} changed"
                if changed
                else f"autoscaler tags on {asg}: up to date"
            )

    stages.append(
        StackStage(
            key=CLUSTER,
            stack_name=stack_name(config, CLUSTER),
            template=template_body(rendered[CLUSTER]),
            parameters=cluster_parameters,
            check=tag_asgs,
        )
    )
    return stages
