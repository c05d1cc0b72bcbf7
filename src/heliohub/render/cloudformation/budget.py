"""The budget alarm in the data stack: AWS Budgets mails when spending passes the set marks.

It lives in the data stack because it should outlast a torn-down cluster: a forgotten EFS or a
leftover load balancer keeps costing after `down`.
"""

from __future__ import annotations

from troposphere import Template, budgets

from heliohub.config import HubConfig
from heliohub.render.cloudformation.naming import DEPLOYMENT_TAG

BUDGET = "CostBudget"


def _notification(
    kind: str, percent: float, emails: list[str]
) -> budgets.NotificationWithSubscribers:
    return budgets.NotificationWithSubscribers(
        Notification=budgets.Notification(
            NotificationType=kind,
            ComparisonOperator="GREATER_THAN",
            Threshold=percent,
            ThresholdType="PERCENTAGE",
        ),
        Subscribers=[budgets.Subscriber(SubscriptionType="EMAIL", Address=a) for a in emails],
    )


def add_budget(t: Template, config: HubConfig) -> None:
    budget = config.aws.budget
    if budget is None:
        return
    emails = list(budget.emails)
    notifications = [
        _notification("ACTUAL", percent, emails) for percent in sorted(set(budget.alert_at_percent))
    ]
    notifications.append(_notification("FORECASTED", 100.0, emails))
    data = budgets.BudgetData(
        BudgetName=f"heliohub-{config.name}",
        BudgetType="COST",
        TimeUnit="MONTHLY",
        BudgetLimit=budgets.Spend(Amount=budget.monthly_usd, Unit="USD"),
    )
    if budget.scope == "deployment-tag":
        # Budgets name user tags "user:<key>$<value>" in cost filters.
        data.CostFilters = {"TagKeyValue": [f"user:{DEPLOYMENT_TAG}${config.name}"]}
    t.add_resource(budgets.Budget(BUDGET, Budget=data, NotificationsWithSubscribers=notifications))
