"""Prices in USD for one region, from the table shipped with heliohub or from the Price List API."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, Field

from heliohub.errors import UserError

TABLE_FILE = "prices.yaml"


class Instance(BaseModel):
    vcpu: float
    memory_gib: float
    gpus: int = 0
    on_demand_hour: float
    spot_hour: float | None = Field(
        default=None, description="observed spot price; None: estimated from spot_fraction"
    )


class Prices(BaseModel):
    """Everything an estimate needs, and where it came from."""

    region: str
    source: str
    date: str
    spot_fraction: float = Field(description="spot price as a fraction of on-demand, when unknown")
    eks_cluster_hour: float
    eks_extended_cluster_hour: float = Field(
        description="a control plane whose version is in extended support"
    )
    nat_gateway_hour: float
    nat_gateway_gb: float
    load_balancer_hour: float
    public_ipv4_hour: float
    efs_standard_gib_month: float
    ebs_gp3_gib_month: float
    kms_key_month: float
    cognito_free_mau: int
    cognito_mau: float
    instances: dict[str, Instance]

    def instance(self, instance_type: str) -> Instance:
        try:
            return self.instances[instance_type]
        except KeyError:
            raise UserError(
                f"no price for instance type {instance_type} in {self.region} in the "
                f"{self.source} table; `heliohub cost --online` asks the AWS Price List API"
            ) from None

    def spot_hour(self, instance_type: str) -> float:
        inst = self.instance(instance_type)
        if inst.spot_hour is not None:
            return inst.spot_hour
        return inst.on_demand_hour * self.spot_fraction

    @property
    def spot_observed(self) -> bool:
        return all(i.spot_hour is not None for i in self.instances.values())


def _table() -> dict[str, Any]:
    text = resources.files("heliohub.cost").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def shipped_regions() -> list[str]:
    return sorted(_table()["regions"])


def shipped_prices(region: str) -> Prices:
    """The dated table for `region`; a region it does not cover is a UserError."""
    table = _table()
    entry = table["regions"].get(region)
    if entry is None:
        raise UserError(
            f"the shipped price table ({table['date']}) has no prices for {region}; it covers "
            f"{', '.join(sorted(table['regions']))}. `heliohub cost --online` asks the AWS "
            "Price List API for any region"
        )
    specs = table["instance_specs"]
    instances = {
        name: Instance(
            vcpu=specs[name][0],
            memory_gib=specs[name][1],
            gpus=specs[name][2],
            on_demand_hour=price,
        )
        for name, price in entry["instances"].items()
    }
    rest = {k: v for k, v in entry.items() if k != "instances"}
    return Prices(
        region=region,
        source=f"shipped table of {table['date']}",
        date=table["date"],
        spot_fraction=table["spot_fraction"],
        instances=instances,
        **rest,
    )
