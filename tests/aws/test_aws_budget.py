"""`aws.budget`: an AWS Budgets budget with e-mail alerts in the data stack, cfn-lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from heliohub.config.load import parse, read_yaml
from heliohub.errors import ConfigError
from heliohub.render.cloudformation import render_aws
from heliohub.render.cloudformation.budget import BUDGET

CONFIGS = Path(__file__).parent / "configs"


def _config(budget: dict[str, Any], provider: str = "aws") -> Any:
    data = read_yaml(CONFIGS / "aws.happy.heliocloud.yaml")
    data["provider"] = provider
    data["aws"]["budget"] = budget
    return parse(data)


def _data_stack(config: Any) -> dict[str, Any]:
    return json.loads(render_aws(config)["aws/data.template.json"])


@pytest.mark.parametrize("scope", ["account", "deployment-tag"])
def test_budget_passes_cfn_lint(scope: str) -> None:
    config = _config(
        {"monthly_usd": 500, "emails": ["ops@example.org", "pi@example.org"], "scope": scope}
    )
    body = render_aws(config)["aws/data.template.json"].decode()
    matches = lint(body, config=ManualArgs(regions=[config.aws.region]))
    assert [str(m) for m in matches if m.rule.severity == "error"] == []
    assert BUDGET in json.loads(body)["Resources"]


def test_cfn_lint_catches_a_broken_budget() -> None:
    """The lint above can fail: a budget without its required BudgetType is an error."""
    template = _data_stack(_config({"monthly_usd": 500, "emails": ["ops@example.org"]}))
    del template["Resources"][BUDGET]["Properties"]["Budget"]["BudgetType"]
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
    assert any(m.rule.severity == "error" for m in matches)


def test_budget_alerts_and_scope() -> None:
    config = _config(
        {
            "monthly_usd": 1200.5,
            "emails": ["ops@example.org", "pi@example.org"],
            "alert_at_percent": [100, 50],
            "scope": "deployment-tag",
        }
    )
    props = _data_stack(config)["Resources"][BUDGET]["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": 1200.5, "Unit": "USD"}
    assert props["Budget"]["TimeUnit"] == "MONTHLY"
    assert props["Budget"]["CostFilters"] == {
        "TagKeyValue": ["user:heliohub:deployment$heliocloud"]
    }
    alerts = [
        (
            n["Notification"]["NotificationType"],
            n["Notification"]["Threshold"],
            [s["Address"] for s in n["Subscribers"]],
        )
        for n in props["NotificationsWithSubscribers"]
    ]
    both = ["ops@example.org", "pi@example.org"]
    assert alerts == [("ACTUAL", 50, both), ("ACTUAL", 100, both), ("FORECASTED", 100, both)]


def test_no_budget_no_resource_and_account_scope_has_no_filter() -> None:
    plain = parse(read_yaml(CONFIGS / "aws.happy.heliocloud.yaml"))
    assert BUDGET not in _data_stack(plain)["Resources"]
    props = _data_stack(_config({"monthly_usd": 10, "emails": ["a@example.org"]}))["Resources"][
        BUDGET
    ]["Properties"]
    assert "CostFilters" not in props["Budget"]


@pytest.mark.parametrize(
    ("budget", "provider", "expected"),
    [
        ({"monthly_usd": 0, "emails": ["a@example.org"]}, "aws", "aws.budget.monthly_usd"),
        ({"monthly_usd": 10, "emails": []}, "aws", "aws.budget.emails"),
        ({"monthly_usd": 10, "emails": ["not-an-address"]}, "aws", "aws.budget.emails[0]"),
        (
            {"monthly_usd": 10, "emails": ["a@example.org"], "scope": "team"},
            "aws",
            "aws.budget.scope",
        ),
        ({"monthly_usd": 10, "emails": ["a@example.org"]}, "kubernetes", "aws.budget: needs"),
    ],
)
def test_bad_budget_is_refused_with_its_path(
    budget: dict[str, Any], provider: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _config(budget, provider)
    assert any(expected in p for p in info.value.problems), info.value.problems
