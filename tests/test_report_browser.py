"""The HTML reports in a real browser (Debian's headless Chromium, driven by Playwright's Python client):
printed to A4 PDF as a board paper, checked with axe-core, and read at a phone's width.

- diagnose: the summary (step, mode, what works or "none found", top risks, first actions) is the
  whole of the first printed page, and the evidence starts on the second;
- assess: the summary is on page 1, then the table of contents; both pictures carry text alternatives;
- axe-core reports no violation on either report.

Skipped, with the reason, only off CI without /usr/bin/chromium, Playwright or npm (see web_support.py
and axe_support.py); in CI they run.
"""
from __future__ import annotations

import io
import re

import pytest

from axe_support import describe, violations
from conftest import EXAMPLES, cli
from web_support import CHROMIUM, CHROMIUM_FLAGS, playwright_or_skip

DIAGNOSES = ["pfi-hospital.yaml", "mental-health-creating.yaml", "eblc-constraining.yaml"]
SURVEY = EXAMPLES / "three-organisations.csv"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "device_scale_factor": 2}


@pytest.fixture(scope="module")
def browser():
    sync_playwright = playwright_or_skip()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


def _pdf_pages(browser, page_file) -> list[str]:
    """Print the file as Chromium's "Save as PDF" would (A4, CSS page size) and return each page's text."""
    from pypdf import PdfReader
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        data = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    finally:
        page.close()
    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).replace("ﬀ", "ff").replace("ﬁ", "fi").replace("ﬂ", "fl")


@pytest.mark.parametrize("example", DIAGNOSES)
def test_diagnosis_prints_with_the_whole_summary_on_page_one(browser, tmp_path, example):
    f = tmp_path / "report.html"
    cli("diagnose", EXAMPLES / example, "--format", "html", "-o", f)
    data = cli("diagnose", EXAMPLES / example, "--format", "json").json()
    pages = [_flat(t) for t in _pdf_pages(browser, f)]
    first = pages[0]
    assert 3 <= len(pages) <= 15, len(pages)
    titles = {c["id"]: _flat(c["title"]) for c in [*data["conclusions"], *data["recommendations"]]}
    for c in data["conclusions"]:
        if c["type"] in ("staircase", "mode"):
            assert titles[c["id"]] in first, c["id"]
    for label in ("Summary", "Where the partnership stands", "What is working well", "Top risks", "First actions"):
        assert label in first
    strengths = [c["id"] for c in data["conclusions"] if c["type"] == "strength"]
    assert all(titles[s] in first for s in strengths) and (strengths or "none found" in first)
    first_actions = data.get("headline", {}).get("first_actions") or [r["id"] for r in data["recommendations"][:3]]
    for rid in first_actions:
        assert titles[rid] in first, rid
    assert "Evidence" not in first and pages[1].startswith("Evidence"), "the summary fits page 1 exactly"
    assert any(p.startswith("Appendix: ids and sources") for p in pages)


def test_assessment_prints_summary_first_then_contents_and_has_described_pictures(browser, tmp_path):
    f = tmp_path / "assessment.html"
    cli("assess", SURVEY, "--format", "html", "-o", f)
    pages = [_flat(t) for t in _pdf_pages(browser, f)]
    assert "Summary" in pages[0] and "Where the partnership stands" in pages[0] and "First actions" in pages[0]
    assert "Contents" not in pages[0] and pages[1].startswith("Contents")
    assert 5 <= len(pages) <= 40, len(pages)
    page = browser.new_page()
    try:
        page.goto(f.as_uri())
        toc = page.locator("h2#contents + ol a")
        targets = [a.get_attribute("href") for a in toc.all()]
        assert len(targets) >= 8 and all(page.locator(t).count() == 1 for t in targets)
        for fig in ("#figure1 svg", "#bars svg"):
            svg = page.locator(fig)
            assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
            assert "Borough Council" in (svg.locator("desc").text_content() or "")
        assert page.locator("th").filter(has_text=re.compile(r"^\s*$")).count() == 0, "no empty table header"
    finally:
        page.close()


def _axe(browser, page_file, **context) -> list[dict]:
    ctx = browser.new_context(bypass_csp=True, **context)     # the report's CSP forbids script; axe is injected
    try:
        page = ctx.new_page()
        page.goto(page_file.as_uri(), wait_until="load")
        return violations(page)
    finally:
        ctx.close()


@pytest.mark.parametrize("example", DIAGNOSES)
def test_diagnosis_html_has_no_axe_violation(browser, tmp_path, example):
    f = tmp_path / "report.html"
    cli("diagnose", EXAMPLES / example, "--format", "html", "-o", f)
    found = _axe(browser, f)
    assert found == [], describe(found)


def test_assessment_html_has_no_axe_violation(browser, tmp_path):
    f = tmp_path / "assessment.html"
    cli("assess", SURVEY, "--format", "html", "-o", f)
    found = _axe(browser, f)
    assert found == [], describe(found)


@pytest.mark.parametrize("which", ["diagnose", "assess"])
def test_reports_fit_a_phone_without_sideways_scrolling(browser, tmp_path, which):
    f = tmp_path / "r.html"
    if which == "diagnose":
        cli("diagnose", EXAMPLES / DIAGNOSES[0], "--format", "html", "-o", f)
    else:
        cli("assess", SURVEY, "--format", "html", "-o", f)
    ctx = browser.new_context(**PHONE)
    try:
        page = ctx.new_page()
        page.goto(f.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]
        box = page.locator("svg").first.bounding_box()
        assert box and box["width"] <= PHONE["viewport"]["width"]
    finally:
        ctx.close()
