"""The loopback firewall of system-users (providers/local/firewall.py): refused clearly when nft
is missing or the kernel says no, and, as root with the real nft, a user's rules added and
removed, and the table removed (its end-to-end effect is attacked in
test_security_dashboards.py)."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import pytest

from heliohub.errors import UserError
from heliohub.providers.local import firewall


def test_missing_nft_is_refused_with_the_package_to_install(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="`nft` is missing: install the nftables package"):
        firewall.check_available(path=str(tmp_path))


def test_a_kernel_without_nftables_is_refused_with_its_reason(tmp_path: Path) -> None:
    fake = tmp_path / "nft"
    fake.write_text(
        "#!/bin/sh\necho 'Error: Could not process rule: Operation not permitted' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(UserError, match="the kernel refuses: Error: Could not process rule"):
        firewall.check_available(path=str(tmp_path))


def test_marks_are_kept_apart_from_unmarked_connections() -> None:
    assert firewall.mark(0) == "0x48000000"
    assert firewall.mark(1001) == "0x480003e9"
    with pytest.raises(ValueError, match="outside the range"):
        firewall.mark(2**24)


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or firewall.nft_binary() is None, reason="needs root and nft")
def test_rules_per_user_and_the_table_go_away() -> None:
    fw = firewall.OwnerFirewall(f"unit{secrets.token_hex(4)}")

    def listing() -> str:
        proc = subprocess.run(
            ["nft", "list", "table", "inet", fw.table], capture_output=True, text=True, check=False
        )
        return proc.stdout if proc.returncode == 0 else ""

    try:
        fw.reset()
        assert f"meta skuid 0 ct mark set {firewall.mark(0)}" in listing()
        fw.protect(64001)
        fw.protect(64002)
        fw.protect(64001)  # once is enough
        assert listing().count("heliohub-owner-64001") == 2
        assert "drop" in listing()
        fw.unprotect(64001)
        assert "heliohub-owner-64001" not in listing()
        assert listing().count("heliohub-owner-64002") == 2
        with pytest.raises(ValueError, match="root"):
            fw.protect(0)
    finally:
        fw.remove()
    assert listing() == ""
    assert firewall.remove_table(fw.table) is False
