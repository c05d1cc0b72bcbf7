"""The scientists' environment for real: a deployment whose managed user environment holds
astropy (built with uv by `heliohub up`), used by a user's kernel and by that user's Dask workers;
`pip install --user` of a wheel built here, seen in the kernel and on a worker; the HelioCloud
tutorial pattern (cluster options, adapt, map over a few hundred items, gather, shutdown) leaving
no scheduler or worker behind; the environment reused when nothing changed; and existing
environments that lack distributed or hold another dask-gateway refused with the fix.

Run as root (as CI does), hub users are OS users (isolation system-users, a test-only prefix,
deleted afterwards) who log in through a real OpenID Connect provider on loopback; otherwise
isolation none with the shared password. One deployment is shared by the module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from auth.oidc import User
from local_hub import LocalHub, api, login, start_server
from security_hub import USER_GROUP, open_matrix

from heliohub.check import CheckFailed, run_in_kernel
from heliohub.hubspec.names import SERVER_MODULE
from heliohub.inhub import firewall
from heliohub.providers.local.processes import role
from heliohub.providers.local.user_env import hub_versions, uv_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    # The first test also builds the managed environment (uv, from a cold cache in CI).
    pytest.mark.timeout(1500),
]

ROOT = os.geteuid() == 0
PREFIX = f"hue{secrets.token_hex(2)}-"
RESULT = "RESULT "
UP: dict[str, str] = {}  # what the module's `heliohub up` printed
DASK = {
    "worker_cores": {"min": 1, "max": 2, "default": 1},
    "worker_memory_gib": {"min": 0.5, "max": 2, "default": 1},
    "max_workers_per_cluster": 3,
}
PACKAGES = {"user_environment": {"packages": ["astropy"]}}
# As root, hub users are OS users, which needs a login that proves who they are.
CAROL = User("carol", "carol-password-1", [USER_GROUP])


@pytest.fixture(scope="module")
def deployment(proxy_dir: Path) -> Iterator[tuple[LocalHub, dict[str, Any]]]:
    """The shared deployment and carol on it: logged in, her server started, a token of hers."""
    if ROOT:
        config = {"dask": DASK, "local": PACKAGES}
        with open_matrix(
            proxy_dir, "userenv", PREFIX, [CAROL], [CAROL], config, up_timeout=1200
        ) as matrix:
            UP["stderr"] = matrix.up_output
            hub = matrix.hub
            session = matrix.sessions["carol"]
            start_server(session, hub.url, "carol")
            yield hub, {"session": session, "token": matrix.token(CAROL)}
        return
    workdir = Path(tempfile.mkdtemp(prefix="heliohub-userenv-", dir=tempfile.gettempdir()))
    hub = LocalHub(workdir, {"dask": DASK, "local": PACKAGES})
    hub.share_proxy(proxy_dir)
    try:
        UP["stderr"] = hub.cli("up", "--detach", timeout=1200).stderr
        session = login(hub.url, "carol", hub.password)
        start_server(session, hub.url, "carol")
        resp = api(session, hub.url, "POST", "/users/carol/tokens", json={"note": "userenv"})
        assert resp.status_code == 201, resp.text
        yield hub, {"session": session, "token": resp.json()["token"]}
    finally:
        hub.down()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(deployment: tuple[LocalHub, dict[str, Any]]) -> LocalHub:
    return deployment[0]


@pytest.fixture(scope="module")
def carol(deployment: tuple[LocalHub, dict[str, Any]]) -> dict[str, Any]:
    return deployment[1]


def _diagnostics(hub: LocalHub) -> str:
    """What a failure here needs to explain itself: the deployment's logs and, as root, its
    loopback firewall (which decides which of a user's connections are answered)."""
    out = hub.log_tail()
    if ROOT:
        table = firewall.table_name(hub.deployment_id)
        listing = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=False
        )
        out += f"\n--- nft table {table}\n{listing.stdout or listing.stderr}"
    return out


def _run(hub: LocalHub, user: dict[str, Any], code: str, name: str = "carol") -> dict[str, Any]:
    try:
        result = run_in_kernel(hub.url, name, user["token"], code, timeout_s=400)
    except CheckFailed as exc:
        pytest.fail(f"{exc}\n{_diagnostics(hub)}")
    assert result.error is None, f"{result.error}\n{result.stderr}\n{_diagnostics(hub)}"
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith(RESULT)), None)
    assert line, f"no result; stdout: {result.stdout}\nstderr: {result.stderr}\n{_diagnostics(hub)}"
    return json.loads(line.removeprefix(RESULT))


def _carol_uid(hub: LocalHub) -> int:
    return pwd.getpwnam(PREFIX + "carol").pw_uid if ROOT else os.getuid()


def _cluster_processes(cluster_name: str) -> list[str]:
    """Every live process of that cluster: the gateway marks its scheduler and workers, and
    what they start inherits the mark."""
    out = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("DASK_GATEWAY_CLUSTER_NAME") != cluster_name:
                continue
            if proc.status() != psutil.STATUS_ZOMBIE:
                out.append(" ".join(proc.cmdline()))
        except (psutil.Error, OSError):
            continue
    return out


VERSIONS = """
import importlib.metadata as md, platform
print(*(md.version(n) for n in ("dask", "distributed", "dask-gateway")), platform.python_version())
"""


def test_up_built_the_managed_environment(hub: LocalHub) -> None:
    env_dir = hub.data_dir / "user-env"
    output = UP["stderr"]
    assert f"create the user environment {env_dir} with uv" in output, output
    assert "uv: Installed" in output, output
    spec = json.loads((env_dir / "heliohub-env.json").read_text())
    pins = hub_versions()
    # Pinned to what the hub and gateway run, and the team's package on top.
    for name in ("jupyterhub", "dask", "distributed", "dask-gateway", "jupyterlab"):
        assert f"{name}=={pins[name]}" in spec["requirements"]
        assert spec["versions"][name] == pins[name]
    assert spec["requirements"][-1] == "astropy"
    # `heliohub status` says what servers and workers run from, as the environment says it.
    found = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", VERSIONS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert (
        f"user environment: managed, {env_dir}: dask {found[0]}, distributed {found[1]}, "
        f"dask-gateway {found[2]}, Python {found[3]}"
    ) in hub.status()["notes"]
    # Servers and workers run from it, the hub and the gateway from heliohub's own.
    commands = [" ".join(p.cmdline()) for p in hub.processes()]
    hub_cmd = next(c for c in commands if "heliohub.inhub.run_hub -f" in c)
    assert str(env_dir) not in hub_cmd


ASTROPY = """
import json, os, sys
import astropy
from dask_gateway import Gateway

def where():
    import os, sys
    import astropy
    return {"astropy": astropy.__version__, "python": sys.executable, "uid": os.getuid(),
            "prefix": sys.prefix}

gateway = Gateway()
cluster = gateway.new_cluster()
try:
    cluster.scale(1)
    client = cluster.get_client()
    client.wait_for_workers(1, timeout=300)
    worker = client.submit(where, pure=False).result()
    client.close()
finally:
    cluster.shutdown()
print("RESULT " + json.dumps({"kernel": where(), "worker": worker}))
"""


def test_astropy_in_the_kernel_and_on_the_worker(hub: LocalHub, carol: dict[str, Any]) -> None:
    out = _run(hub, carol, ASTROPY)
    kernel, worker = out["kernel"], out["worker"]
    env_dir = hub.data_dir / "user-env"
    installed = json.loads((env_dir / "heliohub-env.json").read_text())
    probe = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import astropy; print(astropy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert kernel["astropy"] == worker["astropy"] == probe.stdout.strip()
    assert installed["requirements"][-1] == "astropy"
    assert Path(kernel["prefix"]) == Path(worker["prefix"]) == env_dir
    assert kernel["uid"] == worker["uid"] == _carol_uid(hub)
    # Her server is the environment's interpreter running heliohub_singleuser, the interpreter
    # its jupyterhub-singleuser script names.
    servers = [p.cmdline() for p in hub.processes() if role(p) == "server"]
    assert servers
    for cmd in servers:
        assert Path(cmd[0]).parent == env_dir / "bin"
        assert cmd[1:3] == ["-m", SERVER_MODULE]


# What the Dask JupyterLab extension's "+NEW" does (dask_labextension.manager): import the
# factory the server's environment names and make a cluster of its class.
LAB_FACTORY = """
import importlib, importlib.util, json, os
import dask, dask_labextension
from dask_gateway import GatewayCluster

factory = dask.config.get("labextension.factory")
module = importlib.import_module(dask.config.get("labextension.factory.module"))
Cluster = getattr(module, dask.config.get("labextension.factory.class"))
# A hostile user would plant code here for everybody's servers.
planted = os.path.join(os.path.dirname(module.__file__), "planted.py")
writable = []
for target in (module.__file__, planted):
    try:
        with open(target, "a"):
            writable.append(target)
    except PermissionError:
        pass
if planted in writable:
    os.remove(planted)
cluster = Cluster()
try:
    link = cluster.dashboard_link
finally:
    cluster.shutdown()
print("RESULT " + json.dumps({
    "factory": factory, "file": module.__file__, "class": Cluster.__name__,
    "gateway_cluster": issubclass(Cluster, GatewayCluster), "link": link,
    "heliohub": importlib.util.find_spec("heliohub") is not None,
    "prefix": os.environ["JUPYTERHUB_SERVICE_PREFIX"], "writable": writable,
}))
"""


def test_the_dask_sidebar_factory_imports_in_the_user_environment(
    hub: LocalHub, carol: dict[str, Any]
) -> None:
    """The user environment has no heliohub, yet the factory "+NEW" uses imports in carol's
    kernel (as her OS user with system-users) from the directory heliohub puts on the servers'
    PYTHONPATH, and its cluster links its dashboard through her own server. As root, carol
    (an OS user) can neither change that module nor add one beside it."""
    out = _run(hub, carol, LAB_FACTORY)
    assert out["heliohub"] is False  # the premise: nothing of heliohub's own is importable
    assert out["factory"]["module"] == "heliohub_dask_lab"
    assert out["factory"]["class"] == out["class"] == "LabGatewayCluster"
    assert out["gateway_cluster"] is True
    assert Path(out["file"]) == hub.data_dir / "lab-modules" / "heliohub_dask_lab.py"
    assert re.fullmatch(re.escape(out["prefix"].rstrip("/")) + r"/proxy/\d+/status", out["link"])
    if ROOT:
        assert out["writable"] == []


def _wheel(target: Path, name: str, version: str) -> Path:
    """A pure-Python wheel of one module, written by hand (the format is a zip with metadata)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: heliohub-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = target / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    wheel.chmod(0o644)
    return wheel


INSTALL = """
import json, os, subprocess, sys
# This machine's pip settings (indexes, constraints) are not the user's concern here.
env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
proc = subprocess.run(
    [sys.executable, "-m", "pip", "install", "--user", "--no-index", "--no-deps",
     "--disable-pip-version-check", %(wheel)r],
    capture_output=True, text=True, env=env)
print("RESULT " + json.dumps({"code": proc.returncode, "out": proc.stdout + proc.stderr}))
"""

USE = """
import json, os
import %(name)s
from dask_gateway import Gateway

def where():
    import os
    import %(name)s
    return {"value": %(name)s.VALUE, "file": %(name)s.__file__, "uid": os.getuid(),
            "home": os.environ.get("HOME")}

gateway = Gateway()
cluster = gateway.new_cluster()
try:
    cluster.scale(1)
    client = cluster.get_client()
    client.wait_for_workers(1, timeout=300)
    worker = client.submit(where, pure=False).result()
    client.close()
finally:
    cluster.shutdown()
print("RESULT " + json.dumps({"kernel": where(), "worker": worker}))
"""


def test_pip_install_user_reaches_the_workers(hub: LocalHub, carol: dict[str, Any]) -> None:
    name = f"hh_userpkg_{secrets.token_hex(3)}"
    wheels = hub.workdir / "wheels"
    wheels.mkdir(exist_ok=True)
    wheels.chmod(0o755)
    wheel = _wheel(wheels, name, "1.2.3")
    installed = _run(hub, carol, INSTALL % {"wheel": str(wheel)})
    assert installed["code"] == 0, installed["out"]
    # A new kernel (as after "restart kernel") and a new cluster see it.
    out = _run(hub, carol, USE % {"name": name})
    kernel, worker = out["kernel"], out["worker"]
    home = hub.data_dir / "homes" / "carol"
    assert kernel["value"] == worker["value"] == "1.2.3"
    assert kernel["file"] == worker["file"]
    module = Path(kernel["file"])
    assert module.is_relative_to(home / ".local"), module
    assert module.stat().st_uid == _carol_uid(hub)
    assert kernel["uid"] == worker["uid"] == _carol_uid(hub)
    assert Path(worker["home"]) == home
    # Only carol's: neither the managed environment nor heliohub's own holds it.
    env_site = list((hub.data_dir / "user-env").glob(f"lib/python*/site-packages/{name}"))
    assert env_site == []
    assert subprocess.run([sys.executable, "-c", f"import {name}"], check=False).returncode != 0


TUTORIAL = """
import json, time
from dask_gateway import Gateway

gateway = Gateway()
options = gateway.cluster_options()
options.worker_cores = 1
options.worker_memory = 1
cluster = gateway.new_cluster(options)
name = cluster.name
cluster.adapt(minimum=1, maximum=3)
client = cluster.get_client()

def work(i):
    return i * i

futures = client.map(work, range(300))
results = client.gather(futures)
workers = client.scheduler_info()["workers"].values()
threads = sorted({w["nthreads"] for w in workers})
memory = sorted({w["memory_limit"] for w in workers})
client.close()
cluster.shutdown()
print("RESULT " + json.dumps({
    "name": name, "n": len(results), "total": sum(results), "threads": threads,
    "memory": memory, "left": [c.name for c in gateway.list_clusters()],
}))
"""


def test_heliocloud_tutorial_pattern(hub: LocalHub, carol: dict[str, Any]) -> None:
    out = _run(hub, carol, TUTORIAL)
    assert out["n"] == 300
    assert out["total"] == sum(i * i for i in range(300))
    assert out["threads"] == [1]
    assert out["memory"] == [2**30]
    assert out["left"] == []
    # Shut down means gone: no scheduler or worker process of this deployment remains.
    deadline = time.monotonic() + 60
    while _cluster_processes(out["name"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _cluster_processes(out["name"]) == []


def test_check_reports_the_user_environment_next_to_the_gateway(hub: LocalHub) -> None:
    result = hub.cli("check", timeout=600)
    assert "✗" not in result.stdout, result.stdout
    pins = hub_versions()
    # The console wraps long lines.
    text = " ".join(result.stdout.split())
    line = text[text.index("versions:") :]
    assert f"notebook: dask {pins['dask']}, distributed {pins['distributed']}" in line
    assert f"gateway: dask-gateway-server {pins['dask-gateway-server']}" in line


def test_up_again_reuses_the_environment(hub: LocalHub) -> None:
    spec = hub.data_dir / "user-env" / "heliohub-env.json"
    before = spec.stat().st_mtime_ns
    hub.cli("down")
    again = hub.cli("up", "--detach")
    assert "user environment" in again.stderr and "is up to date" in again.stderr, again.stderr
    assert "uv:" not in again.stderr
    assert spec.stat().st_mtime_ns == before


def test_a_package_dropped_from_the_config_leaves_the_environment(hub: LocalHub) -> None:
    """Last of the deployment's tests: it changes the config."""
    hub.cli("down")
    config = yaml.safe_load(hub.config_path.read_text())
    config["local"]["user_environment"] = {"packages": []}
    hub.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    again = hub.cli("up", "--detach", timeout=1200)
    assert f"update the user environment {hub.data_dir / 'user-env'}" in again.stderr
    python = str(hub.data_dir / "user-env" / "bin" / "python")
    gone = subprocess.run([python, "-c", "import astropy"], capture_output=True, check=False)
    assert gone.returncode != 0
    kept = subprocess.run([python, "-c", "import dask_gateway, distributed"], check=False)
    assert kept.returncode == 0


def test_a_package_that_does_not_exist_stops_up_with_uvs_message(tmp_path: Path) -> None:
    name = f"heliohub-no-such-package-{secrets.token_hex(4)}"
    deployment = LocalHub(
        tmp_path / "deploy", {"local": {"user_environment": {"packages": [name]}}}
    )
    result = deployment.cli("up", "--detach", check=False, timeout=1200)
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert "uv could not install the packages in" in message
    assert name in message  # uv's own words name it
    assert "Fix: check the names and versions in local.user_environment.packages" in message
    assert "Traceback" not in result.stderr
    assert not (deployment.data_dir / "state" / "deployment.json").exists()


# ----- existing environments ----------------------------------------------------------------


def _existing_env(where: Path, packages: list[str]) -> Path:
    """A real virtualenv holding exactly these releases (no dependencies: only their metadata
    and code matter to the check)."""
    uv = str(uv_binary())
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), "--no-deps", *packages],
        check=True,
    )
    return python


@pytest.mark.parametrize(
    ("case", "says", "fix"),
    [
        ("no-distributed", "distributed is not installed", "'distributed=={distributed}'"),
        (
            "old-dask-gateway",
            "dask-gateway is 2024.1.0; the gateway runs dask-gateway-server",
            "'dask-gateway=={dask-gateway-server}'",
        ),
    ],
)
def test_an_unfit_existing_environment_is_refused_with_the_fix(
    tmp_path: Path, case: str, says: str, fix: str
) -> None:
    pins = hub_versions()
    packages = {
        name: f"{name}=={pins[name]}"
        for name in ("jupyterhub", "jupyterlab", "dask", "distributed", "dask-gateway")
    }
    if case == "no-distributed":
        del packages["distributed"]
    else:
        packages["dask-gateway"] = "dask-gateway==2024.1.0"
    python = _existing_env(tmp_path / "science", list(packages.values()))
    deployment = LocalHub(
        tmp_path / "deploy", {"local": {"user_environment": {"python": str(python)}}}
    )
    result = deployment.cli("up", "--detach", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert f"local.user_environment.python: {python}" in message
    assert says in message
    assert f"Fix: {python} -m pip install {fix.format(**pins)}" in message
    # Refused before anything started.
    assert not (deployment.data_dir / "state" / "deployment.json").exists()
    assert "Traceback" not in result.stderr
