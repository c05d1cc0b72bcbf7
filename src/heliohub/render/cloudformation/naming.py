"""Names shared by the templates, the deploy engine and the Kubernetes layer.

Everything here is derived from the config, so the same config always names the same things.
"""

from __future__ import annotations

from typing import Literal

from heliohub.config import HubConfig
from heliohub.config.auth import CognitoAuth
from heliohub.errors import UserError
from heliohub.hubspec import hub_spec

# Shared with the Kubernetes layer (render/eks.py); re-exported for the templates.
from heliohub.render.eks import DEPLOYMENT_TAG as DEPLOYMENT_TAG
from heliohub.render.eks import NODE_POOL_LABEL as NODE_POOL_LABEL
from heliohub.render.eks import USER_SERVICE_ACCOUNT as USER_SERVICE_ACCOUNT

StackKey = Literal["data", "network", "cluster"]


# The EFS CSI driver add-on's controller service account (fixed by the add-on).
EFS_CSI_SERVICE_ACCOUNT = "efs-csi-controller-sa"
EBS_CSI_SERVICE_ACCOUNT = "ebs-csi-controller-sa"

# Where the homes and the shared directory live on EFS; the access point roots every mount here.
EFS_ROOT_PATH = "/heliohub"


def stack_name(config: HubConfig, key: StackKey) -> str:
    return f"{config.name}-{key}"


def cluster_name(config: HubConfig) -> str:
    return config.name


def managed_cognito(config: HubConfig) -> CognitoAuth | None:
    """The Cognito settings when heliohub creates the app client on AWS, else None."""
    auth = config.auth
    if config.provider != "aws" or not isinstance(auth, CognitoAuth) or auth.client_id:
        return None
    return auth


def creates_user_pool(config: HubConfig) -> bool:
    auth = managed_cognito(config)
    return auth is not None and auth.user_pool_id is None


def cognito_domain_prefix(config: HubConfig) -> str:
    """The prefix the stack creates; the config model has already refused reserved words."""
    prefix = config.cognito_domain_prefix()
    if prefix is None:
        raise UserError("auth.domain_prefix: no Cognito user pool domain to create")
    return prefix


def callback_url(config: HubConfig) -> str:
    """The OAuth callback, registered in the app client exactly as the hub sends it."""
    from heliohub.hubspec.login import callback_url as hub_callback_url

    _domain(config)
    return hub_callback_url(hub_spec(config).public_url)


def sign_out_urls(config: HubConfig) -> list[str]:
    """Where Cognito may send the browser after logout (`logout_uri` must be one of these)."""
    from heliohub.hubspec.login import cognito_sign_out_url

    _domain(config)
    # The very string the hub sends as logout_uri (Cognito matches it exactly).
    return [cognito_sign_out_url(hub_spec(config).public_url)]


def _domain(config: HubConfig) -> str:
    # The config model requires a domain for cognito on aws.
    assert config.domain, "cognito on aws without a domain passed validation"
    return config.domain
