"""AWSProvider: the stacks, then the Kubernetes layer on top; `down` in the other order."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from heliohub.config import HubConfig, LoadedConfig
from heliohub.eks_releases import support_line
from heliohub.errors import UserError
from heliohub.hubspec import hub_spec
from heliohub.hubspec.login import COGNITO_CLIENT_SECRET_FILE
from heliohub.platform import EksPlatform
from heliohub.providers.aws import changeset, costs, teardown
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.engine import DeployEngine
from heliohub.providers.aws.events import describe_stack, in_progress
from heliohub.providers.aws.hub_stages import hub_stages, nodegroup_outputs
from heliohub.providers.aws.preflight import (
    check_cognito_domain,
    cluster_zones,
    find_hosted_zone,
    offered_zones,
    prune_instance_types,
    run_checks,
    zone_name,
)
from heliohub.providers.aws.recorded import AWSOutputs
from heliohub.providers.aws.stack_outputs import (
    CLUSTER,
    DATA,
    ClusterOutputs,
    DataOutputs,
    DeployedStacks,
    RawOutputs,
    parse_stacks,
)
from heliohub.providers.aws.stages import StackStage
from heliohub.providers.aws.state import (
    collect_outputs,
    eks_platform,
    fetch_client_secret,
    read_outputs,
    write_outputs,
)
from heliohub.providers.aws.upgrade import (
    Checkpoint,
    EksAddonDefaults,
    deployed_versions,
    run_upgrade,
)
from heliohub.providers.aws.upgrade_plan import STACK_STEPS, UpgradePlan, UpgradeStep, plan_upgrade
from heliohub.providers.aws.upgrade_preflight import (
    Findings,
    addon_compatibility,
    check_users,
    enforce,
    upgrade_insights,
)
from heliohub.providers.base import (
    CheckReport,
    CheckRunner,
    CheckStep,
    Component,
    DownOptions,
    Finding,
    Plan,
    PreflightResult,
    Provider,
    ReleasePlan,
    Reporter,
    Status,
    UpOptions,
)
from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG, creates_user_pool
from heliohub.render.cloudformation.versions import ClusterVersions, config_versions

if TYPE_CHECKING:
    from boto3.session import Session


class HubLayer(Protocol):
    """What the AWS provider needs of the Kubernetes layer on its EKS cluster."""

    def apply(self) -> object: ...

    def destroy(self, delete_data: bool = False) -> None: ...

    def status(self) -> list[Component]: ...

    def doctor(self) -> list[Finding]: ...

    def check(self, run: CheckRunner) -> CheckReport: ...

    def user_server_count(self) -> int: ...

    def upgrade_release(self, name: str) -> None: ...


class LayerFactory(Protocol):
    """How the provider makes the Kubernetes layer on the EKS cluster its stacks made."""

    def __call__(
        self,
        *,
        config: LoadedConfig,
        reporter: Reporter,
        platform: EksPlatform,
        state_dir: Path,
        aws_session: Session,
    ) -> HubLayer: ...


StageFactory = Callable[[HubConfig, ClusterVersions], list[StackStage]]
AUTOSCALER_RELEASE = "cluster-autoscaler"


def default_kubernetes_layer(
    *,
    config: LoadedConfig,
    reporter: Reporter,
    platform: EksPlatform,
    state_dir: Path,
    aws_session: Session,
) -> HubLayer:
    """The charts, DNS and HTTPS on the cluster (imported late: another package owns it)."""
    from heliohub.providers.kubernetes.layer import KubernetesLayer

    return KubernetesLayer(
        config=config,
        reporter=reporter,
        platform=platform,
        state_dir=state_dir,
        aws_session=aws_session,
    )


@contextmanager
def aws_errors() -> Iterator[None]:
    """AWS API errors become UserErrors that say what to check; never a traceback."""
    try:
        yield
    except NoCredentialsError:
        raise UserError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), then run this again"
        ) from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise UserError(
            f"AWS refused {exc.operation_name}: {err.get('Code')}: {err.get('Message')}. "
            "Check the credentials and the IAM permissions in docs/aws.md"
        ) from None
    except BotoCoreError as exc:
        raise UserError(f"AWS call failed: {exc}") from None


class AWSProvider(Provider):
    def __init__(
        self,
        loaded: LoadedConfig,
        reporter: Reporter,
        clients: AWSClients | None = None,
        stages: Sequence[StackStage] | None = None,
        kubernetes_layer: LayerFactory | None = default_kubernetes_layer,
        poll_seconds: float = 5.0,
        stage_factory: StageFactory = hub_stages,
    ) -> None:
        """stages: fixed stages (no upgrades); stage_factory: the stages of a config rendered
        at given versions (the real templates by default; tests pass stand-ins)."""
        super().__init__(loaded, reporter)
        self.clients = clients or AWSClients(region=self.config.aws.region)
        self._stages = list(stages) if stages is not None else None
        self.kubernetes_layer = kubernetes_layer
        self.poll_seconds = poll_seconds
        self.stage_factory = stage_factory
        self._pruned: HubConfig | None = None
        self._addon_defaults: EksAddonDefaults | None = None

    @property
    def state_dir(self) -> Path:
        return self.loaded.data_dir / "state"

    @property
    def secret_file(self) -> Path:
        return self.loaded.data_dir / "secrets" / COGNITO_CLIENT_SECRET_FILE

    def stages(self, versions: ClusterVersions | None = None) -> list[StackStage]:
        """The stacks; the cluster stack pins `versions` (default: the config's, with EKS's
        add-on defaults for its minor)."""
        if self._stages is not None:
            return self._stages
        if versions is None:
            versions = self.target_versions()
        return self.stage_factory(self.pruned_config(), versions)

    def pruned_config(self) -> HubConfig:
        """The config without the instance types the region cannot offer (asked once)."""
        if self._pruned is not None:
            return self._pruned
        config = self.config
        types = sorted({t for p in config.aws.node_pools for t in p.instance_types})
        azs = cluster_zones(config, self.clients)
        zones = offered_zones(self.clients, types, azs)
        pruned, notes, problems = prune_instance_types(config, zones, azs)
        if config.aws.unavailable_instance_types == "fail" and notes:
            raise UserError(
                "; ".join(notes).replace("; dropped", "") + ". Remove these types "
                "from aws.node_pools or set aws.unavailable_instance_types: drop"
            )
        if problems:
            raise UserError("; ".join(problems))
        for note in notes:
            self.reporter.warn(note)
        self._pruned = pruned
        return pruned

    def engine(self, versions: ClusterVersions | None = None) -> DeployEngine:
        return DeployEngine(
            self.clients,
            self.reporter,
            self.stages(versions),
            {DEPLOYMENT_TAG: self.config.name},
            poll_seconds=self.poll_seconds,
        )

    def deployed(self, engine: DeployEngine | None = None) -> DeployedStacks:
        """The typed outputs of the stacks that are deployed now."""
        engine = engine or self.engine()
        return self._parse(engine, engine.outputs())

    def _parse(self, engine: DeployEngine, raw: Mapping[str, RawOutputs]) -> DeployedStacks:
        names = {stage.key: stage.stack_name for stage in engine.stages}
        return parse_stacks(raw, names, nodegroup_outputs(self.config))

    # -- versions and upgrades ---------------------------------------------------------------

    def deployed_versions(self) -> ClusterVersions | None:
        """What the deployed cluster stack pins (None: no cluster stack, or fixed stages)."""
        if self._stages is not None:
            return None
        names = self.stage_factory(self.pruned_config(), config_versions(self.config))
        cluster = next((s for s in names if s.key == CLUSTER), None)
        if cluster is None:
            return None
        cfn = self.clients.client("cloudformation")
        stack = describe_stack(cfn, cluster.stack_name)
        if stack is None or stack["StackStatus"] in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE"):
            return None
        raw = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        outputs = ClusterOutputs.parse(cluster.stack_name, raw, nodegroup_outputs(self.config))
        template = None
        if outputs.kubernetes_version is None:
            body = cfn.get_template(StackName=cluster.stack_name, TemplateStage="Original")
            template = changeset.parse_template(body["TemplateBody"])
        return deployed_versions(outputs, template)

    def addon_defaults(self, deployed: ClusterVersions | None) -> EksAddonDefaults:
        if self._addon_defaults is None:
            self._addon_defaults = EksAddonDefaults(
                self.clients.client("eks"), deployed, self.reporter
            )
        return self._addon_defaults

    def target_versions(self) -> ClusterVersions:
        deployed = self.deployed_versions()
        minor = self.config.aws.kubernetes_version
        return config_versions(self.config, self.addon_defaults(deployed)(minor))

    def upgrade_plan(self) -> UpgradePlan | None:
        """The upgrade steps from the deployed cluster to the config; None: nothing deployed."""
        deployed = self.deployed_versions()
        if deployed is None:
            return None
        return plan_upgrade(self.config, deployed, self.addon_defaults(deployed))

    def _config_at(self, minor: str) -> LoadedConfig:
        aws = self.config.aws.model_copy(update={"kubernetes_version": minor})
        return dataclasses.replace(self.loaded, config=self.config.model_copy(update={"aws": aws}))

    def _preflight_upgrade(self, plan: UpgradePlan, options: UpOptions) -> None:
        findings: list[Findings] = []
        first = next((s for s in plan.steps if s.kind == "control-plane"), None)
        deployed = self.deployed_versions()
        if first is not None:
            findings.append(self._insights(first.minor, options))
            if deployed is not None and deployed.addons:
                findings.append(
                    addon_compatibility(
                        self.clients.client("eks"), dict(deployed.addons), first.minor
                    )
                )
        findings.append(
            check_users(
                self._user_servers,
                plan.replaces_nodes,
                options.during_maintenance,
                options.confirm,
            )
        )
        enforce(findings, self.reporter.warn)

    def _insights(self, minor: str, options: UpOptions) -> Findings:
        cluster = self.deployed().cluster
        if cluster is None:
            return Findings(warnings=["the cluster's name is unknown: EKS insights not read"])
        found = upgrade_insights(self.clients.client("eks"), cluster.cluster_name, minor)
        if found.problems and options.ignore_insights:
            found.warnings += [f"{p} (ignored: --ignore-insights)" for p in found.problems]
            found.problems = []
        elif found.problems:
            found.problems.append(
                "fix these (the EKS console shows each insight with its recommendation), or "
                "upgrade anyway with `heliohub up --ignore-insights`"
            )
        return found

    def _user_servers(self) -> int:
        deployed = self.deployed()
        if self.kubernetes_layer is None or deployed.cluster is None:
            return 0
        layer = self._layer(self._outputs(deployed))
        return int(layer.user_server_count())

    def _upgrade(self, plan: UpgradePlan, options: UpOptions) -> None:
        self.reporter.info(
            f"upgrading Kubernetes {plan.current} -> {plan.target} in {len(plan.steps)} steps"
        )
        self._preflight_upgrade(plan, options)

        def stack_step(step: UpgradeStep) -> None:
            if step.kind == "control-plane" and step.minor != plan.steps[0].minor:
                enforce([self._insights(step.minor, options)], self.reporter.warn)
            self.engine(step.versions).apply(allow_data_loss=options.allow_data_loss)

        def autoscaler_step(step: UpgradeStep) -> None:
            deployed = self.deployed()
            if self.kubernetes_layer is None or deployed.cluster is None:
                self.reporter.info("no Kubernetes layer: nothing to update")
                return
            layer = self._layer(self._outputs(deployed), self._config_at(step.minor))
            layer.upgrade_release(AUTOSCALER_RELEASE)

        actions: dict[str, Callable[[UpgradeStep], None]] = dict.fromkeys(STACK_STEPS, stack_step)
        actions["autoscaler"] = autoscaler_step
        actions["charts"] = lambda step: self._apply_all(options)
        checkpoint = Checkpoint(self.state_dir, self.config.aws.region)
        run_upgrade(plan, actions, checkpoint, self.reporter)

    def _layer(self, outputs: AWSOutputs, loaded: LoadedConfig | None = None) -> HubLayer | None:
        if self.kubernetes_layer is None:
            return None
        return self.kubernetes_layer(
            config=loaded or self.loaded,
            reporter=self.reporter,
            platform=eks_platform(outputs),
            state_dir=self.state_dir,
            aws_session=self.clients.session(),
        )

    def _outputs(self, stacks: DeployedStacks) -> AWSOutputs:
        config = self.config
        account = self.clients.client("sts").get_caller_identity()["Account"]
        existing = config.aws.network.existing
        secret_file = None
        pool = stacks.data.user_pool_id if stacks.data else None
        client = stacks.cluster.user_pool_client_id if stacks.cluster else None
        auth_pool = getattr(config.auth, "user_pool_id", None)
        if client and (pool or auth_pool):
            fetch_client_secret(self.clients, pool or auth_pool, client, self.secret_file)
            secret_file = str(self.secret_file)
        zone = zone_name(config) if config.domain else None
        found = find_hosted_zone(self.clients, zone) if zone else None
        return collect_outputs(
            region=config.aws.region,
            account_id=account,
            stacks=stacks,
            existing_subnets=(list(existing.private_subnet_ids), list(existing.public_subnet_ids))
            if existing
            else None,
            client_secret_file=secret_file,
            hosted_zone_id=found["Id"].rsplit("/", 1)[-1] if found else None,
        )

    # -- Provider ------------------------------------------------------------------------------

    def plan(self) -> Plan:
        with aws_errors():
            upgrade = self.upgrade_plan()
            plan = self.engine().plan()
            stages = self.stages()
            before = costs.deployed_templates(self.clients, stages)
            after = {stage.key: json.loads(stage.template) for stage in stages}
            plan.notes.append(costs.idle_change_note(self.config.aws.region, before, after))
            deployed = self.deployed()
            if self.kubernetes_layer is not None and deployed.cluster is not None:
                layer = self._layer(self._outputs(deployed))
                plan.releases = [
                    ReleasePlan(c.headline(), c.diff + c.manifest_diff)
                    for c in layer.release_changes()
                ]
        if upgrade is not None and upgrade.steps:
            plan.steps = [s.summary for s in upgrade.steps]
            plan.notes += list(upgrade.notes)
            plan.notes.append(
                f"Kubernetes {upgrade.current} -> {upgrade.target}: `up` runs the steps above in "
                "order; the resource changes listed are those of all steps together"
            )
        return plan

    def _check_cognito_domain(self, engine: DeployEngine) -> None:
        """A taken prefix would fail the cluster stack after EKS is up, and roll it all back."""
        if not creates_user_pool(self.config):
            return
        data = next((s for s in engine.stages if s.key == DATA), None)
        raw = engine.stack_outputs(data) if data else None
        ours = DataOutputs.parse(data.stack_name, raw).user_pool_id if data and raw else None
        result = check_cognito_domain(self.config, self.clients, ours)
        if not result.ok:
            raise UserError(f"Cognito domain: {result.detail}; {result.fix}. Nothing was changed")

    def up(self, options: UpOptions) -> Status:
        with aws_errors():
            self._check_cognito_domain(self.engine())
            upgrade = self.upgrade_plan()
            if upgrade is not None and upgrade.steps:
                self._upgrade(upgrade, options)
            else:
                self._apply_all(options)
            return self.status()

    def _apply_all(self, options: UpOptions) -> None:
        """Every stack at the config's versions, the recorded outputs, then the charts."""
        engine = self.engine()
        stacks = self._parse(engine, engine.apply(allow_data_loss=options.allow_data_loss))
        outputs = self._outputs(stacks)
        path = write_outputs(self.state_dir, outputs)
        self.reporter.info(f"outputs recorded in {path}")
        layer = self._layer(outputs)
        if layer is not None:
            layer.apply()

    def down(self, options: DownOptions) -> None:
        if options.delete_data and options.confirmed_name != self.config.name:
            raise UserError(f"--delete-data needs the deployment name '{self.config.name}' typed")
        with aws_errors():
            engine = self.engine()
            deployed = self.deployed(engine)
            if deployed.cluster is not None:
                layer = self._layer(self._outputs(deployed))
                if layer is not None:
                    with self.reporter.stage("remove the Kubernetes layer"):
                        layer.destroy(delete_data=options.delete_data)
            # CloudFormation keeps its own copy of every template; the uploads can go first.
            if engine.template_store.delete():
                self.reporter.info("deleted the template bucket")
            report = teardown.destroy(engine, options.delete_data, DEPLOYMENT_TAG, self.config.name)
            if options.delete_data:
                (self.state_dir / "aws.json").unlink(missing_ok=True)
                self.secret_file.unlink(missing_ok=True)
            else:
                write_outputs(self.state_dir, self._outputs(self.deployed(engine)))
            teardown.check_report(report, self.reporter)

    def status(self) -> Status:
        components = []
        with aws_errors():
            for stage in self.stages():
                stack = describe_stack(self.clients.client("cloudformation"), stage.stack_name)
                if stack is None:
                    components.append(
                        Component(name=stage.stack_name, state="stopped", detail="absent")
                    )
                    continue
                s = stack["StackStatus"]
                state = (
                    "pending"
                    if in_progress(s)
                    else "running"
                    if s in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
                    else "failed"
                )
                components.append(Component(name=stage.stack_name, state=state, detail=s))
        states = {c.state for c in components}
        overall = (
            "running"
            if states == {"running"}
            else "stopped"
            if states == {"stopped"}
            else "partial"
        )
        if states == {"running"} and self.kubernetes_layer is not None:
            # The stacks are only half of the deployment: the hub runs in the cluster.
            with aws_errors():
                layer = self._layer(self._outputs(self.deployed()))
            layer_components = layer.status()
            components += layer_components
            if any(c.state != "running" for c in layer_components):
                overall = "partial"
        with aws_errors():
            deployed = self.deployed_versions()
        running = deployed.control_plane if deployed else self.config.aws.kubernetes_version
        recorded = read_outputs(self.state_dir)
        upgrading = recorded.upgrade if recorded else None
        return Status(
            name=self.config.name,
            provider="aws",
            state=overall,  # type: ignore[arg-type]
            url=hub_spec(self.config).public_url if self.config.domain else None,
            components=components,
            notes=[
                f"outputs: {self.state_dir / 'aws.json'}",
                support_line(running, self.config.aws.support_policy, date.today())
                + ("" if deployed else " (configured; not deployed yet)"),
            ]
            + (
                [
                    f"an upgrade to Kubernetes {upgrading.target} was interrupted after "
                    f"{len(upgrading.done)} step(s); `heliohub up` continues it"
                ]
                if upgrading
                else []
            ),
        )

    def doctor(self) -> list[Finding]:
        """The Kubernetes layer's findings, once the cluster stack exists."""
        with aws_errors():
            deployed = self.deployed()
            if deployed.cluster is None:
                raise UserError("the cluster stack is not deployed yet: run `heliohub up` first")
            layer = self._layer(self._outputs(deployed))
        if layer is None:
            raise UserError("this AWS provider has no Kubernetes layer to examine")
        return layer.doctor()

    def logs(self, follow: bool, lines: int = 200) -> Iterator[str]:
        """The hub, proxy, gateway and user pods of the EKS cluster, through its API."""
        from heliohub.providers.kubernetes.provider import kube_logs

        with aws_errors():
            deployed = self.deployed()
            if deployed.cluster is None:
                raise UserError("the cluster stack is not deployed yet: run `heliohub up` first")
            layer = self._layer(self._outputs(deployed))
        if layer is None:
            raise UserError("this AWS provider has no Kubernetes layer to read logs from")
        return kube_logs(layer.kube, layer.namespace, follow, lines)

    def check(self, run: CheckRunner) -> CheckReport:
        report = CheckReport()
        for component in self.status().components:
            start = time.monotonic()
            report.steps.append(
                CheckStep(
                    name=f"stack {component.name}",
                    ok=component.state == "running",
                    seconds=time.monotonic() - start,
                    detail=component.detail,
                )
            )
        if report.ok and self.kubernetes_layer is not None:
            with aws_errors():
                layer = self._layer(self._outputs(self.deployed()))
            if layer is not None:
                report.steps += layer.check(run).steps
        return report

    def preflight(self) -> list[PreflightResult]:
        """The account checks (`validate --online`): credentials, instance types, quotas,
        Cognito domain, Route53 zone, Kubernetes version."""
        state = read_outputs(self.state_dir)
        return run_checks(self.config, self.clients, state.user_pool_id if state else None)
