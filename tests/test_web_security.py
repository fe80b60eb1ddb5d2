"""Security of `partnerdx serve`, against SQLite and a real PostgreSQL: what a respondent's link can
and cannot reach, CSRF, escaping, sign-in throttling (measured on an injected clock), cookies,
headers, and that nothing personal is stored."""
from __future__ import annotations


import pytest
from starlette.routing import Route

from web_support import PASSWORD, Clock, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

ORGS = ["Borough Council", "Housing Association"]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(db_url, kb, clock):
    app = make_app(db_url, kb, clock, users=("alice", "bob"))
    yield app
    app.state.ctx.db.dispose()


def signed_in(app, name: str = "alice") -> Person:
    p = Person(app)
    assert p.sign_in(name).status_code == 200
    return p


def api_token(app, name: str = "alice") -> dict:
    from starlette.testclient import TestClient
    token = TestClient(app).post("/api/v1/auth/token", json={"name": name, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


# ---- what a respondent's link reaches -----------------------------------------------------------

def test_a_respondent_cannot_open_the_report_or_another_organisations_answers(app):
    f = signed_in(app)
    aid, links = f.create("Northshire", ORGS)
    a, b = links[ORGS[0]], links[ORGS[1]]
    r = Person(app)
    started = r.start(a)
    cookie = next(h for h in started.history[0].headers.get_list("set-cookie") if h.startswith("pdx_r="))
    assert f"Path={a}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    r.answer(a, ["public"])
    key = r.client.cookies.get("pdx_r")
    # the report and the facilitator's pages, with the respondent's cookies: sign-in page, never data
    for path in (f"/assessments/{aid}/report", f"/assessments/{aid}/report.csv", f"/assessments/{aid}/report.json",
                 f"/assessments/{aid}", "/"):
        page = r.client.get(path)
        assert page.url.path == "/login" and "Sign in" in page.text and "Housing Association" not in page.text
    # the JSON API, with the invitation token or the response key as credentials: 401
    for headers in ({"Authorization": f"Bearer {a[3:]}"}, {"Authorization": f"Bearer {key}"}, {"X-Response-Key": key}):
        assert r.client.get(f"/api/v1/assessments/{aid}/report", headers=headers).status_code == 401
        assert r.client.get("/api/v1/assessments", headers=headers).status_code == 401
    # another organisation's link with this respondent's key: a fresh start, none of these answers
    forged = Person(app)
    forged.client.cookies.set("pdx_r", key)                         # sent on every path, the forged link's too
    page = forged.get(b)
    assert 'id="start"' in page.text and "Housing Association" in page.text
    assert forged.get(f"{b}/q").url.path == b                         # no response there: back to the start
    rk = {"X-Response-Key": key}
    assert r.client.get(f"/api/v1/r/{b[3:]}/response", headers=rk).status_code == 404
    assert r.client.put(f"/api/v1/r/{b[3:]}/response/answers/stair.q01", headers=rk, json={"value": 1}).status_code == 404
    assert r.client.post(f"/api/v1/r/{b[3:]}/response/submit", headers=rk).status_code == 404
    own = r.client.get(f"/api/v1/r/{a[3:]}/response", headers=rk).json()
    assert own["answers"] == {"context.sectors": ["public"]}


def test_unknown_or_malformed_tokens_answer_404(app):
    p = Person(app)
    for path in ("/r/unknown-token", "/r/unknown-token/q", "/r/" + "x" * 500, "/api/v1/r/unknown-token",
                 "/api/v1/r/unknown-token/response"):
        assert p.client.get(path).status_code == 404, path
    p.get("/login")
    assert p.post("/r/unknown-token/start", {}).status_code == 404
    assert p.client.post("/api/v1/r/unknown-token/responses").status_code == 404
    assert "invitation link" in p.client.get("/r/unknown-token").text


def test_facilitators_see_only_their_own_assessments(app):
    aid, _ = signed_in(app, "alice").create("Alice's", ORGS)
    bob = signed_in(app, "bob")
    assert bob.client.get(f"/assessments/{aid}").status_code == 404
    assert bob.client.get(f"/assessments/{aid}/report.json").status_code == 404
    assert "Alice" not in bob.get("/").text
    assert bob.client.get(f"/api/v1/assessments/{aid}", headers=api_token(app, "bob")).status_code == 404


# ---- CSRF ---------------------------------------------------------------------------------------

def html_post_routes() -> list[str]:
    """Every POST of the pages' router (the JSON API takes no cookie, so it needs no CSRF token)."""
    from partnerdx.web.pages import router
    return sorted(r.path for r in router.routes if isinstance(r, Route) and "POST" in (r.methods or set()))


def test_every_form_post_without_the_csrf_token_is_refused(app):
    f = signed_in(app)
    aid, links = f.create("Northshire", ORGS)
    link = links[ORGS[0]]
    resp = Person(app)
    resp.start(link)
    routes = html_post_routes()
    assert len(routes) >= 8, routes
    concrete = {"{aid}": str(aid), "{token}": link[3:]}
    for route in routes:
        path = route
        for k, v in concrete.items():
            path = path.replace(k, v)
        for who in (f, resp):
            for token in (None, "0" * 64, f.csrf() if who is resp else resp.csrf()):
                data = {"name": "alice", "password": PASSWORD, "partnership": "Forged", "scope": "staircase",
                        "organisations": "X", "item": "context.service", "value": "other", "action": "answer"}
                if token is not None:
                    data["csrf"] = token
                r = who.client.post(path, data=data)
                assert r.status_code == 403, (route, token, r.status_code)
                assert "did not come from this site" in r.text
    # nothing happened: no assessment created, round open, no answer stored, still signed in
    dash = f.get("/").text
    assert "Forged" not in dash and ">open<" in dash
    assert resp.get(f"{link}/q").url.path == f"{link}/q" and resp.current_item() == "context.sectors"


# ---- escaping -----------------------------------------------------------------------------------

def test_a_script_in_a_name_renders_as_text_everywhere(app):
    evil = "<script>alert('pdx')</script> & <img src=x onerror=alert(1)>"
    f = signed_in(app)
    aid, links = f.create(evil, [evil, "Plain Org"], show_individual=True)
    pages = [f.get("/").text, f.get(f"/assessments/{aid}").text]
    for org in (evil, "Plain Org"):
        for _ in range(3):
            p = Person(app)
            pages.append(p.start(links[org]).text)
            p.answer_all(links[org], 4 if org == evil else 1)
            pages.append(p.submit(links[org]).text)
    pages.append(Person(app).get(links[evil]).text)                          # welcome page
    f.get(f"/assessments/{aid}")
    f.post(f"/assessments/{aid}/close", {})                                 # the report is released
    pages.append(f.get(f"/assessments/{aid}/report").text)
    pages.append(f.client.get(f"/assessments/{aid}/report.html").text)
    for page in pages:
        assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in pages[1] and "&lt;script&gt;" in pages[-2]
    report_json = f.client.get(f"/assessments/{aid}/report.json").json()
    assert report_json["partnership"] == evil                                # kept as typed, only escaped on screen


# ---- passwords and throttling -------------------------------------------------------------------

def attempt(p: Person, password: str, name: str = "alice"):
    p.get("/login")
    return p.post("/login", {"name": name, "password": password, "next": "/"})


def test_wrong_password_is_refused_and_repeated_failures_are_slowed(app, clock):
    from partnerdx.web.auth import FREE_FAILURES, delay_for
    p = Person(app)
    r = attempt(p, "wrong password")
    assert r.status_code == 401 and "Wrong account name or password" in r.text and "Assessments" not in r.text
    for _ in range(FREE_FAILURES - 1):
        assert attempt(p, "wrong password").status_code == 401
    # the next failure starts the backoff: even the right password is refused until the wait is over
    assert attempt(p, "wrong password").status_code == 401
    waits = []
    for n in range(FREE_FAILURES + 1, FREE_FAILURES + 5):
        refused = attempt(Person(app), PASSWORD)                     # another browser: the same account's wait
        assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
        waits.append(int(refused.headers["retry-after"]))
        clock.advance(waits[-1] - 1)
        assert attempt(p, PASSWORD).status_code == 429                 # one second early: still refused
        clock.advance(1)
        assert attempt(p, "wrong again").status_code == 401            # checked now, and wrong: longer wait
    assert waits == [delay_for(n) for n in range(FREE_FAILURES + 1, FREE_FAILURES + 5)] == [2, 4, 8, 16]
    clock.advance(delay_for(FREE_FAILURES + 5))
    assert attempt(p, PASSWORD).status_code == 200                     # the wait is over: signed in, count cleared
    assert attempt(Person(app), "wrong password").status_code == 401
    assert attempt(Person(app), PASSWORD).status_code == 200


def test_throttling_covers_unknown_names_and_the_api_and_stores_no_address(app, clock):
    from starlette.testclient import TestClient
    c = TestClient(app)
    for _ in range(4):
        assert c.post("/api/v1/auth/token", json={"name": "mallory", "password": "guess"}).status_code == 401
    slowed = c.post("/api/v1/auth/token", json={"name": "mallory", "password": "guess"})
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "2"
    for _ in range(4):
        assert c.post("/api/v1/auth/token", json={"name": "alice", "password": "guess"}).status_code == 401
    assert c.post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).status_code == 429
    assert c.post("/api/v1/auth/token", json={"name": "bob", "password": PASSWORD}).status_code == 200
    # no column for an address or a browser, and no stored value holds the client's address
    from sqlalchemy import inspect, select
    from partnerdx.web import db as dbmod
    database = app.state.ctx.db
    columns = [c["name"] for t in inspect(database.engine).get_table_names() if t.startswith("pdx_")
               for c in inspect(database.engine).get_columns(t)]
    banned = {"ip", "addr", "address", "agent", "useragent", "host", "email", "mail"}
    assert not [c for c in columns if banned & set(c.lower().split("_"))], columns
    with database.tx() as conn:
        for table in dbmod.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert not any("testclient" in str(v) for v in row), table.name


# ---- sessions, cookies, headers -----------------------------------------------------------------

def test_session_cookie_flags_sign_out_and_no_open_redirect(app):
    p = Person(app)
    p.get("/login?next=//evil.example/x")
    assert 'value="/"' in p.page                                       # the next page is local only
    r = p.post("/login", {"name": "alice", "password": PASSWORD, "next": "//evil.example/x"})
    assert r.url.host == "testserver" and r.url.path == "/"
    set_cookie = r.history[0].headers["set-cookie"]
    assert set_cookie.startswith("pdx_session=") and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    old = p.client.cookies.get("pdx_session")
    p.post("/logout", {})
    thief = Person(app)
    thief.client.cookies.set("pdx_session", old)
    assert thief.client.get("/").url.path == "/login"


def test_security_headers_on_every_kind_of_response(app):
    f = signed_in(app)
    aid, links = f.create("Northshire", ORGS)
    responses = [f.client.get("/"), f.client.get(f"/assessments/{aid}/report"), f.client.get("/r/nope"),
                 f.client.get(links[ORGS[0]]), f.client.get("/openapi.json"), f.client.get("/api/v1/assessments"),
                 f.client.get(f"/assessments/{aid}/report.csv")]
    for r in responses:
        h = r.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"] and "script-src" not in h["content-security-policy"]
        assert "default-src 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer" and h["cache-control"] == "no-store"
    csrf_cookie = Person(app).client.get("/login").headers["set-cookie"]
    assert csrf_cookie.startswith("pdx_csrf=") and "HttpOnly" in csrf_cookie and "SameSite=Lax" in csrf_cookie


# ---- shared devices -----------------------------------------------------------------------------

def test_on_a_shared_device_the_thank_you_page_and_diagnosis_are_forgotten(app):
    from partnerdx.web.pages import THANKS_MINUTES
    f = signed_in(app)
    _, links = f.create("Northshire", ORGS, show_individual=True)
    link = links[ORGS[0]]
    r = Person(app)
    started = r.start(link)
    assert "Max-Age=5184000" in started.history[0].headers["set-cookie"]          # resumable for 60 days
    r.answer_all(link, 4)
    done = r.submit(link)
    assert "Thank you" in done.text and "Your own diagnosis" in done.text
    cookie = next(h for h in done.history[0].headers.get_list("set-cookie") if h.startswith("pdx_r="))
    assert f"Max-Age={THANKS_MINUTES * 60}" in cookie and f"Path={link}" in cookie   # then the browser forgets it
    cleared = r.post(f"{link}/finish", {})                                           # "Finish and clear this device"
    assert 'id="start"' in cleared.text and "Your own diagnosis" not in cleared.text
    assert "Thank you" not in r.get(link).text and r.client.cookies.get("pdx_r") is None
