"""One hub user, one OS user, for ever (needs root: real accounts are created and removed).

The OS user of a hub user is derived from its name, and heliohub records which account it
created for which hub user. Each attack here is one a hub user could try by choosing a name:
a twin of a rewritten name, a searched-for hash collision, a name that completes the prefix to
an existing account. Each must end in a refusal or in two different accounts.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pwd
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_hub import delete_os_users

from heliohub.errors import UserError
from heliohub.inhub.registry import AccountRefused, check_uid, uid_min
from heliohub.inhub.users import Homes, ensure_os_user, os_username, safe_name
from heliohub.providers.local.isolation import check_user_prefix

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating OS users needs root"),
]


@pytest.fixture
def prefix() -> Iterator[str]:
    value = f"hac{secrets.token_hex(2)}-"
    yield value
    delete_os_users(value)


@pytest.fixture
def homes(tmp_path: Path) -> Homes:
    return Homes(homes_dir=tmp_path / "homes", shared_dir=None, shared_name="shared")


def test_a_rewritten_name_and_its_twin_get_two_accounts(
    prefix: str, homes: Homes, tmp_path: Path
) -> None:
    registry = tmp_path / "os-users.json"
    # `jürgen` is rewritten to j-rgen-<hash>; a user who picks exactly that name is a twin.
    twin = safe_name("jürgen")
    assert twin == "j-rgen-19b720a9"
    first = ensure_os_user(prefix, "jürgen", homes, registry)
    second = ensure_os_user(prefix, twin, homes, registry)
    assert first.pw_uid != second.pw_uid
    assert first.pw_dir != second.pw_dir
    # For ever: the same hub user gets the same account again.
    assert ensure_os_user(prefix, "jürgen", homes, registry).pw_uid == first.pw_uid
    assert (registry.stat().st_mode & 0o777, registry.stat().st_uid) == (0o600, 0)


def _colliding_long_names() -> tuple[str, str]:
    """Two names sharing their first 25 characters whose shortened OS names are equal: the
    6-hex-digit hash is short enough that a user finds such a pair in a moment."""
    stem = "a-very-long-hub-user-name-that-is-cut"
    seen: dict[str, str] = {}
    for i in itertools.count():
        name = f"{stem}{i}"
        key = hashlib.sha256(name.encode()).hexdigest()[:6]
        if key in seen:
            return seen[key], name
        seen[key] = name
    raise AssertionError("unreachable")


def test_two_long_names_sharing_25_characters(prefix: str, homes: Homes, tmp_path: Path) -> None:
    registry = tmp_path / "os-users.json"
    one, two = "x" * 25 + "-first-person", "x" * 25 + "-second-person"
    assert os_username(prefix, one) != os_username(prefix, two)
    assert (
        ensure_os_user(prefix, one, homes, registry).pw_uid
        != ensure_os_user(prefix, two, homes, registry).pw_uid
    )
    # A pair searched for so that both names map to one OS user: the second is refused.
    victim, attacker = _colliding_long_names()
    assert os_username(prefix, victim) == os_username(prefix, attacker)
    victim_entry = ensure_os_user(prefix, victim, homes, registry)
    with pytest.raises(AccountRefused, match="which heliohub created for hub user"):
        ensure_os_user(prefix, attacker, homes, registry)
    assert ensure_os_user(prefix, victim, homes, registry).pw_uid == victim_entry.pw_uid


def test_an_existing_account_is_never_adopted(prefix: str, homes: Homes, tmp_path: Path) -> None:
    registry = tmp_path / "os-users.json"
    subprocess.run(["useradd", "--no-create-home", prefix + "carol"], check=True)
    with pytest.raises(AccountRefused, match="not created by heliohub"):
        ensure_os_user(prefix, "carol", homes, registry)
    assert not homes.home_of("carol").exists()


def test_an_account_replaced_after_creation_is_refused(
    prefix: str, homes: Homes, tmp_path: Path
) -> None:
    registry = tmp_path / "os-users.json"
    ensure_os_user(prefix, "dave", homes, registry)
    subprocess.run(["userdel", prefix + "dave"], check=True)
    # Another account of the same name, with another uid, appears in its place.
    subprocess.run(["useradd", "--no-create-home", "--uid", "64999", prefix + "dave"], check=True)
    with pytest.raises(AccountRefused, match="was replaced"):
        ensure_os_user(prefix, "dave", homes, registry)


def test_uid_0_and_system_uids_are_refused(tmp_path: Path) -> None:
    defs = tmp_path / "login.defs"
    defs.write_text("# comment\nUID_MIN\t\t 2000\nUID_MAX 60000\n")
    assert uid_min(defs) == 2000
    assert uid_min(tmp_path / "missing") == 1000
    for uid in (0, 1, 999, 1999):
        with pytest.raises(AccountRefused, match="system account"):
            check_uid("someone", uid, defs)
    check_uid("someone", 2000, defs)


def test_a_prefix_that_reaches_root_is_refused(tmp_path: Path) -> None:
    # `r` + hub user `oot` would be root.
    assert os_username("r", "oot") == pwd.getpwuid(0).pw_name
    with pytest.raises(UserError, match=r"local.user_prefix: 'r' .*root"):
        check_user_prefix("r", tmp_path / "os-users.json")
    with pytest.raises(AccountRefused):
        ensure_os_user("r", "oot", Homes(tmp_path / "homes", None, "shared"), tmp_path / "r.json")


def test_a_prefix_of_accounts_heliohub_created_is_accepted(
    prefix: str, homes: Homes, tmp_path: Path
) -> None:
    registry = tmp_path / "os-users.json"
    ensure_os_user(prefix, "erin", homes, registry)
    check_user_prefix(prefix, registry)
    subprocess.run(["useradd", "--no-create-home", prefix + "intruder"], check=True)
    with pytest.raises(UserError, match=f"{prefix}intruder"):
        check_user_prefix(prefix, registry)


def test_validate_refuses_a_prefix_that_reaches_root(tmp_path: Path) -> None:
    config = tmp_path / "heliohub.yaml"
    config.write_text(
        "auth: {type: native, admin_users: [ada]}\n"
        f"local: {{isolation: system-users, user_prefix: r, data_dir: {tmp_path / 'data'}}}\n"
    )
    heliohub = Path(sys.executable).parent / "heliohub"
    proc = subprocess.run(
        [str(heliohub), "validate", "-c", str(config)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = " ".join((proc.stdout + proc.stderr).split())
    assert "local.user_prefix: 'r' is the start of existing OS accounts" in message
    assert "(root" in message and "Traceback" not in message
    # validate only looks: no data directory, no record, no lock file.
    assert not (tmp_path / "data").exists()
