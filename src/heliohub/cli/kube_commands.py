"""Commands for the Kubernetes layer: doctor, and the EKS exec credential plugin."""

from __future__ import annotations

from typing import Annotated

import typer

from heliohub.cli.common import ConfigOption, handle_errors, load_config
from heliohub.cli.output import RichReporter, console


@handle_errors
def doctor(config: ConfigOption = None) -> None:
    """Explain what is wrong and how to fix it (Kubernetes: helm, cluster access, chart values,
    releases, pods, DNS and HTTPS; local: what `up` checks, and each process)."""
    from heliohub.providers import get_provider

    findings = get_provider(load_config(config), RichReporter(quiet=True)).doctor()
    marks = {"ok": "[green]✓[/]", "warning": "[yellow]![/]", "error": "[red]✗[/]"}
    for f in findings:
        console.print(f"{marks.get(f.level, '?')} {f.what}", soft_wrap=True)
        if f.fix and f.level != "ok":
            console.print(f"    fix: {f.fix}", soft_wrap=True, markup=False)
    errors = sum(f.level == "error" for f in findings)
    if errors:
        raise typer.Exit(1)


@handle_errors
def kube_credentials(
    cluster: Annotated[str, typer.Option(help="EKS cluster name.")],
    region: Annotated[str, typer.Option(help="AWS region of the cluster.")],
) -> None:
    """Print an ExecCredential with an EKS token (the kubeconfig exec plugin; no AWS CLI)."""
    from heliohub.providers.kubernetes.eks import credential_json

    print(credential_json(cluster, region))
