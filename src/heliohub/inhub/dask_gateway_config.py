# The local Dask Gateway's config file: the same text for every heliohub deployment.
# `heliohub render` copies it next to gateway.json, which holds the values its config decides;
# heliohub.inhub.gateway_config applies them, with what `heliohub up` sets in the environment.
import os

from heliohub.inhub.gateway_config import configure

configure(get_config(), os.path.join(os.path.dirname(__file__), "gateway.json"), os.environ)  # noqa: F821
