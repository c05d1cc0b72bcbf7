"""The `storage`, `culling`, `domain` and `https` sections."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from heliohub.config.base import NonNegativeInt, PositiveInt, Strict


class Home(Strict):
    mount_path: str = Field(default="/home/jovyan", pattern=r"^/")
    uid: NonNegativeInt = 1000
    gid: NonNegativeInt = 100


class Shared(Strict):
    """A directory every user sees; on AWS it lives on the same EFS as the homes."""

    enabled: bool = True
    name: str = Field(
        default="shared",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="its name inside each home (the HelioCloud reference calls it 'efs')",
    )
    writable_by_group: str | None = Field(
        default=None, description="OS group (local) that may write besides admins"
    )


class S3Bucket(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="an S3 bucket name: 3-63 lower-case letters, digits, '.' and '-'",
    )
    access: Literal["read-only", "read-write"] = "read-only"


class Storage(Strict):
    home: Home = Home()
    shared: Shared = Shared()
    s3_buckets: list[S3Bucket] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_buckets(self) -> Self:
        names = [b.name for b in self.s3_buckets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"each bucket may be listed once, got {', '.join(dupes)} twice")
        return self


class Culling(Strict):
    enabled: bool = True
    server_idle_timeout_s: PositiveInt = 3600
    max_age_s: NonNegativeInt = Field(default=0, description="0: no maximum age")
    every_s: PositiveInt = Field(default=300, description="how often the culler looks")


class HTTPS(Strict):
    """How the public endpoint gets TLS.

    - off: plain HTTP (loopback only, unless `up --insecure`)
    - files: cert_file and key_file, served by the proxy (local)
    - letsencrypt: automatic certificates (kubernetes, aws)
    - acm: an AWS Certificate Manager certificate at the load balancer (aws)
    """

    mode: Literal["off", "files", "letsencrypt", "acm"] = "off"
    cert_file: str | None = None
    key_file: str | None = None
    contact_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    acm_certificate_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:acm:")

    @model_validator(mode="after")
    def _mode_needs(self) -> Self:
        if self.mode == "files" and not (self.cert_file and self.key_file):
            raise ValueError("mode 'files' needs cert_file and key_file")
        if self.mode == "letsencrypt" and not self.contact_email:
            raise ValueError("mode 'letsencrypt' needs contact_email")
        if self.mode == "acm" and not self.acm_certificate_arn:
            raise ValueError("mode 'acm' needs acm_certificate_arn")
        return self
