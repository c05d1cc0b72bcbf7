"""`heliohub users` on Kubernetes and AWS hubs: the public URL and the admin token the chart
generated for the heliohub-users service, read through the layer (a fake cluster here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from k8s_fakes import FakeKube, Journal

from heliohub.config import LoadedConfig, parse
from heliohub.errors import UserError
from heliohub.providers.base import SilentReporter
from heliohub.providers.kubernetes import KubernetesLayer
from heliohub.render.helm.wiring import HUB_SECRET, USERS_TOKEN_KEY
from heliohub.users.hub import HubDirectory
from heliohub.users.select import directory

BASE = {
    "provider": "kubernetes",
    "domain": "hub.example.org",
    "kubernetes": {"namespace": "lab"},
}


def _setup(tmp_path: Path, auth: dict[str, Any], token: str | None) -> tuple[LoadedConfig, Any]:
    loaded = LoadedConfig(parse({**BASE, "auth": auth}), tmp_path / "h.yaml", tmp_path)
    kube = FakeKube(Journal())
    if token:
        kube.secrets[("lab", HUB_SECRET)] = {USERS_TOKEN_KEY: token}
    layer = KubernetesLayer(
        loaded, SilentReporter(), None, tmp_path / "kubernetes", kube=kube, environ={}
    )
    return loaded, layer


def test_hub_directory_uses_the_public_url_and_the_users_token(tmp_path: Path) -> None:
    loaded, layer = _setup(tmp_path, {"type": "shared-password"}, "users-token-1")
    users = directory(loaded, layer=layer)
    assert isinstance(users, HubDirectory)
    assert users.api.base == "http://hub.example.org/hub/api"
    assert users.api.token == "users-token-1"


def test_no_token_yet_says_run_up(tmp_path: Path) -> None:
    loaded, layer = _setup(tmp_path, {"type": "shared-password"}, None)
    with pytest.raises(UserError, match=r"hub\.services\.heliohub-users\.apiToken.*heliohub up"):
        directory(loaded, layer=layer)


def test_native_accounts_in_the_pod_are_managed_on_the_hub_pages(tmp_path: Path) -> None:
    loaded, layer = _setup(tmp_path, {"type": "native", "admin_users": ["ada"]}, "t")
    users = directory(loaded, layer=layer)
    with pytest.raises(UserError, match=r"/hub/authorize"):
        users.approve("bob")
    with pytest.raises(UserError, match=r"/hub/signup"):
        users.add("bob")
    assert any("/hub/authorize" in note for note in users.notes())


def test_aws_hub_logins_need_a_recorded_cluster(tmp_path: Path) -> None:
    config = parse({"provider": "aws", "local": {"data_dir": str(tmp_path / "d")}})
    with pytest.raises(UserError, match="run `heliohub up` first"):
        directory(LoadedConfig(config, tmp_path / "h.yaml", tmp_path))
