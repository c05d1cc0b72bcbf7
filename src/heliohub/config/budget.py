"""`aws.budget`: a monthly AWS Budgets alarm, mailed to the people who pay."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from heliohub.config.base import Strict

Email = Annotated[
    str,
    Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        max_length=254,
        description="an e-mail address such as finance@example.org",
    ),
]


class Budget(Strict):
    """An AWS Budgets cost budget with e-mail alerts, kept in the data stack."""

    monthly_usd: float = Field(gt=0, le=10_000_000, description="the monthly budget in USD")
    emails: list[Email] = Field(
        min_length=1, max_length=10, description="who gets the alerts (AWS allows 10)"
    )
    alert_at_percent: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [80.0, 100.0],
        min_length=1,
        max_length=5,
        description="alert when actual spend passes these percentages of the budget, and when "
        "the forecast passes 100%",
    )
    scope: Literal["account", "deployment-tag"] = Field(
        default="account",
        description="'account': everything the AWS account spends; 'deployment-tag': only "
        "resources tagged heliohub:deployment=<name>, which counts only after that tag is "
        "activated as a cost allocation tag in the Billing console",
    )
