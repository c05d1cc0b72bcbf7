"""Run JupyterHub as its `jupyterhub` command does: `python -m heliohub.inhub.run_hub -f CONFIG`.

The one difference is an import the hub never uses, skipped as in users' servers
(heliohub.inhub.singleuser says which and why): 2.2 s of CPU on every start of a hub whose
whole start takes 3-5 s, and again after every crash.
"""

from __future__ import annotations

import sys

from heliohub.inhub.singleuser import skip_unused_imports


def main(argv: list[str]) -> None:
    skip_unused_imports()
    from jupyterhub.app import main as jupyterhub_main

    sys.argv = ["jupyterhub", *argv]
    jupyterhub_main()


if __name__ == "__main__":
    main(sys.argv[1:])
