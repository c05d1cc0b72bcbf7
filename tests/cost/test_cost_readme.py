"""The `heliohub cost` output shown in the README is what the command prints today."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_readme_shows_the_real_cost_output() -> None:
    heliohub = Path(sys.executable).parent / "heliohub"
    config = "tests/aws/configs/aws.happy.heliocloud.yaml"
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("HELIOHUB_CONFIG", None)
    out = subprocess.run(
        [str(heliohub), "cost", "-c", config],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    shown = "\n".join(line.rstrip() for line in out.rstrip().splitlines())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"$ heliohub cost -c {config}\n{shown}\n```" in readme
