"""why, why-not and what-if: every conclusion traceable to answers and sources."""
from __future__ import annotations

import json

from conftest import EXAMPLES, cli, write

PFI = EXAMPLES / "pfi-hospital.yaml"


def walk(node):
    yield node
    for p in node.get("premises", []):
        yield from walk(p)


def test_why_tree_ends_in_answers_with_question_text_and_every_node_has_a_source():
    tree = cli("why", "mode.complying", "--answers", PFI, "--format", "json").json()
    assert tree["id"] == "mode.complying" and tree["rule"] and tree["because"]
    leaves = [n for n in walk(tree) if not n.get("premises")]
    assert leaves and all("question" in n and "value" in n for n in leaves)
    assert {n["id"] for n in leaves} >= {"t2.r01", "t1.r21"}
    t2 = next(n for n in leaves if n["id"] == "t2.r01")
    assert t2["value"] == 1 and "specif" in t2["question"].lower() or t2["question"]
    for n in walk(tree):
        assert n["sources"], n["id"]


def test_why_of_a_recommendation_reaches_the_answers():
    data = cli("diagnose", PFI, "--format", "json").json()
    rec = data["recommendations"][0]["id"]
    tree = cli("why", rec, "--answers", PFI, "--format", "json").json()
    assert any("question" in n for n in walk(tree))
    assert tree["premises"][0]["id"] in data["recommendations"][0]["addresses"]


def test_why_text_names_rule_source_and_answers():
    out = cli("why", "stair.transactional", "--answers", PFI).out
    assert "because:" in out and "source: morley-staircase" in out and "answer stair.q01 = 2" in out


def test_why_of_something_not_concluded_points_to_why_not():
    run = cli("why", PFI, "mode.creating", code=1)
    assert f"partnerdx why-not {PFI} mode.creating" in run.err


def test_why_of_unknown_id_is_bad_input_with_suggestion():
    run = cli("why", "mode.creatin", "--answers", PFI, code=2)
    assert "did you mean 'mode.creating'?" in run.err


def test_why_not_lists_failed_and_unanswered_conditions(tmp_path):
    report = cli("why-not", "mode.creating", "--answers", PFI, "--format", "json").json()
    assert report["concluded"] is False and report["rules"]
    details = [c["detail"] for r in report["rules"] for a in r["alternatives"] for c in a["conditions"]
               if c["status"] != "holds"]
    assert any(d.startswith("blocked: dim.trust = 1.10") for d in details), details
    partial = write(tmp_path / "p.yaml", "answers:\n  t1.r01: 5\n")
    out = cli("why-not", "mode.creating", "--answers", partial).out
    assert "unknown: dim.trust needs" in out


def test_why_not_of_a_concluded_id_says_so():
    out = cli("why-not", "mode.complying", "--answers", PFI).out
    assert "is concluded" in out


def test_what_if_reports_added_and_removed(tmp_path):
    changes = [f"t2.r{n:02d}=5" for n in range(1, 11)] + [f"t1.r{n:02d}=5" for n in range(1, 22)]
    data = cli("what-if", PFI, *changes, "--format", "json").json()
    assert set(data) == {"added", "removed", "unchanged", "scores"}
    assert "mode.creating" in data["added"] and "mode.complying" in data["removed"]
    assert "stair.transactional" in data["unchanged"]


def test_what_if_with_no_effect_and_with_unknown():
    data = cli("what-if", PFI, "fail.01=2", "--format", "json").json()
    assert data["added"] == [] and data["removed"] == []
    data = cli("what-if", PFI, "t2.r01=unknown", "--format", "json").json()
    assert "mode.complying" in data["unchanged"]


def test_what_if_rejects_bad_changes():
    assert "out of range" in cli("what-if", PFI, "t2.r01=9", code=2).err
    assert "did you mean" in cli("what-if", PFI, "t2.r1=3", code=2).err
    assert "expected ITEM=VALUE" in cli("what-if", PFI, "t2.r01", code=2).err
