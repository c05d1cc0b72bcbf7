"""Cost figures from the shipped table, checked against values worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from heliohub.config.load import load, parse, read_yaml
from heliohub.cost.estimate import estimate
from heliohub.cost.prices import shipped_prices, shipped_regions
from heliohub.errors import UserError

CONFIGS = Path(__file__).parents[1] / "aws" / "configs"


def _reference():
    return load(CONFIGS / "aws.happy.heliocloud.yaml").config


def test_table_is_dated_and_covers_the_common_regions() -> None:
    assert {"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"} <= set(
        shipped_regions()
    )
    prices = shipped_prices("us-east-1")
    assert prices.source.startswith("shipped table of 20")
    assert prices.date in prices.source


def test_heliocloud_reference_idle_month() -> None:
    result = estimate(_reference(), shipped_prices("us-east-1"), storage_gib=100)
    lines = {line.item: line.monthly for line in result.idle}
    # 730 h/month; us-east-1 list prices of the shipped table.
    assert lines == {
        "EKS control plane": 73.00,  # 0.10 x 730
        "NAT gateways": 32.85,  # 1 x 0.045 x 730
        "load balancer (hub proxy)": 18.25,  # 0.025 x 730
        "public IPv4 addresses": 10.95,  # (1 NAT address + 2 zones of the LB) x 0.005 x 730
        "services nodes (minimum size)": 54.90,  # 2 x t3a.medium 0.0376 x 730
        "services node disks": 12.80,  # 2 x 80 GiB x 0.08
        "EFS homes": 30.00,  # 100 GiB x 0.30
        "KMS key (Kubernetes secrets)": 1.00,
        "Cognito user pool": 0.00,  # free below 10,000 monthly active users
    }
    assert result.idle_monthly == 233.75


def test_heliocloud_reference_user_and_worker_hours() -> None:
    result = estimate(_reference(), shipped_prices("us-east-1"))
    hours = {
        h.what: (h.pool, h.instance_type, h.on_demand, h.spot, h.capacity)
        for h in result.user_hours + result.worker_hours
    }
    assert hours == {
        # small: 1 of 4 vCPU (1 of 16 GiB is less) of m5.xlarge at 0.192; spot 40 %
        "small": ("user", "m5.xlarge", 0.048, 0.0192, "on-demand"),
        "large": ("user", "m5.xlarge", 0.096, 0.0384, "on-demand"),
        # extra-large: 13 of 16 GiB outweighs 3 of 4 vCPU: 0.8125 x 0.192
        "extra-large": ("user", "m5.xlarge", 0.156, 0.0624, "on-demand"),
        # gpu: the node's only GPU, so the whole g4dn.xlarge (0.526); the pool is spot
        "gpu": ("gpu", "g4dn.xlarge", 0.526, 0.2104, "spot"),
        # 1 core of 32 on m5.8xlarge (2 of 128 GiB is less): 1.536 / 32
        "1 core, 2 GiB": ("burst", "m5.8xlarge", 0.048, 0.0192, "spot"),
    }
    assert any("40% of on-demand" in a for a in result.assumptions)


def test_minimal_config_in_another_region() -> None:
    config = parse(
        {
            "name": "small-hub",
            "provider": "aws",
            "aws": {
                "region": "eu-west-1",
                "network": {"availability_zones": 3},
                "node_pools": [
                    {
                        "name": "services",
                        "instance_types": ["t3a.medium"],
                        "min_size": 2,
                        "max_size": 3,
                        "disk_gib": 50,
                    },
                    {"name": "user", "instance_types": ["m5.2xlarge"], "max_size": 4},
                    {
                        "name": "burst",
                        "instance_types": ["m5.xlarge"],
                        "max_size": 4,
                        "capacity": "spot",
                    },
                ],
            },
            "profiles": [
                {
                    "name": "one",
                    "display_name": "One",
                    "cpu": {"guarantee": 2, "limit": 4},
                    "memory_gib": {"guarantee": 4, "limit": 8},
                },
            ],
            "dask": {
                "gpu_worker_node_pool": None,
                "worker_cores": {"min": 1, "max": 4, "default": 2},
                "worker_memory_gib": {"min": 1, "max": 16, "default": 8},
            },
        }
    )
    result = estimate(config, shipped_prices("eu-west-1"), storage_gib=10)
    lines = {line.item: line.monthly for line in result.idle}
    assert lines == {
        "EKS control plane": 73.00,
        "NAT gateways": 35.04,  # 0.048 x 730
        "load balancer (hub proxy)": 20.44,  # 0.028 x 730
        "public IPv4 addresses": 14.60,  # (1 + 3 zones) x 0.005 x 730
        "services nodes (minimum size)": 59.57,  # 2 x 0.0408 x 730 = 59.568
        "services node disks": 8.80,  # 2 x 50 x 0.088
        "EFS homes": 3.30,  # 10 x 0.33
        "KMS key (Kubernetes secrets)": 1.00,
    }
    assert result.idle_monthly == 215.75
    (user,) = result.user_hours
    # 2 of 8 vCPU and 4 of 32 GiB of m5.2xlarge (0.428): 0.25 x 0.428
    assert (user.instance_type, user.on_demand) == ("m5.2xlarge", 0.107)
    (worker,) = result.worker_hours
    # 2 of 4 vCPU and 8 of 16 GiB: half of m5.xlarge (0.214); spot 40 %
    assert (worker.on_demand, worker.spot, worker.capacity) == (0.107, 0.0428, "spot")


def test_region_outside_the_table_points_to_online() -> None:
    with pytest.raises(UserError, match="--online"):
        shipped_prices("ap-south-2")


def test_instance_type_outside_the_table_points_to_online() -> None:
    config = parse(
        {
            "name": "odd",
            "provider": "aws",
            "aws": {
                "node_pools": [
                    {
                        "name": "services",
                        "instance_types": ["c7i.large"],
                        "min_size": 1,
                        "max_size": 2,
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
    with pytest.raises(UserError, match=r"c7i\.large.*--online"):
        estimate(config, shipped_prices("us-east-1"))


def test_extended_support_policy_names_its_price_and_date() -> None:
    data = read_yaml(CONFIGS / "aws.happy.heliocloud.yaml")
    data["aws"]["support_policy"] = "extended"
    result = estimate(parse(data), shipped_prices("us-east-1"))
    # 1.34 leaves standard support on 2026-12-02; then $0.60/h instead of $0.10/h: +$365.00
    (line,) = [a for a in result.assumptions if a.startswith("support_policy extended")]
    assert "after 2026-12-02" in line and "$0.60/h" in line and "$365.00 more a month" in line
    plain = estimate(_reference(), shipped_prices("us-east-1"))
    assert not any(a.startswith("support_policy") for a in plain.assumptions)
