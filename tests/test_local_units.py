"""The local provider's parts that need no running hub: exposure policy, isolation, user names,
secret files, ports, state, logs, and the proxy installer's refusal without npm."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from heliohub.config import HubConfig, LoadedConfig, parse
from heliohub.errors import RefusedError, UserError
from heliohub.inhub.users import MAX_OS_NAME, os_username, safe_name
from heliohub.providers.base import CheckReport, SilentReporter, UpOptions
from heliohub.providers.local import LocalProvider, isolation, state
from heliohub.providers.local import secrets as secret_files
from heliohub.providers.local.exposure import check_exposure
from heliohub.providers.local.logs import read_logs
from heliohub.providers.local.ports import can_bind, free_ports
from heliohub.providers.local.proxy_install import ensure_proxy
from heliohub.render.local import lab_modules

TLS = {"mode": "files", "cert_file": "hub.crt", "key_file": "hub.key"}
NATIVE = {"type": "native", "admin_users": ["admin"]}


def _cfg(**data: object) -> HubConfig:
    return parse(data)


# ----- exposure -----------------------------------------------------------------------------


def test_loopback_needs_nothing() -> None:
    reporter = SilentReporter()
    check_exposure(_cfg(), "none", 0, insecure=False, reporter=reporter)
    check_exposure(_cfg(local={"bind": "[::1]:8000"}), "none", 0, False, reporter)
    assert reporter.lines == []


@pytest.mark.parametrize(
    ("https", "auth", "missing"),
    [
        (None, None, ["TLS", "a real login"]),
        (TLS, None, ["a real login"]),
        (None, NATIVE, ["TLS"]),
    ],
)
def test_public_bind_without_tls_or_real_login_is_refused(
    https: dict | None, auth: dict | None, missing: list[str]
) -> None:
    data: dict = {"local": {"bind": "0.0.0.0:8443"}}
    if https:
        data["https"] = https
    if auth:
        data["auth"] = auth
    with pytest.raises(RefusedError) as info:
        check_exposure(parse(data), "system-users", 0, insecure=False, reporter=SilentReporter())
    message = str(info.value)
    assert "0.0.0.0:8443" in message and "--insecure" in message
    for what in missing:
        assert what in message
    if auth is None:
        assert "'shared-password' is not one" in message


def test_public_bind_with_tls_and_real_login_is_allowed() -> None:
    config = parse({"local": {"bind": "0.0.0.0:443"}, "https": TLS, "auth": NATIVE})
    reporter = SilentReporter()
    check_exposure(config, "system-users", 0, insecure=False, reporter=reporter)
    check_exposure(config, "none", 1000, insecure=False, reporter=reporter)
    assert reporter.lines == []


def test_insecure_overrides_with_a_loud_warning() -> None:
    reporter = SilentReporter()
    check_exposure(_cfg(local={"bind": "0.0.0.0:8000"}), "none", 1000, True, reporter)
    assert len(reporter.lines) == 1
    assert reporter.lines[0].startswith("warning: !!! INSECURE")


def test_root_without_isolation_never_binds_beyond_loopback() -> None:
    config = parse({"local": {"bind": "0.0.0.0:443"}, "https": TLS, "auth": NATIVE})
    for insecure in (False, True):
        with pytest.raises(RefusedError, match="not even with --insecure"):
            check_exposure(config, "none", 0, insecure, SilentReporter())


def test_up_refuses_before_starting_anything(tmp_path: Path) -> None:
    loaded = LoadedConfig(
        parse({"local": {"bind": "0.0.0.0:8000", "isolation": "none"}}), None, tmp_path
    )
    provider = LocalProvider(loaded, SilentReporter(), euid=1000)
    with pytest.raises(RefusedError):
        provider.up(UpOptions(detach=True))
    assert not (tmp_path / ".heliohub").exists()


# ----- isolation ----------------------------------------------------------------------------


def test_isolation_resolution() -> None:
    assert isolation.resolve(_cfg(auth=NATIVE), 0) == "system-users"
    assert isolation.resolve(_cfg(auth=NATIVE), 1000) == "none"
    # shared-password proves nobody's identity: auto never separates users by it.
    assert isolation.resolve(_cfg(), 0) == "none"
    assert isolation.resolve(_cfg(local={"isolation": "none"}), 0) == "none"
    system_users = _cfg(auth=NATIVE, local={"isolation": "system-users"})
    assert isolation.resolve(system_users, 0) == "system-users"
    with pytest.raises(UserError, match="needs root"):
        isolation.resolve(system_users, 1000)


def test_system_users_needs_reachable_directories(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "data").mkdir(parents=True)
    closed.chmod(0o700)
    with pytest.raises(UserError, match=r"closed to other users.*chmod o\+x"):
        isolation.check_system_users(closed / "data", Path("/usr/bin"))


# ----- user names ---------------------------------------------------------------------------


def test_plain_names_stay_as_they_are() -> None:
    assert safe_name("alice") == "alice"
    assert os_username("jupyter-", "alice") == "jupyter-alice"


@pytest.mark.parametrize(
    "name", ["Alice", "alice@example.org", "a/b", "-x", "é", "x" * 40, ".hidden"]
)
def test_other_names_are_made_safe(name: str) -> None:
    safe = safe_name(name)
    assert safe[0].isalnum() and all(ch.isalnum() or ch in "._-" for ch in safe)
    assert safe == safe_name(name)
    assert len(os_username("jupyter-", name)) <= MAX_OS_NAME


def test_mapping_keeps_users_apart() -> None:
    names = ["alice", "Alice", "alice@example.org", "alice-example-org", "alice.example.org"]
    names += ["x" * 40, "x" * 41, "a/b", "a-b"]
    assert len({safe_name(n) for n in names}) == len(names)
    assert len({os_username("a-very-long-pfx-", n) for n in names}) == len(names)


# ----- secrets, ports, state, logs ----------------------------------------------------------


def test_secret_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "token"
    assert secret_files.ensure_secret_file(path) is True
    value = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(value.strip()) >= 32
    assert secret_files.ensure_secret_file(path) is False
    assert path.read_text() == value


def test_secret_refs(tmp_path: Path) -> None:
    from heliohub.config.base import SecretRef

    (tmp_path / "pw").write_text("s3cret\n")
    assert secret_files.resolve(SecretRef(file="pw"), "x", tmp_path, {}) == "s3cret"
    assert secret_files.resolve(SecretRef(env="PW"), "x", tmp_path, {"PW": "v"}) == "v"
    with pytest.raises(UserError, match="PW is not set"):
        secret_files.resolve(SecretRef(env="PW"), "auth", tmp_path, {})
    with pytest.raises(UserError, match="does not exist"):
        secret_files.resolve(SecretRef(file="missing"), "auth", tmp_path, {})


def test_ports() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        assert not can_bind("127.0.0.1", taken)
    assert can_bind("127.0.0.1", ports[0])


def test_state_round_trip(tmp_path: Path) -> None:
    run = state.RunState(
        deployment_id="abc",
        hub_pid=123,
        ports=state.Ports(hub=1, proxy_api=2, gateway=3),
        url="http://127.0.0.1:8000",
        isolation="none",
        started_at=1.0,
    )
    state.save(tmp_path / "deployment.json", run)
    assert state.load(tmp_path / "deployment.json") == run
    state.clear(tmp_path / "deployment.json")
    assert state.load(tmp_path / "deployment.json") is None
    first = state.deployment_id(tmp_path)
    assert state.deployment_id(tmp_path) == first
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UserError, match="not a state file"):
        state.load(tmp_path / "broken.json")


def test_logs_are_tailed(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("one\ntwo\n")
    (tmp_path / "b.log").write_text("three\n")
    assert list(read_logs(tmp_path, follow=False)) == [
        "==> a.log <==",
        "one",
        "two",
        "==> b.log <==",
        "three",
    ]


def test_proxy_install_without_npm_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(UserError, match="npm is not installed"):
        ensure_proxy(tmp_path / "proxy", SilentReporter(), {"PATH": str(empty)})


def test_status_and_down_without_a_deployment(tmp_path: Path) -> None:
    loaded = LoadedConfig(parse({"local": {"isolation": "none"}}), None, tmp_path)
    provider = LocalProvider(loaded, SilentReporter())
    status = provider.status()
    assert status.state == "stopped"
    from heliohub.providers.base import DownOptions

    provider.down(DownOptions())

    def journey(hub_url: str, token: str, **kwargs: object) -> CheckReport:
        raise AssertionError(f"the journey started against {hub_url} with no hub running")

    with pytest.raises(UserError, match="not running"):
        provider.check(journey)


def test_auto_isolation_falls_back_only_when_system_users_cannot_work(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    (closed / "data").mkdir(parents=True)
    closed.chmod(0o700)
    auto = parse({"auth": NATIVE, "local": {"isolation": "auto"}})
    explicit = parse({"auth": NATIVE, "local": {"isolation": "system-users"}})
    bin_dir = tmp_path / "bin"
    # Not root: auto means none anyway, nothing to fall back from.
    assert isolation.fallback_reason(auto, 1000, closed / "data", bin_dir) is None
    # An explicit choice is never downgraded: `up` fails on it instead.
    assert isolation.fallback_reason(explicit, 0, closed / "data", bin_dir) is None
    reason = isolation.fallback_reason(auto, 0, closed / "data", bin_dir)
    assert reason is not None and "system-users" in reason
    # With shared-password auto is none as root too: nothing to fall back from.
    shared = parse({"local": {"isolation": "auto"}})
    assert isolation.fallback_reason(shared, 0, closed / "data", bin_dir) is None


def test_lab_modules_are_readable_by_every_user_and_writable_by_none(tmp_path: Path) -> None:
    """Servers run as hub users (OS users with system-users) and import from this directory:
    world-readable, writable only by who runs heliohub, even under a strict umask; a stale
    file is replaced."""
    loaded = LoadedConfig(parse({"local": {"isolation": "none"}}), None, tmp_path)
    provider = LocalProvider(loaded, SilentReporter())
    provider.layout.data_dir.mkdir(parents=True)
    lab = provider.layout.lab_modules_dir
    lab.mkdir(mode=0o700)
    modules = lab_modules()
    stale = next(iter(modules))
    (lab / stale).write_text("stale")
    previous = os.umask(0o077)
    try:
        provider._write_lab_modules()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(lab.stat().st_mode) == 0o755
    for module, content in modules.items():
        assert stat.S_IMODE((lab / module).stat().st_mode) == 0o644
        assert (lab / module).read_bytes() == content
    assert sorted(p.name for p in lab.iterdir()) == sorted(modules)
