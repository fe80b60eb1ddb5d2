"""`partnerdx kb docs`: the site builds, every internal link resolves, rules show their sources, and
nothing an author writes can inject HTML or destroy an existing folder."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import cli, write


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.duplicate_ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if d.get("id"):
            if d["id"] in self.ids:
                self.duplicate_ids.add(d["id"])
            self.ids.add(d["id"])
        if tag == "a" and "href" in d:
            self.hrefs.append(d["href"])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "site"
    run = cli("kb", "docs", "-o", out)
    assert run.out.startswith("wrote ")
    return out


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    nxt = html.find("<h3 ", start + 1)
    return html[start: nxt if nxt != -1 else len(html)]


def test_every_internal_link_resolves(site):
    pages = {p.name: _parse(p) for p in site.glob("*.html")}
    broken = []
    for name, page in pages.items():
        for href in page.hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue
            target = unquote(parts.path) or name
            if target not in pages:
                broken.append(f"{name}: {href} (no page {target})")
            elif parts.fragment and unquote(parts.fragment) not in pages[target].ids:
                broken.append(f"{name}: {href} (no anchor #{parts.fragment} in {target})")
    assert not broken, "\n".join(broken[:20])
    assert not {n: p.duplicate_ids for n, p in pages.items() if p.duplicate_ids}
    assert sum(len(p.hrefs) for p in pages.values()) > 2000


def test_one_page_per_family_instrument_and_source(site, kb):
    names = {p.name for p in site.glob("*.html")}
    expected = {"index.html", "conclusions.html", "lint-codes.html"}
    expected |= {f"rules-{r.family}.html" for r in kb.rules}
    expected |= {f"concepts-{e.family}.html" for e in kb.concepts.values()}
    expected |= {f"interventions-{e.family}.html" for e in kb.interventions.values()}
    expected |= {f"instrument-{q.data['instrument']}.html" for q in kb.questions.values()}
    expected |= {f"source-{s}.html" for s in kb.sources}
    assert expected <= names
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{n}"' in index for n in expected - {"index.html"})


def test_a_rule_page_shows_conditions_source_examples_and_neighbours(site, kb):
    import html as h
    rule = kb.rules_by_id["mode.creating"]
    section = _section((site / f"rules-{rule.family}.html").read_text(encoding="utf-8"), "rule-mode.creating")
    assert h.escape(rule.source.quote, quote=False) in section
    assert "source-armistead-pettigrew-2007.html" in section and h.escape(rule.source.at, quote=False) in section
    assert "dim.trust ≥ 3.5 and dim.voluntary ≥ 3" in section          # conditions in plain words
    assert "Because:" in section and "Basis:" in section
    assert "mental_health_partnership" in section                        # examples
    assert 'href="rules-scores.html#score-dim.trust"' in section          # what feeds it
    assert 'href="conclusions.html#conclusion-mode.creating"' in section  # what it feeds
    assert re.search(r'href="rules-(fit|interventions)\.html#rule-', section)


def test_a_source_page_lists_everything_that_cites_it(site, kb):
    page = (site / "source-morley-staircase.html").read_text(encoding="utf-8")
    citing = [r.id for r in kb.rules if r.source.ref == "morley-staircase"]
    citing += [q.id for q in kb.questions.values() if q.source.ref == "morley-staircase"]
    assert citing and all(f"#rule-{i}\"" in page or f"#item-{i}\"" in page for i in citing)


def test_author_text_is_escaped(tmp_path):
    write(tmp_path / "knowledge" / "x.yaml",
          "kind: concept\nfamily: evil\nentries:\n  - id: local.evil\n"
          "    title: \"<script>alert(1)</script> [click](javascript:alert(1)) {#index}\"\n"
          "    text: \"<img src=x onerror=alert(1)> **bold** &copy;\"\n"
          "    source: {ref: morley-staircase, at: \"<b>q</b>\", quote: \"The ten questions are\"}\n")
    cli("--kb", tmp_path, "kb", "docs", "-o", tmp_path / "site")
    page = (tmp_path / "site" / "concepts-evil.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "javascript:" not in re.findall(r'href="([^"]*)"', page).__str__()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "**bold** &amp;copy;" in page
    assert 'id="concept-local.evil"' in page


@pytest.fixture
def quick_pages(monkeypatch):
    """Writing and swapping are under test here, not rendering: two tiny pages keep it fast."""
    from partnerdx import docsite
    monkeypatch.setattr(docsite.Site, "pages", lambda self: {"index.html": "<p>i</p>", "a.html": "<p>a</p>"})


def test_an_existing_site_is_replaced_whole(tmp_path, quick_pages):
    out = tmp_path / "site"
    cli("kb", "docs", "-o", out)
    (out / "stale.html").write_text("old", encoding="utf-8")
    cli("kb", "docs", "-o", out)
    assert not (out / "stale.html").exists() and (out / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["site"]      # no temporary folders left behind


def test_a_failed_build_leaves_the_old_site(tmp_path, monkeypatch, quick_pages):
    out = tmp_path / "site"
    cli("kb", "docs", "-o", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    from partnerdx import docsite

    def explode(self, *a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(docsite.Path, "write_text", explode)    # the disk fills up mid-build
    run = cli("kb", "docs", "-o", out, code=2)
    assert "cannot write: No space left on device" in run.err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_a_folder_that_is_not_a_site_is_never_replaced(tmp_path):
    keep = write(tmp_path / "notes" / "thesis.txt", "years of work")
    run = cli("kb", "docs", "-o", tmp_path / "notes", code=2)
    assert "is not empty and is not a partnerdx docs site" in run.err
    assert keep.read_text(encoding="utf-8") == "years of work"
    write(tmp_path / "file.txt", "x")
    cli("kb", "docs", "-o", tmp_path / "file.txt", code=2)
