"""The facilitator's console in Chromium against a real `partnerdx serve`, on SQLite and PostgreSQL:
a create submitted twice makes one assessment; closing a round asks first, says two people are
part-way and keeps their answers; signing in again after the session expired lands back on the
page; delete asks first; a co-facilitator sees the assessment and another facilitator gets 404;
the audit log lists all of it.
"""
from __future__ import annotations

import re

import pytest

from web_support import CHROMIUM, CHROMIUM_FLAGS, DB_KINDS, PASSWORD, Server, database_url, playwright_or_skip


@pytest.fixture(params=DB_KINDS)
def server(request, tmp_path):
    sync_playwright = playwright_or_skip()
    with database_url(request.param, tmp_path) as url:
        srv = Server(url, tmp_path)
        for name in ("alice", "bob", "carol"):
            srv.add_user(name)
        with srv:
            yield srv, sync_playwright


def click(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).first.click()


def follow(page, selector: str) -> None:
    with page.expect_navigation():
        page.locator(selector).click()


def sign_in(page, name: str) -> None:
    page.get_by_label("Account name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    click(page, "Sign in")


def new_assessment_form(page, base: str, name: str) -> dict:
    page.goto(base + "/assessments/new")
    page.get_by_label("Partnership name").fill(name)
    page.get_by_label("Questions to ask").select_option("staircase")
    page.get_by_label("Partner organisations, one per line").fill("Council\nCharity")
    return {"partnership": name, "scope": "staircase", "organisations": "Council\nCharity", "min_group": "2",
            "gap": "1.5", "csrf": page.locator('main input[name="csrf"]').input_value(),
            "once": page.locator('input[name="once"]').input_value()}


def part_way(browser, link: str, answers: int) -> None:
    """A respondent who starts and answers a few questions, then leaves."""
    page = browser.new_context(java_script_enabled=False).new_page()
    page.goto(link)
    click(page, "Start")
    done = 0
    while done < answers:
        item = page.locator('input[name="item"]').input_value()
        if item.startswith("context."):
            click(page, "Skip (don't know)")
            continue
        page.locator('input[name="value"][value="2"]').check()
        click(page, "Save and continue")
        done += 1
    page.context.close()


def expire_sessions(db_url: str) -> None:
    """What twelve hours do: every facilitator session ends (server side)."""
    from sqlalchemy import delete

    from partnerdx.web.db import Database, sessions
    db = Database(db_url)
    with db.tx() as conn:
        conn.execute(delete(sessions))
    db.dispose()


def test_facilitator_console_in_chromium(server):
    srv, sync_playwright = server
    base = srv.base
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            fac = browser.new_context(java_script_enabled=False).new_page()
            fac.goto(base + "/login")
            sign_in(fac, "alice")

            # a create submitted twice (a double click, a reload) makes one assessment
            form = new_assessment_form(fac, base, "Riverside Partnership")
            first = fac.request.post(base + "/assessments/new", form=form)
            second = fac.request.post(base + "/assessments/new", form=form)
            assert first.ok and second.ok and first.url == second.url
            aid = int(re.search(r"/assessments/(\d+)$", first.url).group(1))
            fac.goto(base + "/")
            assert fac.locator("body").inner_text().count("Riverside Partnership") == 1

            # two people part-way; closing asks first, says so, and keeps their answers
            fac.goto(f"{base}/assessments/{aid}")
            links = [x.input_value() for x in fac.locator("input.link-url").all()]
            part_way(browser, links[0], 2)
            part_way(browser, links[1], 3)
            follow(fac, "#close-round")
            text = fac.locator("main").inner_text()
            # counts under the release rule: below the minimum group (3) while the round is open
            assert "Part-way through: 2." in text          # at the minimum group of this assessment: shown
            assert "are kept" in text
            follow(fac, "#cancel")                                              # cancel changes nothing
            assert fac.locator("#close-round").count() == 1
            follow(fac, "#close-round")
            click(fac, "Close round 1")
            assert fac.url.endswith(f"/assessments/{aid}")
            assert "Round 1 — closed" in fac.locator("main").inner_text()
            assert fac.locator("td.submitted").all_inner_texts() == ["1", "1"]
            report = fac.request.get(f"{base}/assessments/{aid}/report.json").json()
            assert report["respondents"] == 2                                    # their answers, kept
            # one respondent per organisation, below the minimum group of 2: the CSV names neither
            csv = fac.request.get(f"{base}/assessments/{aid}/report.csv").text()
            assert csv.strip().splitlines()[1:] == []

            # the session expires while a confirmation page is open: signing in again lands on the page
            follow(fac, "#next-round")
            expire_sessions(srv.db_url)
            click(fac, "Start round 2 with new links")
            assert "/login" in fac.url
            sign_in(fac, "alice")
            assert fac.url == f"{base}/assessments/{aid}" and fac.locator("h1").inner_text() == "Riverside Partnership"
            assert "Round 1 — closed" in fac.locator("main").inner_text()        # nothing done behind the user's back

            # delete asks first
            form = new_assessment_form(fac, base, "Short-lived Pilot")
            click(fac, "Create and get the links")
            follow(fac, "#delete")
            assert "cannot be undone" in fac.locator("main").inner_text()
            click(fac, "Delete for good")
            assert fac.url == base + "/" and "Short-lived Pilot" not in fac.locator("body").inner_text()

            # a co-facilitator sees it; another facilitator still gets 404
            fac.goto(f"{base}/assessments/{aid}")
            fac.locator("#share-name").fill("bob")
            click(fac, "Share")
            assert fac.locator("#members").inner_text() == "bob"
            bob = browser.new_context(java_script_enabled=False).new_page()
            bob.goto(base + "/login")
            sign_in(bob, "bob")
            assert "Riverside Partnership" in bob.locator("main").inner_text()
            assert bob.goto(f"{base}/assessments/{aid}").status == 200
            carol = browser.new_context(java_script_enabled=False).new_page()
            carol.goto(base + "/login")
            sign_in(carol, "carol")
            assert "Riverside Partnership" not in carol.locator("main").inner_text()
            assert carol.goto(f"{base}/assessments/{aid}").status == 404
            assert carol.goto(f"{base}/assessments/{aid}/close").status == 404

            # the audit log lists these actions: who, what
            fac.goto(base + "/audit")
            log = fac.locator("table.audit").inner_text()
            for what in ("created “Riverside Partnership”", "closed round 1 of “Riverside Partnership” (2 part-way",
                         "created “Short-lived Pilot”", "deleted “Short-lived Pilot”",
                         "shared “Riverside Partnership” with bob"):
                assert what in log, log
            assert log.count("created “Riverside Partnership”") == 1
            assert set(fac.locator("td.who").all_inner_texts()) == {"alice"}
            bob.goto(base + "/audit")
            assert "shared “Riverside Partnership” with bob" in bob.locator("table.audit").inner_text()
            assert "Short-lived Pilot" not in bob.locator("table.audit").inner_text()
        finally:
            browser.close()


def test_counts_refresh_without_a_reload_and_links_copy(server):
    """The assessment page runs one self-hosted script (allowed there only): counts fed by server-sent
    events, and copy buttons that put the whole link on the clipboard."""
    srv, sync_playwright = server
    base = srv.base
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            fac = browser.new_context().new_page()
            errors: list[str] = []
            fac.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            fac.goto(base + "/login")
            sign_in(fac, "alice")
            new_assessment_form(fac, base, "Live Counts")
            click(fac, "Create and get the links")
            response = fac.reload()
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1]
            assert "script-src" not in fac.request.get(base + "/").headers["content-security-policy"]
            fac.evaluate("window.notReloaded = true")
            link = fac.locator("input.link-url").first.input_value()
            from playwright.sync_api import expect
            for n in range(3):       # while the round is open a count shows once it reaches the minimum group
                part_way(browser, link, 1)
            expect(fac.locator("td.started").first).to_have_text("3", timeout=20000)
            assert fac.evaluate("window.notReloaded") is True
            assert fac.locator("#live-note").inner_text() == "Counts update by themselves."
            fac.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            fac.locator("button.copy").first.click()
            expect(fac.locator("button.copy").first).to_have_text("Copied")
            assert fac.evaluate("navigator.clipboard.readText()") == link
            assert errors == []
        finally:
            browser.close()
