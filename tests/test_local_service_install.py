"""`heliohub service install`: systemd cannot run here, so the units are written to a directory
and read back; without systemd and without --unit-dir it says what to do instead."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from local_hub import LocalHub

from heliohub.providers.local.service import systemd_available


def test_units_and_their_private_environment_file(tmp_path: Path, proxy_dir: Path) -> None:
    hub = LocalHub(tmp_path / "svc", {"name": "svc"})
    hub.share_proxy(proxy_dir)
    units = tmp_path / "units"
    result = hub.cli("service", "install", "--unit-dir", str(units))
    assert "Traceback" not in result.stderr
    names = sorted(p.name for p in units.iterdir())
    assert names == [
        "heliohub-svc-dask-gateway.service",
        "heliohub-svc-hub.service",
        "heliohub-svc-idle-culler.service",
        "heliohub-svc-proxy.service",
        "heliohub-svc.target",
    ]
    env_file = hub.data_dir / "secrets" / "service.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    token = env["HELIOHUB_GATEWAY_TOKEN"].strip('"')
    assert token == (hub.data_dir / "secrets" / "gateway-service-token").read_text().strip()
    proxy_token = env["HELIOHUB_PROXY_TOKEN"].strip('"')
    assert proxy_token == (hub.data_dir / "secrets" / "proxy-auth-token").read_text().strip()
    for unit in units.iterdir():
        assert token not in unit.read_text()
        assert proxy_token not in unit.read_text()
    hub_unit = (units / "heliohub-svc-hub.service").read_text()
    assert f"EnvironmentFile={env_file}" in hub_unit
    assert "Restart=on-failure" in hub_unit
    # The rendered files the units run exist.
    assert (hub.data_dir / "state" / "rendered" / "local" / "jupyterhub_config.py").is_file()
    # Nothing was started.
    assert hub.processes() == []
    # Installing again (a changed config) keeps the ports: servers and clusters the units
    # started were told these addresses.
    ports = {k: v for k, v in env.items() if k.endswith("_PORT")}
    assert len(ports) == 4
    hub.cli("service", "install", "--unit-dir", str(units))
    again = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert {k: v for k, v in again.items() if k.endswith("_PORT")} == ports


def test_without_systemd_it_points_to_up_detach(tmp_path: Path) -> None:
    if systemd_available():
        pytest.skip("this machine runs systemd: installing would really install units")
    hub = LocalHub(tmp_path / "nosd", {"name": "nosd"})
    result = hub.cli("service", "install", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "systemd is not running" in result.stderr
    assert "heliohub up" in result.stderr
