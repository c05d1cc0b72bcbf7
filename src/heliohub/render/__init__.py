"""Pure functions from config to artifacts. No I/O; the same config renders the same bytes.

Artifacts never hold secret values: they name where a secret is (a file or an environment
variable) and the process that needs it reads it at start.
"""

from __future__ import annotations

from heliohub.config import HubConfig


def render(config: HubConfig) -> dict[str, bytes]:
    """Every artifact for the configured provider, keyed by relative path."""
    if config.provider == "local":
        from heliohub.render.local import render_local

        return render_local(config)
    if config.provider == "kubernetes":
        from heliohub.render.helm import render_kubernetes

        return render_kubernetes(config)
    from heliohub.render.cloudformation import render_aws
    from heliohub.render.helm import render_kubernetes

    # Before the first deploy the stack outputs are unknown; the Kubernetes layer names them.
    return {**render_aws(config), **render_kubernetes(config)}
