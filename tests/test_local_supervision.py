"""Supervision of the local deployment, as pure functions: supervisord's config, the systemd
units `heliohub service install` writes, and the environment each supervised service gets."""

from __future__ import annotations

import configparser

import pytest

from heliohub.config import parse
from heliohub.inhub.launch import service_env
from heliohub.render.local_supervision import programs, supervisord_conf, systemd_units

HUB_SECRETS = {
    "HELIOHUB_CHECK_TOKEN": "check-secret",
    "HELIOHUB_USERS_TOKEN": "users-secret",
    "HELIOHUB_SHARED_PASSWORD": "password-secret",
    "HELIOHUB_CULLER_TOKEN": "culler-secret",
}
PROXY_TOKEN = "proxy-secret"
SUPERVISOR_ENV = {
    **HUB_SECRETS,
    "PATH": "/venv/bin:/usr/bin",
    "HELIOHUB_DATA_DIR": "/srv/hub",
    "HELIOHUB_BIN_DIR": "/venv/bin",
    "HELIOHUB_ISOLATION": "none",
    "HELIOHUB_DEPLOYMENT_ID": "dep1",
    "HELIOHUB_HUB_PORT": "40001",
    "HELIOHUB_GATEWAY_PORT": "40003",
    "HELIOHUB_GATEWAY_API_PORT": "40004",
    "HELIOHUB_GATEWAY_TOKEN": "gateway-secret",
    "HELIOHUB_GATEWAY_ENCRYPT_KEY": "key-secret",
    "HELIOHUB_PROXY_TOKEN": PROXY_TOKEN,
    "HELIOHUB_PROXY_COMMAND": "/srv/hub/proxy/configurable-http-proxy",
}


def test_every_program_restarts_and_users_work_outlives_it() -> None:
    conf = configparser.RawConfigParser()
    conf.read_string(supervisord_conf(parse({})).decode())
    names = [s.removeprefix("program:") for s in conf.sections() if s.startswith("program:")]
    assert names == ["proxy", "hub", "dask-gateway", "idle-culler"]
    # The proxy is started first: the hub sets its routes in it as it starts.
    assert int(conf["program:proxy"]["priority"]) < int(conf["program:hub"]["priority"])
    for name in names:
        section = conf[f"program:{name}"]
        assert section["autorestart"] == "true"
        assert int(section["startretries"]) >= 1000
        # A stop or restart signals the program only, never the servers the hub started.
        assert section["stopasgroup"] == section["killasgroup"] == "false"
    assert conf["unix_http_server"]["chmod"] == "0700"


def test_no_culler_program_when_culling_is_off() -> None:
    config = parse({"culling": {"enabled": False}})
    assert [p.name for p in programs(config)] == ["proxy", "hub", "dask-gateway"]


def test_systemd_units_restart_on_failure_and_hold_no_secret() -> None:
    config = parse({"name": "team", "culling": {"max_age_s": 600}})
    units = systemd_units(
        config,
        bin_dir="/opt/heliohub/bin",
        rendered_dir="/srv/hub/state/rendered/local",
        data_dir="/srv/hub",
        env_file="/srv/hub/secrets/service.env",
    )
    assert set(units) == {
        "heliohub-team-proxy.service",
        "heliohub-team-hub.service",
        "heliohub-team-dask-gateway.service",
        "heliohub-team-idle-culler.service",
        "heliohub-team.target",
    }
    for name, text in units.items():
        unit = configparser.RawConfigParser(strict=False)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read_string(text)
        if name.endswith(".target"):
            assert unit["Install"]["WantedBy"] == "multi-user.target"
            assert set(unit["Unit"]["Wants"].split()) == set(units) - {name}
            continue
        service = unit["Service"]
        assert service["Restart"] == "on-failure"
        assert service["EnvironmentFile"] == "/srv/hub/secrets/service.env"
        assert service["KillMode"] == "process"
        assert service["ExecStart"].startswith("/opt/heliohub/bin/")
        assert unit["Install"]["WantedBy"] == "heliohub-team.target"
        assert "-secret" not in text and "TOKEN=" not in text
    hub = units["heliohub-team-hub.service"]
    assert (
        "ExecStart=/opt/heliohub/bin/python -m heliohub.inhub.run_hub -f "
        "/srv/hub/state/rendered/local/jupyterhub_config.py" in hub
    )
    assert "After=network-online.target heliohub-team-proxy.service" in hub
    # The proxy's token and its ports come from the environment file, never the unit.
    proxy = units["heliohub-team-proxy.service"]
    assert "ExecStart=/opt/heliohub/bin/python -m heliohub.inhub.launch proxy " in proxy
    assert "${HELIOHUB_PROXY_COMMAND}" in proxy
    assert "--api-ip 127.0.0.1 --api-port ${HELIOHUB_PROXY_API_PORT}" in proxy
    assert "CONFIGPROXY_AUTH_TOKEN" not in proxy
    culler = units["heliohub-team-idle-culler.service"]
    assert "--max-age=600" in culler
    assert "After=heliohub-team-hub.service" in culler


@pytest.mark.parametrize("service", ["dask-gateway", "idle-culler"])
def test_a_service_gets_its_own_token_and_none_of_the_hubs_secrets(service: str) -> None:
    env = service_env(service, SUPERVISOR_ENV)
    own = "gateway-secret" if service == "dask-gateway" else "culler-secret"
    assert env["JUPYTERHUB_API_TOKEN"] == own
    assert env["JUPYTERHUB_API_URL"] == "http://127.0.0.1:40001/hub/api"
    assert env["JUPYTERHUB_SERVICE_NAME"] == service
    others = {v for k, v in SUPERVISOR_ENV.items() if k in HUB_SECRETS} - {own}
    others |= {"gateway-secret"} - {own}
    assert not others & set(env.values())
    assert not {k for k in env if k in HUB_SECRETS}
    if service == "dask-gateway":
        assert env["DASK_GATEWAY_ENCRYPT_KEYS"] == "key-secret"
        assert env["HELIOHUB_GATEWAY_API_PORT"] == "40004"
    else:
        assert "DASK_GATEWAY_ENCRYPT_KEYS" not in env


def test_the_gateway_gets_everything_its_config_reads() -> None:
    from heliohub.inhub.launch import KEEP
    from heliohub.render.local import GATEWAY_ENV

    assert set(GATEWAY_ENV) <= set(KEEP["dask-gateway"])


def test_the_proxy_gets_its_token_in_its_environment_and_nothing_else() -> None:
    env = service_env("proxy", SUPERVISOR_ENV)
    assert env["CONFIGPROXY_AUTH_TOKEN"] == PROXY_TOKEN
    assert env["HELIOHUB_DEPLOYMENT_ID"] == "dep1"  # `down` finds it by this marker
    secrets = {v for k, v in SUPERVISOR_ENV.items() if "TOKEN" in k or "KEY" in k}
    assert set(env.values()) & secrets == {PROXY_TOKEN}
    assert not any(k.startswith("JUPYTERHUB_") for k in env)


@pytest.mark.parametrize(
    ("settings", "listen", "tls"),
    [
        ({}, ["--ip", "127.0.0.1", "--port", "8000"], False),
        (
            {
                "local": {"bind": "0.0.0.0:443"},
                "https": {"mode": "files", "cert_file": "c.pem", "key_file": "k.pem"},
                "auth": {"type": "native", "admin_users": ["a"]},
            },
            ["--ip", "0.0.0.0", "--port", "443"],
            True,
        ),
    ],
)
def test_the_proxy_program_listens_where_the_config_says(
    settings: dict[str, object], listen: list[str], tls: bool
) -> None:
    """Its command line as supervisord runs it: the public bind, the API on loopback, the
    certificate from the environment, and no secret."""
    conf = configparser.RawConfigParser()
    conf.read_string(supervisord_conf(parse(settings)).decode())
    argv = conf["program:proxy"]["command"].split()
    assert argv[:5] == [
        "%(ENV_HELIOHUB_BIN_DIR)s/python",
        "-m",
        "heliohub.inhub.launch",
        "proxy",
        "%(ENV_HELIOHUB_PROXY_COMMAND)s",
    ]
    assert " ".join(listen) in " ".join(argv)
    assert "--api-ip 127.0.0.1 --api-port %(ENV_HELIOHUB_PROXY_API_PORT)s" in " ".join(argv)
    assert ("--ssl-key" in argv and "--ssl-cert" in argv) is tls
    assert ("%(ENV_HELIOHUB_SSL_KEY)s" in argv) is tls
    assert "TOKEN" not in " ".join(argv)


def test_the_culler_starts_once_the_hub_answers_with_its_own_environment_only() -> None:
    """The launcher of the idle culler, run for real with `env` as the culler: while no hub
    answers it waits (still heliohub's launcher, holding no secret but the culler's token);
    once a hub answers on the hub port, the program starts with the culler's environment."""
    import http.server
    import socket
    import subprocess
    import sys
    import threading
    import time

    import psutil

    from heliohub.providers.local.processes import role

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environ = {**SUPERVISOR_ENV, "HELIOHUB_HUB_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "heliohub.inhub.launch", "idle-culler", "/usr/bin/env"],
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    server = None
    try:
        deadline = time.monotonic() + 60
        waiting = psutil.Process(proc.pid)
        while "--after-hub" not in waiting.cmdline() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert role(waiting) == "idle-culler"
        secrets = {v for k, v in SUPERVISOR_ENV.items() if "TOKEN" in k or "KEY" in k}
        assert set(waiting.environ().values()) & secrets == {"culler-secret"}
        assert proc.poll() is None  # no hub yet: still waiting

        class Hub(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/hub/api" else 404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", port), Hub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        if server is not None:
            server.shutdown()
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert proc.returncode == 0
    assert env["JUPYTERHUB_API_TOKEN"] == "culler-secret"
    assert env["JUPYTERHUB_API_URL"] == f"http://127.0.0.1:{port}/hub/api"
    assert not set(env.values()) & (
        {v for k, v in SUPERVISOR_ENV.items() if "TOKEN" in k} - {"culler-secret"}
    )
