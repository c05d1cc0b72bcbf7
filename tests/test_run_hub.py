"""heliohub.inhub.run_hub: JupyterHub's own command, without loading rfc3987-syntax.

Each case runs a real Python process of heliohub's virtualenv with `-X importtime`, which lists
every module the process loads.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import jupyterhub
import pytest

from heliohub.config import HubConfig
from heliohub.render.local_supervision import programs


def _imports(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    loaded = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done, loaded


def test_plain_jupyterhub_loads_the_grammar() -> None:
    """The cost exists: without run_hub, the hub's imports build the RFC 3987 parsers."""
    try:
        metadata.version("rfc3987-syntax")
    except metadata.PackageNotFoundError:
        pytest.skip("rfc3987-syntax is not installed here, so no hub loads it")
    _, loaded = _imports("-c", "import jupyterhub.app")
    assert {"rfc3987_syntax.syntax_helpers", "lark"} <= loaded


def test_run_hub_is_jupyterhub_without_the_grammar() -> None:
    done, loaded = _imports("-m", "heliohub.inhub.run_hub", "--version")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == jupyterhub.__version__
    # It did load the hub's application and jsonschema's format checks, but not the grammar.
    assert {"jupyterhub.app", "jsonschema._format"} <= loaded
    # (importtime also lists an import that failed, so the grammar's own module is the test.)
    assert "rfc3987_syntax.syntax_helpers" not in loaded
    assert "lark" not in loaded


def test_the_checks_the_hub_uses_still_run() -> None:
    """Formats other than the two IRI ones keep their checks, and event schemas validate."""
    code = (
        "import sys; sys.modules['rfc3987_syntax'] = None\n"
        "from jupyter_events.validators import draft7_format_checker as fc\n"
        "print(fc.conforms('not a date', 'date'), fc.conforms('2026-11-29', 'date'),\n"
        "      fc.conforms('http://x/ y', 'uri'), 'iri' in fc.checkers)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False", "True", "False", "False"]


def test_supervisors_start_the_hub_through_it() -> None:
    [hub] = [p for p in programs(HubConfig()) if p.name == "hub"]
    assert hub.argv[:3] == ("{bin}/python", "-m", "heliohub.inhub.run_hub")
