"""Which directory holds a deployment's accounts: a Cognito pool, or the hub itself."""

from __future__ import annotations

from heliohub.config import LoadedConfig
from heliohub.config.auth import CognitoAuth
from heliohub.errors import UserError
from heliohub.users.model import Directory


def cognito_pool_id(loaded: LoadedConfig, clients: object) -> str:
    """The pool from the config, else from `up`'s state file, else from the data stack."""
    config = loaded.config
    auth = config.auth
    assert isinstance(auth, CognitoAuth)
    if auth.user_pool_id:
        return auth.user_pool_id
    if config.provider != "aws":
        raise UserError(
            "auth.user_pool_id: needed to manage Cognito users from heliohub on provider "
            f"{config.provider}; or manage them in the AWS console"
        )
    from heliohub.providers.aws.events import describe_stack
    from heliohub.providers.aws.stack_outputs import DataOutputs
    from heliohub.providers.aws.state import read_outputs
    from heliohub.render.cloudformation.naming import stack_name

    outputs = read_outputs(loaded.data_dir / "state")
    if outputs and outputs.user_pool_id:
        return outputs.user_pool_id
    name = stack_name(config, "data")
    stack = describe_stack(clients.client("cloudformation"), name)  # type: ignore[attr-defined]
    if stack is not None:
        raw = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        pool = DataOutputs.parse(name, raw).user_pool_id
        if pool:
            return pool
    raise UserError(f"no user pool yet: stack {name} has none; run `heliohub up` first")


def directory(
    loaded: LoadedConfig, aws_clients: object | None = None, layer: object | None = None
) -> Directory:
    """aws_clients and layer stand in for the real AWS clients and Kubernetes layer (tests)."""
    config = loaded.config
    auth = config.auth
    if isinstance(auth, CognitoAuth):
        from heliohub.providers.aws.clients import AWSClients
        from heliohub.users.cognito import CognitoDirectory

        region = auth.region or config.aws.region
        clients = aws_clients or AWSClients(region=region)
        pool = cognito_pool_id(loaded, clients)
        return CognitoDirectory(clients.client("cognito-idp"), pool, auth, region)  # type: ignore[attr-defined]

    from heliohub.users.hub import HubDirectory, native_of
    from heliohub.users.hubapi import HubAPI

    if config.provider == "local":
        from heliohub.providers.base import SilentReporter
        from heliohub.providers.local.provider import LocalProvider

        provider = LocalProvider(loaded, SilentReporter())
        url, token = provider.users_api()
        # The hub is reached on loopback; with https.mode files its certificate names the
        # public host, so it is not verified here.
        api = HubAPI(url, token, verify_tls=False)
        return HubDirectory(config, api, native_of(config, provider.hub_database))
    # Kubernetes and AWS: the public URL and the admin token the chart generated. The hub's
    # database is inside its pod, out of reach: native sign-ups are approved on /hub/authorize.
    hub_layer = layer or _kubernetes_layer(loaded)
    api = HubAPI(hub_layer.hub_url(), hub_layer.users_token())  # type: ignore[attr-defined]
    return HubDirectory(config, api, None)


def _kubernetes_layer(loaded: LoadedConfig) -> object:
    from heliohub.providers.base import SilentReporter
    from heliohub.providers.kubernetes.layer import KubernetesLayer, configured_platform

    config = loaded.config
    if config.provider == "kubernetes":
        return KubernetesLayer(
            loaded,
            SilentReporter(),
            platform=configured_platform(loaded),
            state_dir=loaded.data_dir / "kubernetes",
        )
    from heliohub.providers.aws.clients import AWSClients
    from heliohub.providers.aws.state import eks_platform, read_outputs

    state_dir = loaded.data_dir / "state"
    outputs = read_outputs(state_dir)
    if outputs is None or not outputs.cluster_name:
        raise UserError("no cluster recorded in the state directory yet; run `heliohub up` first")
    return KubernetesLayer(
        loaded,
        SilentReporter(),
        platform=eks_platform(outputs),
        state_dir=state_dir,
        aws_session=AWSClients(region=config.aws.region).session(),
    )
