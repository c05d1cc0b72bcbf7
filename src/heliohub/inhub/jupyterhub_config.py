# The local hub's JupyterHub config file: the same text for every heliohub deployment.
# `heliohub render` copies it next to hub.json, which holds the values its config decides;
# heliohub.inhub.hub_config applies them, with what `heliohub up` sets in the environment.
import os

from heliohub.inhub.hub_config import configure

configure(get_config(), os.path.join(os.path.dirname(__file__), "hub.json"), os.environ)  # noqa: F821
