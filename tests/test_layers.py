"""The layers import downwards only: config, hub spec and the health check know no provider,
render knows no provider, the code that runs inside the hub and the gateway (heliohub.inhub)
knows neither, and no library module reaches the CLI. Checked in fresh interpreters, by what
each import actually loads; since a function can import late, in the source of every provider
module: none imports the health check (the CLI hands it over); and in the rendered artifacts,
which name no provider's module and carry no generated Python."""

from __future__ import annotations

import ast
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from heliohub.config import load
from heliohub.render import render

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
    # Where the Kubernetes layer runs: plain data below the hub spec, render and providers.
    "heliohub.platform": (
        "heliohub.config",
        "heliohub.hubspec",
        "heliohub.render",
        "heliohub.providers",
        "heliohub.cli",
        "pydantic",
    ),
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
    # Inside the hub and the gateway: only the hub spec's names and its own modules.
    "heliohub.inhub.hub_config": (
        "heliohub.config",
        "heliohub.render",
        "heliohub.providers",
        "heliohub.cli",
        "pydantic",
    ),
    "heliohub.inhub.gateway_config": (
        "heliohub.config",
        "heliohub.render",
        "heliohub.providers",
        "heliohub.cli",
        "pydantic",
    ),
    "heliohub.inhub.gateway": ("heliohub.config", "heliohub.render", "heliohub.providers"),
    "heliohub.inhub.spawner": ("heliohub.config", "heliohub.render", "heliohub.providers"),
    "heliohub.inhub.launch": ("heliohub.config", "heliohub.render", "heliohub.providers"),
    "heliohub.providers.local.provider": ("heliohub.cli", "heliohub.check"),
    "heliohub.providers.aws.provider": ("heliohub.cli", "heliohub.check"),
    # The Kubernetes layer takes a typed platform, never what the AWS provider records.
    "heliohub.providers.kubernetes.provider": (
        "heliohub.cli",
        "heliohub.check",
        "heliohub.providers.aws",
    ),
    "heliohub.providers.kubernetes.layer": (
        "heliohub.cli",
        "heliohub.check",
        "heliohub.providers.aws",
    ),
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


PROVIDERS = Path(__file__).parents[1] / "src" / "heliohub" / "providers"


def _imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _parse(path: Path) -> ast.Module:
    # A finaliser run by the garbage collector inside ast.parse breaks CPython 3.11's parser
    # ("AST constructor recursion depth mismatch"); dask-gateway clients that earlier tests
    # left behind raise in theirs. Collect first, then parse with the collector off.
    gc.collect()
    gc.disable()
    try:
        return ast.parse(path.read_text())
    finally:
        gc.enable()


def test_no_provider_module_imports_the_health_check() -> None:
    """Also late imports inside functions: providers are given the check (`check(run)`)."""
    sources = sorted(PROVIDERS.rglob("*.py"))
    assert len(sources) > 20  # the providers' tree, not an empty folder
    offenders = {
        str(path.relative_to(PROVIDERS)): sorted(
            name
            for name in _imported(_parse(path))
            if name == "heliohub.check" or name.startswith("heliohub.check.")
        )
        for path in sources
    }
    assert {path: names for path, names in offenders.items() if names} == {}


TESTS = Path(__file__).parent
CONFIGS = sorted(
    [
        *(TESTS / "config" / "fixtures").glob("*.happy.*.yaml"),
        *(TESTS / "snapshots" / "local").glob("*.yaml"),
    ]
)


def _renders() -> dict[str, dict[str, bytes]]:
    return {path.name: render(load(path).config) for path in CONFIGS}


def test_rendered_artifacts_name_no_provider_module() -> None:
    """The hub and the gateway load heliohub.inhub, never a provider's module."""
    for name, files in _renders().items():
        for rel, content in files.items():
            assert b"heliohub.providers" not in content, f"{name}: {rel}"
            assert b"heliohub/providers" not in content, f"{name}: {rel}"


def test_no_generated_python() -> None:
    """What differs between configs is data: the local hub's and gateway's config files and the
    charts' extraConfig are the same text for every config."""
    texts: dict[str, set[str]] = {}
    providers = set()
    for files in _renders().values():
        for rel, content in files.items():
            if rel.endswith(".py"):
                texts.setdefault(rel, set()).add(content.decode())
        for rel, key in (
            ("kubernetes/jupyterhub-values.yaml", "hub"),
            ("kubernetes/dask-gateway-values.yaml", "gateway"),
        ):
            if rel in files:
                providers.add(rel)
                values = yaml.safe_load(files[rel])
                extra = values[key]["extraConfig"]
                texts.setdefault(f"{rel} {key}.extraConfig", set()).add(json.dumps(extra))
    assert len(providers) == 2, "no chart values among the rendered fixtures"
    assert {"local/jupyterhub_config.py", "local/dask_gateway_config.py"} <= set(texts)
    for what, variants in texts.items():
        assert len(variants) == 1, f"{what}: {len(variants)} different texts"
