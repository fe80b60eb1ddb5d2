"""The diagnosis report a board reads: a one-page summary first (where the partnership stands, what
works, the top risks, the first actions with one line of why), then the evidence, the full list and
an appendix with the ids and sources; internal ids stay out of the running text (they live in the
appendix, in HTML `title` attributes and in the JSON). Pictures: the staircase and Figure 1, each
with its text alternative.
"""
from __future__ import annotations

import re

import pytest

from conftest import EXAMPLES, cli

PFI = EXAMPLES / "pfi-hospital.yaml"
CREATING = EXAMPLES / "mental-health-creating.yaml"


@pytest.fixture(scope="module")
def kb():
    from partnerdx.kb import load_kb
    return load_kb()


def _ids(kb, data: dict) -> set[str]:
    return {c["id"] for c in data["conclusions"]} | {r["id"] for r in data["recommendations"]} | set(kb.questions)


def test_summary_comes_first_with_step_mode_strengths_risks_and_first_actions(kb):
    md = cli("diagnose", PFI, "--format", "markdown").out
    data = cli("diagnose", PFI, "--format", "json").json()
    heads = re.findall(r"^## (.+)$", md, flags=re.M)
    assert heads[0] == "Summary" and heads[-1] == "Appendix: ids and sources"
    assert heads.index("Evidence") < heads.index("Recommendations") < heads.index("Appendix: ids and sources")
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    titles = {c["id"]: c["title"] for c in [*data["conclusions"], *data["recommendations"]]}
    assert f"Staircase step: {titles['stair.transactional']}" in summary
    assert f"Figure 1 mode: {titles['mode.complying']}" in summary
    for label in ("**What is working well**", "**Top risks**", "**First actions**"):
        assert label in summary
    assert "none found" in summary                  # no strength is concluded for the PFI example
    first = data.get("headline", {}).get("first_actions") or [r["id"] for r in data["recommendations"][:3]]
    for n, rid in enumerate(first, start=1):
        line = next(x for x in summary.splitlines() if x.startswith(f"{n}. "))
        assert titles[rid] in line and "because" in line


def test_no_internal_id_in_the_running_text_only_in_the_appendix(kb):
    md = cli("diagnose", PFI, "--format", "markdown").out
    data = cli("diagnose", PFI, "--format", "json").json()
    body, appendix = md.split("## Appendix: ids and sources", 1)
    for ident in _ids(kb, data):
        assert f"`{ident}`" not in body and f"({ident}" not in body, ident
    for c in [*data["conclusions"], *data["recommendations"]]:
        assert f"- `{c['id']}` — " in appendix
        for s in c["sources"]:
            assert s["ref"] in appendix
    text = cli("diagnose", PFI).out
    assert "int.quiver" not in text.split("Appendix: ids and sources", 1)[0]


def test_html_keeps_ids_in_title_attributes_linked_to_the_appendix_row(kb):
    page = cli("diagnose", PFI, "--format", "html").out
    data = cli("diagnose", PFI, "--format", "json").json()
    body = page.split("<section", 1)[1].split("Appendix: ids and sources", 1)[0]
    visible = re.sub(r"<[^>]+>", "", body)
    for c in data["recommendations"]:
        assert f'href="#ref-{c["id"]}" title="{c["id"]}"' in page
        assert f'<li id="ref-{c["id"]}">' in page
        assert c["id"] not in visible


def test_html_has_both_pictures_with_text_alternatives():
    page = cli("diagnose", PFI, "--format", "html").out
    stair = re.search(r'<figure class="staircase"><svg[^>]*role="img"[^>]*>(.*?)</svg>', page, flags=re.S)
    assert stair and "<title" in stair.group(1)
    assert "The partnership is on step 1 of 4" in stair.group(1)
    fig1 = re.search(r'<figure id="figure1" class="plot"><svg[^>]*role="img" aria-label="[^"]+"[^>]*>', page)
    assert fig1
    assert "in the complying region" in page.split('id="figure1"', 1)[1]


def test_staircase_marks_the_step_of_each_example():
    page = cli("diagnose", CREATING, "--format", "html").out
    data = cli("diagnose", CREATING, "--format", "json").json()
    step = next(c for c in data["conclusions"] if c["type"] == "staircase")
    svg = page.split('<figure class="staircase">', 1)[1].split("</svg>", 1)[0]
    marked = re.findall(r'fill="#0b4f7c"[^>]*><title>([^<]+)</title>', svg)
    assert [t.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&") for t in marked] == [step["title"]]
    assert "▼ here" in svg


def test_identical_input_gives_byte_identical_html_and_markdown():
    for fmt in ("html", "markdown", "text"):
        assert cli("diagnose", PFI, "--format", fmt).out == cli("diagnose", PFI, "--format", fmt).out


def test_headline_from_the_reasoning_stage_is_used_when_present(kb):
    """Where the diagnosis carries a `headline` (the reasoning stage's choice), the summary follows it
    instead of the fallback order."""
    from partnerdx.answers import load_answers
    from partnerdx.inference import diagnose
    from partnerdx.report import markdown
    d = diagnose(kb, load_answers(kb, PFI))
    last = d.recommendations[-1]
    d.headline = {"step": None, "mode": None, "strengths": [], "top_risks": [], "first_actions": [last.id]}
    summary = markdown(kb, d).split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert f"1. **{last.title}**" in summary and "2. " not in summary
    assert "Staircase step: not enough answers yet to tell" in summary
