"""Write a rendered tree to disk and say what changed (the only I/O next to render)."""

from __future__ import annotations

from pathlib import Path


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
