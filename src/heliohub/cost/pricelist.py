"""Prices from the AWS Price List API (`pricing:GetProducts`) and the spot price history.

GetProducts answers with `PriceList`: a list of JSON strings, one per product, each holding
`product.attributes` and `terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`.
The parsing is pure and kept apart from the calls, so it is tested on responses in that format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from heliohub.cost.prices import Instance, Prices, shipped_prices
from heliohub.errors import UserError

# The Price List API answers only in a few regions; us-east-1 serves every region's prices.
PRICING_REGION = "us-east-1"


@dataclass(frozen=True)
class Product:
    attributes: dict[str, str]
    on_demand: list[tuple[str, float]]  # (unit, USD per unit), first tier of each dimension


def parse_product(item: str | dict[str, Any]) -> Product:
    """One entry of GetProducts' PriceList (a JSON string, or already decoded)."""
    data = json.loads(item) if isinstance(item, str) else item
    attributes = dict(data.get("product", {}).get("attributes", {}))
    dims: list[tuple[str, float]] = []
    for term in data.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            if str(dim.get("beginRange", "0")) not in ("0", "0.0"):
                continue  # later tiers of a tiered price
            usd = dim.get("pricePerUnit", {}).get("USD")
            if usd is None:
                continue
            dims.append((str(dim.get("unit", "")), float(usd)))
    return Product(attributes=attributes, on_demand=dims)


def price_of(products: Iterable[Product], what: str, unit: str, **match: str) -> float:
    """The one positive on-demand price with `unit` among products whose attributes match.

    A value in `match` starting with '*' matches with or without a region prefix: usage types
    read NatGateway-Hours in us-east-1 and USE2-NatGateway-Hours elsewhere.
    """

    def fits(p: Product) -> bool:
        for key, want in match.items():
            have = p.attributes.get(key, "")
            if want.startswith("*"):
                if have != want[1:] and not have.endswith("-" + want[1:]):
                    return False
            elif have != want:
                return False
        return True

    found = sorted(
        {usd for p in products if fits(p) for u, usd in p.on_demand if u == unit and usd > 0}
    )
    if not found:
        raise UserError(f"the AWS Price List API has no on-demand price for {what}")
    # Several matching SKUs (e.g. by-usage variants) differ little; the highest is the safe side.
    return found[-1]


def _memory_gib(text: str) -> float:
    m = re.match(r"([\d.,]+)\s*GiB", text)
    if not m:
        raise UserError(f"the AWS Price List API gave an unreadable memory size: {text!r}")
    return float(m.group(1).replace(",", ""))


def instance_from(products: Iterable[Product], instance_type: str) -> Instance:
    """On-demand Linux price and size of one instance type."""
    products = [p for p in products if p.attributes.get("instanceType") == instance_type]
    price = price_of(
        products,
        f"{instance_type} (Linux, shared tenancy)",
        "Hrs",
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
    )
    attrs = next(p.attributes for p in products if p.attributes.get("vcpu"))
    gpu = attrs.get("gpu", "0") or "0"
    return Instance(
        vcpu=float(attrs["vcpu"]),
        memory_gib=_memory_gib(attrs.get("memory", "")),
        gpus=int(gpu) if gpu.isdigit() else 0,
        on_demand_hour=price,
    )


def latest_spot(history: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Per instance type, the highest of the latest spot prices across zones."""
    newest: dict[tuple[str, str], tuple[datetime, float]] = {}
    for entry in history:
        key = (entry["InstanceType"], entry["AvailabilityZone"])
        when = entry["Timestamp"]
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        if key not in newest or when > newest[key][0]:
            newest[key] = (when, float(entry["SpotPrice"]))
    out: dict[str, float] = {}
    for (kind, _zone), (_when, price) in newest.items():
        out[kind] = max(out.get(kind, 0.0), price)
    return out


GetProducts = Callable[[str, list[dict[str, str]]], list[Product]]


def products_getter(pricing: Any) -> GetProducts:
    """GetProducts through a boto3 `pricing` client, all pages."""

    def get(service: str, filters: list[dict[str, str]]) -> list[Product]:
        out: list[Product] = []
        kwargs: dict[str, Any] = {
            "ServiceCode": service,
            "Filters": [{"Type": "TERM_MATCH", **f} for f in filters],
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        while True:
            resp = pricing.get_products(**kwargs)
            out += [parse_product(item) for item in resp.get("PriceList", [])]
            token = resp.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token

    return get


def online_prices(
    get: GetProducts,
    region: str,
    instance_types: list[str],
    spot_history: Iterable[dict[str, Any]] | None,
) -> Prices:
    """Prices for `region` from the Price List API; Cognito, KMS and IPv4 from the table's rules."""

    def f(field: str, value: str) -> dict[str, str]:
        return {"Field": field, "Value": value}

    where = [f("regionCode", region)]
    instances: dict[str, Instance] = {}
    for kind in sorted(set(instance_types)):
        products = get(
            "AmazonEC2",
            [
                *where,
                f("instanceType", kind),
                f("operatingSystem", "Linux"),
                f("tenancy", "Shared"),
            ],
        )
        instances[kind] = instance_from(products, kind)
    if spot_history is not None:
        spot = latest_spot(spot_history)
        for kind, inst in instances.items():
            if kind in spot:
                inst.spot_hour = spot[kind]
    eks = get("AmazonEKS", where)
    nat = get("AmazonEC2", [*where, f("productFamily", "NAT Gateway")])
    elb = get("AWSELB", [*where, f("productFamily", "Load Balancer")])
    efs = get("AmazonEFS", where)
    ebs = get("AmazonEC2", [*where, f("productFamily", "Storage"), f("volumeApiName", "gp3")])
    ipv4 = get("AmazonVPC", where)
    # KMS, Cognito and EKS extended support cost the same everywhere; the table has them.
    fixed = _fixed_prices()
    eks_usage = "*AmazonEKS-Hours:perCluster"
    return Prices(
        region=region,
        source=f"AWS Price List API, {datetime.now(UTC).date().isoformat()}",
        date=datetime.now(UTC).date().isoformat(),
        spot_fraction=fixed["spot_fraction"],
        eks_cluster_hour=price_of(eks, "the EKS control plane", "Hrs", usagetype=eks_usage),
        nat_gateway_hour=price_of(nat, "NAT gateway hours", "Hrs", usagetype="*NatGateway-Hours"),
        nat_gateway_gb=price_of(nat, "NAT gateway data", "GB", usagetype="*NatGateway-Bytes"),
        load_balancer_hour=price_of(
            elb, "Classic Load Balancer hours", "Hrs", usagetype="*LoadBalancerUsage"
        ),
        public_ipv4_hour=price_of(
            ipv4, "public IPv4 addresses", "Hrs", usagetype="*PublicIPv4:InUseAddress"
        ),
        efs_standard_gib_month=price_of(
            efs, "EFS Standard storage", "GB-Mo", usagetype="*TimedStorage-ByteHrs"
        ),
        ebs_gp3_gib_month=price_of(ebs, "EBS gp3 storage", "GB-Mo", volumeApiName="gp3"),
        eks_extended_cluster_hour=fixed["eks_extended_cluster_hour"],
        kms_key_month=fixed["kms_key_month"],
        cognito_free_mau=fixed["cognito_free_mau"],
        cognito_mau=fixed["cognito_mau"],
        instances=instances,
    )


def _fixed_prices() -> dict[str, Any]:
    table = shipped_prices("us-east-1")
    return {
        "spot_fraction": table.spot_fraction,
        "kms_key_month": table.kms_key_month,
        "eks_extended_cluster_hour": table.eks_extended_cluster_hour,
        "cognito_free_mau": table.cognito_free_mau,
        "cognito_mau": table.cognito_mau,
    }
