"""Check generated values the way helm does: merge over the chart's defaults, then its schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from heliohub.render.helm import versions
from heliohub.render.helm.versions import Chart

SHIPPED = Path(__file__).parent / "schemas"
CHECKED = (versions.JUPYTERHUB, versions.DASK_GATEWAY)


@dataclass(frozen=True)
class ValuesProblem:
    chart: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.chart} values {self.path or '(root)'}: {self.message}"


def chart_dir(chart: Chart, schemas: Path | None = None) -> Path:
    return (schemas or SHIPPED) / f"{chart.name}-{chart.version}"


def merge(defaults: Any, user: Any) -> Any:
    """Helm's merge: mappings recursively, anything else replaced; a user null deletes the key."""
    if not (isinstance(defaults, dict) and isinstance(user, dict)):
        return user
    out = dict(defaults)
    for key, value in user.items():
        if value is None:
            out.pop(key, None)
        elif key in out:
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def validate_values(
    chart: Chart, values: dict[str, Any], schemas: Path | None = None
) -> list[ValuesProblem]:
    where = chart_dir(chart, schemas)
    defaults = yaml.safe_load((where / "values.yaml").read_text(encoding="utf-8")) or {}
    schema = json.loads((where / "values.schema.json").read_text(encoding="utf-8"))
    merged = merge(defaults, values or {})
    # dask-gateway's schema misspells its "$schema" key, so the draft is chosen here.
    errors = sorted(
        Draft7Validator(schema).iter_errors(merged), key=lambda e: [str(p) for p in e.absolute_path]
    )
    return [
        ValuesProblem(chart.name, ".".join(str(p) for p in e.absolute_path), e.message)
        for e in errors
    ]


def validate_rendered(files: dict[str, bytes], schemas: Path | None = None) -> list[ValuesProblem]:
    """Every chart values file in a render whose chart has a schema here."""
    from heliohub.render.helm.releases import GATEWAY_VALUES, JUPYTERHUB_VALUES, VALUES_DIR

    problems: list[ValuesProblem] = []
    for chart, name in (
        (versions.JUPYTERHUB, JUPYTERHUB_VALUES),
        (versions.DASK_GATEWAY, GATEWAY_VALUES),
    ):
        content = files.get(f"{VALUES_DIR}/{name}")
        if content is not None:
            problems += validate_values(chart, yaml.safe_load(content), schemas)
    return problems
