"""What each provider can honour: the rules that tie a setting to the providers that use it.

A setting a provider would silently ignore is refused here, so `validate` is the one place that
says no. Each function returns problem lines ("path: what is wrong; allowed: ...").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from heliohub.config.auth import COGNITO_STANDARD_SCOPES, CognitoAuth

if TYPE_CHECKING:
    from heliohub.config.model import HubConfig

ProviderName = Literal["local", "aws", "kubernetes"]
PROVIDERS: tuple[ProviderName, ...] = ("local", "kubernetes", "aws")

# The top-level sections each provider reads. The EKS cluster of provider aws is configured
# through `kubernetes` too (namespace, storage, network policy).
SECTIONS: dict[str, tuple[str, ...]] = {
    "local": ("local",),
    "kubernetes": ("kubernetes", "local"),
    "aws": ("aws", "kubernetes", "local"),
}
# Every provider keeps its state and secrets under local.data_dir; the rest of `local` is the
# local hub's own.
SHARED_LOCAL_KEYS = frozenset({"data_dir"})
# On aws heliohub writes the kubeconfig of the EKS cluster itself.
AWS_IGNORED_KUBERNETES_KEYS = ("context", "kubeconfig")
# Login types whose identity provider sends the browser back to https://<domain>/hub/oauth_callback.
OAUTH_TYPES = frozenset({"oidc", "cognito", "github"})
HTTPS_MODES: dict[str, tuple[str, ...]] = {
    "local": ("off", "files"),
    "kubernetes": ("off", "letsencrypt"),
    "aws": ("off", "letsencrypt", "acm"),
}


def _where(sections: tuple[str, ...]) -> str:
    return ", ".join(p for p in PROVIDERS if any(s in SECTIONS[p] for s in sections))


def section_problems(config: HubConfig) -> list[str]:
    """Sections (and keys of shared sections) the chosen provider does not read."""
    provider = config.provider
    allowed = SECTIONS[provider]
    problems = [
        f"{name}: a section for provider {_where((name,))}; provider is {provider}, "
        f"allowed sections for {provider}: {', '.join(allowed)}"
        for name in ("aws", "kubernetes", "local")
        if name in config.model_fields_set and name not in allowed
    ]
    if provider != "local" and "local" in config.model_fields_set:
        problems += [
            f"local.{key}: applies to provider local only; allowed in `local` for "
            f"{provider}: {', '.join(sorted(SHARED_LOCAL_KEYS))}"
            for key in sorted(config.local.model_fields_set - SHARED_LOCAL_KEYS)
        ]
    if provider == "aws":
        problems += [
            f"kubernetes.{key}: heliohub writes the kubeconfig of the EKS cluster on provider "
            "aws; remove it"
            for key in AWS_IGNORED_KUBERNETES_KEYS
            if getattr(config.kubernetes, key) is not None
        ]
    return problems


def honour_problems(config: HubConfig) -> list[str]:
    """Settings the chosen provider cannot honour, and cross-field rules of the login."""
    provider = config.provider
    problems: list[str] = []
    modes = HTTPS_MODES[provider]
    if config.https.mode not in modes:
        needs = sorted(p for p in PROVIDERS if config.https.mode in HTTPS_MODES[p])
        problems.append(
            f"https.mode: '{config.https.mode}' needs provider {' or '.join(needs)}; "
            f"allowed for {provider}: {', '.join(modes)}"
        )
    if config.https.mode in ("letsencrypt", "acm") and not config.domain:
        problems.append(f"domain: required when https.mode is '{config.https.mode}'")
    if provider != "local" and config.auth.type in OAUTH_TYPES and not config.domain:
        if provider == "aws" and config.auth.type == "cognito":
            problems.append("domain: required for cognito login on aws (callback URLs use it)")
        else:
            problems.append(
                f"domain: required for auth type {config.auth.type} on provider {provider} "
                "(the login callback is https://<domain>/hub/oauth_callback)"
            )
    public = config.https.mode in ("letsencrypt", "acm")
    if provider != "local" and public and config.auth.type == "shared-password":
        # With HTTPS proxy-public gets a load balancer: one password for everyone on the
        # internet is no login.
        problems.append(
            f"auth.type: shared-password is one password for everyone, not a login for a hub "
            f"public on the internet (https.mode {config.https.mode} gives it a load balancer); "
            "allowed: native, oidc, cognito or github, or https.mode off (reached through "
            "kubectl port-forward)"
        )
    if provider == "aws" and config.auth.type == "cognito" and not public:
        problems.append(
            "https.mode: off, but Cognito accepts only https callback URLs; allowed with "
            "cognito login: acm or letsencrypt"
        )
    if provider != "local":
        if config.dask.max_clusters_per_user is not None:
            problems.append(
                "dask.max_clusters_per_user: only provider local enforces it (Dask Gateway's "
                f"Kubernetes backend has no such limit); on provider {provider} remove it"
            )
        if config.storage.shared.writable_by_group is not None:
            problems.append(
                "storage.shared.writable_by_group: an OS group of this machine, for provider "
                f"local only; remove it for provider {provider}"
            )
    if provider != "aws" and config.storage.s3_buckets:
        problems.append(
            "storage.s3_buckets: access to buckets is granted through EKS pod identity, for "
            f"provider aws only; remove it for provider {provider}"
        )
    if provider != "aws" and config.aws.budget is not None:
        problems.append(f"aws.budget: needs provider aws, got provider {provider}")
    problems += _managed_cognito_problems(config)
    return problems


def _managed_cognito_problems(config: HubConfig) -> list[str]:
    """Cognito's own limits on the app client heliohub creates on aws (reserved words of the
    domain prefix: HubConfig._cloud)."""
    auth = config.auth
    if config.provider != "aws" or not isinstance(auth, CognitoAuth) or auth.client_id:
        return []
    problems = []
    unknown = sorted(set(auth.scopes) - set(COGNITO_STANDARD_SCOPES))
    if unknown:
        problems.append(
            f"auth.scopes: Cognito app clients accept {', '.join(COGNITO_STANDARD_SCOPES)}; "
            f"got {', '.join(unknown)}"
        )
    return problems
