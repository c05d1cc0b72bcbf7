"""What `heliohub up` passes to the local hub and its services through the environment: the
values that depend on this machine or this run (paths, free ports, the deployment id, the
isolation `auto` resolves to, secrets). Everything the config decides is in the rendered data
files instead.
"""

from __future__ import annotations

DATA_DIR = "HELIOHUB_DATA_DIR"
BIN_DIR = "HELIOHUB_BIN_DIR"
USER_BIN_DIR = "HELIOHUB_USER_BIN_DIR"
PROXY_COMMAND = "HELIOHUB_PROXY_COMMAND"
DEPLOYMENT_ID = "HELIOHUB_DEPLOYMENT_ID"
ISOLATION = "HELIOHUB_ISOLATION"
HUB_PORT = "HELIOHUB_HUB_PORT"
PROXY_API_PORT = "HELIOHUB_PROXY_API_PORT"
GATEWAY_PORT = "HELIOHUB_GATEWAY_PORT"
GATEWAY_API_PORT = "HELIOHUB_GATEWAY_API_PORT"
CHECK_TOKEN = "HELIOHUB_CHECK_TOKEN"
GATEWAY_TOKEN = "HELIOHUB_GATEWAY_TOKEN"
CULLER_TOKEN = "HELIOHUB_CULLER_TOKEN"
USERS_TOKEN = "HELIOHUB_USERS_TOKEN"
PROXY_TOKEN = "HELIOHUB_PROXY_TOKEN"
GATEWAY_ENCRYPT_KEY = "HELIOHUB_GATEWAY_ENCRYPT_KEY"
SSL_CERT = "HELIOHUB_SSL_CERT"
SSL_KEY = "HELIOHUB_SSL_KEY"

# By purpose.
RUNTIME_ENV = {
    DATA_DIR: "absolute data directory",
    BIN_DIR: "directory of heliohub's jupyterhub and dask-gateway-server executables",
    USER_BIN_DIR: "the user environment's bin directory: servers and workers run it",
    PROXY_COMMAND: "configurable-http-proxy executable (supervisord.conf runs it)",
    DEPLOYMENT_ID: "marks every process of this deployment",
    ISOLATION: "none or system-users",
    HUB_PORT: "the hub's internal port",
    PROXY_API_PORT: "the proxy's REST API port",
    GATEWAY_PORT: "the gateway's HTTP and scheduler port",
    GATEWAY_API_PORT: "the gateway's private API (its clusters' heartbeats)",
    CHECK_TOKEN: "token of the heliohub-check service",
    GATEWAY_TOKEN: "token of the dask-gateway service",
    CULLER_TOKEN: "token of the idle-culler service",
    GATEWAY_ENCRYPT_KEY: "key of the gateway's encrypted cluster database",
    USERS_TOKEN: "token of the heliohub-users service",
    PROXY_TOKEN: "token of the proxy's REST API",
}
# The ones of RUNTIME_ENV that are secrets.
SECRET_ENV = [
    CHECK_TOKEN,
    USERS_TOKEN,
    GATEWAY_TOKEN,
    CULLER_TOKEN,
    GATEWAY_ENCRYPT_KEY,
    PROXY_TOKEN,
]
HTTPS_ENV = {SSL_CERT: "certificate file served by the proxy", SSL_KEY: "its key"}
# What the gateway's config reads (launch passes only these on).
GATEWAY_ENV = [
    DATA_DIR,
    BIN_DIR,
    USER_BIN_DIR,
    ISOLATION,
    DEPLOYMENT_ID,
    GATEWAY_PORT,
    GATEWAY_API_PORT,
]
