"""Secrets of a shared-password hub (the passwords, the cookie secret, tokens) never appear in
any log file under the data dir, nor in `heliohub render` output."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
import requests
from auth.hub import Hub, api, password_login

pytestmark = pytest.mark.integration


def test_shared_password_hub_logs_and_render_hold_no_secret(
    tmp_path: Path, proxy_dir: Path
) -> None:
    hub = Hub(
        tmp_path,
        {
            "auth": {"type": "shared-password", "admin_users": ["ada"]},
            "local": {"isolation": "none"},
        },
        proxy_dir,
    )
    try:
        hub.up()
        wrong_guess = f"wrong-guess-{secrets.token_hex(6)}"
        refused = password_login(requests.Session(), hub.url, "bob", wrong_guess)
        assert "/hub/login" in refused.url  # the form again, not the home page

        session = requests.Session()
        page = password_login(session, hub.url, "bob", hub.password)
        assert page.url.endswith("/hub/home"), page.url
        token = api(session, hub.url, "POST", "/users/bob/tokens", json={"note": "t"})
        assert token.status_code == 201

        values = {
            "shared password": hub.password,
            "attempted password": wrong_guess,
            "bob's API token": token.json()["token"],
            "cookie secret": (hub.data_dir / "secrets" / "jupyterhub_cookie_secret")
            .read_text()
            .strip(),
            "proxy API token": (hub.data_dir / "secrets" / "proxy-auth-token").read_text().strip(),
        }
        admin_password = hub.data_dir / "secrets" / "shared-admin-password"
        if admin_password.exists():
            values["admin password"] = admin_password.read_text().strip()
        secret_files = sorted((hub.data_dir / "secrets").iterdir())
        assert secret_files
        for path in secret_files:
            assert oct(path.stat().st_mode & 0o777) == "0o600", path
        # Stop first: everything the hub and its services logged is then on disk.
        hub.down()
        logs = hub.log_files()
        assert logs
        for path in logs:
            text = path.read_text(errors="replace")
            for what, value in values.items():
                assert value not in text, f"{what} in {path}"
        out = tmp_path / "rendered"
        proc = hub.cli("render", "-o", str(out))
        rendered = proc.stdout + proc.stderr
        rendered += "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
        # The hub's data file names where the password comes from instead.
        login = json.loads((out / "local" / "hub.json").read_text())["login"]
        from_env = login["traits_from_env"]
        assert from_env["SharedPasswordAuthenticator.user_password"] == "HELIOHUB_SHARED_PASSWORD"
        for what, value in values.items():
            assert value not in rendered, f"{what} in render output"
    finally:
        hub.down()
