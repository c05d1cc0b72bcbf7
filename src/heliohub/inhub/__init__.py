"""Code that runs inside the hub, the gateway and users' servers, not in the heliohub CLI.

The local hub and gateway load static config modules (`jupyterhub_config.py`,
`dask_gateway_config.py`, the same text for every deployment) that apply the values of a
rendered data file (`hub_config.py`, `gateway_config.py`); the spawners, the gateway's backends
and options, the dashboards' guard, the OS accounts and the login glue are here too. On
Kubernetes, `chart_hub_config.py` and `chart_gateway_config.py` are the charts' extraConfig, the
same text for every deployment, reading their values from the chart values.

Nothing here imports the config models, the renderers, the providers or the CLI: the hub and
the gateway start fast, and the data files are the only way values reach them.
"""
