"""The Cognito hosted domain and the hub's app client; URLs come from `domain`, typed once."""

from __future__ import annotations

from troposphere import Output, Parameter, Ref, Template, cognito

from heliohub.config import HubConfig
from heliohub.render.cloudformation.naming import (
    callback_url,
    cognito_domain_prefix,
    creates_user_pool,
    managed_cognito,
    sign_out_urls,
)

USER_POOL_ID = "UserPoolId"


def add_cognito_client(t: Template, config: HubConfig) -> None:
    auth = managed_cognito(config)
    assert auth is not None
    pool = t.add_parameter(Parameter(USER_POOL_ID, Type="String"))
    if creates_user_pool(config):
        domain = t.add_resource(
            cognito.UserPoolDomain(
                "UserPoolDomain", Domain=cognito_domain_prefix(config), UserPoolId=Ref(pool)
            )
        )
        t.add_output(Output("UserPoolDomain", Value=Ref(domain)))
    client = t.add_resource(
        cognito.UserPoolClient(
            "HubClient",
            ClientName=f"{config.name}-hub",
            UserPoolId=Ref(pool),
            # Confidential client: the hub authenticates with HTTP Basic (client_secret_basic).
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=sorted(auth.scopes),
            CallbackURLs=[callback_url(config)],
            LogoutURLs=sign_out_urls(config),
            SupportedIdentityProviders=["COGNITO"],
            ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
        )
    )
    # The client id is not secret; the secret is never an output (fetched by the deploy engine).
    t.add_output(Output("UserPoolClientId", Value=Ref(client)))
