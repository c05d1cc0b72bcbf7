"""Root never acts on a path its owner controls: the home set-up that the hub and the gateway
run as root, tried with the links a hostile owner would plant (needs root for ownership)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from heliohub.inhub.users import Homes, ensure_home

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")

OWNER = pwd.struct_passwd(("mallory", "x", 54321, 54321, "", "/nonexistent", "/bin/sh"))


def _homes(tmp_path: Path) -> Homes:
    (tmp_path / "shared").mkdir()
    return Homes(homes_dir=tmp_path / "homes", shared_dir=tmp_path / "shared", shared_name="shared")


def test_home_is_owned_private_and_links_the_shared_directory(tmp_path: Path) -> None:
    homes = _homes(tmp_path)
    home = ensure_home(homes, "mallory", OWNER)
    st = home.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (54321, 54321, 0o700)
    assert os.readlink(home / "shared") == "../../shared"
    assert (home / "shared").resolve() == (tmp_path / "shared").resolve()


def test_a_link_planted_as_the_shared_entry_changes_no_other_file(tmp_path: Path) -> None:
    homes = _homes(tmp_path)
    home = ensure_home(homes, "mallory", OWNER)
    victim = tmp_path / "victim"
    victim.write_text("root's")
    (home / "shared").unlink()
    # The owner points the shared entry at a file of root's and waits for the next login.
    (home / "shared").symlink_to(victim)
    ensure_home(homes, "mallory", OWNER)
    assert victim.lstat().st_uid == 0
    assert victim.read_text() == "root's"
    assert os.readlink(home / "shared") == "../../shared"


def test_the_owners_own_shared_entry_is_left_alone(tmp_path: Path) -> None:
    homes = _homes(tmp_path)
    home = ensure_home(homes, "mallory", OWNER)
    (home / "shared").unlink()
    (home / "shared").mkdir()
    ensure_home(homes, "mallory", OWNER)
    assert (home / "shared").is_dir() and not (home / "shared").is_symlink()


def test_a_home_that_is_a_link_is_refused(tmp_path: Path) -> None:
    homes = _homes(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    homes.homes_dir.mkdir()
    (homes.homes_dir / "mallory").symlink_to(elsewhere)
    with pytest.raises(OSError):
        ensure_home(homes, "mallory", OWNER)
    assert elsewhere.lstat().st_uid == 0
    assert list(elsewhere.iterdir()) == []
