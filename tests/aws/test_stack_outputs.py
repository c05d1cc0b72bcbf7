"""The stacks' outputs are parsed into typed objects in one place; a missing one is a clear
error naming the stack and the output, and a stack that is not there yet says so."""

from __future__ import annotations

import pytest

from heliohub.errors import UserError
from heliohub.providers.aws.stack_outputs import (
    ClusterOutputs,
    DataOutputs,
    MissingOutput,
    NetworkOutputs,
    parse_stacks,
)

CLUSTER = {
    "ClusterName": "helio",
    "ClusterEndpoint": "https://ABC.gr7.us-east-1.eks.amazonaws.com",
    "ClusterCertificateAuthorityData": "Y2E=",
    "KubernetesVersion": "1.33",
    "NodeGroupVersions": "services=1.33,user=1.32",
    "AddonVersions": "coredns=v1.12.1-eksbuild.2",
    "NodePoolServicesName": "services-abc",
    "NodePoolUserName": "user-def",
    "UserPoolClientId": "client-1",
}
POOLS = {"services": "NodePoolServicesName", "user": "NodePoolUserName", "gpu": "NodePoolGpuName"}


def test_each_stack_parses_into_its_typed_outputs() -> None:
    stacks = parse_stacks(
        {
            "data": {"FileSystemId": "fs-1", "SecretsKeyArn": "arn:key", "AccessPointId": "fsap-1"},
            "network": {"VpcId": "vpc-1", "PrivateSubnetIds": "subnet-1,subnet-2"},
            "cluster": CLUSTER,
        },
        {"data": "helio-data", "network": "helio-network", "cluster": "helio-cluster"},
        POOLS,
    )
    assert stacks.data == DataOutputs("fs-1", "arn:key", access_point_id="fsap-1")
    assert stacks.network == NetworkOutputs("vpc-1", ("subnet-1", "subnet-2"))
    cluster = stacks.cluster
    assert cluster is not None and cluster.cluster_name == "helio"
    # A pool added to the config since the last `up` has no node group yet.
    assert cluster.node_groups == {"services": "services-abc", "user": "user-def"}
    assert cluster.nodegroup_versions == {"services": "1.33", "user": "1.32"}
    assert cluster.addon_versions == {"coredns": "v1.12.1-eksbuild.2"}
    assert cluster.user_pool_client_id == "client-1" and cluster.user_pool_domain is None
    assert parse_stacks({}, {}, POOLS).cluster is None


@pytest.mark.parametrize(
    "key", ["ClusterName", "ClusterEndpoint", "ClusterCertificateAuthorityData"]
)
def test_a_missing_output_names_the_stack_and_the_output(key: str) -> None:
    raw = {k: v for k, v in CLUSTER.items() if k != key}
    with pytest.raises(MissingOutput) as err:
        ClusterOutputs.parse("helio-cluster", raw, POOLS)
    assert isinstance(err.value, UserError)
    assert (err.value.stack, err.value.output) == ("helio-cluster", key)
    assert str(err.value).startswith(f"stack helio-cluster has no output {key};")
    assert "heliohub up" in str(err.value)


def test_a_stack_not_deployed_yet_says_so() -> None:
    with pytest.raises(MissingOutput, match=r"stack helio-data is not deployed yet.*FileSystemId"):
        DataOutputs.parse("helio-data", None)
    with pytest.raises(MissingOutput, match="helio-network has no output PrivateSubnetIds"):
        NetworkOutputs.parse("helio-network", {"VpcId": "vpc-1"})
