"""Anonymity against the facilitator (issue 15): with a minimum group of 3 and an organisation of one
respondent, no download, API answer or page reveals a row or a figure of that organisation, and the
three attacks of the security review fail: the CSV download, differencing two reads around one
submission, and padding the organisation with answers from the facilitator's own browser.

Against SQLite and a real PostgreSQL (see web_support.py)."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from web_support import PASSWORD, Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

ORGS = ["Borough Council", "Housing Association", "Lone Trust"]
LONE = ORGS[2]


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb)
    yield app
    app.state.ctx.db.dispose()


def facilitator(app) -> Person:
    p = Person(app)
    assert p.sign_in().status_code == 200
    return p


def bearer(app) -> dict:
    from starlette.testclient import TestClient
    token = TestClient(app).post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def respond(app, link: str, rated, sectors: list[str] | None = None, submit: bool = True) -> Person:
    """One respondent: context questions skipped (or sectors given), rated items answered by `rated(n)`."""
    p = Person(app)
    p.start(link)
    n = 0
    while (item := p.current_item()) is not None:
        if item == "context.sectors" and sectors:
            p.answer(link, sectors)
        elif item.startswith("context."):
            p.skip(link)
        else:
            p.answer(link, rated(n))
            n += 1
    if submit:
        p.submit(link)
    return p


def lone_answers(n: int) -> int:
    return [1, 5, 2, 5, 1, 4, 1, 5, 3, 1][n % 10]          # a pattern nobody else answers


def close(f: Person, aid: int) -> None:
    f.get(f"/assessments/{aid}")
    assert f.post(f"/assessments/{aid}/close", {}).status_code == 200


def every_report(f: Person, app, aid: int, headers: dict) -> dict[str, object]:
    """Every way a facilitator can read the report: the page, four downloads, four API formats."""
    out: dict[str, object] = {"page": f.client.get(f"/assessments/{aid}/report")}
    for ext in ("csv", "json", "md", "html"):
        out[ext] = f.client.get(f"/assessments/{aid}/report.{ext}")
    for fmt in ("json", "markdown", "html", "csv"):
        out[f"api-{fmt}"] = f.client.get(f"/api/v1/assessments/{aid}/report?format={fmt}", headers=headers)
    return out


# ---- attack 1: the CSV downloads ----------------------------------------------------------------

def test_csv_downloads_never_show_a_suppressed_organisation_or_a_lone_answer(app):
    f = facilitator(app)
    care = "Care Trust"
    aid, links = f.create("Northshire", [*ORGS, care])
    for _ in range(3):                       # the smallest shown group: suppressed too (secondary), as in assess
        respond(app, links[ORGS[0]], lambda n: 3)
    respond(app, links[ORGS[1]], lambda n: 4, sectors=["private"])          # one of three gives sectors
    for _ in range(2):
        respond(app, links[ORGS[1]], lambda n: 4)
    for _ in range(3):
        respond(app, links[care], lambda n: 2)
    respond(app, links[LONE], lone_answers, sectors=["voluntary"])
    close(f, aid)
    reports = every_report(f, app, aid, bearer(app))
    assert all(r.status_code == 200 for r in reports.values()), {k: r.status_code for k, r in reports.items()}
    for name in ("csv", "api-csv"):
        text = reports[name].text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 6 and {r["organisation"] for r in rows} == {ORGS[1], care}, name
        assert LONE not in text and "voluntary" not in text                 # the lone respondent: not a trace
        assert ORGS[0] not in text                                          # nor the secondarily suppressed group
        assert "private" not in text                                        # one person's answer in a shown group
        assert {r["stair.q01"] for r in rows} == {"4", "2"}
    suppressed = {o["name"]: o["suppressed"] for o in reports["json"].json()["organisations"]}
    assert suppressed == {ORGS[0]: True, ORGS[1]: False, care: False, LONE: True}
    report = reports["json"].json()
    lone = next(o for o in report["organisations"] if o["name"] == LONE)
    assert lone["suppressed"] and lone["respondents"] == 1
    assert "1.00" not in json.dumps(lone) and not lone.get("items")
    assert reports["api-json"].json() == report


# ---- attack 2: differencing two reads around one submission -------------------------------------

def counts_table(page: str) -> str:
    return re.search(r"<table class=\"[^\"]*\blinks\b[^\"]*\"[^>]*>.*?</table>", page, re.S).group(0)


def test_reads_around_one_submission_cannot_be_subtracted(app):
    f = facilitator(app)
    auth = bearer(app)
    aid, links = f.create("Northshire", ORGS)
    for org, value in ((ORGS[0], 4), (ORGS[1], 2)):
        for _ in range(3):
            respond(app, links[org], lambda n, v=value: v)
    lone = respond(app, links[LONE], lone_answers, submit=False)               # answered, not yet submitted
    before = every_report(f, app, aid, auth)
    table_before = counts_table(f.get(f"/assessments/{aid}").text)
    api_before = f.client.get(f"/api/v1/assessments/{aid}", headers=auth).json()["rounds"][0]
    lone.submit(links[LONE])
    after = every_report(f, app, aid, auth)
    # while the round is open nothing is released: no figure to subtract, whatever the format
    for reads in (before, after):
        assert {k: r.status_code for k, r in reads.items()} == dict.fromkeys(reads, 409)
        assert "released when the round is closed" in reads["page"].text
    # and the live counts do not say that the lone respondent's answer has just arrived
    assert counts_table(f.get(f"/assessments/{aid}").text) == table_before
    assert "fewer than 3" in table_before
    api_after = f.client.get(f"/api/v1/assessments/{aid}", headers=auth).json()["rounds"][0]
    assert api_after == api_before and api_after["links"][2]["submitted"] is None and api_after["submitted"] is None
    # closed: released, and fixed — a response started before the close cannot be submitted after it
    late = respond(app, links[LONE], lambda n: 5, submit=False)
    close(f, aid)
    first = f.client.get(f"/assessments/{aid}/report.json").json()
    assert late.submit(links[LONE]).status_code in (200, 410)
    assert f.client.get(f"/api/v1/r/{links[LONE][3:]}").json()["open"] is False
    second = f.client.get(f"/assessments/{aid}/report.json").json()
    # 6 + the lone respondent + the late one, whose answers closing submitted as they stood (docs/web.md)
    assert first == second and first["respondents"] == 8
    assert next(o for o in first["organisations"] if o["name"] == LONE)["suppressed"]
    # the closed round's exact counts are the report's own
    assert re.search(r'<td class="org">Lone Trust</td>.*?<td class="submitted">2</td>',
                     f.get(f"/assessments/{aid}").text, re.S)


def test_earlier_rounds_stay_readable_and_the_direction_of_travel_works(app):
    f = facilitator(app)
    aid, links = f.create("Two rounds", ORGS[:2])
    for link in links.values():
        for _ in range(3):
            respond(app, link, lambda n: 2)
    f.get(f"/assessments/{aid}")
    page = f.post(f"/assessments/{aid}/rounds", {}).text                     # closes round 1
    new = re.findall(r'class="link-url" readonly value="[^"]+(/r/[^"]+)"', page)
    for link in new:
        for _ in range(3):
            respond(app, link, lambda n: 5)
    default = f.get(f"/assessments/{aid}/report")                             # round 2 open: round 1 shown
    assert default.status_code == 200 and "6 respondents in 2 organisations" in default.text
    assert f.client.get(f"/assessments/{aid}/report?round=2").status_code == 409
    close(f, aid)
    travel = f.get(f"/assessments/{aid}/report").text
    assert "Direction of travel" in travel and "up the staircase" in travel


# ---- attack 3: padding from the facilitator's browser -------------------------------------------

def test_a_link_opened_in_a_facilitators_browser_is_refused_and_responses_count_once(app):
    from partnerdx.web import store
    f = facilitator(app)
    aid, links = f.create("Northshire", ORGS)
    link = links[LONE]
    refused = f.client.get(link)
    assert refused.status_code == 403 and "used by a facilitator" in refused.text
    assert refused.headers["x-frame-options"] == "DENY"
    assert f.client.post(f"{link}/start", data={"csrf": f.csrf()}).status_code == 403
    assert f.client.post(f"/api/v1/r/{link[3:]}/responses", headers=bearer(app)).status_code == 403
    f.get("/")
    f.post("/logout", {})                                                     # signing out first does not help
    assert f.client.get(link).status_code == 403
    assert f.client.post(f"{link}/start", data={"csrf": f.csrf()}).status_code == 403
    db = app.state.ctx.db
    assert store.count_answers(db, aid)["responses"] == 0
    # a real respondent, submitting twice (page and API): one response counted
    p = respond(app, link, lone_answers)
    assert p.submit(link).status_code == 200
    key = p.client.cookies.get("pdx_r")
    assert p.client.post(f"/api/v1/r/{link[3:]}/response/submit", headers={"X-Response-Key": key}).status_code == 409
    assert store.count_answers(db, aid)["submitted"] == 1
