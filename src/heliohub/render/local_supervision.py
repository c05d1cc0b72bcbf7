"""How the local deployment's long-running programs are supervised: the public proxy, the hub,
the gateway and the idle culler, each restarted on failure.

Where there is no systemd (a container, CI), `heliohub up` runs them under supervisord, the
process supervisor from PyPI; on a server with systemd, `heliohub service install` writes one
unit per program instead, as The Littlest JupyterHub does. Both are rendered here from one list
of programs, so they cannot drift apart. The proxy (configurable-http-proxy) is a program of its
own, not the hub's child: it and every user's route outlive a restart of the hub, and a
restarted proxy gets its routes back from the hub (see heliohub.inhub.hub_config).

Pure: machine-specific values are read from HELIOHUB_* environment variables (supervisord's
`%(ENV_...)s`, systemd's `${...}`) or passed in as arguments (systemd units).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from heliohub.config import HubConfig
from heliohub.config.local import split_bind
from heliohub.hubspec import hub_spec

# Seconds between a crash and the restart: long enough not to spin on a program that cannot
# start, short enough that users barely notice.
RESTART_DELAY_S = 1


@dataclass(frozen=True)
class Program:
    """One supervised program; argv[0] is an executable of heliohub's virtualenv."""

    name: str
    description: str
    # "{bin}" and "{rendered}" are filled in for each supervisor, "{env[NAME]}" becomes its
    # reference to the environment variable NAME.
    argv: tuple[str, ...]
    log: str  # file name under <data_dir>/logs
    stop_s: int


def _proxy(config: HubConfig) -> Program:
    """configurable-http-proxy with the arguments JupyterHub would give it, and its token
    (CONFIGPROXY_AUTH_TOKEN) through the launcher's environment, never on its command line."""
    host, port = split_bind(config.local.bind)
    argv = [
        "{bin}/python",
        "-m",
        "heliohub.inhub.launch",
        "proxy",
        "{env[HELIOHUB_PROXY_COMMAND]}",
        "--ip",
        host,
        "--port",
        str(port),
        # Its REST API, through which the hub sets the routes, on loopback only.
        "--api-ip",
        "127.0.0.1",
        "--api-port",
        "{env[HELIOHUB_PROXY_API_PORT]}",
        "--error-target",
        "http://127.0.0.1:{env[HELIOHUB_HUB_PORT]}/hub/error",
        "--log-level",
        "info",
    ]
    if config.https.mode == "files":
        argv += ["--ssl-key", "{env[HELIOHUB_SSL_KEY]}", "--ssl-cert", "{env[HELIOHUB_SSL_CERT]}"]
        # The redirect listener takes no address: it listens on every interface, so it is only
        # added when the hub itself is bound to every interface.
        if port == 443 and host in ("0.0.0.0", "::"):
            argv += ["--redirect-port", "80", "--redirect-to", "443"]
    return Program(
        name="proxy",
        description="the public proxy (configurable-http-proxy)",
        argv=tuple(argv),
        log="proxy.log",
        stop_s=10,
    )


def programs(config: HubConfig) -> list[Program]:
    # The proxy, the gateway and the culler start through heliohub's launcher, which gives each
    # only the environment it needs (its own token), never the hub's secrets.
    out = [
        _proxy(config),
        Program(
            name="hub",
            description="JupyterHub",
            # JupyterHub's own command, without an import that costs 2.2 s of every start.
            argv=(
                "{bin}/python",
                "-m",
                "heliohub.inhub.run_hub",
                "-f",
                "{rendered}/jupyterhub_config.py",
            ),
            log="jupyterhub.log",
            stop_s=60,
        ),
        Program(
            name="dask-gateway",
            description="Dask Gateway",
            argv=(
                "{bin}/python",
                "-m",
                "heliohub.inhub.launch",
                "dask-gateway",
                "{bin}/dask-gateway-server",
                "--config",
                "{rendered}/dask_gateway_config.py",
            ),
            log="dask-gateway.log",
            stop_s=30,
        ),
    ]
    # The idle culler, with the hub spec's culling (the chart's `cull` values are the same).
    culling = hub_spec(config).culling
    if culling.enabled:
        args = [f"--timeout={culling.server_idle_timeout_s}", f"--cull-every={culling.every_s}"]
        if culling.max_age_s:
            args.append(f"--max-age={culling.max_age_s}")
        out.append(
            Program(
                name="idle-culler",
                description="idle server culler",
                argv=(
                    "{bin}/python",
                    "-m",
                    "heliohub.inhub.launch",
                    "idle-culler",
                    "{bin}/jupyterhub-idle-culler",
                    *args,
                ),
                log="idle-culler.log",
                stop_s=10,
            ),
        )
    return out


class _EnvRefs:
    """ "{env[NAME]}" in a program's argv, as one supervisor spells a variable's value."""

    def __init__(self, template: str) -> None:
        self.template = template

    def __getitem__(self, name: str) -> str:
        return self.template.format(name=name)


SUPERVISORD_ENV = _EnvRefs("%(ENV_{name})s")
SYSTEMD_ENV = _EnvRefs("${{{name}}}")


def _argv(program: Program, bin_dir: str, rendered: str, env: _EnvRefs) -> str:
    return " ".join(a.format(bin=bin_dir, rendered=rendered, env=env) for a in program.argv)


def supervisord_conf(config: HubConfig) -> bytes:
    """supervisord's config: it runs in the foreground of a process `heliohub up` starts."""
    data = "%(ENV_HELIOHUB_DATA_DIR)s"
    bin_dir = "%(ENV_HELIOHUB_BIN_DIR)s"
    lines = [
        f"; Supervision of the heliohub deployment {config.name!r}, generated from its config.",
        "; Do not edit: `heliohub up` writes it again at every start.",
        "[supervisord]",
        "nodaemon = true",
        # In the foreground it logs to stdout, which `heliohub up` sends to logs/supervisord.log.
        "logfile = /dev/null",
        "logfile_maxbytes = 0",
        f"pidfile = {data}/state/supervisord.pid",
        f"childlogdir = {data}/logs",
        f"directory = {data}/state",
        "umask = 022",
        "",
        "[unix_http_server]",
        f"file = {data}/state/supervisor.sock",
        "chmod = 0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl = unix://{data}/state/supervisor.sock",
    ]
    for p in programs(config):
        lines += [
            "",
            f"[program:{p.name}]",
            f"command = {_argv(p, bin_dir, '%(here)s', SUPERVISORD_ENV)}",
            # The proxy first: the hub sets its routes in it as it starts.
            f"priority = {100 if p.name == 'proxy' else 200}",
            f"directory = {data}/state",
            "autostart = true",
            # Restarted whatever way it ended, as often as needed, a second apart.
            "autorestart = true",
            "startsecs = 1",
            "startretries = 1000000",
            f"stopwaitsecs = {p.stop_s}",
            # Only the program itself: the hub's children (users' servers) outlive it.
            "stopasgroup = false",
            "killasgroup = false",
            "redirect_stderr = true",
            f"stdout_logfile = {data}/logs/{p.log}",
            # Never rotated by supervisord: a new file would not be private (heliohub creates
            # them 0600); rotate them with logrotate's copytruncate if needed.
            "stdout_logfile_maxbytes = 0",
        ]
    return ("\n".join(lines) + "\n").encode()


def systemd_units(
    config: HubConfig, bin_dir: str, rendered_dir: str, data_dir: str, env_file: str
) -> dict[str, str]:
    """One unit per program, restarted on failure, plus a target that groups them.

    env_file holds the HELIOHUB_* variables and secrets (mode 0600), written by
    `heliohub service install`; the units themselves hold no secret.
    """
    prefix = f"heliohub-{config.name}"
    state_dir = str(PurePosixPath(data_dir) / "state")
    units: dict[str, str] = {}
    names = []
    for p in programs(config):
        unit = f"{prefix}-{p.name}.service"
        names.append(unit)
        after = {
            "proxy": "network-online.target",
            # The hub sets its routes in the proxy as it starts.
            "hub": f"network-online.target {prefix}-proxy.service",
        }.get(p.name, f"{prefix}-hub.service")
        units[unit] = f"""\
# heliohub deployment {config.name!r}: {p.description}. Generated by `heliohub service install`.
[Unit]
Description=heliohub {config.name}: {p.description}
After={after}
Wants=network-online.target
PartOf={prefix}.target

[Service]
Type=simple
EnvironmentFile={env_file}
WorkingDirectory={state_dir}
ExecStart={_argv(p, bin_dir, rendered_dir, SYSTEMD_ENV)}
Restart=on-failure
RestartSec={RESTART_DELAY_S}
TimeoutStopSec={p.stop_s}
# Stop the program only: users' servers and Dask clusters outlive a restart of the hub.
KillMode=process
StandardOutput=append:{data_dir}/logs/{p.log}
StandardError=inherit

[Install]
WantedBy={prefix}.target
"""
    units[f"{prefix}.target"] = f"""\
# heliohub deployment {config.name!r}: every program. Generated by `heliohub service install`.
[Unit]
Description=heliohub {config.name}
Wants={" ".join(names)}

[Install]
WantedBy=multi-user.target
"""
    return units
