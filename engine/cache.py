"""A cache of validated knowledge bases, keyed by the content of every file that went into them.

Deleting the cache is always safe; a cache that cannot be read or written is simply not used.
Display paths are part of the key because messages and docs show them.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import Any

from .errors import display_path

FORMAT = "partnerdx-kb-cache-1"


def directory() -> Path | None:
    if os.environ.get("PARTNERDX_NO_CACHE"):
        return None
    env = os.environ.get("PARTNERDX_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("partnerdx", appauthor=False))


def key(files: list[Path]) -> str:
    h = hashlib.sha256(f"{FORMAT}|{sys.version_info[:2]}|{Path(__file__).parent}".encode())
    for name in sorted(Path(__file__).parent.glob("*.py")):   # engine code changes invalidate too
        h.update(name.name.encode())
        h.update(str(name.stat().st_mtime_ns).encode())
    for f in files:
        h.update(display_path(f).encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:32]


def get(k: str) -> Any:
    d = directory()
    if d is None:
        return None
    try:
        with open(d / f"kb-{k}.pickle", "rb") as f:
            return pickle.load(f)  # noqa: S301 - our own file, in the user's own cache directory
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def put(k: str, value: Any) -> None:
    d = directory()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".kb-{k}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, d / f"kb-{k}.pickle")
        for old in sorted(d.glob("kb-*.pickle"), key=lambda p: p.stat().st_mtime)[:-8]:
            old.unlink(missing_ok=True)   # keep the few most recent bases (built-in + overlays)
    except OSError:
        pass
