"""`--kb DIR` overlays reach every command through one loader: an overlay rule is diagnosed and
explained like a built-in one, and an override replaces the built-in rule instead of joining it."""
from __future__ import annotations

from conftest import EXAMPLES, cli, write

SOURCE = '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n'
WITHHELD = ("kind: rules\nfamily: local\nrules:\n"
            "  - id: local.withheld\n    title: Information is withheld between the partners\n"
            "    when: {item: stair.q06, lte: 2}\n    then: {conclude: local.withheld, type: risk}\n"
            "    because: \"Willingness to share information is {stair.q06} / 5.\"\n" + SOURCE
            + "    examples: []\n")


def test_an_overlay_rule_appears_in_diagnose_and_why(tmp_path):
    write(tmp_path / "kb" / "rules" / "local.yaml", WITHHELD)
    answers = write(tmp_path / "a.yaml", "answers:\n  stair.q06: 1\n")
    d = cli("--kb", tmp_path / "kb", "diagnose", answers, "--format", "json").json()
    [c] = [c for c in d["conclusions"] if c["id"] == "local.withheld"]
    assert c["because"] == "Willingness to share information is 1 / 5." and c["from"] == ["stair.q06"]
    text = cli("--kb", tmp_path / "kb", "diagnose", answers).out
    assert "Information is withheld between the partners" in text
    why = cli("--kb", tmp_path / "kb", "why", "local.withheld", "--answers", answers).out
    assert why.splitlines()[0] == "local.withheld — Information is withheld between the partners"
    assert "answer stair.q06 = 1" in why
    cli("why", "local.withheld", "--answers", answers, code=2)     # without the overlay it is unknown


def test_an_overridden_rule_replaces_the_builtin_one(tmp_path):
    write(tmp_path / "rules" / "modes.yaml", "kind: rules\nfamily: modes\nrules:\n"
          "  - id: mode.creating\n    override: true\n    title: Trust leads (our reading)\n"
          "    when: {all: [{score: dim.trust, gte: 3.5}, {score: dim.voluntary, gte: 3}]}\n"
          "    then: {conclude: mode.creating, type: mode}\n    because: \"Our reading: trust {dim.trust:.1f}.\"\n"
          + SOURCE + "    examples: []\n")
    from partnerdx.kb import load_kb
    kb = load_kb((tmp_path,))
    assert [r.title for r in kb.rules if r.id == "mode.creating"] == ["Trust leads (our reading)"]
    answers = write(tmp_path / "a.yaml", "answers: {\"t1.*\": 5, \"t2.*\": 5}\n")
    d = cli("--kb", tmp_path, "diagnose", answers, "--format", "json").json()
    [c] = [c for c in d["conclusions"] if c["id"] == "mode.creating"]
    assert c["because"] == "Our reading: trust 5.0." and c["rules"] == ["mode.creating"]
    findings = cli("--kb", tmp_path, "kb", "lint", "--format", "json").json()["findings"]
    assert [(f["code"], f["id"], f["line"]) for f in findings if f["code"] == "PDX201"] == [("PDX201", "mode.creating", 4)]


def test_overlays_reach_the_author_tools(tmp_path):
    write(tmp_path / "rules" / "local.yaml", WITHHELD)
    assert "local.withheld" in cli("--kb", tmp_path, "kb", "lint", code=0).out   # PDX401/PDX502 warnings
    cli("--kb", tmp_path, "kb", "lint", "--strict", code=1)
    cli("--kb", tmp_path, "kb", "docs", "-o", tmp_path / "site")
    assert 'id="rule-local.withheld"' in (tmp_path / "site" / "rules-local.html").read_text(encoding="utf-8")
    assert cli("--kb", tmp_path, "why-not", "local.withheld", "--answers", EXAMPLES / "pfi-hospital.yaml",
               code=None).code in (0, 1)
