"""Bad input on every route answers 4xx with the security headers and the usual page, never a 500
(issue 15): oversized ids (beyond SQLite's 2**63 and PostgreSQL's 2**31), NUL bytes, overlong fields
and malformed bodies, over the app's whole route table; and a database that cannot be reached
answers a styled 503 with Retry-After. Against SQLite and a real PostgreSQL."""
from __future__ import annotations

import itertools
import re

import pytest

from web_support import PASSWORD, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

BAD_PARAMS = {
    "aid": ["9" * 25, str(2**63), str(2**31), "0", "-1", "1%00", "%00"],
    "token": ["%00", "abc%00def", "x" * 5000],
    "item": ["%00", "stair.q01%00", "x" * 5000],
    "ext": ["csv%00", "x" * 3000],
}
NUL_FIELDS = {"csrf": "\x00", "name": "ali\x00ce", "password": "pass\x00word", "partnership": "P\x00",
              "organisations": "A\x00\nB", "min_group": "3\x00", "gap": "1.5", "item": "stair.q01\x00",
              "value": "\x00", "action": "answer", "next": "/\x00"}
BODIES = [
    ("form with NUL bytes", {"data": NUL_FIELDS}),
    ("overlong fields", {"data": {k: "x" * 200_000 for k in NUL_FIELDS}}),
    ("broken multipart", {"content": b"--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                          "headers": {"content-type": "multipart/form-data; boundary=zz"}}),
    ("multipart without boundary", {"content": b"x", "headers": {"content-type": "multipart/form-data"}}),
    ("invalid JSON", {"content": b"{\"name\": \"al", "headers": {"content-type": "application/json"}}),
    ("JSON with NUL and huge numbers", {"json": {"name": "a\x00", "password": "\x00", "partnership": "\x00",
                                                  "organisations": ["\x00"], "min_group": 10**40, "gap": 1e308,
                                                  "value": "\x00", "response_key": "\x00"}}),
    ("too large", {"content": b"a=" + b"x" * 2_000_000,
                   "headers": {"content-type": "application/x-www-form-urlencoded"}}),
]
QUERIES = ["?round=99999999999999999999", "?round=%00", "?round=-5", "?next=%00", "?format=%00", "?item=%00"]


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb)
    yield app
    app.state.ctx.db.dispose()


def routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves."""
    from starlette.routing import Route

    from partnerdx.web import api, pages
    out = []
    for r in [*app.routes, *pages.router.routes, *api.router.routes]:
        if isinstance(r, Route):
            out += [(m, r.path) for m in sorted(r.methods or ()) if m != "HEAD"]
    return out


def concrete(path: str, good: dict[str, str]) -> list[str]:
    """The path with each parameter in turn given each bad value (the others good)."""
    names = re.findall(r"{(\w+)}", path)
    out = []
    for name in names:
        for bad in BAD_PARAMS.get(name, ["%00", "x" * 5000]):
            p = path
            for other in names:
                p = p.replace("{" + other + "}", bad if other == name else good[other])
            out.append(p)
    return out


def assert_refused_well(r, what) -> None:
    """4xx (or, for someone not signed in, the redirect to the sign-in page), with the headers."""
    signin = r.status_code == 303 and r.headers["location"].startswith("/login")
    assert 400 <= r.status_code < 500 or signin, (what, r.status_code, r.text[:300])
    h = r.headers
    assert "default-src 'none'" in h.get("content-security-policy", ""), what
    assert h.get("x-frame-options") == "DENY" and h.get("cache-control") == "no-store", what
    if "text/html" in h.get("content-type", ""):
        assert '<link rel="stylesheet" href="/static/app.css">' in r.text, what


def test_every_route_answers_bad_input_with_a_4xx_and_the_security_headers(app):
    from starlette.testclient import TestClient
    f = Person(app)
    assert f.sign_in().status_code == 200
    aid, links = f.create("Northshire", ["Borough Council", "Housing Association"])
    token = TestClient(app).post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
    f.client.headers["Authorization"] = f"Bearer {token}"
    respondent = Person(app)
    respondent.start(links["Borough Council"])
    good = {"aid": str(aid), "token": links["Borough Council"][3:], "item": "stair.q01", "ext": "csv"}
    table = routes(app)
    assert len(table) >= 25, table
    tried = 0
    for (method, template), who in itertools.product(table, (f, respondent)):
        # bad path parameters, then bad query strings, then bad bodies on the good path
        for path in concrete(template, good):
            r = who.client.request(method, path, data={"csrf": who.csrf()} if method != "GET" else None,
                                   follow_redirects=False)
            assert_refused_well(r, (method, path[:80]))
            tried += 1
        good_path = re.sub(r"{(\w+)}", lambda m: good[m.group(1)], template)
        for query in QUERIES:
            r = who.client.request(method, good_path + query, follow_redirects=False)
            assert r.status_code < 500 and "default-src 'none'" in r.headers["content-security-policy"], \
                (method, good_path, query, r.status_code)
            tried += 1
        if method in ("POST", "PUT", "DELETE", "PATCH"):
            for label, body in BODIES:
                r = who.client.request(method, good_path, follow_redirects=False, **body)
                assert r.status_code < 500 and "x-frame-options" in r.headers, (method, good_path, label, r.status_code,
                                                                               r.text[:200])
                tried += 1
    assert tried > 500
    # the same with a valid CSRF token, so that the handlers themselves see the NUL bytes
    stranger = Person(app)
    stranger.get("/login")
    for name in ("ali\x00ce", "\x00", "x" * 100_000):
        r = stranger.post("/login", {"name": name, "password": "pass\x00word", "next": "/\x00"})
        assert r.status_code == 401 and "Wrong account name or password" in r.text, r.status_code
    f.get("/assessments/new")
    r = f.post("/assessments/new", {"partnership": "P\x00", "scope": "staircase", "organisations": "A\x00\nB",
                                    "min_group": "3", "gap": "1.5"})
    assert r.status_code == 400 and "control character" in r.text
    # and nothing broke: the respondent and the facilitator (still signed in) carry on
    assert respondent.client.get(links["Borough Council"] + "/q", follow_redirects=False).status_code == 200
    assert f.client.get(f"/assessments/{aid}", follow_redirects=False).status_code == 200


def test_a_database_that_cannot_be_reached_gives_a_styled_503_with_retry_after(app):
    from sqlalchemy import create_engine
    f = Person(app)
    assert f.sign_in().status_code == 200
    aid, links = f.create("Northshire", ["Borough Council"])
    ctx = app.state.ctx
    working = ctx.db.engine
    ctx.db.engine = create_engine("postgresql+psycopg://pdx:pdx@127.0.0.1:1/down",
                                  connect_args={"connect_timeout": 2})        # as during a restart
    try:
        for path in ("/", f"/assessments/{aid}", links["Borough Council"], "/api/v1/r/" + links["Borough Council"][3:]):
            r = (f if path.startswith("/assessments") or path == "/" else Person(app)).client.get(path)
            assert r.status_code == 503 and r.headers["retry-after"] == "5", (path, r.status_code)
            assert "default-src 'none'" in r.headers["content-security-policy"]
            assert "briefly unavailable" in r.text
            if not path.startswith("/api/"):
                assert '<link rel="stylesheet" href="/static/app.css">' in r.text and "<h1>Unavailable</h1>" in r.text
        r = Person(app).client.post("/login", data={"name": "alice", "password": PASSWORD})
        assert r.status_code in (403, 503)                       # no CSRF token: refused before the database
    finally:
        ctx.db.engine.dispose()
        ctx.db.engine = working
    assert f.client.get(f"/assessments/{aid}").status_code == 200       # back as soon as the database is
