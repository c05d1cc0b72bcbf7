"""A `system-users` deployment (needs root) with a real OpenID Connect login, for the security
suites: users log in through a loopback provider; each gets a browser session, API tokens and a
dask_gateway client on demand. Importing starts nothing."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from auth.hub import Hub, api, oauth_login
from auth.oidc import Client, OIDCProvider, User
from local_hub import delete_os_users, world_readable_venv

from heliohub.errors import UserError
from heliohub.inhub import firewall
from heliohub.providers.local.isolation import check_system_users

ADMIN_GROUP = "hub-admins"
USER_GROUP = "scientists"


@dataclass
class Matrix:
    hub: Hub
    provider: OIDCProvider
    workdir: Path
    sessions: dict[str, requests.Session] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    up_output: str = ""  # what `heliohub up` printed on stderr (its progress)

    def login(self, user: User) -> requests.Response:
        """user's login through the provider; the session is kept when the hub lets them in."""
        session = requests.Session()
        page = oauth_login(session, self.hub.url, user.username, user.password)
        if page.status_code == 200:
            self.sessions[user.username] = session
        return page

    def token(self, user: User) -> str:
        if user.username not in self.tokens:
            resp = api(
                self.sessions[user.username],
                self.hub.url,
                "POST",
                f"/users/{user.username}/tokens",
                json={"note": "security suite"},
            )
            assert resp.status_code == 201, resp.text
            self.tokens[user.username] = resp.json()["token"]
        return self.tokens[user.username]

    def gateway(self, user: User) -> Any:
        """A dask_gateway client with user's token (asynchronous: create it inside a loop)."""
        from dask_gateway import Gateway
        from dask_gateway.auth import JupyterHubAuth

        return Gateway(
            address=f"{self.hub.url}/services/dask-gateway",
            proxy_address=f"gateway://127.0.0.1:{self.hub.gateway_port()}",
            auth=JupyterHubAuth(api_token=self.token(user)),
            asynchronous=True,
        )


@contextmanager
def open_matrix(
    proxy_dir: Path,
    name: str,
    prefix: str,
    users: list[User],
    log_in: list[User],
    config: dict[str, Any] | None = None,
    up_timeout: float = 300,
) -> Iterator[Matrix]:
    """A running deployment whose OS users start with prefix; members of ADMIN_GROUP are admins,
    members of USER_GROUP may log in. The users in log_in are logged in. Everything it made,
    OS users included, is removed afterwards. up_timeout: for `heliohub up` (building a
    managed user environment from a cold cache takes long)."""
    # Hub users must be able to enter the data directory: not under pytest's 0700 temp root.
    workdir = Path(tempfile.mkdtemp(prefix=f"heliohub-{name}-", dir=tempfile.gettempdir()))
    # Each step of the clean-up runs even when one before it fails (a timeout in `down`, say),
    # and whatever failed before the yield: a failed run must not leave OS users, firewall
    # tables or processes behind for the next.
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        cleanup.callback(delete_os_users, prefix)
        workdir.chmod(0o711)
        bin_dir = Path(sys.executable).parent
        try:
            check_system_users(workdir / "data", bin_dir)
        except UserError:
            bin_dir = world_readable_venv(workdir / "venv")
        client_secret = f"{name}-client-secret-{workdir.name}"
        (workdir / "client-secret").write_text(client_secret + "\n")
        (workdir / "client-secret").chmod(0o600)
        config = config or {}
        hub = Hub(
            workdir / "hub",
            {
                **config,
                "auth": {},
                "local": {
                    **config.get("local", {}),
                    "isolation": "system-users",
                    "user_prefix": prefix,
                },
                "dask": {"cluster_idle_timeout_s": 600, **config.get("dask", {})},
            },
            proxy_dir,
            heliohub=str(bin_dir / "heliohub"),
        )
        (workdir / "hub").chmod(0o711)
        provider = OIDCProvider(
            workdir / "idp",
            clients=[Client("heliohub", client_secret, [f"{hub.url}/hub/oauth_callback"])],
            users=users,
        ).start()
        cleanup.callback(provider.stop)
        # `down` removes the deployment's firewall table; when `down` fails, this does.
        cleanup.callback(_remove_firewall, hub)
        # Registered before `up`: an `up` that times out may have started something.
        cleanup.callback(hub.down)
        hub.config["auth"] = {
            "type": "oidc",
            "issuer": provider.issuer,
            "client_id": "heliohub",
            "client_secret": {"file": "../client-secret"},
            "basic_auth": True,
            "scopes": ["openid", "profile", "email", "groups"],
            "admin_groups": [ADMIN_GROUP],
            "allowed_groups": [USER_GROUP],
            **config.get("auth", {}),
        }
        hub.write_config()
        up = hub.up(timeout=up_timeout)
        m = Matrix(hub, provider, workdir, up_output=up.stderr)
        for user in log_in:
            page = m.login(user)
            assert page.status_code == 200, f"{user.username}: {page.status_code} {page.text[:300]}"
        yield m


def _remove_firewall(hub: Hub) -> None:
    try:
        deployment_id = hub.deployment_id
    except OSError:
        return  # never started
    firewall.remove_table(firewall.table_name(deployment_id))
