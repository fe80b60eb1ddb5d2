"""Sign-in under attack (issue 15): the throttle is atomic across threads and server processes,
counts failures per account *and* per client (unknown names too), bounds the argon2 hashes running
at once, and does not let someone else's failures keep the owner out of their own browser.

Against SQLite and a real PostgreSQL; time comes from an injected clock, never from sleeping
(except the fake hasher that holds a slot long enough to see overlap)."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from web_support import PASSWORD, Clock, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

NOW = 1_700_000_000.0


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb, Clock(NOW), users=("alice", "bob"))
    yield app
    app.state.ctx.db.dispose()


@pytest.fixture
def checked(monkeypatch):
    """Counts the passwords actually checked (argon2 verifications)."""
    from partnerdx.web import auth
    calls: list[str] = []
    original = auth.verify_password

    def counting(stored, password):
        calls.append(password)
        return original(stored, password)
    monkeypatch.setattr(auth, "verify_password", counting)
    return calls


def test_100_parallel_wrong_guesses_check_at_most_the_free_ones_across_two_servers(app, db_url, checked):
    from partnerdx.web import auth
    from partnerdx.web.db import open_database
    ctx = app.state.ctx
    other = open_database(db_url)                          # a second server process sharing the database
    try:
        def guess(n: int) -> auth.SignIn:
            db = ctx.db if n % 2 else other
            return auth.sign_in(db, "alice", f"guess {n}", NOW, client=f"10.0.{n // 250}.{n % 250}",
                                secret=ctx.secret)
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(guess, range(100)))
    finally:
        other.dispose()
    assert not any(r.ok for r in results)
    assert len(checked) <= auth.FREE_FAILURES + 1, len(checked)
    refused = [r for r in results if r.retry_after]
    assert len(refused) == 100 - len(checked) and {r.refused_for for r in refused} == {"account"}
    right = auth.sign_in(ctx.db, "alice", PASSWORD, NOW, client="10.9.9.9", secret=ctx.secret)
    assert right.retry_after > 0 and len(checked) <= auth.FREE_FAILURES + 1     # refused unchecked, too


def test_random_account_names_from_one_client_are_throttled_and_cost_as_much_as_real_ones(app, checked):
    from partnerdx.web import auth
    ctx = app.state.ctx
    results = [auth.sign_in(ctx.db, f"nobody{n}", "guess", NOW, client="203.0.113.5", secret=ctx.secret)
               for n in range(30)]
    assert len(checked) == auth.CLIENT_FREE_FAILURES + 1                     # each unknown name was hashed
    assert all(r.refused_for == "client" for r in results[auth.CLIENT_FREE_FAILURES + 1:])
    # another client is not affected; a known name costs the same single verification
    checked.clear()
    assert not auth.sign_in(ctx.db, "bob", "guess", NOW, client="198.51.100.1", secret=ctx.secret).ok
    assert not auth.sign_in(ctx.db, "nobody99", "guess", NOW, client="198.51.100.2", secret=ctx.secret).ok
    assert len(checked) == 2
    # over the pages: the client's wait is named as such
    p = Person(app)
    from starlette.testclient import TestClient
    p.client = TestClient(app, client=("203.0.113.5", 40000))
    p.get("/login")
    r = p.post("/login", {"name": "alice", "password": PASSWORD, "next": "/"})
    assert r.status_code == 429 and "from this network" in r.text and int(r.headers["retry-after"]) > 0


def test_concurrent_password_hashes_are_bounded(app, monkeypatch):
    from partnerdx.web import auth
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    class SlowHasher:
        def verify(self, stored, password):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1
            return False

        def hash(self, password):
            return "$argon2id$fake"

    monkeypatch.setattr(auth, "_hasher", lambda: SlowHasher())
    ctx = app.state.ctx

    def attempt(n: int) -> str:
        try:
            result = auth.sign_in(ctx.db, f"user{n}", "guess", NOW, client=f"10.1.0.{n}", secret=ctx.secret)
            return "refused" if result.retry_after else "checked"
        except auth.Busy:                         # more than MAX_HASHES + MAX_WAITING at once: a 503
            return "busy"
    with ThreadPoolExecutor(max_workers=24) as pool:
        outcomes = list(pool.map(attempt, range(24)))
    assert 1 <= state["peak"] <= auth.MAX_HASHES
    assert outcomes.count("checked") >= auth.MAX_HASHES and set(outcomes) <= {"checked", "busy"}


def browser(app, address: str) -> Person:
    from starlette.testclient import TestClient
    p = Person(app)
    p.client = TestClient(app, follow_redirects=True, client=(address, 40000))
    return p


def test_someone_elses_failures_do_not_lock_the_owner_out_of_their_own_browser(app):
    from partnerdx.web import auth
    owner = browser(app, "198.51.100.7")
    assert owner.sign_in().status_code == 200                      # gets the device cookie of this account
    owner.post("/logout", {})
    mallory = browser(app, "203.0.113.9")
    for _ in range(auth.FREE_FAILURES + 1):
        assert mallory.sign_in(password="wrong guess").status_code == 401
    assert mallory.sign_in(password="wrong guess").status_code == 429  # the account's wait runs for guessers
    assert browser(app, "192.0.2.1").sign_in().status_code == 429        # and for a browser never used before
    r = owner.sign_in()                                                  # but not for the owner's own browser
    assert r.status_code == 200 and "Assessments" in r.text
    # a stolen or forged device cookie for another account does not help
    forged = browser(app, "203.0.113.9")
    forged.client.cookies.set("pdx_device", owner.client.cookies.get("pdx_device"), path="/login")
    for _ in range(auth.FREE_FAILURES + 1):
        forged.sign_in("bob", "wrong guess")
    assert forged.sign_in("bob", "wrong guess").status_code == 429
