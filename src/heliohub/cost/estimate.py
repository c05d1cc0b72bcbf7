"""The monthly cost of an idle platform, and the price of one user-hour and one worker-hour.

Pure: a config (or templates) and a price table in, figures out. Every assumption the figures
rest on is listed in the result, so the CLI can print it beside them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from heliohub.config import HubConfig
from heliohub.config.aws import NodePool
from heliohub.cost.prices import Prices
from heliohub.cost.shape import Shape, shape_of

HOURS_PER_MONTH = 730
DEFAULT_STORAGE_GIB = 100


class Line(BaseModel):
    item: str
    quantity: str
    monthly: float


class HourPrice(BaseModel):
    """One user's (or one Dask worker's) share of a node, per hour."""

    what: str
    pool: str
    instance_type: str
    share: float
    on_demand: float
    spot: float
    capacity: Literal["on-demand", "spot"]

    @property
    def hourly(self) -> float:
        return self.spot if self.capacity == "spot" else self.on_demand


class Estimate(BaseModel):
    region: str
    source: str
    idle: list[Line]
    user_hours: list[HourPrice]
    worker_hours: list[HourPrice]
    assumptions: list[str]

    @property
    def idle_monthly(self) -> float:
        return round(sum(line.monthly for line in self.idle), 2)


def _money(x: float) -> str:
    """$0.10, $0.0376, $1.00: at least two decimals, no trailing zeros past them."""
    text = f"{x:,.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def _hourly(item: str, count: int, price_hour: float) -> Line:
    """A line for `count` things billed by the hour, running all month."""
    return Line(
        item=item,
        quantity=f"{count} x {_money(price_hour)}/h",
        monthly=count * price_hour * HOURS_PER_MONTH,
    )


def idle_lines(shape: Shape, prices: Prices, storage_gib: float) -> list[Line]:
    """Monthly cost of what runs with nobody logged in."""
    h = HOURS_PER_MONTH
    lines: list[Line] = []
    if shape.clusters:
        lines.append(_hourly("EKS control plane", shape.clusters, prices.eks_cluster_hour))
    if shape.nat_gateways:
        lines.append(_hourly("NAT gateways", shape.nat_gateways, prices.nat_gateway_hour))
    if shape.load_balancers:
        lines.append(
            _hourly("load balancer (hub proxy)", shape.load_balancers, prices.load_balancer_hour)
        )
    addresses = shape.elastic_ips + shape.load_balancers * shape.availability_zones
    if addresses:
        lines.append(_hourly("public IPv4 addresses", addresses, prices.public_ipv4_hour))
    for group in shape.node_groups:
        if not group.min_size or not group.instance_types:
            continue
        kind = group.instance_types[0]
        hourly = prices.spot_hour(kind) if group.spot else prices.instance(kind).on_demand_hour
        capacity = "spot" if group.spot else "on-demand"
        lines.append(
            Line(
                item=f"{group.name} nodes (minimum size)",
                quantity=f"{group.min_size} x {kind} {capacity} at {_money(hourly)}/h",
                monthly=group.min_size * hourly * h,
            )
        )
        lines.append(
            Line(
                item=f"{group.name} node disks",
                quantity=f"{group.min_size} x {group.disk_gib} GiB gp3 at "
                f"{_money(prices.ebs_gp3_gib_month)}/GiB-month",
                monthly=group.min_size * group.disk_gib * prices.ebs_gp3_gib_month,
            )
        )
    if shape.file_systems:
        lines.append(
            Line(
                item="EFS homes",
                quantity=f"{storage_gib:g} GiB Standard at "
                f"{_money(prices.efs_standard_gib_month)}/GiB-month",
                monthly=storage_gib * prices.efs_standard_gib_month,
            )
        )
    if shape.kms_keys:
        lines.append(
            Line(
                item="KMS key (Kubernetes secrets)",
                quantity=f"{shape.kms_keys} x {_money(prices.kms_key_month)}/month",
                monthly=shape.kms_keys * prices.kms_key_month,
            )
        )
    if shape.user_pools:
        lines.append(
            Line(
                item="Cognito user pool",
                quantity=f"free up to {prices.cognito_free_mau:,} monthly active users",
                monthly=0.0,
            )
        )
    return [Line(item=li.item, quantity=li.quantity, monthly=round(li.monthly, 2)) for li in lines]


def _share(pool: NodePool, prices: Prices, cpu: float, memory_gib: float, gpus: int) -> float:
    node = prices.instance(pool.instance_types[0])
    parts = [cpu / node.vcpu, memory_gib / node.memory_gib]
    if gpus:
        parts.append(gpus / max(node.gpus, pool.gpus_per_node, 1))
    return min(1.0, max(parts))


def _hour_price(
    what: str, pool: NodePool, prices: Prices, cpu: float, memory_gib: float, gpus: int
) -> HourPrice:
    kind = pool.instance_types[0]
    share = _share(pool, prices, cpu, memory_gib, gpus)
    return HourPrice(
        what=what,
        pool=pool.name,
        instance_type=kind,
        share=round(share, 4),
        on_demand=round(share * prices.instance(kind).on_demand_hour, 4),
        spot=round(share * prices.spot_hour(kind), 4),
        capacity=pool.capacity,
    )


def rendered_templates(config: HubConfig) -> dict[str, dict[str, Any]]:
    from heliohub.render.cloudformation import templates

    return {key: t.to_dict() for key, t in templates(config).items()}


def estimate(
    config: HubConfig, prices: Prices, storage_gib: float = DEFAULT_STORAGE_GIB
) -> Estimate:
    """The estimate for what `config` deploys on aws."""
    shape = shape_of(rendered_templates(config))
    pools = {p.name: p for p in config.aws.node_pools}
    user_hours = [
        _hour_price(
            p.name,
            pools[config.profile_pool(p)],
            prices,
            p.cpu.guarantee,
            p.memory_gib.guarantee,
            p.gpus,
        )
        for p in config.profiles
    ]
    worker_hours = []
    dask = config.dask
    if dask.worker_node_pool in pools:
        worker_hours.append(
            _hour_price(
                f"{dask.worker_cores.default} core, {dask.worker_memory_gib.default:g} GiB",
                pools[dask.worker_node_pool],
                prices,
                dask.worker_cores.default,
                dask.worker_memory_gib.default,
                0,
            )
        )
    if prices.spot_observed:
        spot = "spot: the latest spot price in the region's price history (it changes often)"
    else:
        spot = (
            f"spot: assumed {prices.spot_fraction:.0%} of on-demand (the shipped table has no "
            "spot prices; --online reads the current spot price history)"
        )
    assumptions = [
        f"prices: {prices.source}, {prices.region}, USD, before tax and discounts",
        f"a month is {HOURS_PER_MONTH} hours",
        "idle: nobody logged in, every node pool at its minimum size, priced at its first "
        "instance type",
        f"EFS: {storage_gib:g} GiB in Standard, no throughput charges (--storage-gib to change)",
        f"not included: data transfer, NAT processing ({_money(prices.nat_gateway_gb)}/GB), "
        "CloudWatch logs, S3, the hub database volume",
        "user-hour: the profile's guaranteed CPU or memory share of one node of its pool, "
        "whichever is larger (GPU profiles: their GPU share), with nodes fully packed",
        spot,
    ]
    if config.aws.support_policy == "extended":
        from heliohub.eks_releases import CALENDAR

        minor = config.aws.kubernetes_version
        release = CALENDAR.get(minor)
        when = (
            f"after {release.end_of_standard_support.isoformat()}, when Kubernetes {minor} "
            "leaves standard support"
            if release
            else f"once Kubernetes {minor} leaves standard support"
        )
        extra = (prices.eks_extended_cluster_hour - prices.eks_cluster_hour) * HOURS_PER_MONTH
        assumptions.append(
            f"support_policy extended: {when}, the control plane costs "
            f"{_money(prices.eks_extended_cluster_hour)}/h, {_money(extra)} more a month"
        )
    return Estimate(
        region=prices.region,
        source=prices.source,
        idle=idle_lines(shape, prices, storage_gib),
        user_hours=user_hours,
        worker_hours=worker_hours,
        assumptions=assumptions,
    )
