"""`heliohub service install`: the local deployment as systemd units, restarted on failure.

The units (heliohub.render.local_supervision.systemd_units) hold no secret: the HELIOHUB_*
variables, secrets included, go to <data_dir>/secrets/service.env (0600), read by systemd.
Ports are chosen once and kept in that file, so users' servers and clusters, which were told
these addresses, outlive any restart of the hub or the gateway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from heliohub.errors import UserError
from heliohub.providers.local import isolation, state
from heliohub.providers.local import units as installed_units
from heliohub.providers.local.ports import free_ports
from heliohub.providers.local.provider import LocalProvider
from heliohub.providers.local.proxy_install import ensure_proxy
from heliohub.render.files import write_tree
from heliohub.render.local import render_local
from heliohub.render.local_supervision import systemd_units

SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
ENV_FILE = "service.env"


@dataclass(frozen=True)
class Installed:
    target: str
    units: list[Path]
    env_file: Path
    started: bool


def _env_line(name: str, value: str) -> str:
    if "\n" in value:
        raise UserError(f"{name} holds a line break, which a systemd environment file cannot")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


def _installed_ports(env_file: Path) -> state.Ports | None:
    """The ports an earlier install wrote into the environment file, if any."""
    try:
        text = env_file.read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip().strip('"')
    try:
        return state.Ports(
            hub=int(values["HELIOHUB_HUB_PORT"]),
            proxy_api=int(values["HELIOHUB_PROXY_API_PORT"]),
            gateway=int(values["HELIOHUB_GATEWAY_PORT"]),
            gateway_api=int(values["HELIOHUB_GATEWAY_API_PORT"]),
        )
    except (KeyError, ValueError):
        return None


def systemd_available() -> bool:
    """systemd runs as PID 1 (what sd_booted() checks)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def install(provider: LocalProvider, unit_dir: Path | None, start: bool) -> Installed:
    """Write the units and their environment file; with start, enable and start them."""
    if provider.config.provider != "local":
        raise UserError("`heliohub service install` is for provider local")
    if unit_dir is None:
        if provider.euid != 0:
            raise UserError("installing systemd units needs root: run it with sudo")
        if not systemd_available():
            raise UserError(
                "systemd is not running on this machine (a container?): use `heliohub up "
                "--detach`, which supervises the deployment itself, or give --unit-dir to "
                "only write the units"
            )
        unit_dir = SYSTEM_UNIT_DIR
    lay = provider.layout
    if provider._running() is not None:
        raise UserError(
            "the deployment runs under `heliohub up`; stop it with `heliohub down` first "
            "(users' servers stop too), then install the units"
        )
    iso = isolation.resolve(provider.config, provider.euid)
    problems = provider.offline_problems(insecure=False)
    if problems:
        raise UserError("; ".join(problems))
    provider._prepare_dirs(iso)
    user, iso = provider._user_env(iso)
    proxy_cmd = ensure_proxy(lay.proxy_dir, provider.reporter, provider.environ)
    env_file = lay.secrets_dir / ENV_FILE
    previous = state.load(lay.state_file)
    installed = _installed_ports(env_file)
    if installed is not None:
        # Servers and clusters the units started were told these addresses: a new install
        # (a changed config) keeps them.
        ports = installed
    elif previous is not None and previous.ports.gateway_api:
        ports = previous.ports
    else:
        hub, proxy_api, gateway, gateway_api = free_ports(4)
        ports = state.Ports(hub=hub, proxy_api=proxy_api, gateway=gateway, gateway_api=gateway_api)
    env = provider._hub_env(iso, provider._deployment_id, ports, proxy_cmd, user.bin_dir)
    env |= provider._secrets_env()
    write_tree(render_local(provider.config), lay.rendered_dir)
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("# Written by `heliohub service install`; secrets: keep it 0600.\n")
        f.write("".join(_env_line(k, v) + "\n" for k, v in sorted(env.items())))
    units = systemd_units(
        provider.config,
        bin_dir=str(provider.bin_dir),
        rendered_dir=str(lay.rendered_dir / "local"),
        data_dir=str(lay.data_dir),
        env_file=str(env_file),
    )
    unit_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        (unit_dir / name).write_text(text)
        written.append(unit_dir / name)
    target = next(n for n in units if n.endswith(".target"))
    # Read by `heliohub down`, which stops the target before anything else.
    installed_units.record(lay.state_dir, installed_units.UnitsRecord(target, str(unit_dir), start))
    if start:
        for args in (["daemon-reload"], ["enable", "--now", target]):
            done = subprocess.run(
                ["systemctl", *args], capture_output=True, text=True, timeout=120, check=False
            )
            if done.returncode != 0:
                raise UserError(f"systemctl {' '.join(args)} failed: {done.stderr.strip()}")
    return Installed(target=target, units=written, env_file=env_file, started=start)
