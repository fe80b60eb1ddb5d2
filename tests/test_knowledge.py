"""The knowledge base encodes every enumerated element of the five seeds, and cites them verbatim."""
from __future__ import annotations

import re

import pytest

from conftest import cli, seeds_dir

EXPECTED_ITEMS = {
    "stair.q": 10, "t1.r": 21, "t2.r": 10, "fail.": 9, "barrier.": 12, "symptom.": 5, "pressure.": 6,
}


@pytest.mark.parametrize("prefix,count", EXPECTED_ITEMS.items())
def test_contract_item_ids_are_complete_and_in_order(kb, prefix, count):
    ids = [q for q in kb.questions if q.startswith(prefix)]
    width = 2
    expected = [f"{prefix}{n:0{width}d}" for n in range(1, count + 1)]
    assert ids == expected


def test_context_items_and_their_values(kb):
    assert kb.questions["context.sectors"].options == ["public", "private", "voluntary"]
    assert kb.questions["context.aims"].options == [
        "reduce_cost", "improve_quality", "increase_efficacy", "rationalise_admin", "increase_legitimacy"]
    assert kb.questions["context.service"].options == [
        "simple_commissioned", "capital_project", "joined_up_service", "strategy", "other"]
    assert kb.questions["context.service"].type == "choice"


@pytest.mark.parametrize("family,count", [
    ("ap.mode.", 3), ("ap.proposition.", 4), ("quiver.stage.", 4), ("whatworks.area.", 10),
    ("cwa.aim.", 5), ("quiver.team.", 5), ("ap.learning.", 5), ("quiver.coaching_question.", 4),
    ("staircase.step.", 4),
])
def test_concept_families_are_complete(kb, family, count):
    assert len([c for c in kb.concepts if c.startswith(family)]) == count


def test_every_what_works_area_is_measured_by_items(kb):
    areas = {q.data["area"] for q in kb.questions.values() if q.data["instrument"] == "what_works"}
    assert areas == {c for c in kb.concepts if c.startswith("whatworks.area.")}


def test_bipolar_items_carry_both_poles_verbatim(kb):
    from partnerdx.kb import normalise_quote
    seeds = seeds_dir()
    text = normalise_quote((seeds / kb.sources["armistead-pettigrew-2007"].data["seed"]).read_text())
    cwa = normalise_quote((seeds / kb.sources["cwa-p3-workshop"].data["seed"]).read_text())
    for q in kb.questions.values():
        if q.data["instrument"] in ("table1", "table2", "pressures"):
            haystack = cwa if q.data["instrument"] == "pressures" else text
            for pole in (q.data["scale"]["low"], q.data["scale"]["high"]):
                assert normalise_quote(pole) in haystack, (q.id, pole)


def test_table_two_last_row_is_the_legal_dispute_row(kb):
    scale = kb.questions["t2.r10"].data["scale"]
    assert "expensive legal dispute" in scale["low"] and "back stop" in scale["high"]


def test_every_quote_is_verbatim_in_its_seed(kb):
    from partnerdx.kb import check_quotes
    problems = check_quotes(kb, seeds_dir())
    assert not problems, "\n".join(map(str, problems))


def test_every_source_names_an_existing_seed_file(kb):
    seeds = seeds_dir()
    assert set(kb.sources) == {"morley-staircase", "armistead-pettigrew-2007", "cwa-p3-workshop",
                               "quiver-2010", "what-works-tool"}
    for s in kb.sources.values():
        assert (seeds / s.data["seed"]).is_file()


def test_quotes_are_short_citations_not_copies(kb):
    for table in (kb.questions, kb.concepts, kb.interventions):
        for e in table.values():
            assert len(e.source.quote) <= 400, e.id


def test_judgement_is_labelled(kb):
    """Entries that go beyond the seeds say so and explain why."""
    for table in (kb.concepts, kb.interventions):
        for e in table.values():
            if e.data.get("basis") == "expert-judgement":
                assert e.data.get("note"), f"{e.id}: expert judgement without a note"


def test_kb_check_summarises_counts_with_quotes(tmp_path):
    run = cli("kb", "check", "--seeds", seeds_dir())
    assert re.match(r"ok: 5 sources, \d+ questions, \d+ concepts, \d+ interventions", run.out)
    assert "quotes checked" in run.out


def test_coverage_table_in_docs_is_generated_from_the_knowledge_base(kb):
    from conftest import ROOT
    from partnerdx.coverage import coverage_markdown
    committed = (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert committed == coverage_markdown(kb), "docs/coverage.md is stale: run `partnerdx kb coverage -o docs/coverage.md`"
    for ident in ("stair.q10", "t1.r21", "t2.r10", "fail.09", "barrier.12", "symptom.05", "pressure.06",
                  "ap.mode.creating", "quiver.stage.4_learn", "whatworks.area.systems"):
        assert f"`{ident}`" in committed
