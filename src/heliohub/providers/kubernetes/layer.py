"""The Kubernetes layer: releases, manifests, DNS and HTTPS on a cluster heliohub can reach.

Used by the kubernetes provider on any cluster, and by the AWS provider after its stacks
(apply) and before deleting them (destroy).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from heliohub.config import HubConfig, LoadedConfig
from heliohub.errors import RefusedError, UserError
from heliohub.hubspec import hub_spec
from heliohub.platform import EksPlatform, ExistingCluster, Platform
from heliohub.providers.base import CheckReport, CheckRunner, Component, Reporter
from heliohub.providers.kubernetes import applied
from heliohub.providers.kubernetes import doctor as doc
from heliohub.providers.kubernetes.dns import (
    Bounds,
    CertProbe,
    Clock,
    DnsHttps,
    HttpsOutcome,
    Resolver,
    Route53Records,
    elb_zone_lookup,
    system_resolver,
    tls_probe,
    wait_for,
)
from heliohub.providers.kubernetes.eks import eks_kubeconfig, heliohub_command, write_kubeconfig
from heliohub.providers.kubernetes.helm import Helm, HelmCLI, helm_env
from heliohub.providers.kubernetes.inspect import (
    EKSNodeGroups,
    Inspection,
    NodeGroupSizes,
    collect,
    components,
)
from heliohub.providers.kubernetes.kube import Kr8sKube, Kube
from heliohub.providers.kubernetes.secrets import secret_values
from heliohub.render.helm import KubernetesRender, build
from heliohub.render.helm import releases as rel
from heliohub.render.helm.jupyterhub import port_forward_hint, public
from heliohub.render.helm.placeholders import find_placeholders
from heliohub.render.helm.release_diff import ReleaseChange, diff_releases, release_records
from heliohub.render.helm.values_check import validate_rendered
from heliohub.render.helm.wiring import (
    ADDON_NAMESPACE,
    AUTH_SECRET,
    CHECK_TOKEN_KEY,
    HUB_DB_PVC,
    HUB_SECRET,
    JUPYTERHUB_RELEASE,
    PROXY_PUBLIC_SERVICE,
    USERS_TOKEN_KEY,
)


def configured_platform(loaded: LoadedConfig) -> Platform:
    """The platform the config describes: on kubernetes its cluster (the kubeconfig resolved
    against the config file's directory); on aws the EKS cluster, before its stacks exist."""
    config = loaded.config
    if config.provider == "aws":
        return EksPlatform(region=config.aws.region)
    k8s = config.kubernetes
    return ExistingCluster(
        kubeconfig=loaded.resolve(k8s.kubeconfig) if k8s.kubeconfig else None,
        context=k8s.context,
    )


HUB_LABELS = {"app": "jupyterhub", "component": "hub", "release": JUPYTERHUB_RELEASE}
# The label the jupyterhub chart's KubeSpawner puts on every user server pod.
USER_SERVER_COMPONENT = "singleuser-server"


class KubernetesLayer:
    def __init__(
        self,
        config: LoadedConfig | HubConfig,
        reporter: Reporter,
        platform: Platform | None,
        state_dir: Path,
        kube: Kube | None = None,
        helm: Helm | None = None,
        route53: Route53Records | None = None,
        resolver: Resolver = system_resolver,
        cert_probe: CertProbe = tls_probe,
        nodegroups: NodeGroupSizes | None = None,
        bounds: Bounds | None = None,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        provided_secrets: Mapping[str, str] | None = None,
        aws_session: Any = None,
        chart_dirs: Mapping[str, Path] | None = None,
    ) -> None:
        """platform: the EKS cluster the AWS stacks made, or an existing cluster; None: the one
        the config describes (an existing cluster's kubeconfig, or EKS before it exists).
        config: pass the LoadedConfig, so secret files resolve against the config file's
        directory; with a bare HubConfig they resolve against state_dir's parent (the data
        directory). Generated secrets live in <data dir>/secrets either way.
        provided_secrets: secret values the caller already holds, by environment variable.
        chart_dirs: chart name -> a local chart folder, used by `plan` for `helm template`
        when its version is the one asked for (else the chart repository is used).
        """
        if isinstance(config, LoadedConfig):
            self.loaded = config
            self.secrets_dir = config.data_dir / "secrets"
        else:
            self.loaded = LoadedConfig(config, None, state_dir.parent.resolve())
            self.secrets_dir = state_dir.parent / "secrets"
        self.config = self.loaded.config
        self.reporter = reporter
        self.platform = platform if platform is not None else configured_platform(self.loaded)
        self.state_dir = state_dir
        self._kube = kube
        self._helm = helm
        self._route53 = route53
        self._nodegroups = nodegroups
        self.resolver = resolver
        self.cert_probe = cert_probe
        self.bounds = bounds or Bounds()
        self.clock = clock or Clock()
        self.environ = dict(os.environ if environ is None else environ)
        self.provided_secrets = dict(provided_secrets or {})
        self._session = aws_session
        self.chart_dirs = dict(chart_dirs or {})

    # -- connections, made on first use ---------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.config.kubernetes.namespace

    @property
    def eks(self) -> EksPlatform | None:
        return self.platform if isinstance(self.platform, EksPlatform) else None

    @property
    def aws(self) -> bool:
        return self.eks is not None

    def kubeconfig(self) -> tuple[Path | None, str | None]:
        """(kubeconfig path, context) heliohub uses; on EKS one it writes for the cluster."""
        platform = self.platform
        if isinstance(platform, ExistingCluster):
            return platform.kubeconfig, platform.context
        if not platform.cluster_name:
            raise UserError("the EKS cluster does not exist yet: run `heliohub up`")
        config = eks_kubeconfig(platform, self.namespace, heliohub_command())
        path = write_kubeconfig(self.state_dir / "kubeconfig", config)
        return path, config["current-context"]

    @property
    def kube(self) -> Kube:
        if self._kube is None:
            path, context = self.kubeconfig()
            self._kube = Kr8sKube(path, context)
        return self._kube

    @property
    def helm(self) -> Helm:
        if self._helm is None:
            path, context = self.kubeconfig()
            self._helm = HelmCLI(helm_env(self.state_dir, path, context, self.environ))
        return self._helm

    def session(self) -> Any:
        if self._session is None:
            import boto3

            region = self.eks.region if self.eks else self.config.aws.region
            self._session = boto3.Session(region_name=region)
        return self._session

    @property
    def route53(self) -> Route53Records | None:
        if self._route53 is None and self.eks and self.config.domain:
            session = self.session()
            self._route53 = Route53Records(
                session.client("route53"), elb_zone_lookup(session, self.eks.region)
            )
        return self._route53

    @property
    def nodegroups(self) -> NodeGroupSizes | None:
        if self._nodegroups is None and self.eks and self.eks.cluster_name:
            self._nodegroups = EKSNodeGroups(self.session().client("eks"), self.eks.cluster_name)
        return self._nodegroups

    # -- apply ----------------------------------------------------------------------------------

    def render(self) -> KubernetesRender:
        return build(self.config, self.platform)

    def _refuse_incomplete(self, rendered: KubernetesRender) -> None:
        waiting = find_placeholders(rendered.files)
        if waiting:
            lines = [f"{path}: {', '.join(names)}" for path, names in waiting.items()]
            raise RefusedError(
                "the Kubernetes layer still waits for AWS stack outputs, refusing to apply:\n  "
                + "\n  ".join(lines)
                + "\nRun `heliohub up` so the stacks produce them."
            )
        problems = validate_rendered(rendered.files)
        if problems:
            raise UserError(
                "rendered chart values fail the chart's schema (a heliohub bug):\n  "
                + "\n  ".join(str(p) for p in problems)
            )

    def _apply_manifests(self, rendered: KubernetesRender) -> bool:
        """Apply in file order; returns whether the auth Secret's values changed."""
        values = secret_values(
            rendered.settings,
            self.loaded.resolve,
            self.secrets_dir,
            self.environ,
            self.provided_secrets,
        )
        changed = False
        for _name, objects in sorted(rendered.manifests.items()):
            for obj in objects:
                if obj["kind"] == "Secret" and obj["metadata"]["name"] == AUTH_SECRET:
                    before = self.kube.read_secret(self.namespace, AUTH_SECRET)
                    changed = before is not None and before != values
                    obj = {**obj, "stringData": values}
                self.kube.apply(obj)
        return changed

    def _dns_ready(self) -> bool:
        """The domain already resolves to the existing load balancer (a later `up`)."""
        domain = self.config.domain
        if not domain:
            return False
        lb = self.kube.load_balancer_hostname(self.namespace, PROXY_PUBLIC_SERVICE)
        if not lb:
            return False
        mine = self.resolver(domain)
        return bool(mine and mine & self.resolver(lb))

    def apply(self) -> HttpsOutcome:
        rendered = self.render()
        self._refuse_incomplete(rendered)
        with self.reporter.stage("helm and cluster access"):
            self.reporter.info(
                f"helm {self.helm.version()}, Kubernetes {self.kube.server_version()}"
            )
        with self.reporter.stage("manifests"):
            secret_changed = self._apply_manifests(rendered)
        pending = self.config.https.mode == "letsencrypt" and not self._dns_ready()
        values_dir = Path(tempfile.mkdtemp(prefix="heliohub-values-"))
        try:
            os.chmod(values_dir, 0o700)
            for path, content in rendered.files.items():
                name = path.removeprefix(f"{rel.VALUES_DIR}/")
                if name.endswith(".yaml") and "/" not in name:
                    (values_dir / name).write_bytes(content)
            records = release_records(self.config, rendered.files)
            for release in rel.releases(self.config):
                extra: tuple[str, ...] = ()
                if release.name == JUPYTERHUB_RELEASE and pending:
                    extra = (rel.HTTPS_PENDING_VALUES,)
                with self.reporter.stage(f"helm {release.name} {release.chart.version}"):
                    self.helm.run(release.upgrade_args(str(values_dir), extra))
                applied.record(self.state_dir, records[release.name])
                if release.name == JUPYTERHUB_RELEASE and secret_changed:
                    # The hub reads its secrets from the environment at start only.
                    self.kube.delete_pods(self.namespace, HUB_LABELS)
            if not public(self.config):
                hint = port_forward_hint(self.config)
                self.reporter.info(hint)
                return HttpsOutcome(lb_hostname=None, url=None, notes=[hint])
            hub = next(r for r in rel.releases(self.config) if r.name == JUPYTERHUB_RELEASE)
            sequence = DnsHttps(
                self.config,
                self.kube,
                self.reporter,
                enable_letsencrypt=lambda: self.helm.run(hub.upgrade_args(str(values_dir))),
                route53=self.route53,
                hosted_zone_id=self.eks.hosted_zone_id if self.eks else None,
                resolver=self.resolver,
                cert_probe=self.cert_probe,
                bounds=self.bounds,
                clock=self.clock,
            )
            return sequence.run(letsencrypt_pending=pending)
        finally:
            shutil.rmtree(values_dir, ignore_errors=True)

    def upgrade_release(self, name: str) -> None:
        """`helm upgrade` of one release with this config's values (an upgrade step, such as
        the cluster-autoscaler image of a new Kubernetes minor)."""
        rendered = self.render()
        self._refuse_incomplete(rendered)
        release = next((r for r in rel.releases(self.config) if r.name == name), None)
        if release is None:
            raise UserError(f"this deployment has no helm release {name}")
        values_dir = Path(tempfile.mkdtemp(prefix="heliohub-values-"))
        try:
            os.chmod(values_dir, 0o700)
            for file_name in release.values:
                content = rendered.files[f"{rel.VALUES_DIR}/{file_name}"]
                (values_dir / file_name).write_bytes(content)
            with self.reporter.stage(f"helm {release.name} {release.chart.version}"):
                self.helm.run(release.upgrade_args(str(values_dir)))
            applied.record(self.state_dir, release_records(self.config, rendered.files)[name])
        finally:
            shutil.rmtree(values_dir, ignore_errors=True)

    def release_changes(self) -> list[ReleaseChange]:
        """Per release, the chart version change and the diffs of its values and of the
        manifests the chart renders from them (`helm template`), since the last `up`."""
        deployed = applied.load(self.state_dir)
        wanted = release_records(self.config, self.render().files)
        by_name = {r.name: r for r in rel.releases(self.config)}
        manifests: dict[str, tuple[str | None, str | None]] = {}
        for name, new in wanted.items():
            old = deployed.get(name)
            try:
                manifests[name] = (
                    self._template(by_name[name], old.version, old.values) if old else None,
                    self._template(by_name[name], new.version, new.values),
                )
            except UserError as exc:
                why = str(exc).splitlines()[0]
                self.reporter.warn(f"release {name}: manifests not compared ({why})")
        return diff_releases(deployed, wanted, manifests)

    def _template(self, release: rel.Release, version: str, values: Mapping[str, str]) -> str:
        """`helm template` of a release at a chart version with the given values files."""
        args = ["template", release.name]
        local = self.chart_dirs.get(release.chart.name)
        if local is not None and _chart_version(local) == version:
            args.append(str(local))
        else:
            args += [release.chart.name, "--repo", release.chart.repo, "--version", version]
        args += ["--namespace", release.namespace]
        values_dir = Path(tempfile.mkdtemp(prefix="heliohub-values-"))
        try:
            os.chmod(values_dir, 0o700)
            for file_name, text in values.items():
                (values_dir / file_name).write_text(text)
                args += ["--values", str(values_dir / file_name)]
            return self.helm.run(args)
        finally:
            shutil.rmtree(values_dir, ignore_errors=True)

    def user_server_count(self) -> int:
        """Running user servers: those a node replacement would restart."""
        return sum(
            1
            for pod in self.kube.pods(self.namespace)
            if pod.labels.get("component") == USER_SERVER_COMPONENT and pod.phase == "Running"
        )

    # -- destroy --------------------------------------------------------------------------------

    def destroy(self, delete_data: bool = False) -> None:
        """Uninstall, then wait until the load balancer is really gone (it blocks VPC deletion)."""
        lb = self.kube.load_balancer_hostname(self.namespace, PROXY_PUBLIC_SERVICE)
        installed: set[tuple[str, str]] = set()
        for ns in {self.namespace, ADDON_NAMESPACE} if self.aws else {self.namespace}:
            installed |= {(r.name, r.namespace) for r in self.helm.releases(ns)}
        for release in reversed(rel.releases(self.config)):
            if (release.name, release.namespace) in installed:
                with self.reporter.stage(f"helm uninstall {release.name}"):
                    self.helm.run(release.uninstall_args())
                applied.forget(self.state_dir, release.name)
        with self.reporter.stage("load balancer gone"):
            still = wait_for(
                lambda: not self.kube.service_exists(self.namespace, PROXY_PUBLIC_SERVICE),
                self.bounds.lb_s,
                self.bounds,
                self.clock,
            )
            if not still:
                raise UserError(
                    f"service {PROXY_PUBLIC_SERVICE} still exists: its load balancer would "
                    "block deleting the network. Check its finalizers and events "
                    "(`heliohub doctor`), then run `heliohub down` again."
                )
        if lb and self.route53 is not None and self.config.domain:
            zone = (self.eks.hosted_zone_id if self.eks else None) or (
                self.route53.find_zone(self.config.domain, self.config.aws.hosted_zone) or (None,)
            )[0]
            if zone and self.route53.delete_if_pointing_at(zone, self.config.domain, lb):
                self.reporter.info(f"deleted the DNS record {self.config.domain}")
        if delete_data or self.aws:
            # The chart keeps its database claim on uninstall (resource-policy keep); deleted
            # while the cluster runs, its volume goes with it (reclaim policy Delete). On AWS
            # the claim dies with the cluster anyway, so keeping it would only leak the volume.
            with self.reporter.stage(f"delete PersistentVolumeClaim {HUB_DB_PVC}"):
                self.kube.delete(
                    {
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": HUB_DB_PVC, "namespace": self.namespace},
                    }
                )
        rendered = self.render()
        for _name, objects in sorted(rendered.manifests.items(), reverse=True):
            for obj in reversed(objects):
                data = obj["kind"] in (
                    "PersistentVolumeClaim",
                    "PersistentVolume",
                    "StorageClass",
                    "Namespace",
                )
                if data and not delete_data:
                    continue
                with self.reporter.stage(f"delete {obj['kind']} {obj['metadata']['name']}"):
                    self.kube.delete(obj)
        if not delete_data:
            self.reporter.info(
                "homes and shared data are kept; the hub database lives and dies with the cluster"
                if self.aws
                else "homes, shared data and the hub database are kept"
            )

    # -- status, doctor, check ------------------------------------------------------------------

    def inspect(self, helm: Helm | None = None) -> Inspection:
        namespaces = [self.namespace] + ([ADDON_NAMESPACE] if self.aws else [])
        return collect(
            self.namespace,
            self.kube,
            helm if helm is not None else self.helm,
            namespaces,
            self.config.domain,
            self.config.https.mode in ("letsencrypt", "acm"),
            self.resolver,
            self.cert_probe,
            self.nodegroups,
            exposed=public(self.config),
        )

    def status(self) -> list[Component]:
        return components(self.inspect())

    def doctor(self) -> list[doc.Finding]:
        rendered_files = build(self.config, self.platform).files
        findings = doc.config_findings(self.config, rendered_files)
        helm: Helm | None = None
        try:
            helm = self.helm
            findings.append(doc.ok(f"helm works: {helm.version()}"))
        except UserError as exc:
            helm = None
            findings.append(
                doc.Finding("error", f"helm: {exc}", "install helm (3 or 4) and put it on PATH")
            )
        try:
            findings.append(doc.ok(f"cluster reachable: Kubernetes {self.kube.server_version()}"))
        except Exception as exc:  # any failure to connect is the finding itself
            path, context = (None, None)
            with contextlib.suppress(UserError):
                path, context = self.kubeconfig()
            findings.append(
                doc.Finding(
                    "error",
                    f"cannot reach the cluster (kubeconfig {path or 'default'}, context "
                    f"{context or 'current'}): {exc}",
                    "on AWS run `heliohub up` first and check AWS credentials; otherwise set "
                    "kubernetes.kubeconfig / kubernetes.context",
                )
            )
            return findings
        findings += doc.cluster_findings(self.config, self.inspect(helm))
        return findings

    def check(self, run: CheckRunner) -> CheckReport:
        """The user's journey (`run`) against the public URL, as the check service."""
        if not public(self.config):
            raise UserError(
                f"{port_forward_hint(self.config)}; `heliohub check` needs a public hub "
                "(set https.mode)"
            )
        return run(self.hub_url(), self.check_token())

    def check_token(self) -> str:
        return self._service_token(CHECK_TOKEN_KEY)

    def users_token(self) -> str:
        """The admin token of the heliohub-users service (`heliohub users`)."""
        return self._service_token(USERS_TOKEN_KEY)

    def _service_token(self, key: str) -> str:
        data = self.kube.read_secret(self.namespace, HUB_SECRET) or {}
        token = data.get(key)
        if not token:
            raise UserError(
                f"no {key} in Secret {HUB_SECRET} of namespace {self.namespace}: is "
                "the hub installed? Run `heliohub up`."
            )
        return token

    def public_url(self, load_balancer: str | None) -> str:
        """How users reach the hub: its spec's URL, with the load balancer's host name where
        there is no domain."""
        return hub_spec(self.config, self.platform, load_balancer=load_balancer).public_url

    def hub_url(self) -> str:
        lb = (
            None
            if self.config.domain
            else self.kube.load_balancer_hostname(self.namespace, PROXY_PUBLIC_SERVICE)
        )
        if not self.config.domain and not lb:
            raise UserError("the hub has no address yet: proxy-public has no load balancer")
        return self.public_url(lb)


def _chart_version(folder: Path) -> str | None:
    try:
        meta = yaml.safe_load((folder / "Chart.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return str(meta.get("version")) if isinstance(meta, dict) else None
