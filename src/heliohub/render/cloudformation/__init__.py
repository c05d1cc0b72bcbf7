"""CloudFormation templates for provider aws, one stack per lifecycle.

- data: EFS, the KMS key for Kubernetes secrets, the Cognito user pool. Kept by `down`.
- network: VPC, subnets, NAT (absent with `aws.network.existing`).
- cluster: EKS and everything that lives and dies with it.

Stacks pass values to each other as stack parameters, filled in by the deploy engine from the
outputs of the stacks before (not as exports: an export pins the exporting stack, and the data
stack must stay updatable while a cluster stack uses it). Render is pure: the same config gives
the same bytes, and no template holds a secret.
"""

from __future__ import annotations

import json

from troposphere import Template

from heliohub.config import HubConfig
from heliohub.render.cloudformation.cluster import cluster_template
from heliohub.render.cloudformation.data import data_template
from heliohub.render.cloudformation.naming import StackKey
from heliohub.render.cloudformation.network import network_template
from heliohub.render.cloudformation.versions import ClusterVersions

# Apply order; `down` goes the other way.
STACK_ORDER: tuple[StackKey, ...] = ("data", "network", "cluster")


def templates(
    config: HubConfig, versions: ClusterVersions | None = None
) -> dict[StackKey, Template]:
    """The stacks this config deploys, in apply order (`versions`: see cluster_template)."""
    result: dict[StackKey, Template] = {"data": data_template(config)}
    network = network_template(config)
    if network is not None:
        result["network"] = network
    result["cluster"] = cluster_template(config, versions)
    return result


# CloudFormation's limit on a template sent inline (TemplateBody); larger ones go through S3.
TEMPLATE_BODY_LIMIT = 51_200


def template_body(template: Template) -> str:
    """Deterministic, minified JSON (sorted keys): exactly the bytes sent to CloudFormation.

    Minified because whitespace counts against TEMPLATE_BODY_LIMIT: pretty-printed, the
    HelioCloud reference with 7 node pools is over it.
    """
    return json.dumps(template.to_dict(), sort_keys=True, separators=(",", ":"))


def render_aws(config: HubConfig) -> dict[str, bytes]:
    return {
        f"aws/{key}.template.json": template_body(t).encode()
        for key, t in templates(config).items()
    }
