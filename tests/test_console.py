"""The facilitator's console through the pages (in process, on SQLite and PostgreSQL): rename, the
links as CSV and QR codes, password change and sign-out everywhere, one-time forms, the audit log."""
from __future__ import annotations

import csv
import io
import re

import pytest

from web_support import PASSWORD, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

ORGS = ["Borough Council", "Housing Association"]
NEW_PASSWORD = "a much longer new secret"


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb, users=("alice", "bob"))
    yield app
    app.state.ctx.db.dispose()


def signed_in(app, name: str = "alice", password: str = PASSWORD) -> Person:
    person = Person(app)
    assert person.sign_in(name, password).status_code == 200
    return person


def once(page: str) -> str:
    return re.search(r'name="once" value="([^"]+)"', page).group(1)


def test_rename_links_csv_and_qr_codes(app):
    f = signed_in(app)
    aid, links = f.create("Old Name", ORGS)
    page = f.get(f"/assessments/{aid}").text
    f.post(f"/assessments/{aid}/rename", {"partnership": "  New   Name ", "once": once(page)})
    assert "<h1>New Name</h1>" in f.page
    table = list(csv.reader(io.StringIO(f.get(f"/assessments/{aid}/links.csv").text)))
    assert table[0] == ["organisation", "round", "link"]
    assert [(r[0], r[2].rsplit("/r/", 1)[1]) for r in table[1:]] == [(o, links[o][3:]) for o in ORGS]
    svg = f.get(f"/assessments/{aid}/qr/1.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text and "<script" not in svg.text
    assert f.get(f"/assessments/{aid}/qr/2.svg").status_code == 404
    other = signed_in(app, "bob")
    assert other.get(f"/assessments/{aid}/links.csv").status_code == 404
    assert other.get(f"/assessments/{aid}/qr/0.svg").status_code == 404
    log = f.get("/audit").text
    assert "renamed “Old Name” to “New Name”" in log


def test_a_form_submitted_twice_acts_once(app):
    f = signed_in(app)
    aid, _ = f.create("Twice", ORGS)
    page = f.get(f"/assessments/{aid}/rounds").text
    token = once(page)
    for _ in range(2):
        r = f.post(f"/assessments/{aid}/rounds", {"once": token})
        assert r.status_code == 200 and r.url.path == f"/assessments/{aid}"
    assert "Round 2 — open" in f.page and "Round 3" not in f.page
    assert f.get("/audit").text.count("started round 2") == 1


def test_password_change_and_sign_out_everywhere(app):
    f = signed_in(app)
    elsewhere = signed_in(app)
    f.get("/account")
    r = f.post("/account/password", {"current": "wrong password!", "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert r.status_code == 400 and "current password is wrong" in r.text
    r = f.post("/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD + "x"})
    assert r.status_code == 400 and "differ" in r.text
    r = f.post("/account/password", {"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert r.status_code == 200 and "Password changed" in r.text
    assert f.get("/").url.path == "/"                                       # this browser stays signed in
    assert elsewhere.get("/").url.path == "/login"                          # every other one is out
    assert Person(app).sign_in("alice", PASSWORD).status_code == 401
    again = signed_in(app, "alice", NEW_PASSWORD)
    f.get("/account")
    f.post("/account/sign-out-everywhere", {})
    assert f.get("/").url.path == "/login" and again.get("/").url.path == "/login"
    log = signed_in(app, "alice", NEW_PASSWORD).get("/audit").text
    assert "changed the password" in log and "signed out of every browser" in log


def test_settings_and_organisations_before_answers_arrive(app):
    f = signed_in(app)
    aid, links = f.create("Settings", ORGS)
    page = f.get(f"/assessments/{aid}/settings").text
    assert "protects anonymity" in page and "reports more gaps" in page            # each effect explained
    r = f.post(f"/assessments/{aid}/settings", {"min_group": "1", "gap": "2", "once": once(page)})
    assert r.status_code == 400 and "minimum group size is a whole number" in r.text
    r = f.post(f"/assessments/{aid}/settings", {"min_group": "4", "gap": "2", "show_individual": "1", "once": once(r.text)})
    assert "minimum group size 4" in r.text and "gap threshold 2.0" in r.text and "respondents see" in r.text
    page = f.get(f"/assessments/{aid}/settings").text
    f.post(f"/assessments/{aid}/organisations", {"add": "Fire Service", "once": once(page)})
    assert "Fire Service" in f.page
    Person(app).start(links[ORGS[0]])                                              # someone starts answering
    page = f.get(f"/assessments/{aid}/settings").text
    r = f.post(f"/assessments/{aid}/organisations", {"remove": ORGS[0], "once": once(page)})
    assert r.status_code == 400 and "has responses already" in r.text
    r = f.post(f"/assessments/{aid}/organisations", {"remove": ORGS[1], "once": once(r.text)})
    assert r.status_code == 200
    orgs = re.findall(r'<td class="org">([^<]+)</td>', f.get(f"/assessments/{aid}").text)
    assert orgs == [ORGS[0], "Fire Service"]
    log = f.get("/audit").text
    assert "added Fire Service" in log and f"removed {ORGS[1]}" in log and "minimum group 4" in log


def test_archive_hides_closes_and_retention_deletes(db_url, kb):
    from web_support import Clock
    clock = Clock()
    app = make_app(db_url, kb, clock=clock)
    try:
        f = signed_in(app)
        aid, links = f.create("Archive Me", ORGS)
        keep, _ = f.create("Keep Me", ORGS)
        p = Person(app)
        p.start(links[ORGS[0]])
        p.answer(links[ORGS[0]], ["public"])                                     # part-way, one answer
        page = f.get(f"/assessments/{aid}/archive").text
        assert "1 response(s) part-way through are kept" in page
        r = f.post(f"/assessments/{aid}/archive", {"keep_days": "-3", "once": once(page)})
        assert r.status_code == 400 and "whole number of days" in r.text
        f.post(f"/assessments/{aid}/archive", {"keep_days": "30", "once": once(r.text)})
        main, archived = f.page.split("<h2>Archived</h2>")
        assert "Archive Me" not in main and "Keep Me" in main and "deleted 30 days after archiving" in archived
        assert "Round 1 — closed" in f.get(f"/assessments/{aid}").text and ">1</td>" in f.page
        clock.advance(29 * 86400)
        f.sign_in()                                                             # the 12-hour session ended meanwhile
        assert "Archive Me" in f.get("/").text
        clock.advance(2 * 86400)
        f.sign_in()
        assert "Archive Me" not in f.get("/").text and "Keep Me" in f.page
        assert f.get(f"/assessments/{aid}").status_code == 404
        assert f.get(f"/assessments/{keep}").status_code == 200
        log = f.get("/audit").text
        assert "archived “Archive Me”, to be deleted after 30 days" in log and "30 days after archiving" in log
    finally:
        app.state.ctx.db.dispose()
