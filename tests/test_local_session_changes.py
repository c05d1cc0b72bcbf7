"""Which config changes `up` applies to a running local deployment without stopping users'
sessions, and which need them stopped (heliohub.providers.local.session_settings).

The pure rules first; then a real deployment where alice has a server: a change sessions can
keep is applied with her server untouched (also one that restarts the supervisor), and a change
they cannot keep is refused without a terminal to ask (exit 3, nothing changed), then applied
with `--yes`, which stops her server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from local_hub import LocalHub, login, start_server

from heliohub.config import parse
from heliohub.providers.local.processes import role
from heliohub.providers.local.session_settings import session_changes, session_settings

BASE: dict[str, Any] = {
    "auth": {"type": "native", "admin_users": ["alice"]},
    "local": {"isolation": "system-users", "user_environment": {"python": "/env/bin/python"}},
}


def _with(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(BASE))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


@pytest.mark.parametrize(
    "changed",
    [
        _with(culling__server_idle_timeout_s=600),
        _with(local__bind="127.0.0.1:9000"),
        _with(local__server_memory_limit_gib=4),
        _with(local__concurrent_spawn_limit=5),
        _with(dask__cluster_idle_timeout_s=60),
        _with(storage__shared__enabled=False),
        _with(auth__admin_users=["alice", "bob"]),
        _with(https={"mode": "files", "cert_file": "hub.crt", "key_file": "hub.key"}),
    ],
)
def test_changes_sessions_can_keep(changed: dict[str, Any]) -> None:
    recorded = session_settings(parse(BASE))
    assert session_changes(recorded, parse(changed), "system-users") == []


@pytest.mark.parametrize(
    ("changed", "key"),
    [
        (_with(local__isolation="none"), "local.isolation"),
        (_with(local__user_prefix="lab-"), "local.user_prefix"),
        (_with(local__user_environment={"python": "/other/bin/python"}), "local.user_environment"),
        (
            _with(
                auth={
                    "type": "github",
                    "client_id": "x",
                    "client_secret": {"env": "S"},
                    "allow_all": True,
                }
            ),
            "auth.type",
        ),
    ],
)
def test_changes_sessions_cannot_keep(changed: dict[str, Any], key: str) -> None:
    recorded = session_settings(parse(BASE))
    [line] = session_changes(recorded, parse(changed), "system-users")
    assert line.startswith(f"{key} changed")


def test_the_user_prefix_matters_only_with_system_users() -> None:
    recorded = session_settings(parse(BASE))
    assert session_changes(recorded, parse(_with(local__user_prefix="lab-")), "none") == []


def test_another_oidc_issuer_is_another_login() -> None:
    def oidc(issuer: str) -> dict[str, Any]:
        return {
            **BASE,
            "auth": {
                "type": "oidc",
                "issuer": issuer,
                "client_id": "hub",
                "client_secret": {"env": "SECRET"},
                "allow_all": True,
            },
        }

    recorded = session_settings(parse(oidc("https://login.example.org/")))
    [line] = session_changes(recorded, parse(oidc("https://other.example.org/")), "none")
    assert line.startswith("auth.issuer changed")


def test_a_state_file_of_an_earlier_version_reports_nothing() -> None:
    assert session_changes({}, parse(_with(local__isolation="none")), "system-users") == []


# ----- a real deployment ------------------------------------------------------------------


def _pids(hub: LocalHub, name: str) -> list[int]:
    return [p.pid for p in hub.processes() if role(p) == name]


def _state(hub: LocalHub) -> dict[str, Any]:
    return dict(json.loads((hub.data_dir / "state" / "deployment.json").read_text()))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, proxy_dir: Path) -> Iterator[LocalHub]:
    hub = LocalHub(tmp_path_factory.mktemp("changes"), {"name": "changes"})
    hub.share_proxy(proxy_dir)
    hub.cli("up", "--detach")
    try:
        start_server(login(hub.url, "alice", hub.admin_password), hub.url, "alice")
        yield hub
    finally:
        hub.down()
        assert hub.processes() == []


@pytest.mark.integration
def test_a_change_sessions_can_keep_stops_none(deployment: LocalHub) -> None:
    hub = deployment
    [server] = _pids(hub, "server")
    [supervisor] = _pids(hub, "supervisor")
    hub.config["culling"] = {"server_idle_timeout_s": 777}
    hub.write_config()
    result = hub.cli("up", "--detach", stdin="")
    assert "no user's server or cluster was stopped" in result.stderr, result.stderr
    assert _pids(hub, "server") == [server]
    assert _pids(hub, "supervisor") == [supervisor]
    [culler] = [p for p in hub.processes() if role(p) == "idle-culler"]
    assert "--timeout=777" in culler.cmdline()


@pytest.mark.integration
def test_a_new_secret_restarts_the_supervisor_and_stops_no_session(
    deployment: LocalHub,
) -> None:
    """The shared password is in the supervisor's environment: a new one needs a new
    supervisor, on the same ports, and alice's server runs on."""
    hub = deployment
    [server] = _pids(hub, "server")
    [supervisor] = _pids(hub, "supervisor")
    password = hub.workdir / "password"
    password.write_text("a-new-password-1\n")
    password.chmod(0o600)
    hub.config["auth"] = {**hub.config["auth"], "password": {"file": str(password)}}
    hub.write_config()
    result = hub.cli("up", "--detach", stdin="")
    assert "no user's server or cluster was stopped" in result.stderr, result.stderr
    assert _pids(hub, "server") == [server]
    assert _pids(hub, "supervisor") != [supervisor]
    login(hub.url, "bob", "a-new-password-1")


@pytest.mark.integration
def test_a_change_sessions_cannot_keep_asks_and_yes_applies_it(deployment: LocalHub) -> None:
    hub = deployment
    [server] = _pids(hub, "server")
    [supervisor] = _pids(hub, "supervisor")
    before = _state(hub)
    python = hub.config["local"]["user_environment"]["python"]
    # The same interpreter under another name: a different user environment to the config.
    other = str(Path(python).with_name("python3"))
    assert Path(other).exists()
    hub.config["local"]["user_environment"] = {"python": other}
    hub.write_config()

    refused = hub.cli("up", "--detach", check=False, stdin="")
    assert refused.returncode == 3, refused.stderr
    assert "Traceback" not in refused.stderr
    message = " ".join(refused.stderr.split())
    assert "local.user_environment changed" in message
    assert "would stop 1 user server(s) and 0 Dask cluster(s)" in message
    assert "nothing was changed" in message and "heliohub up --yes" in message
    assert _pids(hub, "server") == [server]
    assert _pids(hub, "supervisor") == [supervisor]
    assert _state(hub) == before

    applied = hub.cli("up", "--detach", "--yes", stdin="")
    assert "stopping 1 user server(s) and 0 Dask cluster(s)" in " ".join(applied.stderr.split())
    assert not psutil.pid_exists(server) or server not in _pids(hub, "server")
    assert _pids(hub, "server") == []
    assert hub.status()["state"] == "running"
    recorded = json.loads(_state(hub)["settings"]["local.user_environment"])
    assert recorded["python"] == other
