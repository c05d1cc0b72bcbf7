"""A user's server, started as `jupyterhub-singleuser` starts it: `python -m
heliohub_singleuser [args]`.

The local provider copies this file, as the top-level module `heliohub_singleuser`, into
<data_dir>/lab-modules on the servers' PYTHONPATH (render.local.lab_modules): the user
environment has no heliohub. So it imports nothing from heliohub.

The one difference from the `jupyterhub-singleuser` script: rfc3987-syntax, which jsonschema's
format checks load through jupyter-events, is marked absent. It builds about 35 Earley parsers
of the RFC 3987 grammar as it loads: about 2 s of every start of a server or of the hub
(heliohub.inhub.run_hub does the same there). It serves only the "iri" and "iri-reference"
formats, which no schema of Jupyter Server, JupyterLab, JupyterHub, jupyter-events or the
authenticators uses; jsonschema leaves them unchecked, as where the package is not installed.
Only the process itself is concerned: kernels are processes of their own, and users' code
there keeps every format check.
"""

from __future__ import annotations

import sys

NOT_LOADED = ("rfc3987_syntax",)


def skip_unused_imports() -> None:
    for name in NOT_LOADED:
        # A None entry makes `import name` raise ImportError, which jsonschema expects.
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def main() -> None:
    skip_unused_imports()
    from jupyterhub.singleuser import main as singleuser_main

    sys.argv[0] = "jupyterhub-singleuser"
    sys.exit(singleuser_main())


if __name__ == "__main__":
    main()
