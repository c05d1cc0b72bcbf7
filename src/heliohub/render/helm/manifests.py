"""Kubernetes objects heliohub applies itself, next to the two charts."""

from __future__ import annotations

from typing import Any

from heliohub.config import HubConfig
from heliohub.platform import EksPlatform, Platform
from heliohub.render.helm import aws_names
from heliohub.render.helm.jupyterhub import ebs_storage_class
from heliohub.render.helm.placeholders import output
from heliohub.render.helm.wiring import (
    AUTH_SECRET,
    GATEWAY_FULLNAME,
    GATEWAY_TRAEFIK_CONTAINER_PORT,
    HOME_PVC,
    JUPYTERHUB_RELEASE,
    PROXY_HTTP_PORT,
    SHARED_PVC,
)

MANAGED = {"app.kubernetes.io/managed-by": "heliohub"}
# Tag on the hub database's EBS volume, so the teardown scan can tell it from a leak.
HUB_DB_PURPOSE = ("heliohub:purpose", "hub-database")
# EFS has no size; Kubernetes wants one.
EFS_CAPACITY = "1Ti"
SECRET_KEYS_ANNOTATION = "heliohub.io/keys"


def _meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta["labels"] = dict(MANAGED)
    meta.update(extra)
    return meta


def namespace(config: HubConfig) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(config.kubernetes.namespace)}


def auth_secret(config: HubConfig, keys: list[str]) -> dict[str, Any]:
    """The skeleton only: which keys the provider fills in from the secret references."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(
            AUTH_SECRET,
            config.kubernetes.namespace,
            annotations={SECRET_KEYS_ANNOTATION: ",".join(keys)},
        ),
        "type": "Opaque",
    }


def efs_storage(config: HubConfig, eks: EksPlatform) -> list[dict[str, Any]]:
    """Homes (and the shared directory) on EFS, through an access point owned by uid/gid."""
    sc = f"{config.name}-efs"
    pv = f"{config.name}-home"
    handle = f"{output(eks, 'efs_id')}::{output(eks, 'efs_access_point_id')}"
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": _meta(sc),
            "provisioner": "efs.csi.aws.com",
            "reclaimPolicy": "Retain",
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": _meta(pv),
            "spec": {
                "capacity": {"storage": EFS_CAPACITY},
                "volumeMode": "Filesystem",
                "accessModes": ["ReadWriteMany"],
                # Homes outlive the cluster: `down` keeps EFS unless told otherwise.
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": sc,
                "mountOptions": ["tls"],
                "csi": {"driver": "efs.csi.aws.com", "volumeHandle": handle},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _meta(HOME_PVC, config.kubernetes.namespace),
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": sc,
                "volumeName": pv,
                "resources": {"requests": {"storage": EFS_CAPACITY}},
            },
        },
    ]


def ebs_class(config: HubConfig) -> dict[str, Any]:
    """For the hub's own database (sqlite wants a block device, not NFS).

    Delete, not Retain: the claim dies with the cluster, so a retained volume could never be
    found again and would be billed forever. `down --delete-data` deletes the claim (and so the
    volume) while the cluster runs; the deployment tag lets the teardown scan see any volume
    that outlived its cluster.
    """
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": _meta(ebs_storage_class(config)),
        "provisioner": "ebs.csi.aws.com",
        "parameters": {
            "type": "gp3",
            "encrypted": "true",
            # The EBS CSI driver's form for tags on the volumes it creates.
            "tagSpecification_1": f"{aws_names.deployment_tag()}={config.name}",
            "tagSpecification_2": f"{HUB_DB_PURPOSE[0]}={HUB_DB_PURPOSE[1]}",
        },
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def shared_pvc(config: HubConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": f"{config.kubernetes.home_size_gib}Gi"}},
    }
    # The config model requires a ReadWriteMany class for the shared folder on kubernetes.
    if config.kubernetes.shared_storage_class:
        spec["storageClassName"] = config.kubernetes.shared_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(
            SHARED_PVC, config.kubernetes.namespace, annotations={"helm.sh/resource-policy": "keep"}
        ),
        "spec": spec,
    }


def s3_service_account(config: HubConfig) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(aws_names.user_service_account(), config.kubernetes.namespace),
    }


def singleuser_labels() -> dict[str, str]:
    return {"app": "jupyterhub", "component": "singleuser-server", "release": JUPYTERHUB_RELEASE}


def traefik_labels() -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dask-gateway",
        "app.kubernetes.io/component": "traefik",
        "gateway.dask.org/instance": GATEWAY_FULLNAME,
    }


def proxy_labels() -> dict[str, str]:
    return {"app": "jupyterhub", "component": "proxy", "release": JUPYTERHUB_RELEASE}


def gateway_network_policy(config: HubConfig) -> dict[str, Any]:
    """Notebooks may reach the gateway's traefik and the proxy's HTTP port (z2jh#3044).

    The chart's singleuser policy blocks private IPs, and both live on pod IPs. Policies add up,
    so this one only allows more.
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("heliohub-singleuser-to-gateway", config.kubernetes.namespace),
        "spec": {
            "podSelector": {"matchLabels": singleuser_labels()},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [{"podSelector": {"matchLabels": traefik_labels()}}],
                    "ports": [{"protocol": "TCP", "port": GATEWAY_TRAEFIK_CONTAINER_PORT}],
                },
                {
                    "to": [{"podSelector": {"matchLabels": proxy_labels()}}],
                    "ports": [{"protocol": "TCP", "port": PROXY_HTTP_PORT}],
                },
            ],
        },
    }


def manifests(
    config: HubConfig, platform: Platform, secret_keys: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """File name -> objects, in the order they are applied (names sort in that order)."""
    out: dict[str, list[dict[str, Any]]] = {
        "00-namespace.yaml": [namespace(config)],
        "10-auth-secret.yaml": [auth_secret(config, secret_keys)],
    }
    if isinstance(platform, EksPlatform):
        out["20-storage.yaml"] = [*efs_storage(config, platform), ebs_class(config)]
        out["30-service-account.yaml"] = [s3_service_account(config)]
    elif config.storage.shared.enabled:
        out["20-storage.yaml"] = [shared_pvc(config)]
    if config.kubernetes.network_policy:
        out["40-network-policy.yaml"] = [gateway_network_policy(config)]
    return out
