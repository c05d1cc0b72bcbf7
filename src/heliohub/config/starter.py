"""Commented starter configs written by `heliohub init`."""

from __future__ import annotations

from typing import Literal

_COMMON = """\
# Who may log in. Types: shared-password (trying out), native, oidc, cognito, github.
auth:
  type: {auth_type}
{auth_extra}
# What a Dask cluster may ask for. Requests outside these ranges are refused.
dask:
  worker_cores: {{min: 1, max: 4, default: 1}}
  worker_memory_gib: {{min: 1, max: 8, default: 2}}
  max_workers_per_cluster: 8
  cluster_idle_timeout_s: 1800   # idle clusters are shut down after this

# Idle user servers are stopped after this.
culling:
  server_idle_timeout_s: 3600

storage:
{shared}
  s3_buckets: []                            # e.g. [{{name: my-data, access: read-only}}]

# Server sizes offered at spawn time. Omit to get the HelioCloud reference sizes
# (Small, Large, Extra Large, GPU).
# profiles:
#   - name: small
#     display_name: Small
#     cpu: {{guarantee: 1, limit: 4}}
#     memory_gib: {{guarantee: 1, limit: 4}}
#     default: true
"""

_LOCAL = """\
# heliohub: a DaskHub (JupyterHub + Dask Gateway) on this machine.
# Check it with `heliohub validate`, start it with `heliohub up`.
name: {name}
provider: local
local:
  bind: 127.0.0.1:8000     # host:port of the public proxy; internal ports are chosen free
  data_dir: ./.heliohub    # homes, shared data, state, logs, secrets (relative to this file)
  isolation: auto          # none | system-users | auto (system-users as root, real login)
"""

_KUBERNETES = """\
# heliohub: a DaskHub (JupyterHub + Dask Gateway) on an existing Kubernetes cluster.
name: {name}
provider: kubernetes
kubernetes:
  context: null            # kubeconfig context; null uses the current one
  namespace: daskhub
# domain: hub.example.org
# https: {{mode: letsencrypt, contact_email: admin@example.org}}
"""

_AWS = """\
# heliohub: the HelioCloud DaskHub on AWS (EKS, EFS homes, Cognito login, Route53, spot pools).
# `heliohub validate --online` checks the account, `heliohub plan` shows every change.
name: {name}
provider: aws
domain: hub.example.org    # the hub's address; callback URLs are derived from it
https:
  mode: letsencrypt        # or acm, with acm_certificate_arn
  contact_email: admin@example.org
aws:
  region: us-east-1
  kubernetes_version: "1.34"  # raise one minor at a time or more: `plan` shows the steps
  # standard: EKS upgrades the control plane itself when standard support ends;
  # extended: 12 more months on this version, paid per cluster hour
  support_policy: standard
  # node_pools: omit for the HelioCloud reference (services, user, gpu spot, burst spot)
  # `heliohub cost` prices it; a monthly AWS Budgets alarm by e-mail:
  # budget: {{monthly_usd: 400, emails: [ops@example.org]}}
"""

_AUTH_EXTRA = {
    "shared-password": "  admin_users: [admin]\n"
    "  # the password is generated on first `up` into <data_dir>/secrets/\n",
    "native": "  admin_users: [admin]\n"
    "  # local: `heliohub users add admin` makes its account; elsewhere sign up as it first\n",
    # Cognito users are named by email, so admin rights come from a user pool group.
    "cognito": "  admin_groups: [admins]\n"
    "  # on aws the user pool, domain and app client are created by heliohub; invite users\n"
    "  # with `heliohub users add EMAIL`, admins with `heliohub users admin EMAIL`\n",
}


_SHARED = "  shared: {enabled: true, name: shared}   # a directory every user sees in their home"
# A ReadWriteMany claim on a cluster's default class never binds: the starter leaves it off.
_SHARED_KUBERNETES = (
    "  # A directory every user sees needs a ReadWriteMany StorageClass (EFS, Filestore, Azure\n"
    "  # Files, NFS); the default classes of EKS, GKE, AKS, kind and k3s cannot provide one.\n"
    "  # To turn it on, name the class as kubernetes.shared_storage_class.\n"
    "  shared: {enabled: false, name: shared}"
)


def starter(provider: Literal["local", "aws", "kubernetes"], name: str = "heliohub") -> str:
    head = {"local": _LOCAL, "kubernetes": _KUBERNETES, "aws": _AWS}[provider]
    auth_type = {"local": "shared-password", "kubernetes": "native", "aws": "cognito"}[provider]
    shared = _SHARED_KUBERNETES if provider == "kubernetes" else _SHARED
    body = _COMMON.format(auth_type=auth_type, auth_extra=_AUTH_EXTRA[auth_type], shared=shared)
    return head.format(name=name) + "\n" + body
