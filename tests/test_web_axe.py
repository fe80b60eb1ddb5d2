"""axe-core on every page of `partnerdx serve` a person sees: sign-in, dashboard, new assessment,
assessment, report; a respondent's welcome, question (rated and context), review and thank-you pages;
the closed-invitation page and the not-found page. Zero violations on each.

The report page also prints: A4, the summary alone on page 1, no app chrome.

A real server in a subprocess (SQLite: the pages do not depend on the database) and Debian's headless
Chromium. The app's Content-Security-Policy forbids all script, rightly; the browser context bypasses
it only to inject axe (never relax the CSP for it). Skips as web_support/axe_support say.
"""
from __future__ import annotations

from axe_support import describe, violations
from web_support import CHROMIUM, CHROMIUM_FLAGS, PASSWORD, Server, database_url, playwright_or_skip

ORGS = ["Borough Council", "Housing Association"]


def click(page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def test_every_serve_page_has_no_axe_violation(tmp_path):
    sync_playwright = playwright_or_skip()
    found: dict[str, list[dict]] = {}

    def check(page, name: str) -> None:
        found[name] = violations(page)

    with database_url("sqlite", tmp_path) as url:
        srv = Server(url, tmp_path)
        srv.add_user()
        with srv, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            try:
                fac = browser.new_context(bypass_csp=True).new_page()
                fac.goto(srv.base + "/login")
                check(fac, "sign-in")
                fac.get_by_label("Account name").fill("alice")
                fac.get_by_label("Password").fill(PASSWORD)
                click(fac, "Sign in")
                check(fac, "dashboard (empty)")
                fac.get_by_role("link", name="New assessment").click()
                check(fac, "new assessment")
                fac.get_by_label("Partnership name").fill("Northshire Integrated Care")
                fac.get_by_label("Questions to ask").select_option("staircase")
                fac.get_by_label("Partner organisations, one per line").fill("\n".join(ORGS))
                click(fac, "Create and get the links")
                check(fac, "assessment")
                links = [x.input_value() for x in fac.locator("input.link-url").all()]
                for n in range(3):
                    _respond(browser, links[0], check if n == 0 else None)
                fac.goto(srv.base + "/")
                check(fac, "dashboard")
                fac.get_by_role("link", name="Northshire Integrated Care").first.click()
                fac.wait_for_load_state()
                with fac.expect_navigation():                 # the report is released when the round closes
                    fac.locator("#close-round").click()
                check(fac, "confirm closing a round")
                click(fac, "Close round 1")
                with fac.expect_navigation():
                    fac.locator("#open-report").click()
                assert fac.locator("article.report h2#summary").count() == 1
                check(fac, "report")
                pages = _pdf_pages(fac)       # "Print → Save as PDF" of the report page: the summary first
                assert "Summary" in pages[0] and "First actions" in pages[0] and "download" not in pages[0]
                assert pages[1].lstrip().startswith("Contents")
                fac.goto(srv.base + "/r/" + "x" * 32)
                assert "404" in fac.title() or fac.locator("h1").count() == 1
                check(fac, "not found")
                late = browser.new_context(bypass_csp=True).new_page()
                late.goto(links[1])
                assert late.locator("h1").inner_text() == "This questionnaire is closed"
                check(late, "closed")
            finally:
                browser.close()
    assert set(found) >= {"sign-in", "dashboard", "new assessment", "assessment", "welcome", "question",
                          "context question", "review", "thanks", "report", "not found", "closed"}, sorted(found)
    bad = {name: describe(v) for name, v in found.items() if v}
    assert bad == {}, "\n".join(f"{k}:\n{v}" for k, v in bad.items())


def _pdf_pages(page) -> list[str]:
    import io
    from pypdf import PdfReader
    data = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def _respond(browser, link: str, check) -> None:
    page = browser.new_context(bypass_csp=True).new_page()
    page.goto(link)
    if check:
        check(page, "welcome")
    click(page, "Start")
    for _ in range(60):
        if page.locator("#submit").count():
            break
        item = page.locator('input[name="item"]').input_value()
        if item.startswith("context."):
            if check and "context question" not in _seen(check):
                check(page, "context question")
            click(page, "Skip (don't know)")
        else:
            if check and "question" not in _seen(check):
                check(page, "question")
            page.locator('input[name="value"][value="4"]').check()
            click(page, "Save and continue")
    if check:
        check(page, "review")
    click(page, "Submit my answers")
    if check:
        check(page, "thanks")
    page.context.close()


def _seen(check) -> set[str]:
    """The page names already checked (the closure's dictionary)."""
    cells = check.__closure__ or ()
    return next((set(c.cell_contents) for c in cells if isinstance(c.cell_contents, dict)), set())
