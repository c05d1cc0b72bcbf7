"""The local and the Helm translation of the same hub spec agree on every shared setting.

Over generated configs (hypothesis), the same `dask`, `culling` and login settings are rendered
for provider local and for provider kubernetes, and both results are loaded as their programs
load them: the local hub's and gateway's constant config files, with the data files rendered
beside them, through traitlets' own loader (the idle culler's options from the program list the
supervisor runs); the chart's values as YAML with the gateway's extraConfig run as the chart
runs it (tests/chart_config.py), against dask-gateway-server's real Options. Then the bounds and
defaults of the cluster options, what the handler makes of a choice, the gateway's limits, the
service names and prefix, the scopes and the culling must be the same. A drift between the two
renderers fails here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import chart_config
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from traitlets.config import Config, PyFileConfigLoader

from heliohub.config import parse
from heliohub.hubspec import hub_spec
from heliohub.render import local as local_render
from heliohub.render.helm import render_kubernetes
from heliohub.render.local import render_local
from heliohub.render.local_supervision import programs

# What `heliohub up` would set on the hub: every variable render/local.py lists, with stand-ins.
RUNTIME_ENV = {
    **{name: f"/stand-in/{name.lower()}" for name in local_render.RUNTIME_ENV},
    "HELIOHUB_ISOLATION": "none",
    "HELIOHUB_HUB_PORT": "40001",
    "HELIOHUB_PROXY_API_PORT": "40002",
    "HELIOHUB_GATEWAY_PORT": "40003",
}


@st.composite
def int_range(draw: st.DrawFn, top: int) -> dict[str, int]:
    low, default, high = sorted(draw(st.lists(st.integers(1, top), min_size=3, max_size=3)))
    return {"min": low, "max": high, "default": default}


@st.composite
def float_range(draw: st.DrawFn) -> dict[str, float]:
    values = draw(st.lists(st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 8.0, 16.0, 64.0]), min_size=3))
    low, default, high = sorted(values[:3])
    return {"min": low, "max": high, "default": default}


@st.composite
def shared_settings(draw: st.DrawFn) -> dict[str, Any]:
    """The sections every provider honours."""
    return {
        "dask": {
            "worker_cores": draw(int_range(64)),
            "worker_memory_gib": draw(float_range()),
            "max_workers_per_cluster": draw(st.integers(1, 500)),
            "cluster_idle_timeout_s": draw(st.integers(0, 86400)),
        },
        "culling": {
            "enabled": draw(st.booleans()),
            "server_idle_timeout_s": draw(st.integers(1, 86400)),
            "every_s": draw(st.integers(1, 3600)),
            "max_age_s": draw(st.integers(0, 86400)),
        },
        "auth": {"type": "native", "admin_users": draw(st.lists(st.sampled_from(["ada", "bo"])))},
    }


def _local(settings: dict[str, Any]) -> tuple[Config, Config]:
    """(hub config, gateway config) of the local hub, loaded as the hub and the gateway do."""
    config = parse({**settings, "provider": "local"})
    with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ, RUNTIME_ENV):
        out = Path(tmp)
        for rel, content in render_local(config).items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(content)
        hub = PyFileConfigLoader("jupyterhub_config.py", path=str(out / "local")).load_config()
        gateway = PyFileConfigLoader("dask_gateway_config.py", path=str(out / "local"))
        return hub, gateway.load_config()


def _helm(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Config]:
    """(jupyterhub values, dask-gateway values, the gateway's extraConfig run for real)."""
    config = parse({**settings, "provider": "kubernetes"})
    files = render_kubernetes(config, None)
    hub = yaml.safe_load(files["kubernetes/jupyterhub-values.yaml"])
    gateway = yaml.safe_load(files["kubernetes/dask-gateway-values.yaml"])
    return hub, gateway, chart_config.gateway_config(gateway)


def _bounds(options: Any) -> dict[str, tuple[Any, Any, Any]]:
    return {f.field: (f.min, f.max, f.default) for f in options.fields if hasattr(f, "min")}


def _culler_args(settings: dict[str, Any]) -> dict[str, int]:
    """The local idle culler's options, from the program the supervisor runs."""
    config = parse({**settings, "provider": "local"})
    culler = [p for p in programs(config) if p.name == "idle-culler"]
    if not culler:
        return {}
    options = [a for a in culler[0].argv if a.startswith("--")]
    return {k: int(v) for k, v in (a.removeprefix("--").split("=") for a in options)}


@settings(max_examples=25, deadline=None)
@given(shared_settings())
def test_cluster_options_and_gateway_limits_agree(settings_: dict[str, Any]) -> None:
    _, local_gw = _local(settings_)
    _, gw_values, helm_gw = _helm(settings_)
    local_opts, helm_opts = local_gw.Backend.cluster_options, helm_gw.Backend.cluster_options
    # Bounds and defaults of every numeric option.
    assert _bounds(local_opts) == _bounds(helm_opts)
    # What a choice becomes: the same cores, threads and bytes of memory on both (Kubernetes
    # adds limits equal to the requests).
    spec = hub_spec(parse({**settings_, "provider": "local"})).gateway.options
    for request in ({}, {"worker_cores": spec.worker_cores.max}):
        local_cfg = local_opts.get_configuration(local_opts.parse_options(request), None)
        helm_cfg = helm_opts.get_configuration(helm_opts.parse_options(request), None)
        for key in ("worker_cores", "worker_threads", "worker_memory"):
            assert local_cfg[key] == helm_cfg[key], key
        assert helm_cfg["worker_cores_limit"] == helm_cfg["worker_cores"]
        assert helm_cfg["worker_memory_limit"] == helm_cfg["worker_memory"]
    # Both refuse a choice above the range.
    too_many = {"worker_cores": spec.worker_cores.max + 1}
    for options in (local_opts, helm_opts):
        try:
            options.parse_options(too_many)
        except ValueError:
            pass
        else:
            raise AssertionError(f"{too_many} accepted")
    # The gateway's limits.
    assert local_gw.LocalClusterConfig.cluster_max_workers == (
        helm_gw.ClusterConfig.cluster_max_workers
    )
    assert float(local_gw.LocalClusterConfig.idle_timeout) == float(
        helm_gw.ClusterConfig.idle_timeout
    )
    # Where the gateway is and which service it answers as.
    assert local_gw.Proxy.prefix == gw_values["gateway"]["prefix"]
    auth = gw_values["gateway"]["auth"]["jupyterhub"]
    assert auth["jupyterhubServiceName"] == "dask-gateway"


@settings(max_examples=25, deadline=None)
@given(shared_settings())
def test_services_scopes_and_culling_agree(settings_: dict[str, Any]) -> None:
    local_hub, _ = _local(settings_)
    hub_values, _, _ = _helm(settings_)
    hub = hub_values["hub"]
    local_roles = {r["name"]: r for r in local_hub.JupyterHub.load_roles}
    helm_roles = hub["loadRoles"]
    # Scopes of users, of their servers' tokens and of the check service.
    assert local_roles["user"]["scopes"] == helm_roles["user"]["scopes"]
    assert local_hub.Spawner.server_token_scopes == hub["config"]["Spawner"]["server_token_scopes"]
    assert local_roles["heliohub-check"]["scopes"] == helm_roles["heliohub-check"]["scopes"]
    # The same services (the chart runs its own culler: `cull` below).
    local_services = {s["name"]: s for s in local_hub.JupyterHub.services}
    assert set(local_services) - {"idle-culler"} == set(hub["services"])
    assert ("idle-culler" in local_services) is hub_values["cull"]["enabled"]
    for name, service in hub["services"].items():
        assert bool(local_services[name].get("admin")) is bool(service.get("admin")), name
    assert local_hub.Spawner.default_url == hub_values["singleuser"]["defaultUrl"]
    # The login: the same traits for the same login (the hub spec's).
    for cls in ("Authenticator", "NativeAuthenticator"):
        assert dict(local_hub[cls]) == hub["config"][cls], cls
    assert (
        local_hub.JupyterHub.authenticator_class
        == (hub["config"]["JupyterHub"]["authenticator_class"])
    )
    # What every server gets: each translation carries its spec's user environment, and the
    # same way to log in to the gateway.
    local_env, helm_env = local_hub.Spawner.environment, hub_values["singleuser"]["extraEnv"]
    for provider, env in (("local", local_env), ("kubernetes", helm_env)):
        spec_env = hub_spec(parse({**settings_, "provider": provider})).user_environment.env
        assert spec_env.items() <= env.items(), provider
    assert local_env["DASK_GATEWAY__AUTH__TYPE"] == helm_env["DASK_GATEWAY__AUTH__TYPE"]
    # Culling.
    cull = hub_values["cull"]
    culler = _culler_args(settings_)
    assert bool(culler) == cull["enabled"]
    if culler:
        assert culler["timeout"] == cull["timeout"]
        assert culler["cull-every"] == cull["every"]
        assert culler.get("max-age", 0) == cull["maxAge"]


def test_a_cluster_without_a_domain_is_reached_at_its_load_balancer() -> None:
    """The spec's URL is the one every provider reports; the load balancer's host name enters
    it only where there is no domain."""
    bare = parse({"provider": "kubernetes"})
    assert hub_spec(bare).public_url == "http://<proxy-public load balancer>"
    lb = "a1b2.elb.us-east-1.amazonaws.com"
    assert hub_spec(bare, load_balancer=lb).public_url == f"http://{lb}"
    assert hub_spec(bare, load_balancer="2001:db8::1").public_url == "http://[2001:db8::1]"
    named = parse(
        {
            "provider": "kubernetes",
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "ops@example.org"},
            "auth": {"type": "native"},
        }
    )
    assert hub_spec(named, load_balancer=lb).public_url == "https://hub.example.org"
