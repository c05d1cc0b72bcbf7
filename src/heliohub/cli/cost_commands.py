"""`heliohub cost`: what the configured aws platform costs idle, per user-hour and worker-hour."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import console
from heliohub.errors import UserError

if TYPE_CHECKING:
    from rich.table import Table

    from heliohub.cost.estimate import Estimate, HourPrice

# The default of --storage-gib, kept equal to heliohub.cost.estimate's by a test.
DEFAULT_STORAGE_GIB = 100


def _hours_table(title: str, first: str, rows: list[HourPrice]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold", box=None)
    for col in (first, "pool", "instance", "share"):
        table.add_column(col)
    table.add_column("on-demand $/h", justify="right")
    table.add_column("spot $/h", justify="right")
    table.add_column("pool is")
    for r in rows:
        table.add_row(
            r.what,
            r.pool,
            r.instance_type,
            f"{r.share:.3g}",
            f"{r.on_demand:.4f}",
            f"{r.spot:.4f}",
            r.capacity,
        )
    return table


def show_estimate(name: str, result: Estimate) -> None:
    from rich.table import Table

    console.print(f"[bold]{name}[/] on AWS {result.region}: prices from {result.source}")
    idle = Table(
        title="idle platform, per month", title_justify="left", header_style="bold", box=None
    )
    idle.add_column("item")
    idle.add_column("how much")
    idle.add_column("USD/month", justify="right")
    for line in result.idle:
        idle.add_row(line.item, line.quantity, f"{line.monthly:,.2f}")
    idle.add_row("[bold]total[/]", "", f"[bold]{result.idle_monthly:,.2f}[/]")
    console.print(idle)
    console.print(_hours_table("one user-hour, per profile", "profile", result.user_hours))
    if result.worker_hours:
        console.print(_hours_table("one Dask worker-hour", "worker", result.worker_hours))
    console.print("[bold]assumptions[/]")
    for line in result.assumptions:
        console.print(f"  - {line}", markup=False, soft_wrap=True)


@handle_errors
def cost(
    config: ConfigOption = None,
    online: Annotated[
        bool,
        typer.Option(help="Ask the AWS Price List API and spot price history (needs credentials)."),
    ] = False,
    storage_gib: Annotated[
        float, typer.Option(min=0, help="GiB kept in EFS homes, for the idle figure.")
    ] = DEFAULT_STORAGE_GIB,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Estimate what the aws platform costs: idle per month, per user-hour, per worker-hour."""
    loaded = load_config(config)
    cfg = loaded.config
    if cfg.provider != "aws":
        raise UserError(
            f"`heliohub cost` applies to provider aws only; this config has provider "
            f"{cfg.provider}, whose cost is that of the machines you run it on"
        )
    if online:
        from heliohub.providers.aws.clients import AWSClients
        from heliohub.providers.aws.costs import fetch_prices, pricing_clients
        from heliohub.providers.aws.provider import aws_errors

        clients = AWSClients(region=cfg.aws.region)
        with aws_errors():
            prices = fetch_prices(cfg, clients, pricing_clients(clients))
    else:
        from heliohub.cost.prices import shipped_prices

        prices = shipped_prices(cfg.aws.region)
    from heliohub.cost.estimate import estimate

    result = estimate(cfg, prices, storage_gib)
    if as_json:
        data = result.model_dump()
        data["idle_monthly"] = result.idle_monthly
        print(json.dumps(data, indent=2))
    else:
        show_estimate(cfg.name, result)
