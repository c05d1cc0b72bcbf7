"""Values for the zero-to-jupyterhub `jupyterhub` chart."""

from __future__ import annotations

from typing import Any

from heliohub.config import HubConfig
from heliohub.config.compute import Profile
from heliohub.hubspec import hub_spec
from heliohub.render.helm import aws_names, pools
from heliohub.render.helm.hub_auth import HubAuth, extra_config
from heliohub.render.helm.wiring import (
    CHECK_ROLE,
    CHECK_SERVICE,
    GATEWAY_PREFIX,
    GATEWAY_TRAEFIK_PORT,
    GATEWAY_TRAEFIK_SERVICE,
    HOME_PVC,
    PROXY_HTTP_PORT,
    PROXY_HTTP_SERVICE,
    PROXY_PUBLIC_SERVICE,
    SHARED_PVC,
    SHARED_SUBPATH,
    USERS_SERVICE,
)

# Kept on `helm uninstall`, so `down` then `up` finds the hub's users again.
KEEP = {"helm.sh/resource-policy": "keep"}
AWS_START_TIMEOUT_S = 900
SHM_VOLUME = {"name": "dshm", "emptyDir": {"medium": "Memory"}}


def split_image(image: str) -> tuple[str, str]:
    """'registry:5000/org/name:tag' -> ('registry:5000/org/name', 'tag'); no tag -> 'latest'."""
    name, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return image, "latest"
    return name, tag


def num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def gib(value: float) -> str:
    # KubeSpawner reads the G suffix as GiB.
    return f"{num(value)}G"


def public(config: HubConfig) -> bool:
    """Whether proxy-public gets a load balancer: only with HTTPS in front of the logins."""
    return config.https.mode in ("letsencrypt", "acm")


def port_forward_hint(config: HubConfig) -> str:
    ns = config.kubernetes.namespace
    return (
        f"the hub is not public (https.mode is off): `kubectl --namespace {ns} port-forward "
        f"service/{PROXY_PUBLIC_SERVICE} 8080:80`, then open http://localhost:8080"
    )


def ebs_storage_class(config: HubConfig) -> str:
    return f"{config.name}-gp3"


def gateway_address(https_via_autohttps: bool) -> str:
    # With autohttps in front, proxy-public speaks TLS; go to the proxy's plain HTTP port.
    if https_via_autohttps:
        return f"http://{PROXY_HTTP_SERVICE}:{PROXY_HTTP_PORT}{GATEWAY_PREFIX}/"
    return f"http://{PROXY_PUBLIC_SERVICE}{GATEWAY_PREFIX}"


def singleuser_env(config: HubConfig, https_via_autohttps: bool) -> dict[str, str]:
    """Where the gateway is in the cluster, and the rest of the hub spec's user environment."""
    ns = config.kubernetes.namespace
    return {
        "DASK_GATEWAY__ADDRESS": gateway_address(https_via_autohttps),
        "DASK_GATEWAY__PROXY_ADDRESS": (
            f"gateway://{GATEWAY_TRAEFIK_SERVICE}.{ns}:{GATEWAY_TRAEFIK_PORT}"
        ),
        **hub_spec(config).user_environment.env,
    }


def profile_entry(config: HubConfig, profile: Profile) -> dict[str, Any]:
    override: dict[str, Any] = {
        "image": profile.image or config.image,
        "cpu_guarantee": num(profile.cpu.guarantee),
        "cpu_limit": num(profile.cpu.limit),
        "mem_guarantee": gib(profile.memory_gib.guarantee),
        "mem_limit": gib(profile.memory_gib.limit),
    }
    if profile.gpus:
        gpus = {"nvidia.com/gpu": str(profile.gpus)}
        override["extra_resource_guarantees"] = gpus
        override["extra_resource_limits"] = dict(gpus)
    if pools.placed(config):
        pool = pools.pool(config, config.profile_pool(profile))
        override["node_selector"] = pools.node_selector(pool)
        override["tolerations"] = pools.tolerations(pool)
    entry: dict[str, Any] = {"display_name": profile.display_name, "slug": profile.name}
    if profile.description:
        entry["description"] = profile.description
    if profile is config.default_profile:
        entry["default"] = True
    entry["kubespawner_override"] = override
    return entry


def _storage(config: HubConfig) -> dict[str, Any]:
    home = config.storage.home
    shared = config.storage.shared
    shared_path = f"{home.mount_path.rstrip('/')}/{shared.name}"
    if config.provider == "aws":
        storage: dict[str, Any] = {
            "type": "static",
            "static": {"pvcName": HOME_PVC, "subPath": "{escaped_username}"},
            "homeMountPath": home.mount_path,
        }
        if shared.enabled:
            # The same EFS volume as the homes, another directory of it.
            storage["extraVolumeMounts"] = [
                {"name": "home", "mountPath": shared_path, "subPath": SHARED_SUBPATH}
            ]
        return storage
    k8s = config.kubernetes
    dynamic: dict[str, Any] = {}
    if k8s.storage_class:
        dynamic["storageClass"] = k8s.storage_class
    storage = {
        "type": "dynamic",
        "capacity": f"{k8s.home_size_gib}Gi",
        "homeMountPath": home.mount_path,
    }
    if dynamic:
        storage["dynamic"] = dynamic
    if shared.enabled:
        storage["extraVolumes"] = [
            {"name": "shared", "persistentVolumeClaim": {"claimName": SHARED_PVC}}
        ]
        storage["extraVolumeMounts"] = [{"name": "shared", "mountPath": shared_path}]
    return storage


def _with_shm(storage: dict[str, Any]) -> dict[str, Any]:
    """A memory-backed /dev/shm: the container runtime's 64 MB breaks PyTorch data loaders and
    multiprocessing in notebooks."""
    return {
        **storage,
        "extraVolumes": [*storage.get("extraVolumes", []), SHM_VOLUME],
        "extraVolumeMounts": [
            *storage.get("extraVolumeMounts", []),
            {"name": SHM_VOLUME["name"], "mountPath": "/dev/shm"},
        ],
    }


def _https(config: HubConfig, acm_arn: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """proxy.https and the proxy-public annotations it needs."""
    mode = config.https.mode
    if mode == "letsencrypt":
        https = {
            "enabled": True,
            "type": "letsencrypt",
            "hosts": [config.domain],
            "letsencrypt": {"contactEmail": config.https.contact_email},
        }
        return https, {}
    if mode == "acm":
        annotations = {
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": acm_arn or "",
            "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "tcp",
            "service.beta.kubernetes.io/aws-load-balancer-ssl-ports": "https",
        }
        return {"enabled": True, "type": "offload"}, annotations
    return {"enabled": False}, {}


def _netpol(enabled: bool) -> dict[str, Any]:
    return {"networkPolicy": {"enabled": enabled}}


def jupyterhub_values(config: HubConfig, auth: HubAuth) -> dict[str, Any]:
    spec = hub_spec(config)
    core = pools.core_placement(config)
    netpol = config.kubernetes.network_policy
    autohttps = config.https.mode == "letsencrypt"

    hub_config: dict[str, dict[str, Any]] = {k: dict(v) for k, v in auth.config.items()}
    user = spec.user_environment
    hub_config.setdefault("Spawner", {})["server_token_scopes"] = list(user.server_token_scopes)

    db_pvc: dict[str, Any] = {"annotations": dict(KEEP)}
    if config.provider == "aws":
        db_pvc["storageClassName"] = ebs_storage_class(config)
    elif config.kubernetes.storage_class:
        db_pvc["storageClassName"] = config.kubernetes.storage_class

    hub: dict[str, Any] = {
        "config": hub_config,
        "services": {
            spec.gateway.service: {
                "display": False,
                "url": f"http://{GATEWAY_TRAEFIK_SERVICE}:{GATEWAY_TRAEFIK_PORT}",
            },
            CHECK_SERVICE: {"display": False},
            # An admin role in loadRoles would pin the admins to admin_users at every start.
            USERS_SERVICE: {"display": False, "admin": True},
        },
        "loadRoles": {
            "user": {
                "description": "Standard user privileges, plus the Dask Gateway",
                "scopes": list(spec.user_role_scopes),
            },
            CHECK_ROLE: {
                "description": "heliohub check: a temporary user's journey",
                "scopes": list(spec.service(CHECK_SERVICE).scopes),
                "services": [CHECK_SERVICE],
            },
        },
        "db": {"pvc": db_pvc},
        **core,
        **_netpol(netpol),
    }
    # The same text for every deployment; its values are custom.heliohub.
    hub["extraConfig"] = {"heliohub": extra_config()}
    if auth.extra_env:
        hub["extraEnv"] = auth.extra_env
    if auth.extra_files:
        hub["extraFiles"] = auth.extra_files

    https, annotations = _https(config, config.https.acm_certificate_arn)
    # The local provider's exposure policy: nothing public without TLS. Without HTTPS the hub
    # stays inside the cluster and `heliohub` says how to reach it (kubectl port-forward).
    service: dict[str, Any] = {"type": "LoadBalancer" if public(config) else "ClusterIP"}
    if config.provider == "aws":
        # Classic ELBs drop idle websockets after 60 s by default.
        annotations = {
            "service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout": "3600",
            **annotations,
        }
    if annotations:
        service["annotations"] = dict(sorted(annotations.items()))
    proxy = {
        "service": service,
        "chp": {**core, **_netpol(netpol)},
        "traefik": {**core, **_netpol(netpol)},
        "https": https,
    }

    image_name, image_tag = split_image(config.image)
    home = config.storage.home
    singleuser: dict[str, Any] = {
        "image": {"name": image_name, "tag": image_tag},
        "defaultUrl": user.default_url,
        "uid": home.uid,
        "fsGid": home.gid,
        "extraEnv": singleuser_env(config, autohttps),
        "storage": _with_shm(_storage(config)),
        **_netpol(netpol),
        "profileList": [profile_entry(config, p) for p in config.profiles],
    }
    if config.provider == "aws":
        singleuser["serviceAccountName"] = aws_names.user_service_account()
        # A cold pool scales from zero and pulls a multi-GB image: z2jh's 300 s is too short.
        singleuser["startTimeout"] = AWS_START_TIMEOUT_S

    # The chart runs the idle culler itself, with the spec's settings.
    culling = spec.culling
    cull = {
        "enabled": culling.enabled,
        "users": False,
        "timeout": culling.server_idle_timeout_s,
        "every": culling.every_s,
        "maxAge": culling.max_age_s,
    }
    scheduling: dict[str, Any] = {}
    if core:
        scheduling["userScheduler"] = dict(core)
    if pools.placed(config) and pools.profiles_on_user_nodes(config):
        # User servers only on nodes labelled for users (z2jh's default merely prefers them);
        # the continuous image puller follows the same rule, so it stays off the services
        # and Dask nodes. Only when every profile's pool carries the label, or nothing fits.
        scheduling["userPods"] = {"nodeAffinity": {"matchNodePurpose": "require"}}

    values: dict[str, Any] = {
        "custom": {"heliohub": auth.custom},
        "hub": hub,
        "proxy": proxy,
        "singleuser": singleuser,
        # The hook makes every upgrade wait for image pulls on all nodes; the continuous
        # puller still warms new nodes.
        "prePuller": {"hook": {"enabled": False}},
        "cull": cull,
    }
    if scheduling:
        values["scheduling"] = scheduling
    return values


def https_pending_overlay(config: HubConfig) -> dict[str, Any]:
    """Layered over the values until DNS resolves: no ACME attempt before then (z2jh#1602)."""
    return {
        "proxy": {"https": {"enabled": False}},
        "singleuser": {"extraEnv": singleuser_env(config, https_via_autohttps=False)},
    }
