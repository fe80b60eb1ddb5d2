"""`partnerdx serve`: what facilitators and respondents do, through the pages and the JSON API.

Every test runs against SQLite and against a real PostgreSQL (see web_support.py).
"""
from __future__ import annotations

import json
import re

import pytest

from conftest import cli, write
from web_support import PASSWORD, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

ORGS = ["Borough Council", "Housing Association", "Clinical Commissioning Group"]


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb)
    yield app
    app.state.ctx.db.dispose()


def shown(text: str) -> str:
    """Text as an autoescaping template writes it."""
    from markupsafe import escape
    return str(escape(text))


def facilitator(app) -> Person:
    person = Person(app)
    r = person.sign_in()
    assert r.status_code == 200 and "Assessments" in r.text
    return person


# ---- schema -------------------------------------------------------------------------------------

def test_schema_is_created_then_left_alone_and_a_newer_one_is_refused(db_url):
    from partnerdx.errors import InputError
    from partnerdx.web import db as dbmod
    first = dbmod.Database(db_url)
    assert first.upgrade() == 0 and first.version() == dbmod.LATEST
    secret = first.secret()
    second = dbmod.open_database(db_url)
    assert second.upgrade() == dbmod.LATEST and second.secret() == secret     # nothing re-applied
    with second.tx() as conn:
        conn.execute(dbmod.meta.update().where(dbmod.meta.c.key == "schema_version").values(value=str(dbmod.LATEST + 1)))
    with pytest.raises(InputError, match="newer than this partnerdx understands"):
        dbmod.open_database(db_url)
    first.dispose()
    second.dispose()


def test_serve_and_user_add_report_bad_input_without_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    run = cli("serve", "--db", "mysql://x@localhost/db", code=2)
    assert "unsupported database 'mysql'" in run.err
    run = cli("serve", "--db", "postgresql://pdx:secret@127.0.0.1:1/none", code=2)
    assert "cannot open the database" in run.err and "secret" not in run.err
    url = f"sqlite:///{tmp_path / 'web.db'}"
    from click.testing import CliRunner

    from partnerdx.cli import main
    ok = CliRunner().invoke(main, ["user", "add", "alice", "--db", url, "--password-stdin"], input=PASSWORD + "\n")
    assert ok.exit_code == 0 and "created facilitator account alice" in ok.output
    again = CliRunner().invoke(main, ["user", "add", "alice", "--db", url, "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 2 and "exists already; use --reset" in again.output
    short = CliRunner().invoke(main, ["user", "add", "bob", "--db", url, "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "at least 10 characters" in short.output
    prompted = CliRunner().invoke(main, ["user", "add", "carol", "--db", url], input="a long password\na long password\n")
    assert prompted.exit_code == 0, prompted.output
    reset = CliRunner().invoke(main, ["user", "add", "alice", "--db", url, "--reset", "--password-stdin"],
                               input="another long password\n")
    assert reset.exit_code == 0 and "password changed" in reset.output
    from partnerdx.web import auth
    from partnerdx.web.db import open_database
    db = open_database(url)
    assert auth.sign_in(db, "alice", "another long password", 0.0).ok
    assert not auth.sign_in(db, "alice", PASSWORD, 0.0).ok
    assert auth.sign_in(db, "carol", "a long password", 0.0).ok
    db.dispose()


def test_default_database_is_sqlite_in_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    from partnerdx.web.db import default_url
    assert default_url() == f"sqlite:///{tmp_path / 'partnerdx.db'}"


# ---- facilitators -------------------------------------------------------------------------------

def test_new_assessment_form_says_what_is_wrong(app):
    f = facilitator(app)
    f.get("/assessments/new")
    r = f.post("/assessments/new", {"partnership": " ", "scope": "everything", "organisations": "A\n a \n",
                                    "min_group": "1", "gap": "x"})
    assert r.status_code == 400
    for message in ("Give the partnership a name", "Choose one of: staircase", "“a” is listed twice",
                    "minimum group size is a whole number from 2", "threshold is a number from 0.5"):
        assert message in r.text
    assert "A\n a" in r.text                                      # what was typed is kept


def test_links_counts_close_and_new_round(app):
    f = facilitator(app)
    aid, links = f.create("Northshire Partnership", ORGS)
    assert len(set(links.values())) == 3 and all(len(v) > 30 for v in links.values())
    r1 = Person(app)
    r1.start(links[ORGS[0]])
    r1.answer_all(links[ORGS[0]], 4)
    r1.submit(links[ORGS[0]])
    Person(app).start(links[ORGS[1]])                            # started, not submitted
    counted = r'<td class="org">([^<]+)</td>.*?<td class="started">([^<]+)</td>\s*<td class="submitted">([^<]+)</td>'
    page = f.get(f"/assessments/{aid}").text
    few = "fewer than 3"                                          # open round: small counts are not told
    assert re.findall(counted, page, re.S) == [(org, few, few) for org in ORGS]
    f.post(f"/assessments/{aid}/close", {})
    rows = re.findall(counted, f.page, re.S)                      # closed: exact, as in the report
    assert rows == [(ORGS[0], "1", "1"), (ORGS[1], "1", "0"), (ORGS[2], "0", "0")]
    late = Person(app)
    assert late.get(links[ORGS[2]]).status_code == 410 and "closed" in late.page
    assert Person(app).client.post(f"/api/v1/r/{links[ORGS[2]][3:]}/responses").status_code == 410
    f.get(f"/assessments/{aid}")
    r = f.post(f"/assessments/{aid}/rounds", {})
    assert "Round 2 — open" in r.text
    new_links = re.findall(r'class="link-url" readonly value="[^"]+(/r/[^"]+)"', r.text)
    assert len(new_links) == 3 and not set(new_links) & set(links.values())
    second = Person(app)
    second.start(new_links[0])
    assert second.current_item() is not None


def test_report_and_downloads_are_those_of_assess(app, tmp_path):
    f = facilitator(app)
    aid, links = f.create("Northshire <Partnership>", ORGS)
    asked: dict[str, set] = {}
    for org, value in ((ORGS[0], 5), (ORGS[1], 2)):
        for _ in range(3):
            p = Person(app)
            p.start(links[org])
            asked[org] = set(p.answer_all(links[org], value))
            p.submit(links[org])
    f.get(f"/assessments/{aid}")
    f.post(f"/assessments/{aid}/close", {})                     # released when the round is closed
    both = {i for i in asked[ORGS[0]] & asked[ORGS[1]] if i.startswith("stair.")}
    page = f.get(f"/assessments/{aid}/report").text
    assert "Perception gaps" in page and "Housing Association" in page
    assert "| Clinical Commissioning Group | 0 |" not in page        # rendered as an HTML table
    assert re.search(r"<td>Clinical Commissioning Group</td>\s*<td[^>]*>0</td>\s*<td>suppressed", page)
    assert 'id="bars"' in page
    downloads = {}
    for ext, media in (("csv", "text/csv"), ("json", "application/json"), ("md", "text/markdown"),
                       ("html", "text/html")):
        r = f.client.get(f"/assessments/{aid}/report.{ext}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(media)
        assert f'filename="assessment-{aid}-round-1.{ext}"' in r.headers["content-disposition"]
        downloads[ext] = r.text
    web = json.loads(downloads["json"])
    assert web["respondents"] == 6 and len(web["gaps"]) == len(both) >= 5      # every item both answered
    assert {o["name"]: o["suppressed"] for o in web["organisations"]} == {ORGS[0]: False, ORGS[1]: False, ORGS[2]: True}
    csv_path = write(tmp_path / "answers.csv", downloads["csv"])
    assert "R1" not in downloads["csv"] and downloads["csv"].startswith("round,organisation,")
    run = cli("assess", csv_path, "--format", "json", "--title", "Northshire <Partnership>")
    offline = run.json()
    for key in ("gaps", "items", "agenda", "overall"):
        assert offline[key] == web[key], key
    assert [o for o in offline["organisations"]] == [o for o in web["organisations"] if o["respondents"]]
    assert "&lt;Partnership&gt;" in downloads["html"] and "<Partnership>" not in downloads["html"]


def test_report_of_two_rounds_shows_the_direction_of_travel(app):
    f = facilitator(app)
    aid, links = f.create("Two rounds", ORGS[:2])
    for link in links.values():
        for _ in range(3):
            p = Person(app)
            p.start(link)
            p.answer_all(link, 2)
            p.submit(link)
    f.get(f"/assessments/{aid}")
    r = f.post(f"/assessments/{aid}/rounds", {})
    new = re.findall(r'class="link-url" readonly value="[^"]+(/r/[^"]+)"', r.text)
    for link in new:
        for _ in range(3):
            p = Person(app)
            p.start(link)
            p.answer_all(link, 5)
            p.submit(link)
    f.get(f"/assessments/{aid}")
    f.post(f"/assessments/{aid}/close", {})
    page = f.get(f"/assessments/{aid}/report").text
    assert "Direction of travel" in page and "up the staircase" in page
    first = f.get(f"/assessments/{aid}/report?round=1").text
    assert "Direction of travel" not in first and "6 respondents in 2 organisations" in first
    assert f.client.get(f"/assessments/{aid}/report?round=3").status_code == 404


# ---- respondents --------------------------------------------------------------------------------

def test_respondent_sees_the_questionnaire_of_ask(app, kb):
    from partnerdx.questionnaire import Questionnaire
    f = facilitator(app)
    _, links = f.create("Northshire", ORGS[:1])
    link = links[ORGS[0]]
    p = Person(app)
    welcome = p.get(link).text
    assert "Borough Council" in welcome and "anonymous" in welcome
    p.post(f"{link}/start", {})
    terminal = Questionnaire(kb, "staircase")
    asked = []
    while True:
        expected = terminal.next_item()
        assert p.current_item() == expected
        if expected is None:
            break
        page = p.page
        question = kb.questions[expected]
        assert shown(question.text) in page
        assert "<details" in page and "Why is this asked?" in page
        assert shown(terminal.purpose(expected)) in page           # the purpose in plain words …
        for r in terminal.why(expected):                              # … never the findings it can change
            assert r["concludes"] not in page
        if question.type == "rated":
            assert shown(question.data["scale"]["low"]) in page and shown(question.data["scale"]["high"]) in page
            p.answer(link, 3)
            terminal.answer(expected, 3)
        else:
            assert all(shown(o["label"]) in page for o in question.data["options"])
            p.skip(link)
            terminal.answer(expected, None)
        asked.append(expected)
    assert "Ready to submit" in p.page and len(asked) >= 10


def test_answers_are_validated_back_and_resume_work(app):
    f = facilitator(app)
    _, links = f.create("Northshire", ORGS[:1], show_individual=True)
    link = links[ORGS[0]]
    p = Person(app)
    p.start(link)
    first = p.current_item()
    r = p.post(f"{link}/q", {"item": first, "action": "answer"})
    assert r.status_code == 400 and "tick at least one option" in r.text
    p.answer(link, ["public", "voluntary"])
    p.skip(link)                                     # aims
    p.answer(link, "joined_up_service")
    rated = p.answer(link, 4)
    here = p.current_item()
    r = p.post(f"{link}/q", {"item": here, "value": ["9"], "action": "answer"})
    assert r.status_code == 400 and "out of range" in r.text
    r = p.post(f"{link}/q", {"item": "t1.r01", "value": ["3"], "action": "answer"})
    assert r.status_code == 400                      # not a question of this scope
    assert p.get(f"{link}/q").status_code == 200 and p.current_item() == here
    back = re.search(r'href="([^"]+)" id="back"', p.page).group(1).replace("&amp;", "&")
    p.get(back)
    assert p.current_item() == rated and re.search(r'value="4" checked', p.page)
    p.answer(link, 2)                                # changed, and back to where we were
    assert p.current_item() == here
    # a closed tab: a new visit with the same cookies resumes at the same question
    again = Person(app)
    again.client.cookies = p.client.cookies
    again.get(link)
    assert again.current_item() == here
    # another device: a fresh start, nothing of the first respondent's
    other = Person(app)
    other.get(link)
    assert other.current_item() is None and 'id="start"' in other.page
    again.answer_all(link, 3)
    thanks = again.submit(link).text
    assert "Thank you" in thanks and "Your own diagnosis" in thanks and "collaborate" in thanks
    assert "stair." not in thanks                                    # titles, never internal ids
    after = again.post(f"{link}/q", {"item": here, "value": ["5"], "action": "answer"})
    assert "Thank you" in after.text                 # submitted answers cannot change


def test_own_diagnosis_only_when_the_facilitator_allows_it(app):
    f = facilitator(app)
    _, links = f.create("Private", ORGS[:1])
    link = links[ORGS[0]]
    p = Person(app)
    p.start(link)
    p.answer_all(link, 5)
    thanks = p.submit(link).text
    assert "Thank you" in thanks and "Your own diagnosis" not in thanks


# ---- the JSON API -------------------------------------------------------------------------------

def test_json_api_does_the_same(app):
    from starlette.testclient import TestClient
    c = TestClient(app)
    spec = c.get("/openapi.json").json()
    for path in ("/api/v1/auth/token", "/api/v1/assessments", "/api/v1/assessments/{aid}/report",
                 "/api/v1/r/{token}/responses", "/api/v1/r/{token}/response/answers/{item}",
                 "/api/v1/r/{token}/response/submit"):
        assert path in spec["paths"], path
    assert not any(p.startswith("/r/") or p.startswith("/assessments") for p in spec["paths"])
    assert c.get("/api/v1/assessments").status_code == 401
    token = c.post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    bad = c.post("/api/v1/assessments", headers=auth, json={"partnership": "", "organisations": [], "scope": "x"})
    assert bad.status_code == 422
    assert {p["where"] for p in bad.json()["detail"]} == {"partnership", "organisations", "scope"}
    made = c.post("/api/v1/assessments", headers=auth, json={"partnership": "API partnership", "organisations": ORGS,
                                                             "show_individual": True})
    assert made.status_code == 201
    a = made.json()
    links = {x["organisation"]: x["token"] for x in a["rounds"][0]["links"]}
    assert a["rounds"][0]["links"][0]["url"].startswith("http://testserver/r/")
    for org, value in ((ORGS[0], 5), (ORGS[1], 1)):
        for _ in range(3):
            key = c.post(f"/api/v1/r/{links[org]}/responses").json()["response_key"]
            rk = {"X-Response-Key": key}
            state = c.get(f"/api/v1/r/{links[org]}/response", headers=rk).json()
            while state["next"]:
                item = state["next"]["id"]
                assert state["next"]["why"] or item.startswith("context.")
                body = {"value": None if item.startswith("context.") else value}
                assert c.put(f"/api/v1/r/{links[org]}/response/answers/{item}", headers=rk, json=body).status_code == 200
                state = c.get(f"/api/v1/r/{links[org]}/response", headers=rk).json()
            wrong = c.put(f"/api/v1/r/{links[org]}/response/answers/stair.q01", headers=rk, json={"value": 6})
            assert wrong.status_code == 422 and "out of range" in wrong.json()["detail"][0]["message"]
            done = c.post(f"/api/v1/r/{links[org]}/response/submit", headers=rk).json()
            assert done["submitted"] and done["diagnosis"]["conclusions"]
            late = c.put(f"/api/v1/r/{links[org]}/response/answers/stair.q01", headers=rk, json={"value": 3})
            assert late.status_code == 409
    listed = c.get("/api/v1/assessments", headers=auth).json()
    assert [x["id"] for x in listed] == [a["id"]]
    assert [x["submitted"] for x in listed[0]["rounds"][0]["links"]] == [3, 3, None]    # None: fewer than 3
    assert listed[0]["rounds"][0]["submitted"] is None
    assert c.get(f"/api/v1/assessments/{a['id']}/report", headers=auth).status_code == 409   # round open
    closed = c.post(f"/api/v1/assessments/{a['id']}/close", headers=auth).json()["rounds"][0]
    assert closed["closed"] and closed["submitted"] == 6
    report = c.get(f"/api/v1/assessments/{a['id']}/report", headers=auth).json()
    assert report["respondents"] == 6 and report["gaps"]
    assert [o["suppressed"] for o in report["organisations"]] == [False, True, False]   # sorted by name
    md = c.get(f"/api/v1/assessments/{a['id']}/report?format=markdown", headers=auth)
    assert md.headers["content-type"].startswith("text/markdown") and "Perception gaps" in md.text
    nxt = c.post(f"/api/v1/assessments/{a['id']}/rounds", headers=auth).json()
    assert [r["number"] for r in nxt["rounds"]] == [1, 2]
    assert c.delete("/api/v1/auth/token", headers=auth).status_code == 204
    assert c.get("/api/v1/assessments", headers=auth).status_code == 401


def test_web_modules_name_no_item_rule_or_conclusion_id(kb):
    from conftest import ROOT
    ids = set(kb.questions) | set(kb.scores) | set(kb.conclusion_types) | set(kb.interventions) | set(kb.concepts)
    ids |= {r.id for r in kb.rules}
    folder = ROOT / "engine" / "web"
    for path in [*folder.glob("*.py"), *folder.glob("templates/*.html")]:
        source = path.read_text(encoding="utf-8")
        named = {i for i in ids if re.search(r"(?<![\w.])" + re.escape(i) + r"(?![\w.])", source)}
        assert not named, f"{path.relative_to(ROOT)} names {sorted(named)}"
