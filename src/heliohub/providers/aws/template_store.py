"""Where a template goes to CloudFormation: inline, or through a bucket of the deployment.

CloudFormation takes at most 51,200 bytes inline (TemplateBody); up to 1 MB through S3
(TemplateURL). Templates at or under the limit are sent inline, byte for byte what `render`
writes; larger ones are uploaded first, with the same bytes. The bucket is created on first
need (private, encrypted, tagged with the deployment) and deleted by `down`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import ClientError

from heliohub.errors import UserError
from heliohub.providers.aws.clients import AWSClients
from heliohub.render.cloudformation import TEMPLATE_BODY_LIMIT
from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG

# CloudFormation's limit through S3.
TEMPLATE_URL_LIMIT = 1_000_000


def bucket_name(name: str, account: str, region: str) -> str:
    """Globally unique, stable per deployment, account and region, and within 63 characters."""
    digest = hashlib.sha256(f"{account}/{region}/{name}".encode()).hexdigest()[:16]
    return f"heliohub-templates-{digest}"


class TemplateStore:
    def __init__(self, clients: AWSClients, deployment: str) -> None:
        self.clients = clients
        self.deployment = deployment
        self._bucket: str | None = None

    @property
    def s3(self) -> Any:
        return self.clients.client("s3")

    def bucket(self) -> str:
        account = self.clients.client("sts").get_caller_identity()["Account"]
        return bucket_name(self.deployment, account, self.clients.region)

    def source(self, stack: str, body: str) -> dict[str, str]:
        """TemplateBody or TemplateURL, as create_change_set takes them."""
        size = len(body.encode())
        if size <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": body}
        if size > TEMPLATE_URL_LIMIT:
            raise UserError(
                f"stack {stack}: its template is {size:,} bytes; CloudFormation takes at most "
                f"{TEMPLATE_URL_LIMIT:,}. Use fewer node pools"
            )
        bucket = self._ensure_bucket()
        key = f"{stack}/{hashlib.sha256(body.encode()).hexdigest()}.json"
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json"
        )
        # CloudFormation fetches it itself, from S3 in the deployment's region.
        host = f"{bucket}.s3.{self.clients.region}.amazonaws.com"
        return {"TemplateURL": f"https://{host}/{key}"}

    def _ensure_bucket(self) -> str:
        if self._bucket is not None:
            return self._bucket
        bucket = self.bucket()
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise UserError(
                    f"the template bucket {bucket} exists but is not usable ({code}); it must "
                    "belong to this account"
                ) from None
            self._create(bucket)
        self._bucket = bucket
        return bucket

    def _create(self, bucket: str) -> None:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if self.clients.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.clients.region}
        self.s3.create_bucket(**kwargs)
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        self.s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": DEPLOYMENT_TAG, "Value": self.deployment}]}
        )

    def delete(self) -> bool:
        """Empty and delete the bucket (the stacks keep their own copy of each template)."""
        bucket = self.bucket()
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError:
            return False
        kwargs: dict[str, Any] = {"Bucket": bucket}
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            if not page.get("IsTruncated"):
                break
            kwargs["ContinuationToken"] = page["NextContinuationToken"]
        self.s3.delete_bucket(Bucket=bucket)
        return True
