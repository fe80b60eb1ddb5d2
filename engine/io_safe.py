"""Writes that never leave a half-written or destroyed file behind: temp file, fsync, rename.

The temporary file is private (mkstemp makes it 0600), so before the rename it gets the mode the
user would expect: an existing file keeps its own mode, a new one gets 0666 less the umask, as a
plain `open(path, "w")` would. Otherwise a report written to a shared folder or a web root would
become unreadable to everyone else.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def _umask() -> int:
    """The process umask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def write_atomic(path: Path, text: str, mode: int | None = None) -> None:
    """Replace `path` with `text` in one step; `mode` forces permissions (e.g. 0600 for private data)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    mode = _target_mode(path) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
