"""The deploy engine: stacks applied in order through change sets, and torn down in reverse.

Each stage is ensure-style. Before acting it looks at the stack as it is:
- absent: create it; REVIEW_IN_PROGRESS (a change set was made, never run): delete the empty
  stack, then create it;
- *_IN_PROGRESS (an interrupted run, or someone else): wait for it, then look again;
- ROLLBACK_COMPLETE / ROLLBACK_FAILED (its creation failed; nothing can update it): delete it,
  then create it;
- UPDATE_ROLLBACK_FAILED: continue the rollback, then update;
- otherwise: update it, but only when its template, parameters or tags differ from what is
  deployed, so an unchanged deployment is a handful of read calls.
So `up` after an interruption or a failure continues where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from heliohub.errors import RefusedError, UserError
from heliohub.providers.aws import changeset
from heliohub.providers.aws.clients import AWSClients
from heliohub.providers.aws.dataloss import classify
from heliohub.providers.aws.events import SUCCESS, StackWatcher, describe_stack, in_progress
from heliohub.providers.aws.stack_outputs import MissingOutput
from heliohub.providers.aws.stages import StackStage, StageContext
from heliohub.providers.aws.template_store import TemplateStore
from heliohub.providers.base import Plan, PlanChange, Reporter
from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG


class DeployEngine:
    def __init__(
        self,
        clients: AWSClients,
        reporter: Reporter,
        stages: Sequence[StackStage],
        tags: dict[str, str],
        poll_seconds: float = 5.0,
        timeout_seconds: float = 3 * 3600,
        sleep: Callable[[float], None] = time.sleep,
        template_store: TemplateStore | None = None,
    ) -> None:
        self.clients = clients
        self.template_store = template_store or TemplateStore(
            clients, tags.get(DEPLOYMENT_TAG, "heliohub")
        )
        self.reporter = reporter
        self.stages = list(stages)
        self.tags = tags
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds
        self.sleep = sleep

    @property
    def cfn(self) -> Any:
        return self.clients.client("cloudformation")

    def context(self) -> StageContext:
        return StageContext(self.clients, self.reporter)

    # -- reading -------------------------------------------------------------------------------

    def stack_outputs(self, stage: StackStage) -> dict[str, str] | None:
        stack = describe_stack(self.cfn, stage.stack_name)
        if stack is None or stack["StackStatus"] not in SUCCESS | {"UPDATE_ROLLBACK_COMPLETE"}:
            return None
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def outputs(self) -> dict[str, dict[str, str]]:
        """Outputs of every stack that is deployed, by stage key."""
        result = {}
        for stage in self.stages:
            values = self.stack_outputs(stage)
            if values is not None:
                result[stage.key] = values
        return result

    def _deployed_template(self, stage: StackStage) -> dict[str, Any] | None:
        body = self.cfn.get_template(StackName=stage.stack_name, TemplateStage="Original")
        return changeset.parse_template(body["TemplateBody"])

    def _unchanged(self, stage: StackStage, stack: dict[str, Any], params: dict[str, str]) -> bool:
        if stack["StackStatus"] not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            return False
        deployed = {
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        }
        tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
        if deployed != params or tags != self.tags:
            return False
        return self._deployed_template(stage) == json.loads(stage.template)

    def _source(self, stack: str, template: str) -> dict[str, str]:
        """Inline when small enough; through the deployment's bucket otherwise."""
        return self.template_store.source(stack, template)

    # -- plan ----------------------------------------------------------------------------------

    def plan(self) -> Plan:
        """Every change per stack. Stacks not yet created list their whole template as adds."""
        plan = Plan()
        ctx = self.context()
        for stage in self.stages:
            stack = describe_stack(self.cfn, stage.stack_name)
            new = json.loads(stage.template)
            if stack is None or stack["StackStatus"] in (
                "REVIEW_IN_PROGRESS",
                "ROLLBACK_COMPLETE",
            ):
                plan.changes += [
                    PlanChange(stage.stack_name, "add", rid, res["Type"])
                    for rid, res in sorted(new.get("Resources", {}).items())
                ]
                plan.notes.append(f"{stage.stack_name}: will be created")
                continue
            if in_progress(stack["StackStatus"]):
                plan.notes.append(
                    f"{stage.stack_name}: {stack['StackStatus']}; `up` waits for it to finish"
                )
            values = self.stack_outputs(stage)
            if values is not None:
                ctx.outputs[stage.key] = values
            try:
                params = stage.parameters(ctx)
            except MissingOutput as missing:
                plan.notes.append(
                    f"{stage.stack_name}: planned after {missing.stack}'s output "
                    f"{missing.output} is known; run `up` to see more"
                )
                continue
            if self._unchanged(stage, stack, params):
                continue
            cs = changeset.create(
                self.cfn,
                stage.stack_name,
                stage.template,
                params,
                self.tags,
                False,
                self.poll_seconds,
                self.sleep,
                self._source,
            )
            if cs.changes:
                self.cfn.delete_change_set(StackName=stage.stack_name, ChangeSetName=cs.name)
            old = self._deployed_template(stage)
            plan.changes += [classify(stage.stack_name, c, old, new) for c in cs.changes]
        if any(c.data_loss for c in plan.changes):
            plan.notes.append("changes marked DATA LOSS need `heliohub up --allow-data-loss`")
        return plan

    # -- apply ---------------------------------------------------------------------------------

    def apply(self, allow_data_loss: bool = False) -> dict[str, dict[str, str]]:
        ctx = self.context()
        for stage in self.stages:
            with self.reporter.stage(f"stack {stage.stack_name}"):
                ctx.outputs[stage.key] = self._apply_stage(stage, ctx, allow_data_loss)
                if stage.check is not None:
                    stage.check(ctx, ctx.outputs[stage.key])
        return ctx.outputs

    def _settle(self, stage: StackStage) -> dict[str, Any] | None:
        """Bring the stack to a state a change set can act on; None: it must be created."""
        while True:
            stack = describe_stack(self.cfn, stage.stack_name)
            if stack is None:
                return None
            status = stack["StackStatus"]
            if in_progress(status):
                self.reporter.info(f"{stage.stack_name} is {status}; waiting for it to finish")
                self._watch(stack["StackId"])
                continue
            if status == "REVIEW_IN_PROGRESS":
                # Created by a change set that never ran: it holds nothing; start over.
                self.reporter.info(f"{stage.stack_name}: never created; starting it over")
                self._delete(stage, stack["StackId"])
                continue
            if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
                self.reporter.info(
                    f"{stage.stack_name}: its creation failed earlier; recreating it"
                )
                self._delete(stage, stack["StackId"])
                continue
            if status == "DELETE_FAILED":
                if stage.keep_on_down:
                    raise UserError(
                        f"stack {stage.stack_name} is DELETE_FAILED; finish `heliohub down "
                        "--delete-data` first, or inspect it in the CloudFormation console"
                    )
                self._delete(stage, stack["StackId"])
                continue
            if status == "UPDATE_ROLLBACK_FAILED":
                self.reporter.info(f"{stage.stack_name}: continuing a failed rollback")
                watcher = self._watcher(stack["StackId"])
                self.cfn.continue_update_rollback(StackName=stage.stack_name)
                watcher.wait()
                continue
            changeset.discard_stale(self.cfn, stage.stack_name)
            return stack

    def _apply_stage(
        self, stage: StackStage, ctx: StageContext, allow_data_loss: bool
    ) -> dict[str, str]:
        stack = self._settle(stage)
        try:
            params = stage.parameters(ctx)
        except MissingOutput as missing:
            raise UserError(f"stack {stage.stack_name} cannot be made: {missing}") from None
        if stack is not None and self._unchanged(stage, stack, params):
            self.reporter.info(f"{stage.stack_name}: unchanged")
            return self.stack_outputs(stage) or {}
        old = self._deployed_template(stage) if stack is not None else None
        cs = changeset.create(
            self.cfn,
            stage.stack_name,
            stage.template,
            params,
            self.tags,
            stack is None,
            self.poll_seconds,
            self.sleep,
            self._source,
        )
        if not cs.changes:
            self.reporter.info(f"{stage.stack_name}: unchanged")
            return self.stack_outputs(stage) or {}
        planned = [
            classify(stage.stack_name, c, old, json.loads(stage.template)) for c in cs.changes
        ]
        lost = [c for c in planned if c.data_loss]
        if lost and not allow_data_loss:
            self.cfn.delete_change_set(StackName=stage.stack_name, ChangeSetName=cs.name)
            what = ", ".join(f"{c.action} {c.resource} ({c.resource_type})" for c in lost)
            raise RefusedError(
                f"stack {stage.stack_name}: this change would lose data: {what}. Nothing was "
                "changed. Review it with `heliohub plan`; apply it with "
                "`heliohub up --allow-data-loss` only if the data may go"
            )
        for c in planned:
            self.reporter.info(f"{c.action} {c.resource} ({c.resource_type})")
        stack_id = describe_stack(self.cfn, stage.stack_name)["StackId"]  # type: ignore[index]
        watcher = self._watcher(stack_id)
        self.cfn.execute_change_set(StackName=stage.stack_name, ChangeSetName=cs.name)
        status = watcher.wait()
        if status not in SUCCESS:
            raise self._failure(stage, status, watcher)
        return self.stack_outputs(stage) or {}

    def _watcher(self, stack_id: str) -> StackWatcher:
        watcher = StackWatcher(
            self.cfn, stack_id, self.reporter, self.poll_seconds, self.timeout_seconds, self.sleep
        )
        watcher.baseline()
        return watcher

    def _watch(self, stack_id: str) -> str:
        return self._watcher(stack_id).wait()

    def _failure(self, stage: StackStage, status: str, watcher: StackWatcher) -> UserError:
        if in_progress(status):
            return UserError(
                f"stack {stage.stack_name} is still {status} after "
                f"{self.timeout_seconds / 60:.0f} minutes; run the same command again to keep "
                "waiting"
            )
        causes = watcher.failures() or ["CloudFormation reported no failed resource"]
        return UserError(
            f"stack {stage.stack_name} ended {status}.\n  "
            + "\n  ".join(causes)
            + "\nFix the cause and run `heliohub up` again: it continues from here."
        )

    # -- destroy -------------------------------------------------------------------------------

    def _delete(self, stage: StackStage, stack_id: str) -> None:
        watcher = self._watcher(stack_id)
        self.cfn.delete_stack(StackName=stack_id)
        status = watcher.wait()
        if status != "DELETE_COMPLETE":
            causes = watcher.failures() or [status]
            raise UserError(
                f"deleting stack {stage.stack_name} ended {status}.\n  "
                + "\n  ".join(causes)
                + "\nFix the cause and run `heliohub down` again."
            )

    def destroy_stage(self, stage: StackStage) -> bool:
        """Delete one stack, waiting for anything in progress first. False: it was absent."""
        stack = describe_stack(self.cfn, stage.stack_name)
        while stack is not None and in_progress(stack["StackStatus"]):
            self.reporter.info(f"{stage.stack_name} is {stack['StackStatus']}; waiting")
            self._watch(stack["StackId"])
            stack = describe_stack(self.cfn, stage.stack_name)
        if stack is None:
            self.reporter.info(f"{stage.stack_name}: already gone")
            return False
        self._delete(stage, stack["StackId"])
        return True

    def stack_resources(self, stage: StackStage) -> list[dict[str, Any]]:
        """(Physical id, type, logical id) of every resource of a deployed stack."""
        if describe_stack(self.cfn, stage.stack_name) is None:
            return []
        result: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StackName": stage.stack_name}
        while True:
            page = self.cfn.list_stack_resources(**kwargs)
            result += page["StackResourceSummaries"]
            if not page.get("NextToken"):
                return result
            kwargs["NextToken"] = page["NextToken"]
