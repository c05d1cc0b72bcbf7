"""The Price List parser, on GetProducts responses in the API's documented format.

GetProducts returns `PriceList`, a list of JSON *strings*; each holds `product.attributes` and
`terms.OnDemand.<sku.offer>.priceDimensions.<sku.offer.rate>` with `unit`, `beginRange` and
`pricePerUnit.USD` (strings), next to `terms.Reserved`, which an on-demand estimate ignores.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from heliohub.cost.pricelist import (
    instance_from,
    latest_spot,
    online_prices,
    parse_product,
    price_of,
    products_getter,
)
from heliohub.errors import UserError


def price_item(
    sku: str,
    family: str,
    attributes: dict[str, str],
    dims: list[tuple[str, str, str]],
    reserved: str | None = None,
) -> str:
    """One PriceList entry as the API sends it; dims are (unit, USD, beginRange)."""
    offer = f"{sku}.JRTCKXETXF"
    item: dict[str, Any] = {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": attributes.get("servicecode", "AmazonEC2"),
        "terms": {
            "OnDemand": {
                offer: {
                    "priceDimensions": {
                        f"{offer}.6YS6EN2CT7.{i}": {
                            "unit": unit,
                            "endRange": "Inf",
                            "description": f"{usd} per {unit}",
                            "appliesTo": [],
                            "rateCode": f"{offer}.6YS6EN2CT7.{i}",
                            "beginRange": begin,
                            "pricePerUnit": {"USD": usd},
                        }
                        for i, (unit, usd, begin) in enumerate(dims)
                    },
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }
    if reserved:
        item["terms"]["Reserved"] = {
            f"{sku}.4NA7Y494T4": {
                "priceDimensions": {
                    f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                        "unit": "Hrs",
                        "beginRange": "0",
                        "pricePerUnit": {"USD": reserved},
                    }
                },
                "termAttributes": {"LeaseContractLength": "1yr", "PurchaseOption": "No Upfront"},
            }
        }
    return json.dumps(item)


def ec2_instance(kind: str, usd: str, vcpu: str, memory: str, **extra: str) -> str:
    attrs = {
        "servicecode": "AmazonEC2",
        "instanceType": kind,
        "regionCode": "us-east-1",
        "vcpu": vcpu,
        "memory": memory,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "usagetype": f"BoxUsage:{kind}",
        **extra,
    }
    return price_item(f"SKU{kind}", "Compute Instance", attrs, [("Hrs", usd, "0")], reserved="0.1")


def test_parse_product_reads_on_demand_and_skips_reserved_and_later_tiers() -> None:
    item = price_item(
        "ABC",
        "Storage",
        {"usagetype": "USE1-TimedStorage-ByteHrs"},
        [("GB-Mo", "0.3000000000", "0"), ("GB-Mo", "0.2000000000", "51200")],
        reserved="9.99",
    )
    product = parse_product(item)
    assert product.attributes["usagetype"] == "USE1-TimedStorage-ByteHrs"
    assert product.on_demand == [("GB-Mo", 0.3)]


def test_instance_price_picks_linux_shared_used_capacity() -> None:
    products = [
        parse_product(x)
        for x in (
            ec2_instance("m5.xlarge", "0.1920000000", "4", "16 GiB"),
            # the same type with Windows, dedicated tenancy, or reserved-capacity rows
            ec2_instance("m5.xlarge", "0.3760000000", "4", "16 GiB", operatingSystem="Windows"),
            ec2_instance("m5.xlarge", "0.2110000000", "4", "16 GiB", tenancy="Dedicated"),
            ec2_instance(
                "m5.xlarge",
                "0.0000000000",
                "4",
                "16 GiB",
                capacitystatus="UnusedCapacityReservation",
            ),
            ec2_instance("g4dn.xlarge", "0.5260000000", "4", "16 GiB", gpu="1"),
        )
    ]
    m5 = instance_from(products, "m5.xlarge")
    assert (m5.vcpu, m5.memory_gib, m5.gpus, m5.on_demand_hour) == (4, 16, 0, 0.192)
    g4 = instance_from(products, "g4dn.xlarge")
    assert (g4.gpus, g4.on_demand_hour) == (1, 0.526)
    with pytest.raises(UserError, match=r"no on-demand price for m5\.8xlarge"):
        instance_from(products, "m5.8xlarge")


def test_usage_type_suffix_match_ignores_the_region_prefix() -> None:
    products = [
        parse_product(
            price_item(
                "N1", "NAT Gateway", {"usagetype": "EU-NatGateway-Hours"}, [("Hrs", "0.048", "0")]
            )
        ),
        parse_product(
            price_item(
                "N2", "NAT Gateway", {"usagetype": "EU-NatGateway-Bytes"}, [("GB", "0.048", "0")]
            )
        ),
    ]
    assert price_of(products, "nat", "Hrs", usagetype="*NatGateway-Hours") == 0.048
    assert price_of(products, "nat", "GB", usagetype="*NatGateway-Bytes") == 0.048
    with pytest.raises(UserError, match="no on-demand price for nat"):
        price_of(products, "nat", "GB", usagetype="*NatGateway-Hours")
    infrequent = [
        parse_product(
            price_item(
                "F0",
                "Storage",
                {"usagetype": "USE2-IATimedStorage-ByteHrs"},
                [("GB-Mo", "0.016", "0")],
            )
        )
    ]
    with pytest.raises(UserError, match="no on-demand price for efs"):
        price_of(infrequent, "efs", "GB-Mo", usagetype="*TimedStorage-ByteHrs")


def test_latest_spot_takes_newest_per_zone_then_highest_zone() -> None:
    history = [
        {
            "InstanceType": "m5.8xlarge",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": "0.9000",
            "Timestamp": "2026-11-28T10:00:00+00:00",
        },
        {
            "InstanceType": "m5.8xlarge",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": "0.6100",
            "Timestamp": "2026-11-29T04:00:00+00:00",
        },
        {
            "InstanceType": "m5.8xlarge",
            "AvailabilityZone": "us-east-1b",
            "SpotPrice": "0.6400",
            "Timestamp": "2026-11-29T03:00:00+00:00",
        },
    ]
    assert latest_spot(history) == {"m5.8xlarge": 0.64}


def test_online_prices_from_documented_responses() -> None:
    """The whole online path, with GetProducts answered from documented-format strings."""
    catalogue: dict[str, list[str]] = {
        "AmazonEC2": [
            ec2_instance("t3a.medium", "0.0376000000", "2", "4 GiB"),
            price_item(
                "N1", "NAT Gateway", {"usagetype": "NatGateway-Hours"}, [("Hrs", "0.045", "0")]
            ),
            price_item(
                "N2", "NAT Gateway", {"usagetype": "NatGateway-Bytes"}, [("GB", "0.045", "0")]
            ),
            price_item(
                "V1",
                "Storage",
                {"volumeApiName": "gp3", "usagetype": "EBS:VolumeUsage.gp3"},
                [("GB-Mo", "0.08", "0")],
            ),
        ],
        "AmazonEKS": [
            price_item(
                "E1",
                "Compute",
                {"usagetype": "USE1-AmazonEKS-Hours:perCluster"},
                [("Hrs", "0.10", "0")],
            ),
            price_item(
                "E2",
                "Compute",
                {"usagetype": "USE1-AmazonEKS-Hours:extendedSupport"},
                [("Hrs", "0.60", "0")],
            ),
        ],
        "AWSELB": [
            price_item(
                "L1", "Load Balancer", {"usagetype": "LoadBalancerUsage"}, [("Hrs", "0.025", "0")]
            ),
        ],
        "AmazonEFS": [
            # Infrequent Access must not be taken for Standard
            price_item(
                "F0", "Storage", {"usagetype": "IATimedStorage-ByteHrs"}, [("GB-Mo", "0.016", "0")]
            ),
            price_item(
                "F1", "Storage", {"usagetype": "TimedStorage-ByteHrs"}, [("GB-Mo", "0.30", "0")]
            ),
        ],
        "AmazonVPC": [
            price_item(
                "P1",
                "VPC Public IPv4 Address",
                {"usagetype": "USE1-PublicIPv4:InUseAddress"},
                [("Hrs", "0.005", "0")],
            ),
        ],
    }
    asked: list[tuple[str, list[dict[str, str]]]] = []

    def get(service: str, filters: list[dict[str, str]]):
        asked.append((service, filters))
        return [parse_product(x) for x in catalogue[service]]

    spot = [
        {
            "InstanceType": "t3a.medium",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": "0.0150",
            "Timestamp": "2026-11-29T04:00:00+00:00",
        }
    ]
    prices = online_prices(get, "us-east-1", ["t3a.medium"], spot)
    assert prices.eks_cluster_hour == 0.10  # not the extended-support rate
    assert (prices.nat_gateway_hour, prices.nat_gateway_gb) == (0.045, 0.045)
    assert prices.load_balancer_hour == 0.025
    assert prices.efs_standard_gib_month == 0.30
    assert prices.ebs_gp3_gib_month == 0.08
    assert prices.public_ipv4_hour == 0.005
    assert prices.instance("t3a.medium").on_demand_hour == 0.0376
    assert prices.spot_hour("t3a.medium") == 0.015
    assert prices.spot_observed
    assert prices.source.startswith("AWS Price List API")
    assert all({"Field": "regionCode", "Value": "us-east-1"} in f for _, f in asked)


class _Pricing:
    """GetProducts answering in pages of one, as the API pages with NextToken."""

    def __init__(self, catalogue: dict[str, list[str]]) -> None:
        self.catalogue = catalogue
        self.calls: list[dict[str, Any]] = []

    def get_products(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        items = self.catalogue.get(kwargs["ServiceCode"], [])
        at = int(kwargs.get("NextToken", "0"))
        page: dict[str, Any] = {"PriceList": items[at : at + 1], "FormatVersion": "aws_v1"}
        if at + 1 < len(items):
            page["NextToken"] = str(at + 1)
        return page


def test_products_getter_follows_next_token_and_sends_term_match_filters() -> None:
    pricing = _Pricing(
        {
            "AmazonEC2": [
                ec2_instance("m5.xlarge", "0.192", "4", "16 GiB"),
                ec2_instance("m5.xlarge", "0.376", "4", "16 GiB", operatingSystem="Windows"),
                ec2_instance("m5.2xlarge", "0.384", "8", "32 GiB"),
            ]
        }
    )
    get = products_getter(pricing)
    products = get("AmazonEC2", [{"Field": "regionCode", "Value": "us-east-1"}])
    assert len(products) == 3 and len(pricing.calls) == 3
    assert [c.get("NextToken") for c in pricing.calls] == [None, "1", "2"]
    assert pricing.calls[0]["Filters"] == [
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}
    ]
    assert pricing.calls[0]["FormatVersion"] == "aws_v1"
    assert instance_from(products, "m5.xlarge").on_demand_hour == 0.192
