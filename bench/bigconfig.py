"""The largest realistic config: 50 profiles and 20 node pools, for each provider."""

from __future__ import annotations

from typing import Any

import yaml

PROFILES = 50
NODE_POOLS = 20


def _pools() -> list[dict[str, Any]]:
    pools: list[dict[str, Any]] = [
        {
            "name": "services",
            "instance_types": ["t3a.medium"],
            "min_size": 1,
            "max_size": 2,
            "labels": {"hub.jupyter.org/node-purpose": "core"},
        }
    ]
    families = ["m5", "m6i", "r5", "c5", "g4dn"]
    for i in range(NODE_POOLS - 1):
        family = families[i % len(families)]
        gpu = family == "g4dn"
        pool: dict[str, Any] = {
            "name": f"pool-{i:02d}",
            "instance_types": [f"{family}.xlarge", f"{family}.2xlarge", f"{family}.4xlarge"],
            "min_size": 0,
            "max_size": 5 + i,
            "capacity": "spot" if i % 2 else "on-demand",
            "labels": {"hub.jupyter.org/node-purpose": "user", "heliohub.example/pool": str(i)},
            "taints": [{"key": "hub.jupyter.org/dedicated", "value": "user"}],
        }
        if gpu:
            pool["gpus_per_node"] = 1
            pool["taints"].append({"key": "nvidia.com/gpu", "value": "true"})
        pools.append(pool)
    return pools


def _profiles(pool_names: list[str]) -> list[dict[str, Any]]:
    profiles = []
    for i in range(PROFILES):
        cpu = 1 + i % 8
        memory = 2 * (1 + i % 16)
        profiles.append(
            {
                "name": f"size-{i:02d}",
                "display_name": f"Size {i:02d} ({cpu} CPU, {memory} GiB)",
                "description": f"{cpu}-{cpu * 2} CPU, {memory}-{memory * 2} GiB",
                "cpu": {"guarantee": cpu, "limit": cpu * 2},
                "memory_gib": {"guarantee": memory, "limit": memory * 2},
                "node_pool": pool_names[1 + i % (len(pool_names) - 1)],
                "default": i == 0,
            }
        )
    return profiles


def big_config(provider: str) -> dict[str, Any]:
    pools = _pools()
    config: dict[str, Any] = {
        "name": "big",
        "provider": provider,
        "auth": {"type": "shared-password", "admin_users": [f"admin{i}" for i in range(10)]},
        "profiles": _profiles([p["name"] for p in pools]),
        "dask": {"worker_node_pool": pools[-1]["name"], "gpu_worker_node_pool": "pool-04"},
        "storage": {
            "s3_buckets": [{"name": f"helio-bucket-{i}", "access": "read-only"} for i in range(10)]
        },
        "aws": {"region": "us-east-1", "node_pools": pools},
    }
    if provider == "local":
        config["local"] = {"bind": "127.0.0.1:8000", "data_dir": "./data", "isolation": "none"}
        # The local provider cannot enforce server sizes, so it refuses profiles.
        del config["profiles"]
    if provider == "kubernetes":
        config["kubernetes"] = {"namespace": "science"}
    return config


def big_config_yaml(provider: str) -> str:
    return yaml.safe_dump(big_config(provider), sort_keys=False)
