"""The charts' extraConfig (the same text for every deployment), run for real on the values.

The gateway's is executed as its chart executes it, with gateway.env as its environment and
dask-gateway-server's own Options, so the ranges users may choose are enforced by the real
option classes; the hub's with z2jh's get_config over the values (tests/chart_config.py).
"""

from __future__ import annotations

import chart_config
import pytest
import yaml
from k8s_fakes import config
from traitlets.config import Config

from heliohub.config import parse
from heliohub.render.helm import render_kubernetes


def gateway_config(cfg, outs=None) -> Config:
    values = yaml.safe_load(render_kubernetes(cfg, outs)["kubernetes/dask-gateway-values.yaml"])
    return chart_config.gateway_config(values)


def test_worker_options_are_bounded_by_the_config() -> None:
    cfg = parse(
        {
            "provider": "kubernetes",
            "dask": {
                "worker_cores": {"min": 1, "max": 4, "default": 2},
                "worker_memory_gib": {"min": 1, "max": 8, "default": 3},
                "max_workers_per_cluster": 12,
                "cluster_idle_timeout_s": 900,
            },
        }
    )
    c = gateway_config(cfg)
    options = c.Backend.cluster_options
    parsed = options.parse_options({})
    assert parsed == {
        "worker_cores": 2,
        "worker_memory": 3.0,
        "image": "pangeo/pangeo-notebook:2025.06.02",
    }
    with pytest.raises(ValueError, match="worker_cores must be <= 4"):
        options.parse_options({"worker_cores": 64})
    with pytest.raises(ValueError, match="worker_memory must be >= 1"):
        options.parse_options({"worker_memory": 0.5})
    with pytest.raises(ValueError, match="Unknown fields"):
        options.parse_options({"gpu": True})  # no GPU pool off AWS
    overrides = options.get_configuration(options.parse_options({"worker_memory": 1.5}), None)
    assert overrides["worker_memory"] == overrides["worker_memory_limit"] == int(1.5 * 2**30)
    assert overrides["worker_cores"] == overrides["worker_cores_limit"] == 2
    assert c.ClusterConfig.cluster_max_workers == 12
    assert c.ClusterConfig.idle_timeout == 900
    assert c.KubeClusterConfig.scheduler_cmd == ["dask", "scheduler"]


def test_gpu_workers_go_to_the_gpu_pool_when_asked() -> None:
    cfg, outs = config("aws-heliocloud")
    options = gateway_config(cfg, outs).Backend.cluster_options
    plain = options.get_configuration(options.parse_options({}), None)
    gpu = options.get_configuration(options.parse_options({"gpu": True}), None)
    burst = next(p for p in cfg.aws.node_pools if p.name == "burst")
    gpu_pool = next(p for p in cfg.aws.node_pools if p.name == "gpu")
    # the labels and taints the node groups put on their nodes (from the AWS templates)
    from heliohub.render.cloudformation.nodegroups import pool_labels, pool_taints

    assert plain["worker_extra_pod_config"]["nodeSelector"] == pool_labels(burst)
    assert "worker_extra_container_config" not in plain
    assert gpu["worker_extra_pod_config"]["nodeSelector"] == pool_labels(gpu_pool)
    assert {t["key"] for t in gpu["worker_extra_pod_config"]["tolerations"]} == {
        key for key, _, _ in pool_taints(gpu_pool)
    }
    assert gpu["worker_extra_container_config"] == {"resources": {"limits": {"nvidia.com/gpu": 1}}}
    assert gpu["worker_extra_pod_config"]["serviceAccountName"] == "heliohub-user"


def test_no_gpu_option_without_a_gpu_pool() -> None:
    cfg, outs = config("aws-acm-no-gpu")
    options = gateway_config(cfg, outs).Backend.cluster_options
    assert "gpu" not in options.parse_options({})


def test_hub_reads_secret_traits_from_its_environment() -> None:
    # A shared password only on a hub that is not public (https off).
    _, outs = config("aws-heliocloud")
    cfg = parse(
        {
            "provider": "aws",
            "name": "heliohub",
            "auth": {"type": "shared-password", "admin_users": ["admin"]},
        }
    )
    values = yaml.safe_load(render_kubernetes(cfg, outs)["kubernetes/jupyterhub-values.yaml"])
    env = values["hub"]["extraEnv"]["HELIOHUB_SHARED_PASSWORD"]
    assert env["valueFrom"]["secretKeyRef"] == {
        "name": "heliohub-auth",
        "key": "HELIOHUB_SHARED_PASSWORD",
    }
    c = chart_config.hub_config(
        values,
        {
            "HELIOHUB_SHARED_PASSWORD": "from-the-secret",
            "HELIOHUB_SHARED_ADMIN_PASSWORD": "admin-from-the-secret",
        },
    )
    assert c.SharedPasswordAuthenticator.user_password == "from-the-secret"
    assert c.SharedPasswordAuthenticator.admin_password == "admin-from-the-secret"
    assert set(values["hub"]["extraEnv"]) == {
        "HELIOHUB_SHARED_PASSWORD",
        "HELIOHUB_SHARED_ADMIN_PASSWORD",
    }
    # and no secret value in any rendered file
    assert all(b"from-the-secret" not in v for v in render_kubernetes(cfg, outs).values())


def test_an_oidc_login_ships_its_authenticator_into_the_hub_pod(tmp_path) -> None:
    """The hub image has no heliohub: the module is mounted and importable on its own."""
    import subprocess
    import sys

    cfg = parse(
        {
            "provider": "kubernetes",
            "domain": "hub.example.org",
            "https": {"mode": "letsencrypt", "contact_email": "a@example.org"},
            "auth": {
                "type": "oidc",
                "issuer": "https://id.example.org/realms/x",
                "client_id": "hub",
                "client_secret": {"env": "HUB_OIDC_SECRET"},
                "admin_users": ["ada"],
            },
        }
    )
    values = yaml.safe_load(render_kubernetes(cfg)["kubernetes/jupyterhub-values.yaml"])
    cls = values["hub"]["config"]["JupyterHub"]["authenticator_class"]
    files = values["hub"]["extraFiles"]
    for entry in files.values():
        target = tmp_path / entry["mountPath"].lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(entry["stringData"])
    lib = values["custom"]["heliohub"]["lib"]
    module, name = cls.rsplit(".", 1)
    probe = (
        f"import sys; sys.path.insert(0, {str(tmp_path / lib.lstrip('/'))!r}); "
        f"import {module} as m; print(m.__file__); print(m.{name}.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    where, found = done.stdout.split()
    assert where.startswith(str(tmp_path)) and found == name
