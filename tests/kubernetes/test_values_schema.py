"""Rendered values, merged over the charts' defaults, against the charts' own schemas."""

from __future__ import annotations

import copy
import filecmp

import pytest
import yaml
from k8s_fakes import CONFIGS, SHARED_SCHEMAS, SHIPPED_SCHEMAS, config, schemas_dir

from heliohub.render.helm import render_kubernetes, versions
from heliohub.render.helm.values_check import merge, validate_rendered, validate_values


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_rendered_values_pass_the_chart_schemas(name: str) -> None:
    cfg, outs = config(name)
    files = render_kubernetes(cfg, outs)
    assert "kubernetes/jupyterhub-values.yaml" in files
    assert validate_rendered(files, schemas_dir()) == []


@pytest.mark.parametrize("name", ["aws-heliocloud", "kubernetes-native-letsencrypt"])
def test_https_pending_overlay_also_validates(name: str) -> None:
    cfg, outs = config(name)
    files = render_kubernetes(cfg, outs)
    values = yaml.safe_load(files["kubernetes/jupyterhub-values.yaml"])
    overlay = yaml.safe_load(files["kubernetes/jupyterhub-https-pending.yaml"])
    first_install = merge(values, overlay)
    assert first_install["proxy"]["https"]["enabled"] is False
    assert validate_values(versions.JUPYTERHUB, first_install, schemas_dir()) == []


def test_a_typo_is_caught() -> None:
    cfg, outs = config("aws-heliocloud")
    values = yaml.safe_load(render_kubernetes(cfg, outs)["kubernetes/jupyterhub-values.yaml"])
    bad = copy.deepcopy(values)
    bad["cull"]["timeuot"] = bad["cull"].pop("timeout")
    problems = validate_values(versions.JUPYTERHUB, bad, schemas_dir())
    assert len(problems) == 1
    assert problems[0].path == "cull"
    assert "'timeuot' was unexpected" in problems[0].message


def test_a_gateway_typo_is_caught() -> None:
    cfg, _ = config("kubernetes-minimal")
    values = yaml.safe_load(render_kubernetes(cfg)["kubernetes/dask-gateway-values.yaml"])
    values["gateway"]["auth"]["jupyterhub"]["jupyterhubServicename"] = "dask-gateway"
    problems = validate_values(versions.DASK_GATEWAY, values, schemas_dir())
    assert [p.path for p in problems] == ["gateway.auth.jupyterhub"]


def test_null_deletes_a_default_as_helm_does() -> None:
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}
    assert merge({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


@pytest.mark.skipif(
    not SHARED_SCHEMAS.is_dir(), reason="no ../shared/chart-schemas beside the repo"
)
def test_shipped_schema_copies_match_the_shared_ones() -> None:
    for chart in (versions.JUPYTERHUB, versions.DASK_GATEWAY):
        sub = f"{chart.name}-{chart.version}"
        for name in ("values.yaml", "values.schema.json", "LICENSE"):
            assert filecmp.cmp(
                SHARED_SCHEMAS / sub / name, SHIPPED_SCHEMAS / sub / name, shallow=False
            ), f"{sub}/{name}"
