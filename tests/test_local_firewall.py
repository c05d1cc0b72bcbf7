"""The loopback firewall of system-users (inhub/firewall.py): refused clearly when nft
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
from heliohub.inhub import firewall


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
        assert listing().count("heliohub-owner-64001") == 4
        assert "reject with tcp reset" in listing() and "drop" in listing()
        # A connection let in by a SYN-ACK with no socket (a SYN cookie) is never answered.
        assert f"ct mark {firewall.UNOWNED} reject with tcp reset" in listing()
        fw.unprotect(64001)
        assert "heliohub-owner-64001" not in listing()
        assert listing().count("heliohub-owner-64002") == 4
        with pytest.raises(ValueError, match="root"):
            fw.protect(0)
    finally:
        fw.remove()
    assert listing() == ""
    assert firewall.remove_table(fw.table) is False


LISTENER = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
s.settimeout(0.5)
end = time.time() + 30
while time.time() < end:
    try:
        c, _ = s.accept()
        c.sendall(b"hello")
        c.close()
    except OSError:
        pass
"""
CLIENT = """
import socket, sys
try:
    print(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3).recv(5).decode())
except OSError as exc:
    print("refused", type(exc).__name__)
"""


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or firewall.nft_binary() is None, reason="needs root and nft")
def test_a_protected_socket_answers_its_owner_and_root_only() -> None:
    owner, other = 64123, 64124  # uids of no account: only these test processes run as them
    as_uid = ["setpriv", "--reuid={}", "--regid={}", "--clear-groups"]

    def run_as(uid: int | None, *args: str) -> list[str]:
        prefix = [] if uid is None else [a.format(uid) for a in as_uid]
        return [*prefix, "/usr/bin/python3", "-c", *args]

    fw = firewall.OwnerFirewall(f"unit{secrets.token_hex(4)}")
    listener = subprocess.Popen(run_as(owner, LISTENER), stdout=subprocess.PIPE, text=True, cwd="/")
    try:
        fw.reset()
        fw.protect(owner)
        assert listener.stdout is not None
        port = listener.stdout.readline().strip()

        def connect(uid: int | None) -> str:
            out = subprocess.run(
                run_as(uid, CLIENT, port), capture_output=True, text=True, cwd="/", check=True
            )
            return out.stdout.strip()

        assert connect(other).startswith("refused")
        assert connect(owner) == "hello"
        assert connect(None) == "hello"
        # The refused attempt left nothing half-open in the listener's queue.
        queued = subprocess.run(
            ["ss", "-Htn", "state", "syn-recv", f"( sport = :{port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert queued.strip() == ""
        # Without the rules the same attempt gets in: the refusal above is the firewall's.
        fw.unprotect(owner)
        assert connect(other) == "hello"
    finally:
        listener.kill()
        listener.wait()
        fw.remove()


OPEN_LISTENER = """
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
print("accepted", flush=True)
sys.stdin.readline()  # sent once the owner is protected
c.sendall(b"hello")
c.close()
"""
OPEN_CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
print("connected", flush=True)
try:
    print(c.recv(5).decode(), flush=True)
except OSError as exc:
    print("cut", type(exc).__name__, flush=True)
"""


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0 or firewall.nft_binary() is None, reason="needs root and nft")
def test_the_owners_open_connections_survive_protection() -> None:
    """A notebook server talks to its kernels over loopback before the user's first cluster
    protects them: those connections (unmarked) must keep answering, or the kernel falls
    silent mid-cell."""
    owner = 64125
    as_owner = ["setpriv", f"--reuid={owner}", f"--regid={owner}", "--clear-groups"]
    fw = firewall.OwnerFirewall(f"unit{secrets.token_hex(4)}")
    fw.reset()
    procs: list[subprocess.Popen[str]] = []

    def start(code: str, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*as_owner, "/usr/bin/python3", "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        procs.append(proc)
        return proc

    try:
        listener = start(OPEN_LISTENER)
        assert listener.stdout is not None and listener.stdin is not None
        port = listener.stdout.readline().strip()
        client = start(OPEN_CLIENT, port)
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "connected"
        assert listener.stdout.readline().strip() == "accepted"
        fw.protect(owner)
        listener.stdin.write("go\n")
        listener.stdin.flush()
        out, _ = client.communicate(timeout=30)
        assert out.strip() == "hello"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        fw.remove()
