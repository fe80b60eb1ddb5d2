"""Saved questionnaire sessions: one JSON file each, written atomically after every answer.

A corrupted file is never overwritten: it is renamed aside and the user is told where it went.
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError, Problem
from .io_safe import write_atomic

VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def home() -> Path:
    """PARTNERDX_HOME, else the user's data directory (XDG on Linux)."""
    env = os.environ.get("PARTNERDX_HOME")
    if env:
        return Path(env)
    from platformdirs import user_data_dir
    return Path(user_data_dir("partnerdx", appauthor=False))


def sessions_dir() -> Path:
    d = home() / "sessions"
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class Session:
    name: str
    scope: str | None = None
    partnership: str | None = None
    answers: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    history: list = field(default_factory=list)       # item ids in the order they were answered/skipped
    checklists: dict = field(default_factory=dict)    # instrument -> ticked / recorded-by-checklist items
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    version: int = VERSION

    @property
    def path(self) -> Path:
        return sessions_dir() / f"{self.name}.json"

    def save(self) -> None:
        self.updated = time.time()
        write_atomic(self.path, json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n",
                     mode=0o600)   # answers in progress are the user's own, whatever the umask


class CorruptSession(Exception):
    def __init__(self, path: Path, moved_to: Path, reason: str):
        self.path, self.moved_to, self.reason = path, moved_to, reason
        super().__init__(f"{path}: session file is unreadable ({reason}); kept aside as {moved_to}")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InputError([Problem("<command line>", None, name,
                                  "session names use letters, digits, '.', '_' or '-' (up to 64)")])


def load(name: str) -> Session | None:
    """The saved session, None when there is none; CorruptSession after moving a bad file aside."""
    check_name(name)
    path = sessions_dir() / f"{name}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("answers"), dict):
            raise ValueError("not a partnerdx session")
        known = {k: data[k] for k in Session.__dataclass_fields__ if k in data}
        return Session(**known)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        moved = path.with_name(f"{path.stem}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}.json")
        os.replace(path, moved)
        raise CorruptSession(path, moved, str(exc).splitlines()[0][:120]) from None


def list_sessions() -> list[Session]:
    out = []
    for p in sorted(sessions_dir().glob("*.json")):
        if ".corrupt-" in p.name:
            continue
        try:
            s = load(p.stem)
        except (CorruptSession, InputError):
            continue
        if s:
            out.append(s)
    return out
