"""The HTML assessment in a real browser: headless Chromium (Debian's, driven by Playwright's Python
client; no `playwright install`) opens the file offline, logs no console error, and shows Figure 1.

Skipped, with the reason, only on a workstation without /usr/bin/chromium or Playwright; where the
environment variable CI is set (.ci/run installs both) a missing browser is a failure, not a skip.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path


from conftest import EXAMPLES, cli

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
REGION_COLOURS = {"#fde0dd", "#fff3c4", "#d9f0d3"}      # engine/assess_report.py REGION_COLOURS[:3]


def _browser_or_skip():
    from web_support import playwright_or_skip
    return playwright_or_skip()


def _colour_share(png: Path, colours: set[str]) -> dict[str, float]:
    from PIL import Image
    with Image.open(png) as img:
        rgb = img.convert("RGB")
        found = {colour: count for count, colour in rgb.getcolors(maxcolors=rgb.width * rgb.height)}
        total = rgb.width * rgb.height
    return {c: found.get(tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)), 0) / total for c in colours}


def test_html_report_renders_offline_without_console_errors_and_shows_figure_1(tmp_path):
    sync_playwright = _browser_or_skip()
    page_file = tmp_path / "assessment.html"
    cli("assess", EXAMPLES / "three-organisations.csv", "--format", "html", "-o", page_file)
    shot = tmp_path / "figure1.png"
    whole = tmp_path / "assessment.png"
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri(), wait_until="load")
            figure = page.locator("#figure1 svg")
            assert figure.is_visible()
            box = figure.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 300
            labels = page.locator("#figure1 svg text").all_text_contents()
            for words in ("Complying", "Constraining", "Creating", "Borough Council", "Housing Association",
                          "All organisations"):
                assert any(words in t for t in labels), words
            assert page.locator("#bars svg").is_visible()
            assert page.title().startswith("Partnership assessment")
            page.locator("#figure1").screenshot(path=str(shot))
            page.screenshot(path=str(whole), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [page_file.as_uri()], "the page must fetch nothing but itself"
    share = _colour_share(shot, REGION_COLOURS)
    assert all(v > 0.02 for v in share.values()), share        # the three regions are painted
    keep = os.environ.get("PARTNERDX_SCREENSHOT_DIR")
    if keep:                                                    # to look at it by hand; never in git
        shutil.copy(shot, Path(keep) / shot.name)
        shutil.copy(whole, Path(keep) / whole.name)
