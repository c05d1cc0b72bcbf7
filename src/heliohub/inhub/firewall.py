"""Owner-only sockets for hub users' processes (system-users), with nftables.

A Dask scheduler or worker listens on loopback, where every local user can connect: its
dashboard shows task names, call stacks and logs. Ports are chosen at random and change with
every cluster, so the rule is about who owns the listening socket instead:

- every new connection is marked with the OS user that opened it (root, or a protected user);
- a protected user's socket may answer only connections opened by itself or by root (the hub,
  its proxy and the gateway run as root). Its answer to anyone else (the SYN-ACK) never leaves:
  the listener gets a reset instead, so the connection never opens and leaves nothing queued.
- connections already open when a user becomes protected are left alone. A user is protected
  from their first cluster on, and by then their notebook server already talks to its kernels
  over loopback on connections nobody marked: refusing every packet of those (not just the
  answer to a new connection) cut the kernel off mid-cell. Nothing of the cluster exists before
  the rules, so every connection to it starts after them.
- a connection whose SYN-ACK had no socket behind it (a SYN cookie, sent under a flood, which
  the owner rule above cannot judge) is marked unowned, and a protected user's socket never
  answers it: the client may send bytes, it reads nothing.

One nftables table per deployment (`inet heliohub_<id>`) holds the rules. The gateway adds a
user's rules before their cluster starts and removes them when their last cluster stops; the
table goes when the gateway stops and at `heliohub down`.

Limit (documented in docs/team-server.md): under a SYN flood the kernel may answer with SYN
cookies, which carry no owner; a client can then send bytes it never sees answered.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from heliohub.errors import UserError

NFT_PATH = "/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin"
# ct marks this module sets: MARK_BASE | uid. The base keeps them apart from mark 0 (nobody
# marked the connection) and from small marks other tools use.
MARK_BASE = 0x48000000
MAX_UID = 0xFFFFFF
# The mark of a connection whose SYN-ACK left with no socket behind it (a SYN cookie, under a
# flood) while nobody had marked it: who answered it is unknown, so no protected user's socket
# answers it afterwards. Outside the range of owner marks.
UNOWNED = "0x47000000"


def nft_binary(path: str = NFT_PATH) -> str | None:
    return shutil.which("nft", path=path)


def table_name(deployment_id: str) -> str:
    return "heliohub_" + re.sub(r"[^A-Za-z0-9]", "", deployment_id)[:24]


def mark(uid: int) -> str:
    if not 0 <= uid <= MAX_UID:
        raise ValueError(f"uid {uid} is outside the range the firewall marks (0..{MAX_UID})")
    return f"0x{MARK_BASE | uid:08x}"


def _comment(uid: int) -> str:
    return f"heliohub-owner-{uid}"


class NftError(RuntimeError):
    """nft refused a change; the message is nft's."""


def _nft(nft: str, *args: str, script: str | None = None) -> str:
    proc = subprocess.run(
        [nft, *args] if script is None else [nft, "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": NFT_PATH, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise NftError(proc.stderr.strip() or f"nft exited {proc.returncode}")
    return proc.stdout


def check_available(path: str = NFT_PATH) -> None:
    """system-users needs nft and a kernel with nftables; refuses with how to get them."""
    nft = nft_binary(path)
    if nft is None:
        raise UserError(
            "isolation 'system-users' keeps each user's Dask dashboards and ports to that user "
            "with nftables, and `nft` is missing: install the nftables package"
        )
    try:
        _nft(nft, "list", "tables")
    except NftError as exc:
        raise UserError(
            "isolation 'system-users' keeps each user's Dask dashboards and ports to that user "
            f"with nftables, and the kernel refuses: {exc}"
        ) from None


class OwnerFirewall:
    """The nftables rules of one deployment."""

    def __init__(self, deployment_id: str, nft: str | None = None) -> None:
        found = nft or nft_binary()
        if found is None:
            raise NftError("nft is missing: install the nftables package")
        self.nft = found
        self.table = table_name(deployment_id)
        self.protected: set[int] = set()

    def reset(self) -> None:
        """A fresh table that marks root's connections and protects nobody yet."""
        self.remove()
        self.protected.clear()
        _nft(
            self.nft,
            script=(
                f"add table inet {self.table}\n"
                f"add chain inet {self.table} output "
                "{ type filter hook output priority 0; policy accept; }\n"
                f"add rule inet {self.table} output ct state new meta skuid 0 "
                f"ct mark set {mark(0)}\n"
                # An unmarked connection's SYN-ACK: one with a socket (whose owner the rules
                # below judge) goes back; one without (a SYN cookie) is marked UNOWNED.
                f"add chain inet {self.table} unowned\n"
                f"add rule inet {self.table} unowned meta skuid >= 0 return\n"
                f"add rule inet {self.table} unowned ct mark set {UNOWNED}\n"
                f"add rule inet {self.table} output ct direction reply ct mark 0 "
                "tcp flags & (syn | ack) == syn | ack jump unowned\n"
            ),
        )

    def protect(self, uid: int) -> None:
        """uid's sockets answer only uid itself and root from now on."""
        if uid in self.protected:
            return
        if uid == 0:
            raise ValueError("root's sockets are never restricted")
        rule = f"add rule inet {self.table} output"
        tag = f'comment "{_comment(uid)}"'
        allowed = f"{{ {mark(0)}, {mark(uid)} }}"
        _nft(
            self.nft,
            script=(
                f"{rule} ct state new meta skuid {uid} ct mark set {mark(uid)} {tag}\n"
                # A reset, not a silent drop, so the refused attempt also leaves the
                # listener's queue: nobody can fill it (or push it to SYN cookies) that way.
                # Only the SYN-ACK: the user's connections opened before this rule are unmarked
                # and must keep working (see the module's docstring).
                f"{rule} ct direction reply meta skuid {uid} ct mark != {allowed} "
                f"tcp flags & (syn | ack) == syn | ack reject with tcp reset {tag}\n"
                # A connection that got in without its SYN-ACK passing the rule above.
                f"{rule} ct direction reply meta skuid {uid} ct mark {UNOWNED} "
                f"reject with tcp reset {tag}\n"
                f"{rule} ct direction reply meta skuid {uid} ct mark != {allowed} "
                f"meta l4proto != tcp drop {tag}\n"
            ),
        )
        self.protected.add(uid)

    def unprotect(self, uid: int) -> None:
        listing = _nft(self.nft, "-a", "list", "chain", "inet", self.table, "output")
        handles = re.findall(rf'comment "{_comment(uid)}" # handle (\d+)', listing)
        for handle in handles:
            _nft(self.nft, "delete", "rule", "inet", self.table, "output", "handle", handle)
        self.protected.discard(uid)

    def remove(self) -> None:
        remove_table(self.table, self.nft)


def remove_table(table: str, nft: str | None = None) -> bool:
    """Deletes the table if it exists; True if it did."""
    nft = nft or nft_binary()
    if nft is None:
        return False
    try:
        _nft(nft, "list", "table", "inet", table)
    except NftError:
        return False
    _nft(nft, "delete", "table", "inet", table)
    return True
