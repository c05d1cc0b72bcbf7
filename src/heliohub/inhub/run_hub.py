"""Run JupyterHub as its `jupyterhub` command does: `python -m heliohub.inhub.run_hub -f CONFIG`.

The one difference is an import the hub never uses. jupyter-events requires
`jsonschema[format-nongpl]`, which installs rfc3987-syntax, and jsonschema's format checks import
it as the hub starts. That module builds about 35 Earley parsers of the RFC 3987 grammar while it
loads: 2.2 s of CPU on every start of a hub whose whole start takes 3-5 s, and again after every
crash. It serves only the "iri" and "iri-reference" formats, which no schema of JupyterHub,
jupyter-events or the authenticators uses. Marked as absent here, jsonschema leaves those two
formats unchecked, exactly as it does where the package is not installed.
"""

from __future__ import annotations

import sys

NOT_LOADED = ("rfc3987_syntax",)


def main(argv: list[str]) -> None:
    for name in NOT_LOADED:
        # A None entry makes `import name` raise ImportError, which jsonschema expects.
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from jupyterhub.app import main as jupyterhub_main

    sys.argv = ["jupyterhub", *argv]
    jupyterhub_main()


if __name__ == "__main__":
    main(sys.argv[1:])
