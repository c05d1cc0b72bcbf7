"""NativeAccounts against a real JupyterHub database and NativeAuthenticator's own login check
(no running hub): accounts heliohub adds or approves are the ones NativeAuthenticator lets in,
also with sign-up closed (`signup: off`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from jupyterhub import orm
from nativeauthenticator import NativeAuthenticator

from heliohub.errors import UserError
from heliohub.users.native import NativeAccounts


def _authenticator(db_file: Path, enable_signup: bool) -> NativeAuthenticator:
    session = orm.new_session_factory(f"sqlite:///{db_file}")()
    # Creates NativeAuthenticator's users_info table, as the hub does at start.
    return NativeAuthenticator(db=session, enable_signup=enable_signup, open_signup=False)


def _login(auth: NativeAuthenticator, name: str, password: str) -> str | None:
    auth.db.rollback()  # a fresh transaction sees what heliohub committed
    return asyncio.run(auth.authenticate(None, {"username": name, "password": password}))


def test_added_account_logs_in_with_signup_closed(tmp_path: Path) -> None:
    db = tmp_path / "jupyterhub.sqlite"
    closed = _authenticator(db, enable_signup=False)
    # With sign-up closed NativeAuthenticator itself creates no account...
    assert closed.create_user("erin", "erin-password-123") is None
    # ...and heliohub's add does, approved, with a password only its owner is told.
    accounts = NativeAccounts(db, minimum_password_length=20)
    password = accounts.create("erin")
    assert len(password) >= 20
    assert _login(closed, "erin", password) == "erin"
    assert _login(closed, "erin", "not-the-password") is None
    with pytest.raises(UserError, match="already has an account"):
        accounts.create("erin")


def test_approve_lets_a_pending_sign_up_in_and_delete_removes_it(tmp_path: Path) -> None:
    db = tmp_path / "jupyterhub.sqlite"
    open_form = _authenticator(db, enable_signup=True)
    assert open_form.create_user("bob", "bob-password-123") is not None
    accounts = NativeAccounts(db, minimum_password_length=10)
    assert accounts.all() == {"bob": False}
    assert _login(open_form, "bob", "bob-password-123") is None
    assert accounts.approve("bob") is True
    assert accounts.approve("bob") is False
    assert _login(open_form, "bob", "bob-password-123") == "bob"
    assert accounts.delete("bob") is True
    assert _login(open_form, "bob", "bob-password-123") is None
    assert accounts.all() == {}
    with pytest.raises(UserError, match="has not signed up"):
        accounts.approve("bob")


def test_no_database_yet_says_start_the_hub(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="heliohub up"):
        NativeAccounts(tmp_path / "missing.sqlite", 10).all()
