"""The AWS side of `heliohub cost` and of `plan`'s cost line: live prices, deployed templates."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from heliohub.config import HubConfig
from heliohub.cost.estimate import DEFAULT_STORAGE_GIB, idle_lines
from heliohub.cost.pricelist import PRICING_REGION, online_prices, products_getter
from heliohub.cost.prices import Prices, shipped_prices
from heliohub.cost.shape import shape_of
from heliohub.errors import UserError
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.events import describe_stack
from heliohub.providers.aws.stages import StackStage

# A stack in these states holds no resources worth pricing.
_EMPTY = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE", "DELETE_COMPLETE")


def pricing_clients(clients: AWSClients) -> AWSClients:
    """Same credentials and endpoint, in the region that serves the Price List API."""
    return AWSClients(
        region=PRICING_REGION,
        endpoint_url=clients.endpoint_url,
        access_key_id=clients.access_key_id,
        secret_access_key=clients.secret_access_key,
        profile=clients.profile,
    )


def fetch_prices(config: HubConfig, clients: AWSClients, pricing: AWSClients) -> Prices:
    """Current prices for the config's region and instance types."""
    types = sorted({t for p in config.aws.node_pools for t in p.instance_types})
    ec2 = clients.client("ec2")
    history: list[dict[str, Any]] = []
    paginator = ec2.get_paginator("describe_spot_price_history")
    for page in paginator.paginate(
        InstanceTypes=types,
        ProductDescriptions=["Linux/UNIX"],
        StartTime=datetime.now(UTC),
    ):
        history += page.get("SpotPriceHistory", [])
    return online_prices(
        products_getter(pricing.client("pricing")), config.aws.region, types, history
    )


def deployed_templates(clients: AWSClients, stages: Sequence[StackStage]) -> dict[str, Any]:
    """The templates of the stacks deployed now (absent stacks left out)."""
    cfn = clients.client("cloudformation")
    out: dict[str, Any] = {}
    for stage in stages:
        stack = describe_stack(cfn, stage.stack_name)
        if stack is None or stack["StackStatus"] in _EMPTY:
            continue
        body = cfn.get_template(StackName=stage.stack_name, TemplateStage="Original")[
            "TemplateBody"
        ]
        out[stage.key] = json.loads(body) if isinstance(body, str) else body
    return out


def idle_change_note(
    region: str,
    before: dict[str, Any],
    after: dict[str, Any],
    storage_gib: float = DEFAULT_STORAGE_GIB,
) -> str:
    """One line for `plan`: the idle monthly cost now and after the plan, from the shipped table."""
    try:
        prices = shipped_prices(region)
        now = sum(li.monthly for li in idle_lines(shape_of(before), prices, storage_gib))
        then = sum(li.monthly for li in idle_lines(shape_of(after), prices, storage_gib))
    except UserError as exc:
        return f"idle cost: not estimated ({exc})"
    delta = then - now
    sign = "+" if delta >= 0 else "-"
    return (
        f"idle cost: ${now:,.2f}/month now, ${then:,.2f}/month after this plan "
        f"({sign}${abs(delta):,.2f}; {prices.source}, {storage_gib:g} GiB EFS; "
        "`heliohub cost` for the details)"
    )
