"""Explicit stand-ins for AWS stack outputs that do not exist before the first deploy.

`heliohub render` must work before anything is deployed, so missing outputs are rendered as
`<from stack: NAME>`; the provider refuses to apply a file that still holds one.
"""

from __future__ import annotations

import re

from heliohub.platform import EksPlatform

_PATTERN = re.compile(rb"<from stack: ([a-z_]+)>")


def stack(name: str) -> str:
    return f"<from stack: {name}>"


def output(platform: EksPlatform, name: str) -> str:
    """The EKS platform's value, or its placeholder when the stacks have not produced it."""
    value = getattr(platform, name)
    return value if value else stack(name)


def find_placeholders(files: dict[str, bytes]) -> dict[str, list[str]]:
    """Rendered path -> the stack outputs it still waits for."""
    found: dict[str, list[str]] = {}
    for path, content in sorted(files.items()):
        names = sorted({m.decode() for m in _PATTERN.findall(content)})
        if names:
            found[path] = names
    return found
