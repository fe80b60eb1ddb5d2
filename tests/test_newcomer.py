"""The command line as a newcomer meets it (issue 19): lists that render at any length, files other
people can read, no broken CSS, no double-counted respondents, hints that run, one convention."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import EXAMPLES, cli

PFI = EXAMPLES / "pfi-hospital.yaml"


def low_answers(tmp_path: Path, kb) -> Path:
    """Every rated item answered 1: more than thirty recommendations, each with sub-points."""
    import yaml
    f = tmp_path / "low.yaml"
    f.write_text(yaml.safe_dump({"answers": {q: 1 for q, e in kb.questions.items() if e.type == "rated"}}))
    return f


def low_survey(tmp_path: Path, kb) -> Path:
    """Two organisations of three, answering low: more than ten priority areas with mechanisms."""
    items = [q for q, e in kb.questions.items() if e.type == "rated"]
    rows = [",".join(["respondent", "organisation", *items])]
    for n in range(6):
        rows.append(",".join([f"r{n}", "A" if n < 3 else "B", *("1" if (n + i) % 2 else "2" for i in range(len(items)))]))
    f = tmp_path / "low.csv"
    f.write_text("\n".join(rows) + "\n")
    return f


# ---- 1. numbered lists with sub-points, from item 10 on ------------------------------------------

def _ordered_items_with_sublists(markdown: str) -> list[tuple[int, int]]:
    """(items, items holding a nested bullet list) for each top-level ordered list."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    out, depth = [], 0
    for n, t in enumerate(tokens):
        if t.type == "ordered_list_open" and t.level == 0:
            items = nested = 0
            for u in tokens[n + 1:]:
                if u.type == "ordered_list_close" and u.level == 0:
                    break
                if u.type == "list_item_open" and u.level == 1:
                    items += 1
                if u.type == "bullet_list_open" and u.level == 2:
                    nested += 1
            out.append((items, nested))
    del depth
    return out


def _html_ordered_items_with_sublists(page: str) -> list[tuple[int, int]]:
    """The same for an HTML page: (direct <li> of each outermost <ol>, those holding a <ul>)."""
    from html.parser import HTMLParser

    class Lists(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []
            self.found: list[list[int]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "ol" and "ol" not in self.stack:
                self.found.append([0, 0])
            if self.stack[-2:] == ["ol", "li"] and tag == "ul" and self.stack.count("ol") == 1 and len(self.stack) >= 2:
                self.found[-1][1] += 1
            if tag == "li" and self.stack and self.stack[-1] == "ol" and self.stack.count("ol") == 1:
                self.found[-1][0] += 1
            if tag in ("ol", "ul", "li"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in ("ol", "ul", "li") and self.stack:
                self.stack.pop()
    parser = Lists()
    parser.feed(page)
    return [tuple(x) for x in parser.found]


def test_recommendations_keep_their_sub_points_from_item_ten_on(tmp_path, kb):
    f = low_answers(tmp_path, kb)
    n = len(cli("diagnose", f, "--format", "json").json()["recommendations"])
    assert n >= 12
    md = cli("diagnose", f, "--format", "markdown").out
    assert _ordered_items_with_sublists(md) == [(n, n)]
    page = cli("diagnose", f, "--format", "html").out
    assert _html_ordered_items_with_sublists(page) == [(n, n)]
    text = cli("diagnose", f).out.splitlines()
    subs = [line for line in text if "• addresses:" in line]
    assert len(subs) == n and all(line.startswith("     •") for line in subs), \
        [line for line in subs if not line.startswith("     •")]


def test_assess_priority_areas_keep_their_mechanisms_from_item_ten_on(tmp_path, kb):
    f = low_survey(tmp_path, kb)
    areas = cli("assess", f, "--format", "json").json()["agenda"]["priorities"]
    assert len(areas) >= 12          # each has a sub-point: a mechanism, or "no mechanism"
    md = cli("assess", f, "--format", "markdown").out
    lists = _ordered_items_with_sublists(md)
    assert (len(areas), len(areas)) in lists
    assert all(items == nested for items, nested in lists), lists
    page = cli("assess", f, "--format", "html").out
    lists = _html_ordered_items_with_sublists(page)
    assert (len(areas), len(areas)) in lists
    assert all(items == nested for items, nested in lists), lists
    text = cli("assess", f).out.splitlines()
    subs = [line for line in text if "• mechanism:" in line or "• no mechanism" in line]
    assert subs and all(line.startswith("     •") for line in subs)


# ---- 2. written files are readable as the umask says ---------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_output_files_honour_the_umask_and_keep_an_existing_mode(tmp_path, umask_022):
    out = tmp_path / "report.md"
    cli("diagnose", PFI, "--format", "markdown", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    os.chmod(out, 0o664)
    cli("diagnose", PFI, "--format", "markdown", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o664
    assert out.read_text().startswith("# ")
    os.umask(0o027)
    fresh = tmp_path / "fresh.md"
    cli("diagnose", PFI, "--format", "markdown", "-o", fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_saved_sessions_stay_private(tmp_path, monkeypatch, umask_022):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    from partnerdx import sessions
    s = sessions.Session("mine")
    s.save()
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600


# ---- 3. the diagnose page's stylesheet ------------------------------------------------------------

def test_the_diagnose_page_has_valid_css():
    page = cli("diagnose", PFI, "--format", "html").out
    css = re.search(r"<style>(.*?)</style>", page, flags=re.S).group(1)
    assert "{{" not in css and "}}" not in css
    assert css.count("{") == css.count("}")
    assert re.search(r"(^|\})code\{background", css)
