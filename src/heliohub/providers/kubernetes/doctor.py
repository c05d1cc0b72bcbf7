"""`heliohub doctor`: every check as a finding, and for each problem the fix."""

from __future__ import annotations

import datetime as dt

from heliohub.config import HubConfig
from heliohub.providers.base import Finding
from heliohub.providers.kubernetes.inspect import Inspection
from heliohub.render.helm import pools, releases, versions
from heliohub.render.helm.placeholders import find_placeholders
from heliohub.render.helm.values_check import validate_rendered
from heliohub.render.helm.wiring import HOME_PVC, SHARED_PVC

CERT_WARN_DAYS = 14


def ok(what: str) -> Finding:
    return Finding("ok", what)


def config_findings(config: HubConfig, files: dict[str, bytes]) -> list[Finding]:
    """Checks that need no cluster: the rendered values and the config's choices."""
    out: list[Finding] = []
    problems = validate_rendered(files)
    if problems:
        out += [
            Finding(
                "error",
                f"chart values do not validate: {p}",
                "report this: heliohub rendered values its pinned chart rejects",
            )
            for p in problems
        ]
    else:
        out.append(
            ok(
                f"chart values validate (jupyterhub {versions.JUPYTERHUB.version}, "
                f"dask-gateway {versions.DASK_GATEWAY.version})"
            )
        )
    waiting = find_placeholders(files)
    if waiting:
        names = sorted({n for v in waiting.values() for n in v})
        out.append(
            Finding(
                "warning",
                f"values still wait for stack outputs: {', '.join(names)}",
                "run `heliohub up`: the AWS stacks provide them",
            )
        )
    if config.provider == "aws":
        if pools.core_pool(config) is None:
            out.append(
                Finding(
                    "warning",
                    "no on-demand node pool without taints for the hub and proxy",
                    "add one (e.g. 'services', t3a.medium, min_size 1) to aws.node_pools",
                )
            )
        for profile in config.profiles:
            pool = pools.pool(config, config.profile_pool(profile))
            if pool.capacity == "spot":
                out.append(
                    Finding(
                        "warning",
                        f"profile {profile.name} runs on spot pool {pool.name}: one reclaim stops "
                        "every server on it",
                        f"set profiles.{profile.name}.node_pool to an on-demand pool, or accept it",
                    )
                )
        worker = pools.pool(config, config.dask.worker_node_pool)
        if worker.capacity != "spot":
            out.append(
                Finding(
                    "warning",
                    f"Dask workers run on on-demand pool {worker.name}",
                    "a spot pool is much cheaper for workers",
                )
            )
    return out


def _pod_fix(reason: str) -> str:
    text = reason.lower()
    if "nvidia.com/gpu" in text:
        return (
            "GPU nodes must advertise nvidia.com/gpu: the NVIDIA device plugin must run on "
            "them and the autoscaler needs the GPU pool's labels and taints (node-template "
            "tags or eks:DescribeNodegroup)"
        )
    if "imagepull" in text or "errimagepull" in text:
        return "check the image name and tag in the config, and that the nodes can pull it"
    if "crashloop" in text or "last exit" in text:
        return "read its logs: `heliohub logs`"
    if "persistentvolumeclaim" in text:
        return "a volume is not bound: see the claims below"
    if "taint" in text or "affinity" in text or "selector" in text:
        return "no node pool matches its node selector and tolerations; check aws.node_pools"
    if "insufficient" in text:
        return (
            "no node has room: the autoscaler adds nodes within the pool's max_size; raise "
            "it or lower the request"
        )
    return "see the last events in `heliohub status`"


def cluster_findings(config: HubConfig, ins: Inspection) -> list[Finding]:
    out: list[Finding] = [
        Finding("error", f"could not read {e}", "check kubeconfig access and RBAC")
        for e in ins.errors
    ]
    wanted = {r.name for r in releases.releases(config)}
    have = {r.name: r for r in ins.releases}
    for name in sorted(wanted):
        r = have.get(name)
        if r is None:
            out.append(Finding("error", f"release {name} is not installed", "run `heliohub up`"))
        elif r.status != "deployed":
            out.append(
                Finding(
                    "error",
                    f"release {name} is {r.status}",
                    "run `heliohub up` again; if it stays so, `helm history`",
                )
            )
        else:
            out.append(ok(f"release {name}: {r.chart} {r.status}"))
    for pod in ins.not_ready:
        out.append(
            Finding(
                "error",
                f"pod {pod.name} not ready ({pod.phase}: {pod.reason})",
                _pod_fix(pod.reason),
            )
        )
    for claim in ins.claims:
        if claim.phase != "Bound":
            fix = "check its storage class (`kubernetes.storage_class`)"
            if claim.name == SHARED_PVC:
                fix = (
                    "the shared directory needs a ReadWriteMany storage class: set "
                    "kubernetes.storage_class to one, or storage.shared.enabled: false"
                )
            elif claim.name == HOME_PVC:
                fix = "the EFS volume did not bind: is the EFS CSI driver add-on installed?"
            elif claim.name == "hub-db-dir" and config.provider == "aws":
                fix = (
                    "the hub database needs EBS volumes: the aws-ebs-csi-driver add-on must "
                    "be installed on the cluster"
                )
            out.append(Finding("error", f"claim {claim.name} is {claim.phase}", fix))
    if ins.lb_hostname:
        out.append(ok(f"load balancer {ins.lb_hostname}"))
    else:
        out.append(
            Finding(
                "error",
                "proxy-public has no load balancer address",
                "the cluster needs LoadBalancer support (a cloud, or MetalLB)",
            )
        )
    if ins.domain:
        if ins.dns_ok:
            out.append(ok(f"{ins.domain} resolves to the load balancer"))
        elif ins.lb_hostname:
            out.append(
                Finding(
                    "error",
                    f"{ins.domain} does not resolve to {ins.lb_hostname}",
                    f"create the record {ins.domain} CNAME {ins.lb_hostname}, or on "
                    "AWS run `heliohub up` (it upserts Route53)",
                )
            )
    cert = ins.certificate
    if cert is not None:
        if not cert.valid:
            out.append(
                Finding(
                    "error",
                    f"{ins.domain}: {cert.describe()}",
                    "once DNS resolves, `heliohub up` enables Let's Encrypt and "
                    "restarts autohttps once; check Let's Encrypt rate limits",
                )
            )
        elif cert.not_after and cert.not_after - dt.datetime.now(dt.UTC) < dt.timedelta(
            days=CERT_WARN_DAYS
        ):
            out.append(
                Finding(
                    "warning",
                    f"certificate expires {cert.not_after:%Y-%m-%d}",
                    "autohttps renews it; if not, restart it with `heliohub up`",
                )
            )
        else:
            out.append(ok(f"certificate {cert.describe()}"))
    for pool in ins.pools:
        if pool.ready < pool.desired:
            out.append(
                Finding(
                    "warning",
                    f"node pool {pool.name}: {pool.ready} of {pool.desired} nodes ready",
                    "new nodes take a few minutes; if it stays, check the node "
                    "group's health in EKS (instance types in the region)",
                )
            )
    return out
