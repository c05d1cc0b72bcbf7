"""The `auth` section: who may log in, and how."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Literal, Self

from pydantic import Field, HttpUrl, field_validator, model_validator

from heliohub.config.base import SecretRef, Strict

Username = Annotated[str, Field(min_length=1, max_length=255)]

# Letters and digits of any script, and . _ @ + - (e-mail addresses pass).
DEFAULT_USERNAME_PATTERN = r"[\w][\w.@+-]*"
DEFAULT_USERNAME_MAX_LENGTH = 64
# C0 and C1 control characters and the Unicode line and paragraph separators, as regex escapes.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029"


def fold_username(name: str) -> str:
    """What JupyterHub's Authenticator.normalize_username does to every login name (and to
    admin_users and allowed_users) before any check: lower-casing."""
    return name.lower()


def username_regex(pattern: str, max_length: int) -> str:
    """The one expression every hub user name must match from start to end: no control
    character, at most max_length characters, and the configured pattern."""
    return rf"(?=[^{CONTROL_CHARACTERS}]{{1,{max_length}}}\Z)(?:{pattern})\Z"


# Cognito refuses hosted-UI domain prefixes that contain these words.
COGNITO_RESERVED_WORDS = ("aws", "amazon", "cognito")


def reserved_domain_words(prefix: str, how: str) -> None:
    """Raise the config problem when Cognito would refuse this prefix; how: where it came from."""
    bad = [w for w in COGNITO_RESERVED_WORDS if w in prefix]
    if bad:
        raise ValueError(
            f"Cognito refuses domain prefixes containing {', '.join(repr(w) for w in bad)}, "
            f"got {prefix!r}{how}; choose a prefix without aws, amazon or cognito"
        )


def default_domain_prefix(name: str, domain: str) -> str:
    """The deployment name plus a hash of the hub's domain.

    Prefixes are unique per region across every AWS account, so the bare name would collide
    with the next deployment called the same. The domain is the deployment's own (a DNS
    name), and independent of account and region, so the prefix is stable across `up` runs
    and machines.
    """
    return f"{name}-{hashlib.sha256(domain.encode()).hexdigest()[:8]}"


class AuthBase(Strict):
    admin_users: list[Username] = Field(
        default_factory=list, description="users with admin rights on the hub"
    )
    allowed_users: list[Username] = Field(
        default_factory=list,
        description="users allowed to log in besides admins; for shared-password and native, "
        "empty means any user the login method accepts; for oidc, cognito and github see "
        "allow_all",
    )
    username_pattern: str = Field(
        default=DEFAULT_USERNAME_PATTERN,
        min_length=1,
        description="regular expression every hub user name must match as a whole, after "
        "lower-casing; any login type. Control characters are refused whatever it allows",
    )
    username_max_length: int = Field(
        default=DEFAULT_USERNAME_MAX_LENGTH, ge=1, le=255, description="longest hub user name"
    )

    @field_validator("username_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression ({exc}), got {value!r}") from None
        return value


class GroupsMixin(Strict):
    admin_groups: list[str] = Field(
        default_factory=list, description="members of these identity-provider groups are admins"
    )
    allowed_groups: list[str] = Field(
        default_factory=list, description="members of these groups may log in"
    )


class AllowRule(Strict):
    """Who may log in through an external identity provider (oidc, cognito, github).

    JupyterHub 5 and oauthenticator 16 let nobody in by default. heliohub's rule: admins
    (admin_users, admin_groups) and the allowed users, groups and organizations get in;
    every user the provider authenticates gets in only with `allow_all: true`, which must
    then stand alone. A config that would let nobody in is refused.
    """

    allow_all: bool = Field(
        default=False,
        description="let in every user the identity provider authenticates (e.g. everyone "
        "in the institution, or in the Cognito user pool); cannot be combined with allowed "
        "users, groups or organizations",
    )

    def _allow_lists(self) -> dict[str, list[str]]:
        return {"allowed_users": list(getattr(self, "allowed_users", []))}

    def _admin_lists(self) -> dict[str, list[str]]:
        return {"admin_users": list(getattr(self, "admin_users", []))}

    @model_validator(mode="after")
    def _somebody_may_log_in(self) -> Self:
        allowed = {k: v for k, v in self._allow_lists().items() if v}
        if self.allow_all and allowed:
            raise ValueError(
                f"allow_all: true lets every authenticated user in, so {', '.join(allowed)} "
                "would be ignored; remove one of them"
            )
        admins = any(self._admin_lists().values())
        if not (self.allow_all or allowed or admins):
            names = ", ".join([*self._allow_lists(), *self._admin_lists()])
            raise ValueError(
                f"nobody could log in: set at least one of {names}, or allow_all: true to let "
                "in every user the identity provider authenticates"
            )
        return self


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


class OIDCAuth(AuthBase, GroupsMixin, AllowRule):
    """Any OpenID Connect issuer, through GenericOAuthenticator."""

    type: Literal["oidc"] = "oidc"
    issuer: HttpUrl = Field(
        description="issuer URL; endpoints are discovered from its "
        "/.well-known/openid-configuration when the hub starts a login"
    )
    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "profile", "email"],
        description="scopes to request; add the one your provider needs for the groups claim",
    )
    username_claim: str = Field(default="preferred_username", min_length=1)
    groups_claim: str = Field(
        default="groups",
        min_length=1,
        description="claim with the user's groups (for admin_groups and allowed_groups)",
    )
    userdata_from_id_token: bool = Field(
        default=False,
        description="read the user's claims from the id token instead of the userinfo "
        "endpoint (for providers that put groups only in the id token)",
    )
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
        if self.userdata_from_id_token and self.userdata_url:
            raise ValueError(
                "userdata_url and userdata_from_id_token: true exclude each other; "
                "remove one of them"
            )
        return self

    def _allow_lists(self) -> dict[str, list[str]]:
        return {"allowed_users": self.allowed_users, "allowed_groups": self.allowed_groups}

    def _admin_lists(self) -> dict[str, list[str]]:
        return {"admin_users": self.admin_users, "admin_groups": self.admin_groups}


# Scopes a Cognito app client accepts without a custom resource server.
COGNITO_STANDARD_SCOPES = ("openid", "email", "profile", "phone", "aws.cognito.signin.user.admin")


class CognitoAuth(AuthBase, GroupsMixin, AllowRule):
    """AWS Cognito: a preset of `oidc` built from the user pool's domain prefix and region."""

    type: Literal["cognito"] = "cognito"
    domain_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="the hosted UI domain prefix, unique per region across all AWS accounts; "
        "on provider aws it defaults to the deployment name plus a short hash of `domain` "
        "(see default_domain_prefix) and the pool is created by heliohub",
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
    auto_login: bool = Field(
        default=False,
        description="skip the hub's login page and send people straight to Cognito's",
    )

    @model_validator(mode="after")
    def _scopes_have_openid(self) -> Self:
        if "openid" not in self.scopes:
            raise ValueError("scopes must include 'openid'")
        return self

    @field_validator("domain_prefix")
    @classmethod
    def _prefix_allowed(cls, value: str | None) -> str | None:
        if value is not None:
            reserved_domain_words(value, "")
        return value

    def _allow_lists(self) -> dict[str, list[str]]:
        return {"allowed_users": self.allowed_users, "allowed_groups": self.allowed_groups}

    def _admin_lists(self) -> dict[str, list[str]]:
        return {"admin_users": self.admin_users, "admin_groups": self.admin_groups}


class GitHubAuth(AuthBase, AllowRule):
    """GitHub OAuth apps."""

    type: Literal["github"] = "github"
    client_id: str = Field(min_length=1)
    client_secret: SecretRef
    allowed_organizations: list[str] = Field(
        default_factory=list,
        description="members of these organizations (or 'org:team') may log in",
    )

    def _allow_lists(self) -> dict[str, list[str]]:
        return {
            "allowed_users": self.allowed_users,
            "allowed_organizations": self.allowed_organizations,
        }


Auth = Annotated[
    SharedPasswordAuth | NativeAuth | OIDCAuth | CognitoAuth | GitHubAuth,
    Field(discriminator="type"),
]

# Login methods that prove who a person is; shared-password does not.
REAL_AUTH_TYPES = frozenset({"native", "oidc", "cognito", "github"})
