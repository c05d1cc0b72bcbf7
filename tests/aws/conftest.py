"""Fixtures of the AWS tests: the emulator on loopback, with no credentials from the user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_emulator import clients, emulator, reset

from heliohub.providers.aws.clients import AWSClients


@pytest.fixture(autouse=True)
def _no_user_aws_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the user's AWS setup (profiles, keys, endpoints) reaches these tests."""
    import os

    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def emulator_endpoint() -> Iterator[str]:
    with emulator() as endpoint:
        yield endpoint


@pytest.fixture
def aws(emulator_endpoint: str) -> AWSClients:
    """Clients of a freshly reset emulator (us-east-1)."""
    reset(emulator_endpoint)
    return clients(emulator_endpoint)
