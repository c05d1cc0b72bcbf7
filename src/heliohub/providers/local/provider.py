"""The local provider: a complete DaskHub on this machine, started and stopped by the CLI."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import psutil

from heliohub.config import REAL_AUTH_TYPES, LoadedConfig
from heliohub.config.auth import SharedPasswordAuth
from heliohub.config.local import is_loopback, split_bind
from heliohub.errors import RefusedError, UserError
from heliohub.files import replace_file
from heliohub.hubspec import hub_spec
from heliohub.inhub import firewall
from heliohub.inhub.layout import Layout
from heliohub.inhub.users import (
    ensure_group,
    lookup_group,
    prepare_shared_dir,
    shared_writers_group,
)
from heliohub.providers import oplock
from heliohub.providers.base import (
    CheckReport,
    CheckRunner,
    Component,
    DownOptions,
    Finding,
    Provider,
    Reporter,
    SilentReporter,
    Status,
    UpOptions,
)
from heliohub.providers.local import (
    exposure,
    hub_db,
    isolation,
    offline_checks,
    processes,
    state,
    supervision,
    user_env,
)
from heliohub.providers.local import secrets as secret_files
from heliohub.providers.local import units as systemd_units
from heliohub.providers.local.logs import read_logs
from heliohub.providers.local.ports import can_bind, free_ports
from heliohub.providers.local.proxy_install import ensure_proxy
from heliohub.providers.local.session_settings import session_changes, session_settings
from heliohub.render.files import write_tree
from heliohub.render.local import GATEWAY_PREFIX, lab_modules, render_local
from heliohub.render.local_supervision import programs

# What heliohub runs from its own environment; servers and workers run from the user's.
EXECUTABLES = (
    "supervisord",
    "supervisorctl",
    "jupyterhub",
    "jupyterhub-idle-culler",
    "dask-gateway-server",
)
HEALTH_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
CHECK_USER = "heliohub-check-user"
# The external services' tokens (see render.local and launch), by the variable holding them.
SERVICE_TOKENS = {
    "HELIOHUB_GATEWAY_TOKEN": "gateway-service-token",
    "HELIOHUB_CULLER_TOKEN": "culler-service-token",
    "HELIOHUB_PROXY_TOKEN": "proxy-auth-token",
}
GATEWAY_KEY_FILE = "dask-gateway-encrypt-key"


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _uninterruptible() -> Iterator[None]:
    """Cleanup runs to its end: a second Ctrl-C, or make's SIGINT after the terminal's, would
    otherwise abort it halfway and leave processes behind."""
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class LocalProvider(Provider):
    """Hub, proxy, gateway and culler as processes of this machine, state under data_dir."""

    def __init__(
        self,
        loaded: LoadedConfig,
        reporter: Reporter,
        *,
        environ: dict[str, str] | None = None,
        euid: int | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        super().__init__(loaded, reporter)
        self.layout = Layout(loaded.data_dir)
        self.environ = dict(os.environ if environ is None else environ)
        self.euid = os.geteuid() if euid is None else euid
        # The hub, the proxy's manager and the gateway come from the virtualenv heliohub runs
        # in; user servers and Dask workers from the user environment.
        self.bin_dir = bin_dir or Path(sys.executable).parent

    # ----- helpers -------------------------------------------------------------------------

    @property
    def _deployment_id(self) -> str:
        return state.deployment_id(self.layout.state_dir)

    def _running(self) -> state.RunState | None:
        run = state.load(self.layout.state_file)
        if run and processes.is_ours(run.hub_pid, run.deployment_id):
            return run
        return None

    def _loopback_url(self) -> str:
        """The public proxy as reached from this machine."""
        host, port = split_bind(self.config.local.bind)
        if not is_loopback(host):
            host = "::1" if ":" in host else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.config.https.mode == "files" else "http"
        return f"{scheme}://{host}:{port}"

    def _gateway_url(self, run: state.RunState) -> str:
        return f"http://127.0.0.1:{run.ports.gateway}{GATEWAY_PREFIX}"

    def _check_executables(self) -> None:
        missing = [e for e in EXECUTABLES if not (self.bin_dir / e).exists()]
        if missing:
            raise UserError(
                f"{', '.join(missing)} not found next to {sys.executable}: the local provider "
                "runs them from heliohub's own environment. Install heliohub with the local "
                "extra (pip install 'heliohub[local]'), or run `make up`"
            )

    def _tls_files(self) -> dict[str, str]:
        https = self.config.https
        if https.mode != "files":
            return {}
        assert https.cert_file and https.key_file
        problems = offline_checks.tls_problems(self.loaded)
        if problems:
            raise UserError("; ".join(problems))
        out = {}
        for env_name, value in (
            ("HELIOHUB_SSL_CERT", https.cert_file),
            ("HELIOHUB_SSL_KEY", https.key_file),
        ):
            path = self.loaded.resolve(value)
            out[env_name] = str(path)
        return out

    def _login_hint(self) -> str:
        auth = self.config.auth
        admins = ", ".join(auth.admin_users) or "none configured"
        if isinstance(auth, SharedPasswordAuth):
            if auth.password is None:
                where = str(self.layout.secrets_dir / "shared-password")
            elif auth.password.env:
                where = f"the environment variable {auth.password.env}"
            else:
                where = str(self.loaded.resolve(auth.password.file or ""))
            hint = f"log in with any user name and the password in {where}"
            if auth.admin_users:
                admin_file = self.layout.secrets_dir / "shared-admin-password"
                hint += f"; admins ({admins}) use the password in {admin_file}"
            return hint
        return f"log in with {auth.type} (admins: {admins})"

    def _ensure_dir(
        self, path: Path, mode: int, created: set[str], keep_mode: bool = False
    ) -> None:
        """Create path with mode; change the mode only of directories heliohub created.

        An existing directory is the operator's: `data_dir: /srv` must never make /srv 0711.
        keep_mode: create and record it, but leave a recorded one's mode as it is.
        """
        try:
            if not path.exists():
                path.mkdir(parents=True, exist_ok=True)
                created.add(str(path))
                os.chmod(path, mode)
            elif str(path) in created and not keep_mode:
                os.chmod(path, mode)
        except OSError as exc:
            raise UserError(f"{path}: cannot create or use it ({exc.strerror})") from None

    def _write_lab_modules(self) -> None:
        """The modules servers import from heliohub, in a directory of heliohub's own that
        every hub user can read (servers run as them) and none can write: it is on their
        servers' PYTHONPATH. Each file replaced whole, so a starting server never reads half."""
        lab = self.layout.lab_modules_dir
        try:
            lab.mkdir(exist_ok=True)
            os.chmod(lab, 0o755)
            for name, content in lab_modules().items():
                path = lab / name
                if path.is_file() and path.read_bytes() == content:
                    os.chmod(path, 0o644)
                    continue
                replace_file(path, content, 0o644)
        except OSError as exc:
            raise UserError(f"{lab}: cannot write it ({exc.strerror})") from None

    def _prepare_dirs(self, iso: str) -> None:
        lay = self.layout
        shared_users = iso == "system-users"
        problem = offline_checks.data_dir_problem(lay.data_dir)
        if problem:
            raise UserError(problem)
        created = state.created_dirs(lay.state_dir)
        # Hub users need to pass through the data directory to their homes, nothing more.
        self._ensure_dir(lay.data_dir, 0o711 if shared_users else 0o755, created)
        for d in (lay.state_dir, lay.logs_dir):
            self._ensure_dir(d, 0o700, created)
        secret_files.ensure_dir(lay.secrets_dir)
        for d in (lay.homes_dir, lay.clusters_dir):
            self._ensure_dir(d, 0o711 if shared_users else 0o755, created)
        state.save_created_dirs(lay.state_dir, created)
        self._write_lab_modules()
        shared = self.config.storage.shared
        if not shared.enabled:
            return
        if not shared_users:
            lay.shared_dir.mkdir(exist_ok=True)
            return
        if shared.writable_by_group:
            if lookup_group(shared.writable_by_group) is None:
                raise UserError(
                    f"storage.shared.writable_by_group: there is no OS group "
                    f"'{shared.writable_by_group}'; create it (groupadd "
                    f"{shared.writable_by_group}) or remove the setting"
                )
            group = shared.writable_by_group
        else:
            group = ensure_group(shared_writers_group(self.config.local.user_prefix)).gr_name
        prepare_shared_dir(lay.shared_dir, group)

    def _secrets_env(self) -> dict[str, str]:
        """Secrets the hub needs, as environment variables of the hub process only."""
        lay = self.layout
        out: dict[str, str] = {}
        token_file = lay.secrets_dir / secret_files.CHECK_TOKEN_FILE
        secret_files.ensure_secret_file(token_file)
        out["HELIOHUB_CHECK_TOKEN"] = secret_files.read_secret_file(token_file, "check token")
        users_file = lay.secrets_dir / secret_files.USERS_TOKEN_FILE
        secret_files.ensure_secret_file(users_file)
        out["HELIOHUB_USERS_TOKEN"] = secret_files.read_secret_file(users_file, "users token")
        for env_name, file_name in SERVICE_TOKENS.items():
            path = lay.secrets_dir / file_name
            secret_files.ensure_secret_file(path)
            out[env_name] = secret_files.read_secret_file(path, file_name)
        key_file = lay.secrets_dir / GATEWAY_KEY_FILE
        if supervision.ensure_fernet_key(key_file):
            self.reporter.info(f"generated {key_file} (mode 0600)")
        out["HELIOHUB_GATEWAY_ENCRYPT_KEY"] = secret_files.read_secret_file(
            key_file, "gateway database key"
        )
        settings = hub_spec(self.config).login
        for env_name, ref in settings.secrets.items():
            if ref is None:
                continue
            out[env_name] = secret_files.resolve(
                ref, f"auth ({env_name})", self.loaded.base_dir, self.environ
            )
        for env_name, file_name in settings.generated.items():
            path = lay.secrets_dir / file_name
            if secret_files.ensure_secret_file(path):
                self.reporter.info(f"generated {path} (mode 0600)")
            out[env_name] = secret_files.read_secret_file(path, f"auth ({env_name})")
        return out

    def _hub_env(
        self, iso: str, dep_id: str, ports: state.Ports, proxy_cmd: Path, user_bin_dir: Path
    ) -> dict[str, str]:
        env = {
            "PATH": f"{self.bin_dir}{os.pathsep}{self.environ.get('PATH', os.defpath)}",
            "PYTHONUNBUFFERED": "1",
            "HELIOHUB_DATA_DIR": str(self.layout.data_dir),
            "HELIOHUB_BIN_DIR": str(self.bin_dir),
            "HELIOHUB_USER_BIN_DIR": str(user_bin_dir),
            "HELIOHUB_PROXY_COMMAND": str(proxy_cmd),
            "HELIOHUB_DEPLOYMENT_ID": dep_id,
            "HELIOHUB_ISOLATION": iso,
            "HELIOHUB_HUB_PORT": str(ports.hub),
            "HELIOHUB_PROXY_API_PORT": str(ports.proxy_api),
            "HELIOHUB_GATEWAY_PORT": str(ports.gateway),
            "HELIOHUB_GATEWAY_API_PORT": str(ports.gateway_api),
        }
        for name in ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"):
            if name in self.environ:
                env[name] = self.environ[name]
        env.update(self._tls_files())
        return env

    def _tool_env(self) -> dict[str, str]:
        """For JupyterHub's own commands run by heliohub (version, upgrade-db)."""
        env = {"PATH": f"{self.bin_dir}{os.pathsep}{self.environ.get('PATH', os.defpath)}"}
        for name in ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"):
            if name in self.environ:
                env[name] = self.environ[name]
        return env

    def _log_tail(self, lines: int = 25) -> str:
        try:
            text = self.layout.hub_log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _operation_lock(self, what: str) -> AbstractContextManager[None]:
        """The deployment's lock, in its state directory (created, and recorded as ours)."""
        problem = offline_checks.data_dir_problem(self.layout.data_dir)
        if problem:
            raise UserError(problem)
        created = state.created_dirs(self.layout.state_dir)
        self._ensure_dir(self.layout.data_dir, 0o755, created, keep_mode=True)
        self._ensure_dir(self.layout.state_dir, 0o700, created)
        state.save_created_dirs(self.layout.state_dir, created)
        return oplock.hold(self.layout.state_dir, what)

    # ----- the interface -------------------------------------------------------------------

    def operation_lock(self, what: str) -> AbstractContextManager[None]:
        # Taken inside up and down: a foreground `up` holds it only while starting.
        return nullcontext()

    def offline_problems(self, insecure: bool) -> list[str]:
        return offline_checks.offline_problems(self.loaded, self.euid, insecure)

    def _fall_back(self, reason: str) -> str:
        self.reporter.warn(
            f"isolation 'auto' would be system-users, but: {reason}. Falling back to "
            "isolation 'none' (everything runs as root, loopback only). Set "
            "local.isolation explicitly to choose."
        )
        return "none"

    def _user_env(self, iso: str) -> tuple[user_env.UserEnv, str]:
        """The user environment, created, updated or checked; and the isolation it allows."""
        wanted = self.config.local.user_environment
        pins = user_env.hub_versions()
        python = user_env.existing_python(self.loaded)
        cache = self.layout.state_dir / user_env.PROBE_CACHE_FILE
        if python is not None:
            return user_env.existing(python, pins, cache), iso
        try:
            base = user_env.base_interpreter(for_other_users=iso == "system-users")
        except UserError as exc:
            if self.config.local.isolation != "auto":
                raise
            iso = self._fall_back(str(exc))
            base = user_env.base_interpreter(for_other_users=False)
        managed = user_env.Managed(
            self.layout.user_env_dir, self.reporter, self.environ, probe_cache=cache
        )
        return managed.ensure(wanted, pins, base), iso

    def up(self, options: UpOptions) -> Status:
        iso = isolation.resolve(self.config, self.euid)
        # Refusals that need nothing built come before the user environment is built; the
        # check that counts (and warns) runs once the isolation is final.
        exposure.check_exposure(self.config, iso, self.euid, options.insecure, SilentReporter())
        # The lock covers the start only: a foreground `up` must let `down` in once running.
        with self._operation_lock("up"):
            units = systemd_units.recorded(self.layout.state_dir)
            if units is not None and systemd_units.is_active(
                units, self.environ.get("PATH", os.defpath)
            ):
                # A second copy beside systemd's would fight it for the same ports.
                raise RefusedError(
                    f"this deployment runs as the systemd units of {units.target}: apply a "
                    "changed config with `sudo heliohub service install`, then `sudo systemctl "
                    f"restart {units.target}`; `heliohub down` stops it"
                )
            running = self._running()
            if running is not None:
                changes = session_changes(running.settings, self.config, running.isolation)
                if not changes:
                    # Before the user environment: it must not change under running servers.
                    return self._heal_running(running)
                self._stop_for_changes(running, changes, options)
            state.clear_stop_request(self.layout.state_dir)
            env, iso = self._user_env(iso)
            self.reporter.info(f"user environment: {env.describe()}")
            if not env.managed:
                user_env.save_checked(self.layout.state_dir, env)
            if iso == "system-users":
                reason = isolation.fallback_reason(
                    self.config, self.euid, self.layout.data_dir, env.bin_dir
                )
                if reason:
                    iso = self._fall_back(reason)
            exposure.check_exposure(self.config, iso, self.euid, options.insecure, self.reporter)
            keep_ports = self._preflight(iso, env.bin_dir, options)
            # Before a hub of another JupyterHub version touches the database: back up, migrate.
            hub_db.ensure_current(self.layout, self.bin_dir, self._tool_env(), self.reporter)
            run: state.RunState | None = None
            try:
                run = self._start(iso, env.bin_dir, keep_ports)
                with self.reporter.stage("wait until healthy"):
                    self._wait_healthy(run)
            except KeyboardInterrupt:
                with _uninterruptible():
                    self.reporter.info("interrupted: stopping what was started")
                    self._stop(self._deployment_id, run)
                raise
        if options.detach:
            self._started_hints(run)
            return self.status()
        return self._foreground(run)

    def _started_hints(self, run: state.RunState) -> None:
        self.reporter.info(f"hub: {run.url}")
        self.reporter.info(self._login_hint())
        self.reporter.info(f"logs: {self.layout.logs_dir} (`heliohub logs -f`)")

    def _heal_running(self, run: state.RunState) -> Status:
        """`up` on a running deployment: bring the programs in line, stop no user's work.

        A changed config restarts the hub, gateway and culler (servers and clusters outlive
        them), and the proxy only when its own command changed; a program that is down is
        started. When the environment the supervisor holds changes too (a secret, TLS files),
        the supervisor itself is started again, on the same ports.
        """
        restarted = self._restart_supervisor_if_env_changed(run)
        if restarted is not None:
            with self.reporter.stage("wait until healthy"):
                self._wait_healthy(restarted, stop_on_failure=False)
            self.reporter.info(
                "restarted with the new settings; no user's server or cluster was stopped"
            )
            return self.status()
        changes = write_tree(render_local(self.config), self.layout.rendered_dir)
        # A newer heliohub may bring another text: servers started from now on get it.
        self._write_lab_modules()
        conf = self.layout.rendered_dir / "local" / "supervisord.conf"
        env = {
            "PATH": self.environ.get("PATH", os.defpath),
            "HELIOHUB_DATA_DIR": str(self.layout.data_dir),
        }
        if any(what != "unchanged" for _path, what in changes):
            with self.reporter.stage("config changed: restart hub, gateway and culler"):
                # `update` restarts the programs whose own section changed, the proxy among
                # them; the others read config files, so they restart in any case.
                supervision.supervisorctl(self.bin_dir, conf, env, "update")
                names = [p.name for p in programs(self.config) if p.name != "proxy"]
                supervision.supervisorctl(self.bin_dir, conf, env, "restart", *names)
        else:
            supervision.supervisorctl(self.bin_dir, conf, env, "start", "all")
        with self.reporter.stage("wait until healthy"):
            self._wait_healthy(run, stop_on_failure=False)
        self.reporter.info("already running; healthy, no user's server or cluster was stopped")
        return self.status()

    def _restart_supervisor_if_env_changed(self, run: state.RunState) -> state.RunState | None:
        """The supervisor's HELIOHUB_* environment (ports, paths, secrets) is fixed when it
        starts; when the config now gives other values, stop it (it stops the proxy, hub,
        gateway and culler, never users' sessions) and start it again on the same ports."""
        try:
            running_env = psutil.Process(run.hub_pid).environ()
        except psutil.Error:
            return None
        user_bin = running_env.get("HELIOHUB_USER_BIN_DIR")
        if not user_bin:
            return None
        proxy_cmd = ensure_proxy(self.layout.proxy_dir, self.reporter, self.environ)
        wanted = self._hub_env(
            run.isolation, run.deployment_id, run.ports, proxy_cmd, Path(user_bin)
        )
        wanted |= self._secrets_env()
        # What heliohub sets, login secrets (OAUTH_*) included; not what it passes through from
        # the shell `up` runs in (PATH, HOME, LANG...).
        passed_through = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONUNBUFFERED"}
        ours = {k for k in running_env if k.startswith(("HELIOHUB_", "OAUTH_"))}
        keys = (set(wanted) | ours) - passed_through
        if all(wanted.get(k) == running_env.get(k) for k in keys):
            return None
        with self.reporter.stage("settings changed: restart the supervisor"):
            processes.stop_hub(run.hub_pid, run.deployment_id, STOP_TIMEOUT_S)
            return self._start(run.isolation, Path(user_bin), run.ports)

    def _sessions(self, dep_id: str) -> tuple[int, int]:
        """How many users' servers and Dask clusters (running or starting) a deployment has."""
        _infra, work = supervision.split(processes.marked(dep_id))
        counts = supervision.sessions(work)
        listed = self._gateway_clusters()
        return counts["server"], max(counts["scheduler"], listed[1] if listed else 0)

    def _stop_for_changes(
        self, run: state.RunState, changes: list[str], options: UpOptions
    ) -> None:
        """A config change that running sessions cannot keep: say how many it stops, ask (or
        take --yes), then stop the whole deployment so that it starts again with the change."""
        servers, clusters = self._sessions(run.deployment_id)
        what = f"{servers} user server(s) and {clusters} Dask cluster(s)"
        reasons = "; ".join(changes)
        if servers or clusters:
            question = (
                f"the config changed in a way running sessions cannot keep: {reasons}. "
                f"Applying it stops {what}. Stop them and apply?"
            )
            if options.yes:
                pass
            elif options.confirm is None:
                raise RefusedError(
                    f"the config changed in a way running sessions cannot keep: {reasons}. "
                    f"Applying it would stop {what}, and there is no terminal to ask: nothing "
                    "was changed. Run `heliohub up --yes` to stop them and apply the config, "
                    "or undo the change"
                )
            elif not options.confirm(question):
                raise RefusedError(
                    f"not applied: {what} keep running with the config they were started "
                    "with; nothing was changed"
                )
        self.reporter.warn(f"applying a change running sessions cannot keep: stopping {what}")
        # A foreground `up` of the running deployment then ends as stopped by request.
        state.request_stop(self.layout.state_dir)
        with self.reporter.stage("stop the running deployment"):
            self._stop(run.deployment_id, run)

    def _leftovers(self, iso: str, options: UpOptions) -> state.Ports | None:
        """What an earlier run left running: its hub, gateway and culler are replaced; users'
        servers and clusters are kept, and the new run takes over their addresses, when that
        can work. Otherwise they are stopped, after saying how many and asking.
        """
        dep_id = self._deployment_id
        leftovers = processes.marked(dep_id)
        if not leftovers:
            return None
        infra, work = supervision.split(leftovers)
        if infra:
            self.reporter.info(
                f"replacing {len(infra)} process(es) of the earlier run's hub, gateway and culler"
            )
            processes.terminate(infra, grace=10)
        if not work:
            return None
        previous = state.load(self.layout.state_file)
        counts = supervision.sessions(work)
        changes = (
            session_changes(previous.settings, self.config, previous.isolation)
            if previous is not None
            else []
        )
        if (
            previous is not None
            and previous.isolation == iso
            and previous.ports.gateway_api
            and not changes
        ):
            ports = previous.ports
            if all(can_bind("127.0.0.1", p) for p in (ports.hub, ports.gateway, ports.gateway_api)):
                self.reporter.info(
                    f"keeping users' work running ({supervision.describe(counts)}): "
                    "the hub and the gateway take it over"
                )
                return ports
        why = f" ({'; '.join(changes)})" if changes else ""
        question = (
            f"users' work from an earlier run is still running ({supervision.describe(counts)}), "
            f"and this start cannot take it over{why}; stop it?"
        )
        if not options.yes and not (options.confirm and options.confirm(question)):
            raise RefusedError(
                f"users' work from an earlier run is still running "
                f"({supervision.describe(counts)}) and would be stopped; run "
                "`heliohub up --yes` to stop it and start, or "
                "`heliohub down` to stop everything"
            )
        self.reporter.warn(f"stopping {supervision.describe(counts)} an earlier run left behind")
        processes.sweep(dep_id)
        return None

    def _preflight(self, iso: str, user_bin_dir: Path, options: UpOptions) -> state.Ports | None:
        """Everything that can be checked before starting anything; leftovers dealt with.

        Returns the ports to start on when users' work of an earlier run is kept.
        """
        self._check_executables()
        self._tls_files()
        if iso == "system-users":
            # Hub users run the user environment; heliohub's own stays the hub's (root's).
            isolation.check_system_users(self.layout.data_dir, user_bin_dir)
        self._prepare_dirs(iso)
        if iso == "system-users":
            isolation.check_user_prefix(self.config.local.user_prefix, self.layout.users_file)
        keep_ports = self._leftovers(iso, options)
        host, port = split_bind(self.config.local.bind)
        if not can_bind(host, port):
            raise UserError(
                f"local.bind: {self.config.local.bind} is already in use by another program; "
                "stop it or choose another port"
            )
        return keep_ports

    def _start(
        self, iso: str, user_bin_dir: Path, ports: state.Ports | None = None
    ) -> state.RunState:
        """Install what is missing, write the config files, start the supervisor (it starts
        the proxy, the hub, the gateway and the culler side by side).

        ports: those of a run whose users' servers and clusters still run (they were told these
        addresses); otherwise free ones are chosen.
        """
        dep_id = self._deployment_id
        proxy_cmd = ensure_proxy(self.layout.proxy_dir, self.reporter, self.environ)
        with self.reporter.stage("generate secrets"):
            secrets_env = self._secrets_env()
        if ports is None:
            hub_port, proxy_api_port, gateway_port, gateway_api_port = free_ports(4)
            ports = state.Ports(
                hub=hub_port,
                proxy_api=proxy_api_port,
                gateway=gateway_port,
                gateway_api=gateway_api_port,
            )
        write_tree(render_local(self.config), self.layout.rendered_dir)
        supervisor_conf = self.layout.rendered_dir / "local" / "supervisord.conf"
        env = self._hub_env(iso, dep_id, ports, proxy_cmd, user_bin_dir) | secrets_env
        with self.reporter.stage("start proxy, hub, gateway and culler"):
            # The logs and the hub's database are for root (or the user running heliohub)
            # only; supervisord appends to the log files and never rotates them.
            logs = [self.layout.logs_dir / p.log for p in programs(self.config)]
            for private in (*logs, self.layout.hub_db):
                fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
                os.fchmod(fd, 0o600)
                if private == self.layout.hub_log:
                    stamp = f"---- heliohub up {time.strftime('%Y-%m-%d %H:%M:%S')} ----\n"
                    os.write(fd, stamp.encode())
                os.close(fd)
            pid = processes.start_detached(
                [str(self.bin_dir / "supervisord"), "-c", str(supervisor_conf)],
                env=env,
                cwd=self.layout.state_dir,
                log=self.layout.logs_dir / "supervisord.log",
            )
            run = state.RunState(
                deployment_id=dep_id,
                hub_pid=pid,
                ports=ports,
                url=hub_spec(self.config).public_url,
                isolation=iso,
                started_at=time.time(),
                settings=session_settings(self.config),
            )
            # Recorded at once, so `down` finds a half-started hub too.
            state.save(self.layout.state_file, run)
            supervision.nudge(self.layout.state_dir / "supervisor.sock")
        return run

    def _wait_healthy(self, run: state.RunState, stop_on_failure: bool = True) -> None:
        base = self._loopback_url()
        supervisor_log = self.layout.logs_dir / "supervisord.log"
        log_start = supervisor_log.stat().st_size if supervisor_log.exists() else 0

        def healthy() -> bool:
            return processes.http_ok(f"{base}/hub/health") and processes.http_ok(
                f"{self._gateway_url(run)}/api/health"
            )

        def crashed() -> str | None:
            """A program that exited while starting (supervisord would retry it forever)."""
            try:
                with supervisor_log.open("rb") as f:
                    f.seek(log_start)
                    text = f.read().decode(errors="replace")
            except OSError:
                return None
            for name in ("proxy", "hub", "dask-gateway"):
                if f"exited: {name} " in text:
                    return str(self._program_log(name))
            return None

        ok = processes.wait_for(
            healthy,
            HEALTH_TIMEOUT_S,
            alive=lambda: processes.is_ours(run.hub_pid, run.deployment_id) and not crashed(),
        )
        if ok:
            return
        log = Path(crashed() or self.layout.hub_log)
        exited = log != self.layout.hub_log or not processes.is_ours(run.hub_pid, run.deployment_id)
        try:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        except OSError:
            tail = ""
        what = "exited" if exited else f"did not become healthy within {HEALTH_TIMEOUT_S:.0f}s"
        if not stop_on_failure:
            raise UserError(f"the deployment {what}. Last lines of {log}:\n{tail}")
        self._stop(run.deployment_id, run)
        name = {self._program_log(n): n for n in ("proxy", "hub", "dask-gateway")}.get(log, "hub")
        raise UserError(
            f"the {name} {what}; everything `up` started was stopped. Last lines of {log}:\n{tail}"
        )

    def _program_log(self, name: str) -> Path:
        log = next(p.log for p in programs(self.config) if p.name == name)
        return self.layout.logs_dir / log

    def _foreground(self, run: state.RunState) -> Status:
        # SIGTERM and SIGHUP (a closed terminal) take the Ctrl-C way out, cleanup included;
        # a signal at any moment from here on, even while printing, gets there.
        previous: dict[int, Any] = {}
        try:
            for sig in (signal.SIGTERM, signal.SIGHUP):
                previous[sig] = signal.signal(sig, _raise_interrupt)
            self._started_hints(run)
            self.reporter.info("running in the foreground; Ctrl-C stops everything")
            while processes.is_ours(run.hub_pid, run.deployment_id):
                if state.stop_requested(self.layout.state_dir):
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            with _uninterruptible():
                self.reporter.info("stopping")
                self.down(DownOptions())
                return self.status()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        by_down = state.stop_requested(self.layout.state_dir)
        if by_down or state.load(self.layout.state_file) is None:
            # `down` from another shell: let it finish its work, then report that, not a crash.
            oplock.wait_free(self.layout.state_dir, STOP_TIMEOUT_S + 30)
            self.reporter.info("stopped by `heliohub down`")
            return self.status()
        tail = self._log_tail()
        self._stop(run.deployment_id, run)
        raise UserError(f"the hub stopped on its own. Last lines of {self.layout.hub_log}:\n{tail}")

    def _stop(self, dep_id: str, run: state.RunState | None) -> None:
        if run is not None:
            with self.reporter.stage("stop hub, servers and clusters"):
                processes.stop_hub(run.hub_pid, dep_id, STOP_TIMEOUT_S)
        with self.reporter.stage("stop leftover processes"):
            survivors = processes.sweep(dep_id)
        # The gateway removes its loopback firewall when it stops; not when it was killed.
        if self.euid == 0:
            firewall.remove_table(firewall.table_name(dep_id))
        state.clear(self.layout.state_file)
        for pid_file in (self.layout.hub_pid_file, self.layout.proxy_pid_file):
            pid_file.unlink(missing_ok=True)
        if survivors:
            pids = ", ".join(str(p.pid) for p in survivors)
            raise UserError(f"could not stop process(es) {pids}; stop them by hand (kill -9)")

    def down(self, options: DownOptions) -> None:
        if options.delete_data and options.confirmed_name != self.config.name:
            raise RefusedError(
                f"deleting the data of '{self.config.name}' needs its name as confirmation"
            )
        if not self.layout.state_dir.exists():
            self.reporter.info(f"nothing to stop: {self.layout.data_dir} holds no deployment")
            return
        with oplock.hold(self.layout.state_dir, "down"):
            units = systemd_units.recorded(self.layout.state_dir)
            if units is not None:
                # Before anything else: systemd would restart what `down` stops.
                done = systemd_units.stop(units, self.environ.get("PATH", os.defpath))
                if done:
                    self.reporter.info(done)
            run = state.load(self.layout.state_file)
            dep_id = run.deployment_id if run else self._deployment_id
            if run is None and not processes.marked(dep_id):
                self.reporter.info("not running")
            else:
                # A foreground `up` elsewhere watches for this and exits 0 instead of failing.
                state.request_stop(self.layout.state_dir)
            self._stop(dep_id, run)
        if options.delete_data:
            with self.reporter.stage(f"delete {self.layout.data_dir}"):
                shutil.rmtree(self.layout.data_dir)
            self.reporter.info(
                "OS users created for hub users (system-users) were kept; remove them with "
                f"userdel (their names start with '{self.config.local.user_prefix}'). The "
                "record of which hub user owns which was deleted with the data, so a new "
                "deployment with this prefix refuses them until they are removed"
            )
            if units is not None:
                self.reporter.info(
                    f"the systemd units of {units.target} in {units.unit_dir} were kept; "
                    f"`sudo systemctl disable {units.target}`, then delete them"
                )

    def status(self) -> Status:
        run = state.load(self.layout.state_file) if self.layout.state_dir.exists() else None
        dep_id = run.deployment_id if run else None
        supervised = run is not None and processes.is_ours(run.hub_pid, run.deployment_id)
        procs = processes.marked(dep_id) if dep_id else []
        if not supervised:
            notes = [f"data: {self.layout.data_dir}", self._user_env_line()]
            _infra, work = supervision.split(procs)
            if work:
                notes.append(
                    f"the supervisor is not running, users' work is "
                    f"({supervision.describe(supervision.sessions(work))}): `heliohub up` "
                    "takes it over, `heliohub down` stops it"
                )
            elif procs:
                notes.append(f"{len(procs)} leftover process(es); `heliohub down` stops them")
            return Status(
                name=self.config.name,
                provider="local",
                state="partial" if procs else "stopped",
                components=[Component(name="hub", state="stopped")],
                notes=notes,
            )
        assert run is not None
        roles = [processes.role(p) for p in procs]
        pids = {r: [p.pid for p in procs if processes.role(p) == r] for r in set(roles)}
        hub_ok = processes.http_ok(f"http://127.0.0.1:{run.ports.hub}/hub/health")
        proxy_ok = processes.http_ok(f"{self._loopback_url()}/hub/health")
        gateway_ok = processes.http_ok(f"{self._gateway_url(run)}/api/health")
        culler = "idle-culler" in roles
        servers, schedulers, workers = (roles.count(r) for r in ("server", "scheduler", "worker"))
        listed = self._gateway_clusters()
        # Starting and stopping clusters may or may not have their scheduler yet.
        clusters_ok = listed is None or listed[0] <= schedulers <= listed[1]

        def pid(role: str) -> str:
            return ", ".join(f"pid {p}" for p in pids.get(role, []))

        components = [
            Component(
                name="hub",
                state="running" if hub_ok else "failed",
                detail=f"{pid('hub')} (supervisor pid {run.hub_pid})".strip(),
            ),
            Component(
                name="proxy",
                state="running" if proxy_ok else "failed",
                detail=f"{run.url} (bind {self.config.local.bind}) {pid('proxy')}".strip(),
            ),
            Component(
                name="dask-gateway",
                state="running" if gateway_ok else "failed",
                detail=f"{self._gateway_url(run)}, gateway://127.0.0.1:{run.ports.gateway}",
            ),
        ]
        if self.config.culling.enabled:
            components.append(
                Component(
                    name="idle-culler",
                    state="running" if culler else "failed",
                    detail=f"culls servers idle for {self.config.culling.server_idle_timeout_s}s",
                )
            )
        components.append(
            Component(name="user-servers", state="running", detail=f"{servers} running")
        )
        detail = f"{schedulers} scheduler(s), {workers} worker(s)"
        if listed is not None:
            detail += f"; the gateway lists {listed[0]} running"
        components.append(
            Component(
                name="dask-clusters", state="running" if clusters_ok else "failed", detail=detail
            )
        )
        healthy = (
            hub_ok
            and proxy_ok
            and gateway_ok
            and clusters_ok
            and (culler or not self.config.culling.enabled)
        )
        notes = [*self._insecure_notes()]
        if not clusters_ok:
            notes.append(
                f"the gateway lists {listed[0]} running cluster(s) but {schedulers} scheduler "
                "process(es) run: some clusters are lost, or run unknown to the gateway"
            )
        return Status(
            name=self.config.name,
            provider="local",
            state="running" if healthy else "partial",
            url=run.url,
            components=components,
            notes=[
                *notes,
                f"isolation: {run.isolation}",
                self._user_env_line(),
                self._login_hint(),
                f"logs: {self.layout.logs_dir}",
            ],
        )

    def _user_env_line(self) -> str:
        return user_env.status_line(self.loaded, self.layout.user_env_dir, self.layout.state_dir)

    def _gateway_clusters(self) -> tuple[int, int] | None:
        """The gateway's view, from its database: how many clusters run, and how many are
        running, starting or stopping. None when it cannot be read."""
        db = self.layout.gateway_db
        if not db.exists():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                # dask_gateway_server.backends.db_base.JobStatus: 1 CREATED, 2 SUBMITTED,
                # 3 RUNNING, 4 CLOSING, then STOPPED and FAILED.
                row = conn.execute(
                    "SELECT sum(status = 3), sum(status BETWEEN 1 AND 4) FROM clusters"
                ).fetchone()
        except sqlite3.Error:
            return None
        return int(row[0] or 0), int(row[1] or 0)

    def _insecure_notes(self) -> list[str]:
        """What makes a running deployment `--insecure`: reachable from outside, unprotected."""
        host, _port = split_bind(self.config.local.bind)
        if is_loopback(host):
            return []
        missing = []
        if self.config.https.mode != "files":
            missing.append("TLS")
        if self.config.auth.type not in REAL_AUTH_TYPES:
            missing.append("a real login")
        if not missing:
            return []
        return [
            f"INSECURE: {self.config.local.bind} is reachable from other machines without "
            + " and without ".join(missing)
            + " (started with --insecure)"
        ]

    def check(self, run: CheckRunner) -> CheckReport:
        if self._running() is None:
            raise UserError("the local hub is not running; start it with `heliohub up --detach`")
        token = secret_files.read_secret_file(
            self.layout.secrets_dir / secret_files.CHECK_TOKEN_FILE, "check token"
        )
        return run(
            self._loopback_url(),
            token,
            username=CHECK_USER,
            verify_tls=False,
        )

    def users_api(self) -> tuple[str, str]:
        """The running hub's URL from this machine and the `heliohub users` service token."""
        if self._running() is None:
            raise UserError("the local hub is not running; start it with `heliohub up --detach`")
        token = secret_files.read_secret_file(
            self.layout.secrets_dir / secret_files.USERS_TOKEN_FILE, "users token"
        )
        return self._loopback_url(), token

    @property
    def hub_database(self) -> Path:
        """The hub's SQLite database (NativeAuthenticator keeps its accounts there too)."""
        return self.layout.state_dir / "jupyterhub.sqlite"

    def logs(self, follow: bool, lines: int = 200) -> Iterator[str]:
        if not self.layout.logs_dir.exists():
            raise UserError(f"no logs yet: {self.layout.logs_dir} does not exist")
        return read_logs(self.layout.logs_dir, follow, lines=lines)

    def doctor(self) -> list[Finding]:
        """What `up` would refuse, then each process of a running deployment."""
        findings = [
            Finding("error", problem, "fix the config or the machine, then `heliohub validate`")
            for problem in self.offline_problems(insecure=False)
        ]
        if not findings:
            findings.append(Finding("ok", "config and machine pass the checks `up` makes"))
        status = self.status()
        if status.state == "stopped":
            findings.append(Finding("warning", "not running", "start it with `heliohub up`"))
            return findings
        for c in status.components:
            level = "ok" if c.state == "running" else "error"
            what = f"{c.name}: {c.state}" + (f" ({c.detail})" if c.detail else "")
            fix = "" if level == "ok" else f"see `heliohub logs` (under {self.layout.logs_dir})"
            findings.append(Finding(level, what, fix))
        return findings
