"""Property tests: the template invariants hold for many generated configs, not just fixtures.

The generator is seeded, so a failure names a config that can be reproduced (seed in the id).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from test_aws_templates import check_invariants

from heliohub.config import HubConfig

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
CPU_TYPES = ["t3a.medium", "m5.xlarge", "m5.2xlarge", "c5.4xlarge", "r5.large", "m6g.xlarge"]
GPU_TYPES = ["g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "g6.2xlarge"]
EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def generated(seed: int) -> HubConfig:
    rng = random.Random(seed)
    name = f"hub{seed}-{rng.choice(['a', 'lab', 'sci'])}"
    pools: list[dict[str, Any]] = []
    for i in range(rng.randint(1, 4)):
        gpus = rng.choice([0, 0, 1, 4])
        family = GPU_TYPES if gpus else [t for t in CPU_TYPES if not t.startswith("m6g")]
        if not gpus and rng.random() < 0.2:
            family = ["m6g.xlarge", "c6gn.large"]
        low = rng.randint(0, 2)
        pools.append(
            {
                "name": f"pool-{i}",
                "instance_types": rng.sample(family, rng.randint(1, 2)),
                "min_size": low,
                "max_size": low + rng.randint(1, 10),
                "capacity": rng.choice(["on-demand", "spot"]),
                "gpus_per_node": gpus,
                "labels": {f"example.org/l{j}": f"v{j}" for j in range(rng.randint(0, 3))},
                "taints": [
                    {
                        "key": f"example.org/t{j}",
                        "value": rng.choice(["", "x", "only"]),
                        "effect": rng.choice(EFFECTS),
                    }
                    for j in range(rng.randint(0, 2))
                ],
            }
        )
    data: dict[str, Any] = {
        "name": name,
        "provider": "aws",
        "aws": {
            "region": rng.choice(REGIONS),
            "kubernetes_version": rng.choice(["1.32", "1.33", "1.34"]),
            "node_pools": pools,
            "admin_role_arns": [
                f"arn:aws:iam::123456789012:role/admin{j}" for j in range(rng.randint(0, 2))
            ],
        },
        "dask": {"worker_node_pool": pools[0]["name"], "gpu_worker_node_pool": None},
        "profiles": [
            {
                "name": "small",
                "display_name": "Small",
                "cpu": {"guarantee": 1, "limit": 2},
                "memory_gib": {"guarantee": 1, "limit": 2},
                "node_pool": pools[-1]["name"],
            }
        ],
        "storage": {
            "s3_buckets": [
                {"name": f"bucket-{seed}-{j}", "access": rng.choice(["read-only", "read-write"])}
                for j in range(rng.randint(0, 3))
            ]
        },
    }
    if rng.random() < 0.3:
        data["aws"]["network"] = {
            "existing": {
                "vpc_id": "vpc-0abc",
                "private_subnet_ids": [f"subnet-0{j}a" for j in range(rng.randint(2, 4))],
                "public_subnet_ids": ["subnet-0b1", "subnet-0b2"],
            }
        }
    else:
        data["aws"]["network"] = {"availability_zones": rng.randint(2, 4)}
    if rng.random() < 0.6:
        data["domain"] = f"hub{seed}.example.org"
        data["https"] = {"mode": "letsencrypt", "contact_email": "ops@example.org"}
        data["auth"] = {
            "type": "cognito",
            "admin_users": ["admin@example.org"],
            "admin_groups": rng.sample(["admins", "ops", "Team Leads"], rng.randint(0, 2)),
        }
    return HubConfig.model_validate(data)


@pytest.mark.parametrize("seed", range(40))
def test_invariants_hold_for_generated_configs(seed: int) -> None:
    check_invariants(generated(seed))
