"""render_local: snapshots, determinism, no secrets, and what the rendered files configure.

The rendered data files are loaded the way JupyterHub and Dask Gateway load their config (a
traitlets config loader on the constant config files beside them) with the HELIOHUB_*
environment `heliohub up` sets, and the traits checked.
Set HELIOHUB_UPDATE_SNAPSHOTS=1 to rewrite the snapshots after an intended change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

from heliohub.config import HubConfig, parse
from heliohub.hubspec import hub_spec
from heliohub.hubspec.names import SERVER_MODULE
from heliohub.inhub import dask_lab, singleuser
from heliohub.inhub.hub_config import script_interpreter, server_command
from heliohub.render import render
from heliohub.render.local import lab_modules, render_local
from heliohub.render.local_supervision import programs

SNAPSHOTS = Path(__file__).parent / "snapshots" / "local"
CONFIGS = sorted(SNAPSHOTS.glob("*.yaml"))


def _config(path: Path) -> HubConfig:
    return parse(yaml.safe_load(path.read_text()), str(path))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_snapshot(path: Path) -> None:
    files = render_local(_config(path))
    assert set(files) == {
        "local/hub.json",
        "local/gateway.json",
        "local/jupyterhub_config.py",
        "local/dask_gateway_config.py",
        "local/supervisord.conf",
    }
    # Stored as .snap so linters leave them as generated.
    expected_dir = SNAPSHOTS / path.stem
    if os.environ.get("HELIOHUB_UPDATE_SNAPSHOTS") == "1":
        for rel, content in files.items():
            (expected_dir / f"{rel}.snap").parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / f"{rel}.snap").write_bytes(content)
    for rel, content in files.items():
        expected = expected_dir / f"{rel}.snap"
        assert expected.exists(), f"missing snapshot {expected}; HELIOHUB_UPDATE_SNAPSHOTS=1"
        assert content.decode() == expected.read_text(), f"{rel} differs from its snapshot"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_deterministic_and_valid_python(path: Path) -> None:
    config = _config(path)
    first, second = render_local(config), render_local(config)
    assert first == second
    assert render(config) == first
    for rel, content in first.items():
        if rel.endswith(".py"):
            compile(content, rel, "exec")
        if rel.endswith(".json"):
            json.loads(content)
        assert b"/work/" not in content and b"/tmp/" not in content


def test_the_config_files_are_the_same_for_every_config() -> None:
    """No generated Python: what differs between configs is data."""
    renders = [render_local(_config(path)) for path in CONFIGS]
    renders.append(render_local(parse({"culling": {"enabled": False}})))
    for rel in ("local/jupyterhub_config.py", "local/dask_gateway_config.py"):
        assert len({r[rel] for r in renders}) == 1, rel


def test_no_secret_values(tmp_path: Path) -> None:
    secret = "correct-horse-battery-staple"
    (tmp_path / "pw").write_text(secret)
    config = parse(
        {
            "auth": {"type": "shared-password", "password": {"file": str(tmp_path / "pw")}},
            "local": {"isolation": "none"},
        }
    )
    for content in render_local(config).values():
        assert secret.encode() not in content
    hub = json.loads(render_local(config)["local/hub.json"])
    # Secrets are named, never given: the password and the check service token come from env.
    from_env = hub["login"]["traits_from_env"]
    assert from_env["SharedPasswordAuthenticator.user_password"] == "HELIOHUB_SHARED_PASSWORD"
    check = next(s for s in hub["services"]["services"] if s["name"] == "heliohub-check")
    assert check["token_env"] == "HELIOHUB_CHECK_TOKEN"


def test_public_url() -> None:
    def public_url(config: HubConfig) -> str:
        return hub_spec(config).public_url

    assert public_url(parse({})) == "http://127.0.0.1:8000"
    team = _config(SNAPSHOTS / "team-server.yaml")
    assert public_url(team) == "https://hub.example.org"
    assert public_url(parse({"local": {"bind": "0.0.0.0:8080"}})) == "http://localhost:8080"


# ----- the generated files, loaded as the hub and the gateway load them ---------------------


def _runtime_env(monkeypatch: pytest.MonkeyPatch, isolation: str, data_dir: Path) -> None:
    values = {
        "HELIOHUB_DATA_DIR": str(data_dir),
        "HELIOHUB_BIN_DIR": "/venv/bin",
        "HELIOHUB_USER_BIN_DIR": "/user-env/bin",
        "PATH": "/venv/bin:/usr/bin:/bin",
        "HELIOHUB_PROXY_COMMAND": "/proxy/configurable-http-proxy",
        "HELIOHUB_DEPLOYMENT_ID": "dep123",
        "HELIOHUB_ISOLATION": isolation,
        "HELIOHUB_HUB_PORT": "40001",
        "HELIOHUB_PROXY_API_PORT": "40002",
        "HELIOHUB_GATEWAY_PORT": "40003",
        "HELIOHUB_GATEWAY_API_PORT": "40004",
        "HELIOHUB_CHECK_TOKEN": "check-token-value",
        "HELIOHUB_GATEWAY_TOKEN": "gateway-token-value",
        "HELIOHUB_CULLER_TOKEN": "culler-token-value",
        "HELIOHUB_GATEWAY_ENCRYPT_KEY": "gateway-key-value",
        "HELIOHUB_USERS_TOKEN": "users-token-value",
        "HELIOHUB_PROXY_TOKEN": "proxy-token-value",
        "HELIOHUB_SHARED_PASSWORD": "password-value",
        "HELIOHUB_SHARED_ADMIN_PASSWORD": "admin-password-value",
        "HELIOHUB_SSL_CERT": "/tls/hub.crt",
        "HELIOHUB_SSL_KEY": "/tls/hub.key",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_lab_modules_hold_the_sidebar_cluster_class_for_any_python(tmp_path: Path) -> None:
    """The file the servers' PYTHONPATH holds is heliohub.inhub.dask_lab's text under the module
    name the servers' environment gives the Dask extension, and it imports from that directory
    alone, in an interpreter where heliohub cannot be imported."""
    env = hub_spec(_config(SNAPSHOTS / "issue-example.yaml")).user_environment.env
    module = env["DASK_LABEXTENSION__FACTORY__MODULE"]
    files = lab_modules()
    assert files == {
        f"{module}.py": Path(dask_lab.__file__).read_bytes(),
        f"{SERVER_MODULE}.py": Path(singleuser.__file__).read_bytes(),
    }
    lab = tmp_path / "lab-modules"
    lab.mkdir()
    for name, content in files.items():
        (lab / name).write_bytes(content)
    probe = (
        "import importlib, os, sys\n"
        # Stands in for a user environment without heliohub.
        "class NoHeliohub:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'heliohub':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoHeliohub())\n"
        "import dask_gateway\n"
        "m = importlib.import_module(os.environ['DASK_LABEXTENSION__FACTORY__MODULE'])\n"
        "cls = getattr(m, os.environ['DASK_LABEXTENSION__FACTORY__CLASS'])\n"
        "assert issubclass(cls, dask_gateway.GatewayCluster)\n"
        "assert not any(n.split('.')[0] == 'heliohub' for n in sys.modules)\n"
        "print(m.__file__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **env, "PYTHONPATH": str(lab)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(lab / f"{module}.py")


def test_server_module_is_jupyterhub_singleuser_without_the_grammar(tmp_path: Path) -> None:
    """heliohub_singleuser runs from the servers' PYTHONPATH alone, heliohub not importable, as
    the `jupyterhub-singleuser` script does, and its imports skip rfc3987-syntax's grammar (a
    kernel, a process of its own, keeps it)."""
    lab = tmp_path / "lab-modules"
    lab.mkdir()
    for name, content in lab_modules().items():
        (lab / name).write_bytes(content)
    run = (
        "import runpy, sys\n"
        "class NoHeliohub:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'heliohub':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoHeliohub())\n"
        "sys.argv = ['heliohub_singleuser', '--version']\n"
        f"runpy.run_module('{SERVER_MODULE}', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", run],
        env={**os.environ, "PYTHONPATH": str(lab)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    expected = subprocess.run(
        [str(Path(sys.executable).parent / "jupyterhub-singleuser"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected.stdout.strip()
    loaded = {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert {"jupyter_server.serverapp", "jsonschema._format"} <= loaded
    assert "rfc3987_syntax.syntax_helpers" not in loaded


def _script(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


def test_server_command_runs_the_interpreter_the_script_names(tmp_path: Path) -> None:
    """Plain `#!` lines and pip's `/bin/sh` trampoline give the interpreter; anything else
    (env, a missing or non-executable interpreter, flags that drop PYTHONPATH, no script) keeps
    the script itself, which works everywhere, only slower."""
    python = sys.executable
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "jupyterhub-singleuser"
    body = "import sys\nfrom jupyterhub.singleuser import main\n"
    assert server_command(str(bin_dir)) == [str(script)]  # no script at all
    _script(script, f"#!{python}\n{body}")
    assert server_command(str(bin_dir)) == [python, "-m", SERVER_MODULE]
    _script(script, f"#!{python} -s\n{body}")
    assert server_command(str(bin_dir)) == [python, "-s", "-m", SERVER_MODULE]
    trampoline = "#!/bin/sh\n'''exec' '" + python + "' \"$0\" \"$@\"\n' '''\n"
    _script(script, trampoline + body)
    assert server_command(str(bin_dir)) == [python, "-m", SERVER_MODULE]
    for head in (
        "#!/usr/bin/env python3",
        f"#!{python} -E",
        f"#!{python} -I",
        f"#!{tmp_path}/missing/python",
        "#!python",
        "import sys",
    ):
        _script(script, f"{head}\n{body}")
        assert server_command(str(bin_dir)) == [str(script)], head
    plain = tmp_path / "not-executable"
    plain.write_text("")
    assert script_interpreter(_script(script, f"#!{plain}\n{body}")) is None


def _load(config: HubConfig, tmp_path: Path, name: str) -> Any:
    out = tmp_path / "rendered"
    for rel, content in render_local(config).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(content)
    return PyFileConfigLoader(name, path=str(out / "local")).load_config()


def test_hub_config_isolation_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_env(monkeypatch, "none", tmp_path / "data")
    c = _load(_config(SNAPSHOTS / "issue-example.yaml"), tmp_path, "jupyterhub_config.py")
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000/"
    assert c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.hub_port == 40001
    assert c.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:40002"
    # The proxy is supervised beside the hub, which only talks to it with its token.
    assert c.ConfigurableHTTPProxy.should_start is False
    assert c.ConfigurableHTTPProxy.auth_token == "proxy-token-value"
    assert "HELIOHUB_PROXY_TOKEN" not in os.environ  # popped: nothing the hub starts gets it
    assert c.JupyterHub.spawner_class.endswith(".SameUserSpawner")
    # Servers run from the user environment, the hub from heliohub's.
    assert c.Spawner.cmd == ["/user-env/bin/jupyterhub-singleuser"]
    assert c.Spawner.args == (["--allow-root"] if os.geteuid() == 0 else [])
    assert c.HeliohubSpawner.homes_dir == str(tmp_path / "data" / "homes")
    assert c.HeliohubSpawner.shared_dir == str(tmp_path / "data" / "shared")
    env = c.Spawner.environment
    assert env["DASK_GATEWAY__ADDRESS"] == "http://127.0.0.1:40003/services/dask-gateway"
    assert env["DASK_GATEWAY__PROXY_ADDRESS"] == "gateway://127.0.0.1:40003"
    # Absolute: the Dask JupyterLab extension reads a relative link as relative to the server.
    assert env["DASK_GATEWAY__PUBLIC_ADDRESS"] == "http://127.0.0.1:8000/services/dask-gateway/"
    # "+NEW" in the Dask sidebar makes clusters that link their dashboard through the server.
    assert env["DASK_LABEXTENSION__FACTORY__MODULE"] == "heliohub_dask_lab"
    assert env["DASK_LABEXTENSION__FACTORY__CLASS"] == "LabGatewayCluster"
    # Its module is found on PYTHONPATH, which holds that directory only: never the hub's own
    # PYTHONPATH (heliohub's environment), even when the hub has one.
    assert env["PYTHONPATH"] == str(tmp_path / "data" / "lab-modules")
    assert env["DASK_GATEWAY__AUTH__TYPE"] == "jupyterhub"
    assert env["HELIOHUB_DEPLOYMENT_ID"] == "dep123"
    assert env["PATH"] == "/user-env/bin:/venv/bin:/usr/bin:/bin"
    scope = "access:services!service=dask-gateway"
    assert scope in c.Spawner.server_token_scopes
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert user_role["scopes"] == ["self", scope]
    services = {s["name"]: s for s in c.JupyterHub.services}
    gateway = services["dask-gateway"]
    assert gateway["url"] == "http://127.0.0.1:40003"
    # External services beside the hub (supervised), each with its own token.
    assert "command" not in gateway
    assert gateway["api_token"] == "gateway-token-value"
    culler = services["idle-culler"]
    assert "command" not in culler
    assert culler["api_token"] == "culler-token-value"
    # Servers and the proxy outlive the hub; a restarted proxy gets its routes back at the
    # next route check.
    assert c.JupyterHub.cleanup_servers is False
    assert c.JupyterHub.cleanup_proxy is False
    assert c.JupyterHub.last_activity_interval == 2
    assert services["heliohub-check"]["api_token"] == "check-token-value"
    # `heliohub users` grants admin rights, which JupyterHub allows only to admins.
    assert services["heliohub-users"]["api_token"] == "users-token-value"
    assert services["heliohub-users"]["admin"] is True
    assert c.SharedPasswordAuthenticator.user_password == "password-value"
    assert c.SharedPasswordAuthenticator.admin_password == "admin-password-value"
    assert c.Authenticator.admin_users == ["alice"]


def test_hub_config_system_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_env(monkeypatch, "system-users", tmp_path / "data")
    c = _load(_config(SNAPSHOTS / "team-server.yaml"), tmp_path, "jupyterhub_config.py")
    assert c.JupyterHub.spawner_class.endswith(".SystemUserSpawner")
    assert c.Spawner.args == []  # servers run as their own users: never --allow-root
    assert c.SystemUserSpawner.user_prefix == "hub-"
    assert c.SystemUserSpawner.writers_group == "scientists"
    assert callable(c.Authenticator.post_auth_hook)
    assert c.JupyterHub.bind_url == "https://0.0.0.0:443/"
    assert c.JupyterHub.ssl_cert == "/tls/hub.crt"
    proxy = next(p for p in programs(_config(SNAPSHOTS / "team-server.yaml")) if p.name == "proxy")
    assert proxy.argv[-4:] == ("--redirect-port", "80", "--redirect-to", "443")
    assert c.HeliohubSpawner.shared_name == "efs"
    assert c.Spawner.mem_limit == "8G"
    culler = next(
        p for p in programs(_config(SNAPSHOTS / "team-server.yaml")) if p.name == "idle-culler"
    )
    assert {"--timeout=1200", "--cull-every=60", "--max-age=86400"} <= set(culler.argv)


def test_no_culler_when_culling_is_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_env(monkeypatch, "none", tmp_path / "data")
    config = parse({"culling": {"enabled": False}, "local": {"isolation": "none"}})
    c = _load(config, tmp_path, "jupyterhub_config.py")
    assert [s["name"] for s in c.JupyterHub.services] == [
        "dask-gateway",
        "heliohub-check",
        "heliohub-users",
    ]
    assert "idle-culler" not in [r["name"] for r in c.JupyterHub.load_roles]


def test_gateway_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_env(monkeypatch, "none", tmp_path / "data")
    c = _load(_config(SNAPSHOTS / "issue-example.yaml"), tmp_path, "dask_gateway_config.py")
    assert c.DaskGateway.authenticator_class.endswith("JupyterHubAuthenticator")
    assert c.DaskGateway.backend_class.endswith(".SameUserBackend")
    assert c.Proxy.address == "127.0.0.1:40003"
    # Fixed, so running clusters' heartbeats reach a restarted gateway.
    assert c.DaskGateway.address == "127.0.0.1:40004"
    # Clusters kept on disk (encrypted with DASK_GATEWAY_ENCRYPT_KEYS), not stopped on exit.
    assert c.DBBackendBase.db_url == "sqlite:///" + str(
        tmp_path / "data" / "state" / "dask-gateway.sqlite"
    )
    assert c.DBBackendBase.stop_clusters_on_shutdown is False
    assert c.Proxy.prefix == "/services/dask-gateway"
    # Schedulers and workers run from the user environment, like the notebook.
    assert c.LocalClusterConfig.scheduler_cmd == ["/user-env/bin/dask", "scheduler"]
    assert c.LocalClusterConfig.worker_cmd == [
        "/user-env/bin/dask",
        "worker",
        "--host",
        "127.0.0.1",
    ]
    assert c.LocalClusterConfig.idle_timeout == 1800.0
    assert c.LocalClusterConfig.cluster_max_workers == 8
    assert c.LocalClusterConfig.environment == {
        "HELIOHUB_DEPLOYMENT_ID": "dep123",
        "PATH": "/user-env/bin:/venv/bin:/usr/bin:/bin",
    }
    # heliohub's PATH, PYTHONPATH and VIRTUAL_ENV stay out of the workers.
    assert c.LocalBackend.inherited_environment == ["LANG", "LC_ALL"]
    # Workers get their owner's home, as the owner's server does.
    assert c.SameUserBackend.homes_dir == str(tmp_path / "data" / "homes")
    options = c.Backend.cluster_options
    parsed = options.parse_options({"worker_cores": 4, "worker_memory": 8})
    assert options.get_configuration(parsed, None) == {
        "worker_cores": 4,
        "worker_threads": 4,
        "worker_memory": 8 * 2**30,
    }
    with pytest.raises(ValueError, match=r"^worker_cores must be between 1 and 4 .*got 5$"):
        options.parse_options({"worker_cores": 5})
    with pytest.raises(ValueError, match=r"^worker_memory must be between 1 and 8 .*got 0.5$"):
        options.parse_options({"worker_memory": 0.5})


def test_gateway_config_system_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _runtime_env(monkeypatch, "system-users", tmp_path / "data")
    c = _load(_config(SNAPSHOTS / "team-server.yaml"), tmp_path, "dask_gateway_config.py")
    assert c.DaskGateway.backend_class.endswith(".SystemUserBackend")
    assert c.SystemUserBackend.user_prefix == "hub-"
    assert c.LocalBackend.max_clusters_per_user == 2
    assert c.LocalClusterConfig.idle_timeout == 0.0


@pytest.mark.parametrize(("bind", "redirect"), [("0.0.0.0:443", True), ("127.0.0.1:443", False)])
def test_http_redirect_only_when_bound_to_every_interface(bind: str, redirect: bool) -> None:
    """The proxy's port-80 redirect cannot be given an address, so it must not widen a bind."""
    config = parse(
        {
            "local": {"bind": bind},
            "https": {"mode": "files", "cert_file": "c.pem", "key_file": "k.pem"},
            "auth": {"type": "native", "admin_users": ["a"]},
        }
    )
    supervisor = render(config)["local/supervisord.conf"].decode()
    assert ("--redirect-port 80" in supervisor) is redirect
