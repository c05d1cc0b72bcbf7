# heliohub's hub.extraConfig for the jupyterhub chart: the same text for every heliohub
# deployment. The values are the chart's `custom.heliohub` (heliohub.render.helm.hub_auth,
# from the hub spec's login); secrets come from the hub's environment (the heliohub-auth
# Secret through hub.extraEnv), never from values.
import os
import sys

from z2jh import get_config

# heliohub modules the hub image lacks (a login class of heliohub's), mounted by hub.extraFiles.
_lib = get_config("custom.heliohub.lib")
if _lib:
    sys.path.insert(0, _lib)
for _trait, _env_name in sorted(get_config("custom.heliohub.traits_from_env", {}).items()):
    _cls, _name = _trait.rsplit(".", 1)
    setattr(c[_cls], _name, os.environ[_env_name])  # noqa: F821 (the chart's config)
