"""Fixtures of the Kubernetes layer tests; the fakes themselves are in k8s_fakes.py."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from k8s_fakes import FakeClock, FakeHelm, FakeKube, Journal

from heliohub.providers.kubernetes.dns import Bounds


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def fake_kube(journal: Journal) -> FakeKube:
    return FakeKube(journal)


@pytest.fixture
def fake_helm(journal: Journal) -> FakeHelm:
    return FakeHelm(journal)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bounds() -> Bounds:
    return Bounds(lb_s=300, resolve_s=600, cert_s=120, poll_s=10)


@pytest.fixture(scope="session")
def _moto_endpoint():
    """moto in server mode on loopback: the AWS emulator (one server for the session)."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_route53(_moto_endpoint: str) -> Any:
    """A boto3 session whose clients talk to the emulator, reset to an empty account."""
    import urllib.request

    import boto3

    urllib.request.urlopen(
        urllib.request.Request(f"{_moto_endpoint}/moto-api/reset", method="POST")
    )
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )

    class EmulatedSession:
        def client(self, name: str, **kwargs: Any) -> Any:
            kwargs.pop("endpoint_url", None)
            return session.client(name, endpoint_url=_moto_endpoint, **kwargs)

    return EmulatedSession()
