"""Where a local deployment keeps everything, all under its data directory: read by heliohub
when it prepares and runs the deployment, and by the hub's and the gateway's config inside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    data_dir: Path

    @property
    def state_dir(self) -> Path:
        """pids, ports, the deployment id, the hub database, the config files that run."""
        return self.data_dir / "state"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def secrets_dir(self) -> Path:
        """0700; every file 0600."""
        return self.data_dir / "secrets"

    @property
    def homes_dir(self) -> Path:
        return self.data_dir / "homes"

    @property
    def shared_dir(self) -> Path:
        return self.data_dir / "shared"

    @property
    def proxy_dir(self) -> Path:
        """configurable-http-proxy, installed from npm."""
        return self.data_dir / "proxy"

    @property
    def user_env_dir(self) -> Path:
        """The managed user environment servers and Dask workers run from."""
        return self.data_dir / "user-env"

    @property
    def lab_modules_dir(self) -> Path:
        """Modules users' servers import from heliohub (render.local.lab_modules), on their
        PYTHONPATH."""
        return self.data_dir / "lab-modules"

    @property
    def clusters_dir(self) -> Path:
        """Working directories of running Dask clusters."""
        return self.data_dir / "dask-clusters"

    @property
    def rendered_dir(self) -> Path:
        return self.state_dir / "rendered"

    @property
    def state_file(self) -> Path:
        return self.state_dir / "deployment.json"

    @property
    def users_file(self) -> Path:
        """Which OS user heliohub created for which hub user (system-users); 0600."""
        return self.state_dir / "os-users.json"

    @property
    def hub_db(self) -> Path:
        return self.state_dir / "jupyterhub.sqlite"

    @property
    def hub_pid_file(self) -> Path:
        return self.state_dir / "jupyterhub.pid"

    @property
    def cookie_secret_file(self) -> Path:
        return self.secrets_dir / "jupyterhub_cookie_secret"

    @property
    def gateway_db(self) -> Path:
        """The gateway's clusters, their secrets encrypted: a restarted gateway finds them."""
        return self.state_dir / "dask-gateway.sqlite"

    @property
    def hub_log(self) -> Path:
        return self.logs_dir / "jupyterhub.log"

    @property
    def proxy_pid_file(self) -> Path:
        return self.state_dir / "proxy.pid"
