"""The layers import downwards only: config, hub spec and the health check know no provider,
render knows no provider, and no library module reaches the CLI. Checked in fresh
interpreters, by what each import actually loads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    "print(json.dumps(sorted(sys.modules)))"
)

# module -> packages it must not load
RULES = {
    "heliohub.config": (
        "heliohub.hubspec",
        "heliohub.render",
        "heliohub.providers",
        "heliohub.cli",
    ),
    "heliohub.hubspec": ("heliohub.render", "heliohub.providers", "heliohub.cli"),
    "heliohub.check": ("heliohub.providers", "heliohub.render", "heliohub.cli"),
    "heliohub.render": ("heliohub.providers", "heliohub.cli"),
    "heliohub.render.local": ("heliohub.providers", "heliohub.cli"),
    # The Kubernetes layer's values need no CloudFormation (nor troposphere, the `aws` extra).
    "heliohub.render.helm": (
        "heliohub.providers",
        "heliohub.cli",
        "heliohub.render.cloudformation",
        "troposphere",
    ),
    "heliohub.providers.local.provider": ("heliohub.cli",),
    "heliohub.providers.aws.provider": ("heliohub.cli",),
    "heliohub.providers.kubernetes.provider": ("heliohub.cli",),
}


@pytest.mark.parametrize("module", sorted(RULES))
def test_imports_go_down_only(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout)
    for forbidden in RULES[module]:
        reached = [m for m in loaded if m == forbidden or m.startswith(forbidden + ".")]
        assert not reached, f"{module} loads {reached[:3]}"
