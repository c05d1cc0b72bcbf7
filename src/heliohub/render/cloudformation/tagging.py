"""The deployment tag on every resource, in each of the shapes CloudFormation types expect."""

from __future__ import annotations

from troposphere import Tags

from heliohub.config import HubConfig
from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG


def tag_map(config: HubConfig, **extra: str) -> dict[str, str]:
    """Tags as a mapping (EKS node groups, Cognito user pools, ASGs)."""
    return dict(sorted({DEPLOYMENT_TAG: config.name, **extra}.items()))


def tags(config: HubConfig, name: str | None = None, extra: dict[str, str] | None = None) -> Tags:
    """Tags as a Key/Value list (most resource types); `name` becomes the console Name."""
    values = dict(extra or {})
    if name:
        values["Name"] = name
    return Tags(tag_map(config, **values))
