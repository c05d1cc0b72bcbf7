"""Template size: what `render` writes is what CloudFormation gets, and it fits.

CloudFormation takes 51,200 bytes inline (TemplateBody). HelioCloud's reference deployment with
7 node groups, Cognito, an S3 bucket and an admin role was over that pretty-printed; minified it
fits with room, and so does the same with 12 pools. Beyond the limit the engine uploads the
template to a bucket of the deployment and passes TemplateURL; that path runs against the AWS
emulator (moto in server mode on loopback), which fetches the template from its own S3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_test_stacks as ts
import pytest

from heliohub.config import HubConfig, LoadedConfig
from heliohub.config.aws import NodePool, _reference_pools
from heliohub.config.load import load
from heliohub.providers.aws import AWSProvider
from heliohub.providers.aws.changeset import parse_template
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.hub_stages import hub_stages
from heliohub.providers.aws.template_store import TemplateStore, bucket_name
from heliohub.providers.base import DownOptions, SilentReporter, UpOptions
from heliohub.render.cloudformation import TEMPLATE_BODY_LIMIT, render_aws

HELIOCLOUD = Path(__file__).parent / "configs" / "aws.happy.heliocloud.yaml"


def reference_pools(count: int) -> list[NodePool]:
    """The four reference pools, then more of the same kinds (user, GPU, burst) up to count."""
    pools = _reference_pools()
    kinds = pools[1:]
    i = 0
    while len(pools) < count:
        src = kinds[i % len(kinds)]
        i += 1
        pools.append(src.model_copy(update={"name": f"{src.name}-{i}"}))
    return pools


def heliocloud(pools: int) -> HubConfig:
    """HelioCloud's reference: Cognito, an S3 bucket, an admin role, `pools` node groups."""
    base = load(HELIOCLOUD).config.model_dump(mode="json")
    base["aws"]["node_pools"] = [p.model_dump(mode="json") for p in reference_pools(pools)]
    return HubConfig.model_validate(base)


@pytest.mark.parametrize("pools", [7, 12])
def test_heliocloud_reference_templates_fit_inline(pools: int) -> None:
    config = heliocloud(pools)
    assert len(config.aws.node_pools) == pools and config.auth.type == "cognito"
    files = render_aws(config)
    for path, body in files.items():
        assert len(body) <= TEMPLATE_BODY_LIMIT, f"{path}: {len(body)} bytes"
    cluster = files["aws/cluster.template.json"]
    groups = [
        r for r in json.loads(cluster)["Resources"].values() if r["Type"] == "AWS::EKS::Nodegroup"
    ]
    assert len(groups) == pools
    # The same bytes the deploy stages send: render writes exactly what is sent.
    stages = {s.key: s.template.encode() for s in hub_stages(config)}
    assert stages == {
        k.removeprefix("aws/").removesuffix(".template.json"): v for k, v in files.items()
    }


def test_pretty_printing_would_not_fit() -> None:
    """Why minified: the 7-pool reference pretty-printed is over the inline limit."""
    cluster = render_aws(heliocloud(7))["aws/cluster.template.json"]
    pretty = json.dumps(json.loads(cluster), sort_keys=True, indent=2)
    assert len(pretty.encode()) > TEMPLATE_BODY_LIMIT >= len(cluster)


def big_app_template() -> dict[str, Any]:
    """The emulator's app stack, padded past the inline limit (Metadata is sent, not created)."""
    template = ts.app_template()
    template["Metadata"] = {"Padding": "x" * (TEMPLATE_BODY_LIMIT + 1000)}
    return template


def test_a_template_over_the_limit_goes_through_a_bucket_of_the_deployment(
    aws: AWSClients, tmp_path: Path
) -> None:
    """Emulator: up uploads the oversized template and creates the stack from TemplateURL; the
    bucket is private, encrypted and tagged; down deletes it and nothing tagged is left."""
    big = big_app_template()
    loaded = LoadedConfig(
        HubConfig.model_validate(
            {"name": ts.NAME, "provider": "aws", "local": {"data_dir": str(tmp_path / "d")}}
        ),
        tmp_path / "heliohub.yaml",
        tmp_path,
    )
    provider = AWSProvider(
        loaded,
        SilentReporter(),
        clients=aws,
        stages=ts.stages(app=big, app_key="cluster"),
        kubernetes_layer=None,
        poll_seconds=0.02,
    )
    body = provider.stages()[2].template
    assert len(body.encode()) > TEMPLATE_BODY_LIMIT

    provider.up(UpOptions())
    cfn = aws.client("cloudformation")
    deployed = cfn.get_template(StackName=f"{ts.NAME}-app")["TemplateBody"]
    assert parse_template(deployed) == big

    s3 = aws.client("s3")
    bucket = bucket_name(ts.NAME, "123456789012", aws.region)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith(f"{ts.NAME}-app/")
    assert s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read() == body.encode()
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags == {"heliohub:deployment": ts.NAME}
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())

    provider.down(DownOptions())
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_small_templates_never_touch_s3(aws: AWSClients) -> None:
    store = TemplateStore(aws, "small")
    assert store.source("small-data", '{"Resources":{}}') == {"TemplateBody": '{"Resources":{}}'}
    assert aws.client("s3").list_buckets()["Buckets"] == []
