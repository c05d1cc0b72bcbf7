"""Wiring invariants, checked over many generated configs (hypothesis).

- the gateway's service name, prefix, token secret key and scopes agree between the releases;
- each profile's node selector is an existing pool's labels, its tolerations that pool's taints.

A pool's labels and taints are those its EKS node group puts on the nodes, as the AWS templates
define them (the config's, plus the pool name label and, on GPU pools, the NVIDIA taint).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heliohub.config import HubConfig, parse
from heliohub.render.cloudformation.nodegroups import pool_labels, pool_taints
from heliohub.render.helm import render_kubernetes

LABEL_KEYS = [
    "hub.jupyter.org/node-purpose",
    "k8s.dask.org/node-purpose",
    "nvidia.com/gpu",
    "example.org/tier",
]
TAINT_KEYS = ["hub.jupyter.org/dedicated", "k8s.dask.org/dedicated", "nvidia.com/gpu"]
short = st.text(alphabet="abcdefxyz", min_size=1, max_size=6)


@st.composite
def pools(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(
        st.lists(
            st.sampled_from(["services", "user", "gpu", "burst", "extra", "big"]),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )
    out = []
    for name in names:
        out.append(
            {
                "name": name,
                "instance_types": ["m5.xlarge"],
                "max_size": draw(st.integers(1, 20)),
                "capacity": draw(st.sampled_from(["on-demand", "spot"])),
                "labels": draw(st.dictionaries(st.sampled_from(LABEL_KEYS), short, max_size=3)),
                "taints": [
                    {"key": k, "value": v, "effect": e}
                    for k, v, e in draw(
                        st.lists(
                            st.tuples(
                                st.sampled_from(TAINT_KEYS),
                                short,
                                st.sampled_from(["NoSchedule", "NoExecute"]),
                            ),
                            max_size=2,
                            unique_by=lambda t: t[0],
                        )
                    )
                ],
                "gpus_per_node": draw(st.sampled_from([0, 0, 1, 4])),
            }
        )
    return out


@st.composite
def aws_configs(draw: st.DrawFn) -> HubConfig:
    node_pools = draw(pools())
    names = [p["name"] for p in node_pools]
    profiles = []
    for i in range(draw(st.integers(1, 4))):
        profiles.append(
            {
                "name": f"p{i}",
                "display_name": f"Profile {i}",
                "cpu": {"guarantee": 1, "limit": 2},
                "memory_gib": {"guarantee": 1, "limit": draw(st.sampled_from([2, 4, 6.5]))},
                # A GPU profile needs a GPU pool (the config refuses it otherwise).
                "gpus": draw(st.sampled_from([0, 0, 1]))
                if any(p["gpus_per_node"] for p in node_pools)
                else 0,
                "node_pool": draw(st.one_of(st.none(), st.sampled_from(names))),
            }
        )
    data = {
        "provider": "aws",
        "namespace_unused": None,
        "kubernetes": {
            "namespace": draw(st.sampled_from(["daskhub", "hub", "x1"])),
            "network_policy": draw(st.booleans()),
        },
        "aws": {"node_pools": node_pools},
        "profiles": profiles,
        "dask": {
            "worker_node_pool": draw(st.sampled_from(names)),
            "gpu_worker_node_pool": draw(st.one_of(st.none(), st.sampled_from(names))),
        },
        "https": draw(
            st.sampled_from(
                [
                    {"mode": "off"},
                    {"mode": "letsencrypt", "contact_email": "a@example.org"},
                    {"mode": "acm", "acm_certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x"},
                ]
            )
        ),
        "domain": "hub.example.org",
        # A public hub (https on) needs a real login.
        "auth": {"type": "native"},
    }
    del data["namespace_unused"]
    return parse(data)


def _values(cfg: HubConfig) -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    files = render_kubernetes(cfg)
    hub = yaml.safe_load(files["kubernetes/jupyterhub-values.yaml"])
    gw = yaml.safe_load(files["kubernetes/dask-gateway-values.yaml"])
    return hub, gw, files


def check_gateway_wiring(cfg: HubConfig) -> None:
    hub, gw, files = _values(cfg)
    auth = gw["gateway"]["auth"]
    assert auth["type"] == "jupyterhub"
    service = auth["jupyterhub"]["jupyterhubServiceName"]
    # the hub knows a service of that name, routed to the gateway's traefik
    url = urlsplit(hub["hub"]["services"][service]["url"])
    assert url.hostname == f"traefik-{gw['fullnameOverride']}"
    # the path the proxy routes is the gateway's prefix
    assert gw["gateway"]["prefix"] == f"/services/{service}"
    # the token the jupyterhub chart generates is the one the gateway reads
    assert auth["jupyterhub"]["apiTokenFromSecretName"] == "hub"
    assert auth["jupyterhub"]["apiTokenFromSecretKey"] == f"hub.services.{service}.apiToken"
    # the scope the gateway enforces is granted to users and to their servers' tokens
    scope = f"access:services!service={service}"
    assert scope in hub["hub"]["loadRoles"]["user"]["scopes"]
    assert "self" in hub["hub"]["loadRoles"]["user"]["scopes"]
    assert scope in hub["hub"]["config"]["Spawner"]["server_token_scopes"]
    # notebooks find the gateway with Gateway() and no arguments
    env = hub["singleuser"]["extraEnv"]
    ns = cfg.kubernetes.namespace
    assert (
        env["DASK_GATEWAY__PROXY_ADDRESS"] == f"gateway://traefik-{gw['fullnameOverride']}.{ns}:80"
    )
    assert env["DASK_GATEWAY__ADDRESS"].rstrip("/").endswith(gw["gateway"]["prefix"])
    assert env["DASK_GATEWAY__PUBLIC_ADDRESS"] == gw["gateway"]["prefix"] + "/"
    assert env["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    if cfg.https.mode == "letsencrypt":  # proxy-public speaks TLS: go around autohttps
        assert env["DASK_GATEWAY__ADDRESS"].startswith("http://proxy-http:8000/")
    netpol = files.get("kubernetes/manifests/40-network-policy.yaml")
    assert (netpol is not None) == cfg.kubernetes.network_policy
    if netpol:
        (policy,) = yaml.safe_load_all(netpol)
        labels = policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]
        assert labels["gateway.dask.org/instance"] == gw["fullnameOverride"]


def check_placement(cfg: HubConfig) -> None:
    hub, gw, _ = _values(cfg)
    pools_by_name = {p.name: p for p in cfg.aws.node_pools}
    entries = {e["slug"]: e["kubespawner_override"] for e in hub["singleuser"]["profileList"]}
    for profile in cfg.profiles:
        override = entries[profile.name]
        pool = pools_by_name[cfg.profile_pool(profile)]
        selector = override["node_selector"]
        # it selects the labels of exactly one existing pool: the profile's
        matching = [
            p.name for p in cfg.aws.node_pools if selector.items() <= pool_labels(p).items()
        ]
        assert matching == [pool.name]
        tolerated = {(t["key"], t["value"], t["effect"]) for t in override["tolerations"]}
        assert tolerated == set(pool_taints(pool))
        assert all(t["operator"] == "Equal" for t in override["tolerations"])
        if profile.gpus:
            assert override["extra_resource_limits"] == {"nvidia.com/gpu": str(profile.gpus)}
    worker = pools_by_name[cfg.dask.worker_node_pool]
    pod = gw["gateway"]["backend"]["worker"]["extraPodConfig"]
    assert pod["nodeSelector"] == pool_labels(worker)
    assert {(t["key"], t["value"], t["effect"]) for t in pod.get("tolerations", [])} == set(
        pool_taints(worker)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aws_configs())
def test_gateway_wiring_agrees(cfg: HubConfig) -> None:
    check_gateway_wiring(cfg)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aws_configs())
def test_profiles_land_on_their_pools(cfg: HubConfig) -> None:
    check_placement(cfg)


def test_wiring_on_any_cluster() -> None:
    for https in ({"mode": "off"}, {"mode": "letsencrypt", "contact_email": "a@example.org"}):
        cfg = parse(
            {
                "provider": "kubernetes",
                "domain": "hub.example.org",
                "https": https,
                "auth": {"type": "native"},
            }
        )
        check_gateway_wiring(cfg)
        hub, _, _ = _values(cfg)
        # not AWS: the cluster's nodes are not heliohub's, so no selectors are invented
        for entry in hub["singleuser"]["profileList"]:
            assert "node_selector" not in entry["kubespawner_override"]
