"""Isolation `system-users` for real (needs root): one OS user per hub user, created at first
login; servers and Dask clusters run as that user; homes 0700; the shared directory readable by
all and writable by admins; `down` and `up` keep homes and OS users.

OS users get a test-only prefix and are deleted afterwards.
"""

from __future__ import annotations

import gc
import grp
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from local_hub import LocalHub, api, login, start_server, world_readable_venv

from heliohub.check import run_in_kernel
from heliohub.errors import UserError
from heliohub.providers.local.isolation import check_system_users

pytestmark = [
    pytest.mark.integration,
    pytest.mark.root,
    # The provider may run from a system Python (see the fixture) while the test runs here.
    pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.skipif(os.geteuid() != 0, reason="system-users isolation needs root"),
]

PREFIX = f"hht{secrets.token_hex(2)}-"


def _delete_os_users(prefix: str) -> None:
    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)
    for group in grp.getgrall():
        if group.gr_name.startswith(prefix):
            subprocess.run(["groupdel", group.gr_name], check=False, capture_output=True)


@pytest.fixture(scope="module")
def hub(proxy_dir: Path) -> Iterator[LocalHub]:
    # Hub users must be able to enter the data directory: not under pytest's 0700 temp root.
    workdir = Path(tempfile.mkdtemp(prefix="heliohub-sysusers-", dir=tempfile.gettempdir()))
    workdir.chmod(0o711)
    bin_dir = Path(sys.executable).parent
    try:
        check_system_users(workdir / "data", bin_dir)
    except UserError:
        # This environment's interpreter is closed to other users: run the provider from a
        # system Python sharing this environment's packages.
        try:
            bin_dir = world_readable_venv(workdir / "venv")
        except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
            shutil.rmtree(workdir)
            pytest.skip(f"no system Python to run system-users from: {exc}")
    try:
        check_system_users(workdir / "data", bin_dir)
    except UserError as exc:
        shutil.rmtree(workdir)
        pytest.skip(f"this machine cannot run system-users: {exc}")
    deployment = LocalHub(
        workdir,
        {
            "auth": {"type": "shared-password", "admin_users": ["ada"]},
            "local": {"isolation": "system-users", "user_prefix": PREFIX},
        },
        heliohub=str(bin_dir / "heliohub"),
    )
    deployment.share_proxy(proxy_dir)
    try:
        deployment.cli("up", "--detach")
        yield deployment
    finally:
        deployment.down()
        _delete_os_users(PREFIX)
        shutil.rmtree(workdir, ignore_errors=True)


def _uid(name: str) -> int:
    return pwd.getpwnam(PREFIX + name).pw_uid


def _procs_of(hub: LocalHub, needle: str, **env: str) -> list[psutil.Process]:
    out = []
    for p in hub.processes():
        try:
            penv = p.environ()
            if needle in " ".join(p.cmdline()) and all(penv.get(k) == v for k, v in env.items()):
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_users_servers_homes_clusters(hub: LocalHub) -> None:
    carol = login(hub.url, "carol", hub.password)
    login(hub.url, "dave", hub.password)
    # Created at first login, before any server: OS user and a private home.
    for name in ("carol", "dave"):
        entry = pwd.getpwnam(PREFIX + name)
        home = hub.data_dir / "homes" / name
        assert entry.pw_dir == str(home)
        st = home.stat()
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == entry.pw_uid
    assert _uid("carol") != _uid("dave")

    start_server(carol, hub.url, "carol")
    server = _procs_of(hub, "jupyterhub-singleuser", JUPYTERHUB_USER="carol")
    assert len(server) == 1
    assert server[0].uids().real == server[0].uids().effective == _uid("carol")

    token = api(carol, hub.url, "POST", "/users/carol/tokens", json={"note": "t"}).json()["token"]
    code = f"""
import os
out = {{"uid": os.getuid()}}
try:
    os.listdir({str(hub.data_dir / "homes" / "dave")!r})
    out["dave"] = "readable"
except PermissionError:
    out["dave"] = "denied"
try:
    open(os.path.join("shared", "carol.txt"), "w").write("x")
    out["shared"] = "written"
except PermissionError:
    out["shared"] = "denied"
out["shared_list"] = os.listdir("shared") is not None
open("mine.txt", "w").write("carol's")
print(out)
"""
    result = run_in_kernel(hub.url, "carol", token, code)
    assert result.error is None, result.error
    out: dict[str, Any] = eval(result.stdout.strip().splitlines()[-1])  # a dict literal we print
    assert out == {
        "uid": _uid("carol"),
        "dave": "denied",
        "shared": "denied",
        "shared_list": True,
    }
    mine = hub.data_dir / "homes" / "carol" / "mine.txt"
    assert mine.stat().st_uid == _uid("carol")

    # Her Dask cluster runs as her too.
    from dask_gateway import Gateway, JupyterHubAuth

    with Gateway(
        address=f"{hub.url}/services/dask-gateway",
        proxy_address=f"gateway://127.0.0.1:{hub.gateway_port()}",
        auth=JupyterHubAuth(api_token=token),
    ) as gateway:
        cluster = gateway.new_cluster()
        try:
            cluster.scale(1)
            client = cluster.get_client()
            client.wait_for_workers(1, timeout=120)
            assert client.submit(os.getuid).result() == _uid("carol")
            client.close()
            for needle in ("dask scheduler", "dask worker"):
                procs = _procs_of(hub, needle)
                assert procs, needle
                assert {p.uids().real for p in procs} == {_uid("carol")}
        finally:
            cluster.shutdown()
    del gateway
    gc.collect()  # dask_gateway's __del__ warns; let it happen under this module's filter


def test_admin_writes_the_shared_directory(hub: LocalHub) -> None:
    ada = login(hub.url, "ada", hub.admin_password)
    start_server(ada, hub.url, "ada")
    token = api(ada, hub.url, "POST", "/users/ada/tokens", json={"note": "t"}).json()["token"]
    result = run_in_kernel(
        hub.url, "ada", token, "open('shared/from-ada.txt', 'w').write('hello'); print('ok')"
    )
    assert result.error is None, result.error
    shared = hub.data_dir / "shared"
    assert (shared / "from-ada.txt").read_text() == "hello"
    assert stat.S_IMODE(shared.stat().st_mode) == 0o2775
    writers = grp.getgrgid(shared.stat().st_gid)
    assert PREFIX + "ada" in writers.gr_mem
    assert PREFIX + "carol" not in writers.gr_mem


def test_down_and_up_keep_homes_and_users(hub: LocalHub) -> None:
    hub.cli("down")
    assert hub.processes() == []
    assert pwd.getpwnam(PREFIX + "carol")
    assert (hub.data_dir / "homes" / "carol" / "mine.txt").exists()
    hub.cli("up", "--detach")
    assert hub.status()["state"] == "running"
    assert pwd.getpwnam(PREFIX + "carol").pw_uid == _uid("carol")
    login(hub.url, "carol", hub.password)
    assert stat.S_IMODE((hub.data_dir / "homes" / "carol").stat().st_mode) == 0o700
