"""Replace a file whole, for state and data other processes read while heliohub writes."""

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
