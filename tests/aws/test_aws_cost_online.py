"""`heliohub cost --online`: spot prices from the emulator's EC2 (moto in server mode, an AWS
emulator on loopback), list prices from GetProducts answers in the API's documented format."""

from __future__ import annotations

import json
from typing import Any

from heliohub.config.load import parse
from heliohub.cost.estimate import estimate
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.costs import fetch_prices


def item(usd: str, unit: str, **attributes: str) -> str:
    """One PriceList entry (a JSON string) with one on-demand dimension."""
    offer = "SKU.JRTCKXETXF"
    dim = {"unit": unit, "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": usd}}
    return json.dumps(
        {
            "product": {"sku": "SKU", "attributes": attributes},
            "terms": {"OnDemand": {offer: {"priceDimensions": {f"{offer}.R": dim}}}},
        }
    )


CATALOGUE = {
    "AmazonEC2": [
        item(
            "0.0376",
            "Hrs",
            instanceType="t3a.medium",
            vcpu="2",
            memory="4 GiB",
            operatingSystem="Linux",
            tenancy="Shared",
            preInstalledSw="NA",
            capacitystatus="Used",
        ),
        item("0.045", "Hrs", usagetype="NatGateway-Hours"),
        item("0.045", "GB", usagetype="NatGateway-Bytes"),
        item("0.08", "GB-Mo", volumeApiName="gp3"),
    ],
    "AmazonEKS": [item("0.10", "Hrs", usagetype="USE1-AmazonEKS-Hours:perCluster")],
    "AWSELB": [item("0.025", "Hrs", usagetype="LoadBalancerUsage")],
    "AmazonEFS": [item("0.30", "GB-Mo", usagetype="TimedStorage-ByteHrs")],
    "AmazonVPC": [item("0.005", "Hrs", usagetype="USE1-PublicIPv4:InUseAddress")],
}


class _Pricing:
    def get_products(self, **kwargs: Any) -> dict[str, Any]:
        return {"PriceList": CATALOGUE.get(kwargs["ServiceCode"], [])}


class _PricingClients:
    def client(self, service: str) -> Any:
        assert service == "pricing"
        return _Pricing()


def test_online_prices_take_spot_from_the_price_history(aws: AWSClients) -> None:
    """Emulator: the spot price comes from EC2's history (moto answers 0.00001 in every zone)."""
    config = parse(
        {
            "name": "online",
            "provider": "aws",
            "aws": {
                "node_pools": [
                    {
                        "name": "services",
                        "instance_types": ["t3a.medium"],
                        "min_size": 1,
                        "max_size": 2,
                        "capacity": "spot",
                    }
                ]
            },
            "dask": {"worker_node_pool": "services", "gpu_worker_node_pool": None},
            "profiles": [
                {
                    "name": "a",
                    "display_name": "A",
                    "cpu": {"guarantee": 1, "limit": 1},
                    "memory_gib": {"guarantee": 1, "limit": 1},
                }
            ],
        }
    )
    prices = fetch_prices(config, aws, _PricingClients())  # type: ignore[arg-type]
    assert prices.source.startswith("AWS Price List API")
    assert prices.instance("t3a.medium").on_demand_hour == 0.0376
    assert prices.spot_hour("t3a.medium") == 0.00001
    result = estimate(config, prices, storage_gib=0)
    nodes = {li.item: li.monthly for li in result.idle}["services nodes (minimum size)"]
    assert nodes == 0.01  # 1 x 0.00001 x 730, rounded to cents
    assert any("latest spot price" in a for a in result.assumptions)
