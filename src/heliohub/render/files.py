"""Write a rendered tree to disk and say what changed (the only I/O next to render), and
replace one file whole, for state and data other processes read."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(path: Path, content: bytes, mode: int | None = None) -> None:
    """Write content to path through a temporary file beside it, so a reader never sees half
    of it. mode: the file's permissions whatever the umask (None: the umask decides). A link
    planted at the temporary name is refused, not followed."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    with os.fdopen(fd, "wb") as f:
        if mode is not None:
            os.fchmod(f.fileno(), mode)
        f.write(content)
    os.replace(tmp, path)


def write_tree(files: dict[str, bytes], root: Path) -> list[tuple[str, str]]:
    """Write files under root; delete files a previous render wrote that are gone now."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / ".heliohub-rendered"
    previous = set(manifest.read_text().split()) if manifest.exists() else set()
    changes: list[tuple[str, str]] = []
    for rel, content in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            what = "unchanged" if path.read_bytes() == content else "updated"
        else:
            what = "created"
        if what != "unchanged":
            path.write_bytes(content)
        changes.append((rel, what))
    for rel in sorted(previous - set(files)):
        (root / rel).unlink(missing_ok=True)
        changes.append((rel, "deleted"))
    manifest.write_text("\n".join(sorted(files)) + "\n")
    return changes
