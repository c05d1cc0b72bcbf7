"""The `auth` section: who may log in, and how."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, HttpUrl, model_validator

from heliohub.config.base import SecretRef, Strict

Username = Annotated[str, Field(min_length=1, max_length=255)]


class AuthBase(Strict):
    admin_users: list[Username] = Field(
        default_factory=list, description="users with admin rights on the hub"
    )
    allowed_users: list[Username] = Field(
        default_factory=list,
        description="users allowed to log in besides admins; empty means any user the "
        "login method accepts",
    )


class GroupsMixin(Strict):
    admin_groups: list[str] = Field(
        default_factory=list, description="members of these identity-provider groups are admins"
    )
    allowed_groups: list[str] = Field(
        default_factory=list, description="members of these groups may log in"
    )


class SharedPasswordAuth(AuthBase):
    """One password for every user name: for trying heliohub out, never for a public hub."""

    type: Literal["shared-password"] = "shared-password"
    password: SecretRef | None = Field(
        default=None,
        description="where the password is; when unset it is generated on first `up` into "
        "<data_dir>/secrets/shared-password (mode 0600)",
    )


class NativeAuth(AuthBase):
    """Accounts kept by the hub itself (NativeAuthenticator)."""

    type: Literal["native"] = "native"
    signup: Literal["off", "admin-approval"] = Field(
        default="admin-approval",
        description="'admin-approval': anyone may sign up, an admin approves; 'off': admins "
        "create accounts",
    )
    minimum_password_length: int = Field(default=10, ge=8, le=128)


class OIDCAuth(AuthBase, GroupsMixin):
    """Any OpenID Connect issuer, through GenericOAuthenticator."""

    type: Literal["oidc"] = "oidc"
    issuer: HttpUrl = Field(description="issuer URL; endpoints are discovered from it")
    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    username_claim: str = Field(default="preferred_username", min_length=1)
    groups_claim: str = Field(default="groups", min_length=1)
    authorize_url: HttpUrl | None = Field(default=None, description="overrides discovery")
    token_url: HttpUrl | None = Field(default=None, description="overrides discovery")
    userdata_url: HttpUrl | None = Field(default=None, description="overrides discovery")
    logout_redirect_url: HttpUrl | None = None
    login_service: str = "OpenID Connect"
    basic_auth: bool = Field(
        default=False, description="send client credentials as HTTP Basic (client_secret_basic)"
    )

    @model_validator(mode="after")
    def _scopes_have_openid(self) -> Self:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid'")
        return self


class CognitoAuth(AuthBase, GroupsMixin):
    """AWS Cognito: a preset of `oidc` built from the user pool's domain prefix and region."""

    type: Literal["cognito"] = "cognito"
    domain_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="the hosted UI domain prefix; on provider aws it defaults to the "
        "deployment name and the pool is created by heliohub",
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        description="the user pool's region; on provider aws it defaults to aws.region",
    )
    user_pool_id: str | None = None
    client_id: str | None = Field(
        default=None, description="the app client; on provider aws it comes from the stack"
    )
    client_secret: SecretRef | None = Field(
        default=None, description="the app client's secret; on provider aws from the stack"
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    username_claim: str = Field(default="email", min_length=1)
    endpoint_base: HttpUrl | None = Field(
        default=None,
        description="overrides https://<prefix>.auth.<region>.amazoncognito.com, e.g. to test "
        "against a local provider",
    )
    login_service: str = "AWS Cognito"

    @model_validator(mode="after")
    def _scopes_have_openid(self) -> Self:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid'")
        return self


class GitHubAuth(AuthBase):
    """GitHub OAuth apps."""

    type: Literal["github"] = "github"
    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    allowed_organizations: list[str] = Field(default_factory=list)


Auth = Annotated[
    SharedPasswordAuth | NativeAuth | OIDCAuth | CognitoAuth | GitHubAuth,
    Field(discriminator="type"),
]

# Login methods that prove who a person is; shared-password does not.
REAL_AUTH_TYPES = frozenset({"native", "oidc", "cognito", "github"})
