"""The exposure policy: a bind beyond loopback needs TLS and a real login, or `up` refuses.

The refusals run the real CLI with a bind on 0.0.0.0, which is refused before anything
listens. Every hub that actually starts binds to 127.0.0.1; the HTTPS one serves a
self-signed certificate generated here, and a full OpenID Connect login runs over it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from auth.hub import Hub, api, oauth_login
from auth.oidc import Client, OIDCProvider, User, free_port
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from heliohub.config import parse
from heliohub.errors import RefusedError
from heliohub.providers.base import SilentReporter
from heliohub.providers.local.exposure import check_exposure

pytestmark = pytest.mark.integration

CLIENT_SECRET = "exposure-client-secret-71d"
# A real login that needs nothing running: the refusal happens before any login could.
OIDC = {
    "type": "oidc",
    "issuer": "http://127.0.0.1:9",
    "client_id": "heliohub",
    "client_secret": {"env": "EXPOSURE_TEST_SECRET"},
    "admin_users": ["ada"],
}
# Root without isolation is refused for a reason of its own; these tests are about TLS.
ISOLATION = "system-users" if os.geteuid() == 0 else "none"


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for host (as an IP SAN) and its key, both mode 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "heliohub test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for p in (cert_path, key_path):
        p.chmod(0o600)
    return cert_path, key_path


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _refused_up(tmp_path: Path, config: dict[str, Any], exit_code: int = 3) -> str:
    hub = Hub(tmp_path, {**config, "local": {"isolation": ISOLATION}})
    port = free_port()
    hub.config["local"]["bind"] = f"0.0.0.0:{port}"
    hub.write_config()
    proc = hub.cli("up", "--detach", check=False, timeout=60)
    message = proc.stdout + proc.stderr
    assert proc.returncode == exit_code, message  # 3: RefusedError, 2: ConfigError
    assert "Traceback" not in message
    assert not _listening(port)
    assert not (hub.data_dir / "state" / "deployment.json").exists()
    return " ".join(message.split())


def test_public_bind_without_tls_is_refused(tmp_path: Path) -> None:
    message = _refused_up(tmp_path, {"auth": OIDC})
    assert "reaches beyond this machine" in message
    assert "TLS (https.mode: files" in message
    assert "real login" not in message
    assert "--insecure" in message


def test_public_bind_with_shared_password_is_refused(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    config = {
        "auth": {"type": "shared-password"},
        "https": {"mode": "files", "cert_file": str(cert), "key_file": str(key)},
    }
    if ISOLATION == "system-users":
        # As root the config itself refuses it: shared-password cannot keep users apart.
        message = _refused_up(tmp_path, config, exit_code=2)
        assert "'system-users' keeps users apart, but with auth.type 'shared-password'" in message
        return
    message = _refused_up(tmp_path, config)
    assert "'shared-password' is not one" in message
    assert "TLS (" not in message


def _config(bind: str, auth: dict[str, Any], tls: bool) -> Any:
    data: dict[str, Any] = {"auth": auth, "local": {"bind": bind}}
    if tls:
        data["https"] = {"mode": "files", "cert_file": "c.pem", "key_file": "k.pem"}
    return parse(data)


def test_policy_allows_tls_with_real_login_and_loopback_aliases() -> None:
    reporter = SilentReporter()
    for iso in ("system-users", "none"):
        euid = 0 if iso == "system-users" else 1000
        check_exposure(_config("0.0.0.0:443", OIDC, tls=True), iso, euid, False, reporter)
        check_exposure(_config("[::]:443", OIDC, tls=True), iso, euid, False, reporter)
    # Any address in 127.0.0.0/8 (and ::1) is loopback: nothing else is needed.
    shared = {"type": "shared-password"}
    for bind in ("127.0.0.2:8000", "127.1.2.3:8000", "[::1]:8000", "localhost:8000"):
        check_exposure(_config(bind, shared, tls=False), "none", 1000, False, reporter)
    assert reporter.lines == []
    for bind in ("10.0.0.5:8000", "192.168.1.10:443", "[2001:db8::1]:443"):
        with pytest.raises(RefusedError):
            check_exposure(_config(bind, shared, tls=False), "none", 1000, False, reporter)


def test_insecure_overrides_with_a_banner_but_never_for_root_without_isolation() -> None:
    reporter = SilentReporter()
    config = _config("0.0.0.0:8000", {"type": "shared-password"}, tls=False)
    check_exposure(config, "system-users", 0, True, reporter)
    assert len(reporter.lines) == 1
    banner = reporter.lines[0]
    assert banner.startswith("warning: !!! INSECURE")
    assert "without TLS" in banner and "without a real login" in banner
    with pytest.raises(RefusedError, match="not even with --insecure"):
        check_exposure(config, "none", 0, True, reporter)


@pytest.fixture
def tls_deployment(tmp_path: Path, proxy_dir: Path) -> Iterator[tuple[Hub, OIDCProvider, Path]]:
    cert, key = self_signed(tmp_path / "tls")
    (tmp_path / "client-secret").write_text(CLIENT_SECRET)
    (tmp_path / "client-secret").chmod(0o600)
    hub = Hub(
        tmp_path / "hub",
        {
            "auth": {},
            "https": {"mode": "files", "cert_file": str(cert), "key_file": str(key)},
            "local": {"isolation": "none"},
        },
        proxy_dir,
    )
    provider = OIDCProvider(
        tmp_path / "idp",
        clients=[Client("heliohub", CLIENT_SECRET, [f"{hub.url}/hub/oauth_callback"])],
        users=[User("ada", "ada-password-1", ["hub-admins"])],
    ).start()
    try:
        hub.config["auth"] = {
            "type": "oidc",
            "issuer": provider.issuer,
            "client_id": "heliohub",
            "client_secret": {"file": "../client-secret"},
            "basic_auth": True,
            "scopes": ["openid", "profile", "email", "groups"],
            "admin_groups": ["hub-admins"],
        }
        hub.write_config()
        hub.up()
        yield hub, provider, cert
    finally:
        hub.down()
        provider.stop()


def test_tls_from_files_serves_https_and_a_real_login(
    tls_deployment: tuple[Hub, OIDCProvider, Path],
) -> None:
    hub, _, cert = tls_deployment
    assert hub.url.startswith("https://")
    # The proxy serves exactly the configured certificate.
    served = ssl.get_server_certificate(("127.0.0.1", hub.port))
    assert x509.load_pem_x509_certificate(served.encode()) == x509.load_pem_x509_certificate(
        cert.read_bytes()
    )
    # Plain HTTP is not served on the TLS port.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{hub.port}/hub/health", timeout=10)
    # A client that does not trust the certificate refuses the connection.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{hub.url}/hub/health", timeout=10)

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace `verify`
    session.verify = str(cert)
    page = oauth_login(session, hub.url, "ada", "ada-password-1")
    assert page.status_code == 200
    assert page.url == f"{hub.url}/hub/home"
    me = api(session, hub.url, "GET", "/user").json()
    assert (me["name"], me["admin"]) == ("ada", True)
    # The login cookie is marked Secure on an HTTPS hub.
    login_cookies = [c for c in session.cookies if c.name.startswith("jupyterhub-")]
    assert login_cookies and all(c.secure for c in login_cookies)
    # So is the XSRF cookie, and the hub tells browsers to keep to HTTPS for this host.
    page = requests.get(f"{hub.url}/hub/login", verify=str(cert), timeout=30)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    xsrf = [c for c in page.cookies if c.name == "_xsrf"]
    assert xsrf and all(c.secure for c in xsrf)
