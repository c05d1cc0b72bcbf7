"""A user's whole journey in a real headless chromium: log in, JupyterLab, a notebook that
runs a Dask Gateway cluster, its dashboard, stop the server and log out; and the hub's own
accounts (native): sign-up, approval by an admin in another browser, login."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from auth.hub import Hub
from auth.oidc import Client, OIDCProvider, User

from browser.journey import (
    EXPECTED_SUM,
    WORKERS,
    create_notebook,
    open_dashboard,
    run_cluster_cell,
    run_shutdown_cell,
    sidebar_new_cluster_shows_plots,
    sidebar_shutdown_cluster,
    stop_server_and_log_out,
    wait_for_lab,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PASSWORD = "browser-test-password-5e1"


@pytest.fixture
def started() -> Iterator[list[Hub | OIDCProvider]]:
    """Everything a test starts, stopped afterwards in reverse order."""
    things: list[Hub | OIDCProvider] = []
    yield things
    for thing in reversed(things):
        if isinstance(thing, Hub):
            thing.down()
        else:
            thing.stop()


def _journey(page: Any, hub: Hub, username: str) -> None:
    wait_for_lab(page)
    create_notebook(page)
    result = run_cluster_cell(page)
    assert result.total == EXPECTED_SUM
    assert result.workers == WORKERS
    # The chosen worker option (1 core) reached the workers.
    assert result.threads == "[1]"
    assert "/services/dask-gateway/clusters/" in result.dashboard

    dashboard = open_dashboard(page, hub.url, result.dashboard)
    assert "Dask" in dashboard.title()
    dashboard.close()

    assert run_shutdown_cell(page) == 0

    # The Dask sidebar's "+NEW": its cluster's plots show inside JupyterLab.
    link = sidebar_new_cluster_shows_plots(page)
    assert f"/user/{username}/proxy/" in link, link
    sidebar_shutdown_cluster(page)
    stop_server_and_log_out(page, hub.url, username)


def test_shared_password_journey(
    page: Any, tmp_path: Path, started: list[Any], proxy_dir: Path
) -> None:
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "password").chmod(0o600)
    hub = Hub(
        tmp_path,
        {
            "auth": {"type": "shared-password", "password": {"file": "password"}},
            "local": {"isolation": "none"},
        },
        proxy_dir,
    )
    started.append(hub)
    hub.up()

    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill("ada")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    _journey(page, hub, "ada")


def test_oidc_redirect_journey(
    page: Any, tmp_path: Path, started: list[Any], proxy_dir: Path
) -> None:
    secret = "browser-oidc-client-secret-9c2"
    hub = Hub(
        tmp_path / "hub",
        {
            "auth": {
                "type": "oidc",
                "issuer": "http://127.0.0.1:1",  # replaced below, once the port is known
                "client_id": "heliohub",
                "client_secret": {"file": "../client-secret"},
                "scopes": ["openid", "profile", "email", "groups"],
                "allowed_groups": ["scientists"],
            },
            "local": {"isolation": "none"},
        },
        proxy_dir,
    )
    provider = OIDCProvider(
        tmp_path / "idp",
        # The oidc default sends the client secret in the form body (basic_auth: false).
        clients=[
            Client(
                "heliohub",
                secret,
                [f"{hub.url}/hub/oauth_callback"],
                token_endpoint_auth_method="client_secret_post",
            )
        ],
        users=[User("grace", "grace-password-1", ["scientists"])],
    ).start()
    started.append(provider)
    hub.config["auth"]["issuer"] = provider.issuer
    hub.write_config()
    (tmp_path / "client-secret").write_text(secret + "\n")
    (tmp_path / "client-secret").chmod(0o600)
    started.append(hub)
    hub.up()

    page.goto(f"{hub.url}/hub/login")
    page.get_by_text("Sign in with OpenID Connect").click()
    # The provider's own login form, on its own origin.
    page.wait_for_url(f"{provider.issuer}/interaction/**")
    page.locator("input[name=username]").fill("grace")
    page.locator("input[name=password]").fill("grace-password-1")
    page.locator("button[type=submit]").click()
    _journey(page, hub, "grace")


def _sign_up(page: Any, hub: Hub, username: str, password: str) -> str:
    """Through the login page's "Sign up" link; returns the message the hub shows."""
    page.goto(f"{hub.url}/hub/login")
    page.get_by_role("link", name="Sign up").click()
    page.wait_for_url(f"{hub.url}/hub/signup")
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(password)
    page.locator("#password_confirmation_input").fill(password)
    page.locator("#signup_submit").click()
    return page.locator(".alert").first.inner_text()


def _log_in(page: Any, hub: Hub, username: str, password: str, next_url: str = "") -> None:
    page.goto(f"{hub.url}/hub/login" + (f"?next={next_url}" if next_url else ""))
    page.locator("#username_input").fill(username)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


def test_native_signup_approval_login(
    page: Any, chromium: Any, tmp_path: Path, started: list[Any], proxy_dir: Path
) -> None:
    hub = Hub(
        tmp_path,
        {"auth": {"type": "native", "admin_users": ["ada"]}, "local": {"isolation": "none"}},
        proxy_dir,
    )
    started.append(hub)
    hub.up()
    user_password = "lin-browser-password-3"
    # The operator creates the admin's account; its initial password is shown once.
    admin_password = json.loads(hub.cli("users", "add", "ada", "--json").stdout)["secret"]

    assert "sent to the admin" in _sign_up(page, hub, "lin", user_password)
    _log_in(page, hub, "lin", user_password)
    error = page.locator(".login_error")
    assert "has not been authorized by an administrator" in error.inner_text()

    # The admin, in a browser of their own, authorizes lin on the authorization page.
    admin_context = chromium.new_context()
    try:
        admin = admin_context.new_page()
        _log_in(admin, hub, "ada", admin_password, next_url="/hub/authorize")
        admin.wait_for_url(f"{hub.url}/hub/authorize")
        row = admin.locator("tr#lin")
        assert row.locator("td").nth(2).inner_text() == "No"
        row.get_by_role("button", name="Authorize").click()
        admin.locator("tr#lin.success").wait_for()
        assert admin.locator("tr#lin").locator("td").nth(2).inner_text() == "Yes"
    finally:
        admin_context.close()

    _log_in(page, hub, "lin", user_password)
    wait_for_lab(page)
    assert "/user/lin/lab" in page.url
    stop_server_and_log_out(page, hub.url, "lin")
