"""The local provider: a complete DaskHub on this machine, started and stopped by the CLI."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from heliohub.config import REAL_AUTH_TYPES, LoadedConfig
from heliohub.config.auth import SharedPasswordAuth
from heliohub.config.local import is_loopback, split_bind
from heliohub.errors import RefusedError, UserError
from heliohub.providers import oplock
from heliohub.providers.base import (
    CheckReport,
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
    firewall,
    hub_db,
    isolation,
    offline_checks,
    processes,
    state,
    user_env,
)
from heliohub.providers.local import secrets as secret_files
from heliohub.providers.local.layout import Layout
from heliohub.providers.local.logs import read_logs
from heliohub.providers.local.ports import can_bind, free_ports
from heliohub.providers.local.proxy_install import ensure_proxy
from heliohub.providers.local.users import (
    ensure_group,
    lookup_group,
    prepare_shared_dir,
    shared_writers_group,
)
from heliohub.render.auth import auth_settings
from heliohub.render.files import write_tree
from heliohub.render.local import GATEWAY_PREFIX, public_url, render_local

# What heliohub runs from its own environment; servers and workers run from the user's.
EXECUTABLES = ("jupyterhub", "jupyterhub-idle-culler", "dask-gateway-server")
HEALTH_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
CHECK_USER = "heliohub-check-user"


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
        settings = auth_settings(self.config, public_url(self.config))
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
        if python is not None:
            return user_env.existing(python, pins), iso
        try:
            base = user_env.base_interpreter(for_other_users=iso == "system-users")
        except UserError as exc:
            if self.config.local.isolation != "auto":
                raise
            iso = self._fall_back(str(exc))
            base = user_env.base_interpreter(for_other_users=False)
        managed = user_env.Managed(self.layout.user_env_dir, self.reporter, self.environ)
        return managed.ensure(wanted, pins, base), iso

    def up(self, options: UpOptions) -> Status:
        iso = isolation.resolve(self.config, self.euid)
        # Refusals that need nothing built come before the user environment is built; the
        # check that counts (and warns) runs once the isolation is final.
        exposure.check_exposure(self.config, iso, self.euid, options.insecure, SilentReporter())
        # The lock covers the start only: a foreground `up` must let `down` in once running.
        with self._operation_lock("up"):
            if self._running() is not None:
                # Before the user environment: it must not change under running servers.
                self.reporter.info("already running; nothing to do (`heliohub down` stops it)")
                return self.status()
            state.clear_stop_request(self.layout.state_dir)
            env, iso = self._user_env(iso)
            self.reporter.info(f"user environment: {env.describe()}")
            if iso == "system-users":
                reason = isolation.fallback_reason(
                    self.config, self.euid, self.layout.data_dir, env.bin_dir
                )
                if reason:
                    iso = self._fall_back(reason)
            exposure.check_exposure(self.config, iso, self.euid, options.insecure, self.reporter)
            self._preflight(iso, env.bin_dir)
            # Before a hub of another JupyterHub version touches the database: back up, migrate.
            hub_db.ensure_current(self.layout, self.bin_dir, self._tool_env(), self.reporter)
            run: state.RunState | None = None
            try:
                run = self._start(iso, env.bin_dir)
                with self.reporter.stage("wait until healthy"):
                    self._wait_healthy(run)
            except KeyboardInterrupt:
                with _uninterruptible():
                    self.reporter.info("interrupted: stopping what was started")
                    self._stop(self._deployment_id, run)
                raise
        self.reporter.info(f"hub: {run.url}")
        self.reporter.info(self._login_hint())
        self.reporter.info(f"logs: {self.layout.logs_dir} (`heliohub logs -f`)")
        if options.detach:
            return self.status()
        return self._foreground(run)

    def _preflight(self, iso: str, user_bin_dir: Path) -> None:
        """Everything that can be checked before starting anything, and leftovers cleared."""
        self._check_executables()
        self._tls_files()
        if iso == "system-users":
            # Hub users run the user environment; heliohub's own stays the hub's (root's).
            isolation.check_system_users(self.layout.data_dir, user_bin_dir)
        self._prepare_dirs(iso)
        if iso == "system-users":
            isolation.check_user_prefix(self.config.local.user_prefix, self.layout.users_file)
        dep_id = self._deployment_id
        leftovers = processes.marked(dep_id)
        if leftovers:
            self.reporter.warn(f"stopping {len(leftovers)} process(es) an earlier run left behind")
            processes.sweep(dep_id)
        host, port = split_bind(self.config.local.bind)
        if not can_bind(host, port):
            raise UserError(
                f"local.bind: {self.config.local.bind} is already in use by another program; "
                "stop it or choose another port"
            )

    def _start(self, iso: str, user_bin_dir: Path) -> state.RunState:
        """Install what is missing, write the config files, start the hub (it starts the rest)."""
        dep_id = self._deployment_id
        proxy_cmd = ensure_proxy(self.layout.proxy_dir, self.reporter, self.environ)
        with self.reporter.stage("generate secrets"):
            secrets_env = self._secrets_env()
        hub_port, proxy_api_port, gateway_port = free_ports(3)
        ports = state.Ports(hub=hub_port, proxy_api=proxy_api_port, gateway=gateway_port)
        write_tree(render_local(self.config), self.layout.rendered_dir)
        hub_config = self.layout.rendered_dir / "local" / "jupyterhub_config.py"
        env = self._hub_env(iso, dep_id, ports, proxy_cmd, user_bin_dir) | secrets_env
        with self.reporter.stage("start hub"):
            # The hub's log and database are for root (or the user running heliohub) only.
            for private in (self.layout.hub_log, self.layout.hub_db):
                fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
                os.fchmod(fd, 0o600)
                if private == self.layout.hub_log:
                    stamp = f"---- heliohub up {time.strftime('%Y-%m-%d %H:%M:%S')} ----\n"
                    os.write(fd, stamp.encode())
                os.close(fd)
            pid = processes.start_detached(
                [str(self.bin_dir / "jupyterhub"), "-f", str(hub_config)],
                env=env,
                cwd=self.layout.state_dir,
                log=self.layout.hub_log,
            )
            run = state.RunState(
                deployment_id=dep_id,
                hub_pid=pid,
                ports=ports,
                url=public_url(self.config),
                isolation=iso,
                started_at=time.time(),
            )
            # Recorded at once, so `down` finds a half-started hub too.
            state.save(self.layout.state_file, run)
        return run

    def _wait_healthy(self, run: state.RunState) -> None:
        base = self._loopback_url()

        def healthy() -> bool:
            return processes.http_ok(f"{base}/hub/health") and processes.http_ok(
                f"{self._gateway_url(run)}/api/health"
            )

        ok = processes.wait_for(
            healthy,
            HEALTH_TIMEOUT_S,
            alive=lambda: processes.is_ours(run.hub_pid, run.deployment_id),
        )
        if ok:
            return
        exited = not processes.is_ours(run.hub_pid, run.deployment_id)
        tail = self._log_tail()
        self._stop(run.deployment_id, run)
        what = "exited" if exited else f"did not become healthy within {HEALTH_TIMEOUT_S:.0f}s"
        raise UserError(
            f"the hub {what}; everything it started was stopped. "
            f"Last lines of {self.layout.hub_log}:\n{tail}"
        )

    def _foreground(self, run: state.RunState) -> Status:
        self.reporter.info("running in the foreground; Ctrl-C stops everything")
        # SIGTERM and SIGHUP (a closed terminal) take the Ctrl-C way out, cleanup included.
        previous = {
            sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)
        }
        try:
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
        for pid_file in ("jupyterhub.pid", "proxy.pid"):
            (self.layout.state_dir / pid_file).unlink(missing_ok=True)
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

    def status(self) -> Status:
        run = state.load(self.layout.state_file) if self.layout.state_dir.exists() else None
        dep_id = run.deployment_id if run else None
        hub_up = run is not None and processes.is_ours(run.hub_pid, run.deployment_id)
        procs = processes.marked(dep_id) if dep_id else []
        if not hub_up:
            notes = [f"data: {self.layout.data_dir}"]
            if procs:
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
        proxy_ok = processes.http_ok(f"{self._loopback_url()}/hub/health")
        gateway_ok = processes.http_ok(f"{self._gateway_url(run)}/api/health")
        culler = "idle-culler" in roles
        servers, schedulers, workers = (roles.count(r) for r in ("server", "scheduler", "worker"))
        components = [
            Component(name="hub", state="running", detail=f"pid {run.hub_pid}"),
            Component(
                name="proxy",
                state="running" if proxy_ok else "failed",
                detail=f"{run.url} (bind {self.config.local.bind})",
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
        components.append(
            Component(
                name="dask-clusters",
                state="running",
                detail=f"{schedulers} scheduler(s), {workers} worker(s)",
            )
        )
        healthy = proxy_ok and gateway_ok and (culler or not self.config.culling.enabled)
        return Status(
            name=self.config.name,
            provider="local",
            state="running" if healthy else "partial",
            url=run.url,
            components=components,
            notes=[
                *self._insecure_notes(),
                f"isolation: {run.isolation}",
                self._login_hint(),
                f"logs: {self.layout.logs_dir}",
            ],
        )

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

    def check(self) -> CheckReport:
        from heliohub.check import run_check

        if self._running() is None:
            raise UserError("the local hub is not running; start it with `heliohub up --detach`")
        token = secret_files.read_secret_file(
            self.layout.secrets_dir / secret_files.CHECK_TOKEN_FILE, "check token"
        )
        return run_check(
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
