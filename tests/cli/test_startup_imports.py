"""`heliohub --help` and `heliohub validate` import only what they use.

The config models (pydantic) are the slowest import and help does not need them; validate needs
the models and the chosen provider's offline checks, not the provider itself, the renderers or
the hub's libraries. Measured in a fresh interpreter each time (`sys.modules` after the command).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from heliohub.cli import cost_commands
from heliohub.cost import estimate

PROBE = """
import json, sys
from heliohub.cli.main import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_after(*args: str, cwd: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def _loaded(modules: set[str], prefix: str) -> list[str]:
    return sorted(m for m in modules if m == prefix or m.startswith(prefix + "."))


def test_help_imports_no_config_model_and_no_provider(tmp_path: Path) -> None:
    modules = _modules_after("--help", cwd=tmp_path)
    assert "heliohub.cli.main" in modules
    for heavy in (
        "pydantic",
        "yaml",
        "rich",
        "heliohub.config",
        "heliohub.providers",
        "heliohub.render",
    ):
        assert not _loaded(modules, heavy), heavy


def test_validate_imports_the_models_and_offline_checks_only(tmp_path: Path) -> None:
    (tmp_path / "heliohub.yaml").write_text("provider: local\n")
    modules = _modules_after("validate", cwd=tmp_path)
    assert "heliohub.config.model" in modules
    assert "heliohub.providers.local.offline_checks" in modules
    for unused in (
        "rich",
        "heliohub.providers.base",
        "heliohub.providers.local.provider",
        "heliohub.render",
        "heliohub.check",
        "jupyterhub",
        "tornado",
        "boto3",
        "botocore",
        "troposphere",
        "kr8s",
        "heliohub.hubspec",
    ):
        assert not _loaded(modules, unused), unused


def test_the_cost_option_default_is_the_estimates_default() -> None:
    # Kept in the CLI module so `--help` need not import the cost model.
    assert cost_commands.DEFAULT_STORAGE_GIB == estimate.DEFAULT_STORAGE_GIB
