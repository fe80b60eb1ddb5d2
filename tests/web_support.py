"""Helpers for the web tests: a database of each kind (SQLite file, real PostgreSQL), an app with an
injected clock, a browser-like client per person, and a real `partnerdx serve` in a subprocess.

PostgreSQL comes from PARTNERDX_TEST_PG (`.ci/run` sets it): each test gets a database of its own,
dropped afterwards. Unset, the PostgreSQL cases are skipped with the reason, except in CI, where
they fail: the acceptance says the same tests run against both.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
DB_KINDS = ["sqlite", "postgresql"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def pg_base_url() -> str:
    url = os.environ.get("PARTNERDX_TEST_PG")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests, but PARTNERDX_TEST_PG is unset (.ci/run sets it)")
        pytest.skip("PostgreSQL tests need PARTNERDX_TEST_PG=postgresql://USER:PASSWORD@127.0.0.1:5432/DB "
                    "(unset on this machine; .ci/run installs PostgreSQL and sets it)")
    return url


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url
    base = pg_base_url()
    name = "pdx_test_" + secrets.token_hex(6)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(base, name)


def _drop(base: str, name: str) -> None:
    """Drop a test database. FORCE ends the test's own leftover connections; it is refused when a
    backend of another role is still attached (seen once: a server the test stopped, still closing),
    so wait for those to end and try again rather than fail the test in its teardown."""
    import time

    import psycopg
    for attempt in range(20):
        try:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            time.sleep(0.25 * (attempt + 1))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'web.db'}"
    else:
        with pg_database() as url:
            yield url


@pytest.fixture(params=DB_KINDS)
def db_url(request, tmp_path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


class Clock:
    """An injectable clock: tests move time on instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Person:
    """One browser (its own cookies): a facilitator or a respondent, driven through the HTML forms."""

    def __init__(self, app) -> None:
        from starlette.testclient import TestClient
        self.client = TestClient(app, follow_redirects=True)
        self.page = ""

    def get(self, url: str, **kw):
        r = self.client.get(url, **kw)
        self.page = r.text
        return r

    def csrf(self) -> str:
        found = CSRF.search(self.page)
        assert found, "no CSRF token on the page"
        return found.group(1)

    def post(self, url: str, data: dict, csrf: bool = True, **kw):
        body = {**data, "csrf": self.csrf()} if csrf else data
        r = self.client.post(url, data=body, **kw)
        self.page = r.text
        return r

    def sign_in(self, name: str = "alice", password: str = PASSWORD):
        self.get("/login")
        return self.post("/login", {"name": name, "password": password, "next": "/"})

    def create(self, partnership: str, organisations: list[str], scope: str = "staircase", min_group: int = 3,
               show_individual: bool = False) -> tuple[int, dict[str, str]]:
        """Create an assessment; returns its id and organisation -> invitation path (/r/TOKEN)."""
        self.get("/assessments/new")
        data = {"partnership": partnership, "scope": scope, "organisations": "\n".join(organisations),
                "min_group": str(min_group), "gap": "1.5"}
        if show_individual:
            data["show_individual"] = "1"
        r = self.post("/assessments/new", data)
        assert r.status_code == 200, r.text
        aid = int(str(r.url).rstrip("/").rsplit("/", 1)[1])
        urls = re.findall(r'class="link-url" readonly value="([^"]+)"', r.text)
        return aid, {org: "/r/" + url.rsplit("/r/", 1)[1] for org, url in zip(organisations, urls)}

    # -- respondents --
    def start(self, link: str):
        self.get(link)
        return self.post(f"{link}/start", {})

    def current_item(self) -> str | None:
        found = re.search(r'name="item" value="([^"]+)"', self.page)
        return found.group(1) if found else None

    def answer(self, link: str, value) -> str:
        """Answer the question on screen; returns its item id."""
        item = self.current_item()
        assert item, self.page[:500]
        values = value if isinstance(value, list) else [value]
        r = self.post(f"{link}/q", {"item": item, "value": [str(v) for v in values], "action": "answer"})
        assert r.status_code == 200, r.text[:500]
        return item

    def skip(self, link: str) -> str:
        item = self.current_item()
        self.post(f"{link}/q", {"item": item, "action": "skip"})
        return item

    def answer_all(self, link: str, rated, limit: int = 200) -> list[str]:
        """Answer until nothing is left: context questions skipped, rated ones with `rated`."""
        asked = []
        for _ in range(limit):
            item = self.current_item()
            if item is None:
                break
            asked.append(self.skip(link) if item.startswith("context.") else self.answer(link, rated))
        assert "Ready to submit" in self.page
        return asked

    def submit(self, link: str):
        return self.post(f"{link}/submit", {})


def make_app(db_url: str, kb, clock: Clock | None = None, users: tuple[str, ...] = ("alice",)):
    from partnerdx.web import store
    from partnerdx.web.app import create_app
    from partnerdx.web.db import open_database
    db = open_database(db_url)
    for name in users:
        store.add_user(db, name, _hash())
    return create_app(kb=kb, clock=clock or Clock(), database=db)


_HASH: list[str] = []


def _hash() -> str:
    """One argon2 hash of PASSWORD per test run (hashing costs ~0.1 s by design)."""
    if not _HASH:
        from partnerdx.web.auth import hash_password
        _HASH.append(hash_password(PASSWORD))
    return _HASH[0]


# ---- a real server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def partnerdx_command() -> list[str]:
    script = Path(sys.executable).with_name("partnerdx")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from partnerdx.cli import main; main()"]


class Server:
    """`partnerdx serve` in a subprocess on 127.0.0.1 and a free port; stopped by `stop` or `kill`."""

    def __init__(self, db_url: str, home: Path, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.db_url, self.home, self.args = db_url, home, args
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = home / f"server-{self.port}.log"

    def env(self) -> dict:
        return {**os.environ, "PARTNERDX_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}

    def add_user(self, name: str = "alice", password: str = PASSWORD) -> None:
        subprocess.run([*partnerdx_command(), "user", "add", name, "--db", self.db_url, "--password-stdin"],
                       input=password + "\n", text=True, env=self.env(), check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 60.0) -> "Server":
        import httpx
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen([*partnerdx_command(), "serve", "--db", self.db_url, "--host", "127.0.0.1",
                                      "--port", str(self.port), *self.args], stdout=handle, stderr=subprocess.STDOUT,
                                     env=self.env(), cwd=self.home)
        handle.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server did not start in {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, as in a crash or a power cut of the process."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# ---- a real browser -----------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def playwright_or_skip():
    """Playwright's sync API, driving Debian's Chromium (never `playwright install`). Skipped, with the
    reason, only off CI; in CI (.ci/run installs both) a missing browser fails the test."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is absent (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright Python client is not installed (pip install -e '.[test]')")
        sync_playwright = None
    if missing:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: " + "; ".join(missing))
        pytest.skip("; ".join(missing))
    return sync_playwright
