"""boto3 clients for one region, with credentials and endpoint passed explicitly.

In normal use the credentials come from boto3's usual chain (environment, profile, SSO). Tests
pass an emulator endpoint and fake credentials so nothing from the user's environment is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config


@dataclass
class AWSClients:
    region: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    profile: str | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def session(self) -> boto3.session.Session:
        if self._session is None:
            kwargs: dict[str, Any] = {"region_name": self.region}
            if self.access_key_id:
                kwargs.update(
                    aws_access_key_id=self.access_key_id,
                    aws_secret_access_key=self.secret_access_key,
                )
            elif self.profile:
                kwargs["profile_name"] = self.profile
            self._session = boto3.session.Session(**kwargs)
        return self._session

    def client(self, service: str) -> Any:
        if service not in self._cache:
            self._cache[service] = self.session().client(
                service,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 8}),
            )
        return self._cache[service]
