"""End to end in a real browser: headless Chromium (Debian's, driven by Playwright's Python client)
against a real `partnerdx serve` in a subprocess, on SQLite and on a real PostgreSQL.

A facilitator signs in, creates an assessment for three organisations and reads the three links.
Three respondents of the first organisation and three of the second answer through their links,
each in a browser context of its own (own cookies); one of them closes the tab halfway and comes
back to the link in the same context, and carries on where they were. The facilitator opens the
report: a perception gap between the first two organisations, and the third suppressed (no
response yet, fewer than the minimum of three). Then the third organisation's three respondents
answer, and the report shows it.

Why the third organisation answers *after* the first reading: under the anonymity policy of
`assess` (secondary suppression), one suppressed organisation with between 1 and N-1 respondents
forces a second one to be hidden, which with three organisations leaves one shown and so no gap
to see. An organisation with no respondent hides nothing, so both show.

Every page is used with JavaScript disabled (there is none to run); one respondent uses a phone's
viewport, and no page scrolls sideways on it.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from web_support import (CHROMIUM, CHROMIUM_FLAGS, DB_KINDS, PASSWORD, Server, database_url,
                         playwright_or_skip)

ORGS = ["Borough Council", "Housing Association", "Clinical Commissioning Group"]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(params=DB_KINDS)
def server(request, tmp_path):
    sync_playwright = playwright_or_skip()
    with database_url(request.param, tmp_path) as url:
        srv = Server(url, tmp_path)
        srv.add_user()
        with srv:
            yield srv, sync_playwright


def click(page, name: str) -> None:
    """Press a button and wait for the page it leads to (every form answers with a redirect)."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def answer(page, value: int, stop_after: int | None = None) -> list[str]:
    """Answer question pages until the review page (or after `stop_after` answers)."""
    asked: list[str] = []
    for _ in range(60):
        if page.locator("#submit").count():
            break
        item = page.locator('input[name="item"]').input_value()
        if item == "context.service":
            page.locator('input[name="value"][value="joined_up_service"]').check()
            click(page, "Save and continue")
        elif item.startswith("context."):
            click(page, "Skip (don't know)")
        else:
            assert page.get_by_text("Why is this asked?").is_visible()
            page.locator(f'input[name="value"][value="{value}"]').check()
            click(page, "Save and continue")
        asked.append(item)
        if stop_after and len(asked) == stop_after:
            return asked
    assert page.locator("h1").inner_text() == "Ready to submit"
    return asked


def respond(browser, link: str, value: int, errors: list[str], phone: bool = False) -> None:
    context = browser.new_context(java_script_enabled=phone, **(PHONE if phone else {}))
    page = watch(context.new_page(), errors)
    page.goto(link)
    fits(page, phone)
    click(page, "Start")
    fits(page, phone)                                  # a question page
    answer(page, value)
    fits(page, phone)                                  # the review page
    click(page, "Submit my answers")
    assert page.locator("h1").inner_text() == "Thank you"
    fits(page, phone)
    context.close()


def fits(page, phone: bool) -> None:
    """On a phone's viewport the page never scrolls sideways."""
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"], page.url


def watch(page, errors: list[str]):
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page


def test_facilitator_and_respondents_in_chromium(server, tmp_path):
    srv, sync_playwright = server
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            run_scenario(browser, srv.base, errors, tmp_path)
        finally:
            browser.close()
    assert errors == []


def run_scenario(browser, base: str, errors: list[str], tmp_path: Path) -> None:
    fac_context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    fac = watch(fac_context.new_page(), errors)
    fac.goto(base + "/")
    assert fac.url.endswith("/login?next=/")
    fac.get_by_label("Account name").fill("alice")
    fac.get_by_label("Password").fill(PASSWORD)
    click(fac, "Sign in")
    fac.get_by_role("link", name="New assessment").click()
    fac.get_by_label("Partnership name").fill("Northshire Integrated Care")
    fac.get_by_label("Questions to ask").select_option("staircase")
    fac.get_by_label("Partner organisations, one per line").fill("\n".join(ORGS))
    fac.get_by_label("Minimum group size").fill("3")
    click(fac, "Create and get the links")
    assert fac.locator("h1").inner_text() == "Northshire Integrated Care"
    orgs = fac.locator("td.org").all_inner_texts()
    links = dict(zip(orgs, (x.input_value() for x in fac.locator("input.link-url").all())))
    assert list(links) == ORGS and all(re.fullmatch(re.escape(base) + r"/r/[A-Za-z0-9_-]{32}", v) for v in links.values())

    for n in range(3):
        respond(browser, links[ORGS[0]], 5, errors, phone=n == 0)
    for n in range(3):
        if n == 1:
            resume(browser, links[ORGS[1]], errors)
        else:
            respond(browser, links[ORGS[1]], 2, errors)

    fac.reload()
    assert fac.locator("td.submitted").all_inner_texts() == ["3", "3", "fewer than 3"]   # open: small counts hidden
    with fac.expect_navigation():                                  # it asks first (a confirmation page)
        fac.locator("#close-round").click()
    click(fac, "Close round 1")                                   # the report is released when the round closes
    assert fac.locator("td.submitted").all_inner_texts() == ["3", "3", "0"]
    with fac.expect_navigation():
        fac.locator("#open-report").click()
    report = fac.locator("article.report")
    assert "6 respondents in 3 organisations" in report.inner_text()
    gap_rows = report.locator("table tr", has_text="Borough Council: 5.00").all_inner_texts()
    assert gap_rows and all("Housing Association: 2.00" in r and "3.00" in r for r in gap_rows)
    assert fac.get_by_role("heading", name="Perception gaps").is_visible()
    suppressed = report.locator("tr", has_text=ORGS[2]).first.inner_text()
    assert re.search(r"Clinical Commissioning Group\s+0\s+suppressed: fewer than 3 respondents", suppressed)
    assert "Suppressed for anonymity: Clinical Commissioning Group" in report.inner_text()
    assert fac.locator("#bars svg").is_visible()
    shots(fac, tmp_path, "report-round1.png")

    fac.go_back()
    with fac.expect_navigation():                                  # it asks first (a confirmation page)
        fac.locator("#next-round").click()
    click(fac, "Start round 2 with new links")
    links = dict(zip(fac.locator("td.org").all_inner_texts(), (x.input_value() for x in fac.locator("input.link-url").all())))
    for org in ORGS:
        for _ in range(3):
            respond(browser, links[org], 3, errors)
    with fac.expect_navigation():                                  # it asks first (a confirmation page)
        fac.locator("#close-round").click()
    click(fac, "Close round 2")
    with fac.expect_navigation():
        fac.locator("#open-report").click()
    text = fac.locator("article.report").inner_text()
    assert "9 respondents in 3 organisations" in text and "Suppressed for anonymity" not in text
    assert "Direction of travel" in text
    assert re.search(r"Clinical Commissioning Group\s+3\s+shown", report.locator("tr", has_text=ORGS[2]).first.inner_text())
    fac_context.close()


def resume(browser, link: str, errors: list[str]) -> None:
    """Answer half, close the tab, open the link again in the same context (same cookies), finish."""
    context = browser.new_context(java_script_enabled=False)
    page = watch(context.new_page(), errors)
    page.goto(link)
    click(page, "Start")
    first = answer(page, 2, stop_after=7)
    was = page.locator('input[name="item"]').input_value()
    progress = page.locator(".progress-text").inner_text()
    page.close()
    page = watch(context.new_page(), errors)
    page.goto(link)
    assert page.locator('input[name="item"]').input_value() == was
    assert page.locator(".progress-text").inner_text() == progress == "Question 8 of about 13"
    rest = answer(page, 2)
    assert not set(first) & set(rest) and len(first) + len(rest) <= 13
    click(page, "Submit my answers")
    assert page.locator("h1").inner_text() == "Thank you"
    context.close()


def shots(page, tmp_path: Path, name: str) -> None:
    """Screenshots to look at by hand when PARTNERDX_SCREENSHOT_DIR is set; never in git."""
    keep = os.environ.get("PARTNERDX_SCREENSHOT_DIR")
    if keep:
        page.screenshot(path=str(tmp_path / name), full_page=True)
        shutil.copy(tmp_path / name, Path(keep) / name)
