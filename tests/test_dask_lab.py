"""The cluster class of the Dask sidebar's "+NEW" (heliohub.inhub.dask_lab), without a gateway:
which dashboard link it gives, in a user's server and elsewhere."""

from __future__ import annotations

import pytest

from heliohub.inhub.dask_lab import LabGatewayCluster

PUBLIC = "http://hub.example.org/services/dask-gateway/clusters/abc/status"


def _cluster(scheduler_info: dict) -> LabGatewayCluster:
    # Only the attributes dashboard_link reads; a real one needs a running gateway.
    cluster = LabGatewayCluster.__new__(LabGatewayCluster)
    cluster.scheduler_info = scheduler_info
    cluster.dashboard_link = PUBLIC
    return cluster


def test_in_a_user_server_the_link_goes_through_that_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    cluster = _cluster({"services": {"dashboard": 41234}})
    assert cluster.dashboard_link == "/user/ada/proxy/41234/status"


def test_elsewhere_or_before_the_dashboard_is_known_the_gateway_link_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert _cluster({"services": {"dashboard": 41234}}).dashboard_link == PUBLIC
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/ada/")
    assert _cluster({}).dashboard_link == PUBLIC
    stopped = _cluster({"services": {"dashboard": 41234}})
    stopped.dashboard_link = None
    assert stopped.dashboard_link is None
