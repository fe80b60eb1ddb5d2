"""`partnerdx diagnose`: answers in, conclusions with justifications and sources out (CONTRACT §5)."""
from __future__ import annotations

import json

import pytest

from conftest import EXAMPLES, cli, write

PFI = EXAMPLES / "pfi-hospital.yaml"
CREATING = EXAMPLES / "mental-health-creating.yaml"
CONSTRAINING = EXAMPLES / "eblc-constraining.yaml"


def ids(data: dict) -> list[str]:
    return [c["id"] for c in data["conclusions"]]


def answers_file(tmp_path, answers: dict, name: str = "a.yaml"):
    return write(tmp_path / name, json.dumps({"answers": answers}))


def test_pfi_example_is_complying_and_transactional_in_contract_json():
    data = cli("diagnose", PFI, "--format", "json").json()
    assert data["partnership"] == "Eastbridge Hospital PFI (example)"
    assert "mode.complying" in ids(data) and "stair.transactional" in ids(data)
    assert set(ids(data)) & {"mode.creating", "mode.constraining"} == set()
    for c in data["conclusions"]:
        assert {"id", "type", "title", "because", "rule", "sources", "from"} <= set(c)
        assert c["sources"] and all({"ref", "at", "quote"} <= set(s) for s in c["sources"])
        assert c["from"], c["id"]
    assert data["recommendations"], "a complying, transactional PFI gets recommendations"
    for r in data["recommendations"]:
        assert {"id", "title", "priority", "addresses", "because", "sources"} <= set(r)
        assert r["addresses"] and r["sources"]
    priorities = [r["priority"] for r in data["recommendations"]]
    assert priorities == sorted(priorities)
    assert isinstance(data["unanswered"], list)
    assert "barrier.01" in data["unanswered"], "barriers were not answered and feed conclusions"


def test_mode_conclusion_rests_on_both_dimension_scores_and_their_rows():
    data = cli("diagnose", PFI, "--format", "json").json()
    mode = next(c for c in data["conclusions"] if c["id"] == "mode.complying")
    assert set(mode["from"]) == {"dim.trust", "dim.voluntary"}
    assert "1.1" in mode["because"] and "1.2" in mode["because"]


def test_creating_example():
    found = ids(cli("diagnose", CREATING, "--format", "json").json())
    assert "mode.creating" in found and "stair.partnership" in found


def test_constraining_example():
    found = ids(cli("diagnose", CONSTRAINING, "--format", "json").json())
    assert "mode.constraining" in found and "stair.collaboration" in found


@pytest.mark.parametrize("t1,t2,mode", [(1, 1, "mode.complying"), (3, 3, "mode.constraining"),
                                        (5, 5, "mode.creating"), (5, 1, "mode.constraining"),
                                        (1, 5, "mode.constraining")])
def test_exactly_one_mode(tmp_path, t1, t2, mode):
    found = ids(cli("diagnose", answers_file(tmp_path, {"t1.*": t1, "t2.*": t2}), "--format", "json").json())
    assert [c for c in found if c.startswith("mode.")] == [mode]


@pytest.mark.parametrize("answers,step", [
    ({"stair.*": 1}, "stair.transactional"),
    ({"stair.*": 3}, "stair.collaboration"),
    ({"stair.*": 4, "stair.q05": 3}, "stair.partnership"),
    ({"stair.*": 5}, "stair.transform"),
])
def test_exactly_one_staircase_step(tmp_path, answers, step):
    found = ids(cli("diagnose", answers_file(tmp_path, answers), "--format", "json").json())
    assert [c for c in found if c.startswith("stair.")] == [step]


def test_too_few_answers_conclude_no_mode_and_no_step(tmp_path):
    data = cli("diagnose", answers_file(tmp_path, {"t1.r01": 1, "t2.r01": 1, "stair.q01": 1}),
               "--format", "json").json()
    assert not [c for c in ids(data) if c.startswith(("mode.", "stair."))]
    assert "t2.r02" in data["unanswered"] and "stair.q02" in data["unanswered"]


def test_unknown_and_null_answers_are_not_numbers(tmp_path):
    f = write(tmp_path / "a.yaml", "answers:\n  t1.r01: unknown\n  t2.r01: null\n  stair.q01: 4\n")
    data = cli("diagnose", f, "--format", "json").json()
    assert "t1.r01" in data["unanswered"] and "t2.r01" in data["unanswered"]


@pytest.mark.parametrize("text,expected", [
    ("answers:\n  stair.q01: 4\n  stair.q11: 3\n", "{f}:3: stair.q11: unknown item id; did you mean 'stair.q10'?"),
    ("answers:\n  stair.q01: 7\n", "{f}:2: stair.q01: value 7 is out of range 1–5"),
    ("answers:\n  stair.q01: lots\n", "{f}:2: stair.q01: expected a number from 1 to 5 (or unknown), found 'lots'"),
    ("answers:\n  context.service: hospital\n", "{f}:2: context.service: expected one of simple_commissioned, "
     "capital_project, joined_up_service, strategy, other, found 'hospital'"),
    ("answers:\n  stair.q01: [4\n", "{f}:3: malformed YAML: while parsing a flow sequence did not find expected ',' or ']'"),
    ("partnership: X\nanswer:\n  stair.q01: 4\n", "{f}:1: expected a mapping with an 'answers' mapping of item ids to answers"),
])
def test_bad_answers_exit_2_with_file_line_and_id(tmp_path, text, expected):
    f = write(tmp_path / "bad.yaml", text)
    run = cli("diagnose", f, code=2)
    assert run.err.strip().splitlines() == [expected.format(f=f)]
    assert run.out == ""


def test_bad_json_answers(tmp_path):
    f = write(tmp_path / "bad.json", '{"answers": {\n  "stair.q01": 4,\n  "t9.r01": 2\n}}')
    run = cli("diagnose", f, code=2)
    assert run.err.strip() == f"{f}:3: t9.r01: unknown item id; did you mean 't2.r01'?"
    f.write_text('{"answers": {"stair.q01": 4,,}}')
    assert "malformed JSON" in cli("diagnose", f, code=2).err


def test_missing_file_is_bad_input(tmp_path):
    run = cli("diagnose", tmp_path / "nope.yaml", code=2)
    assert run.err.strip() == f"{tmp_path / 'nope.yaml'}: no such file"


def test_bad_input_never_overwrites_an_existing_report(tmp_path):
    out = write(tmp_path / "report.md", "precious\n")
    bad = write(tmp_path / "bad.yaml", "answers:\n  stair.q01: 9\n")
    cli("diagnose", bad, "--format", "markdown", "-o", out, code=2)
    assert out.read_text() == "precious\n"
    cli("diagnose", PFI, "--format", "markdown", "-o", out)
    assert out.read_text().startswith("# Eastbridge Hospital PFI (example)")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_text_report_has_headline_findings_because_and_recommendations():
    out = cli("diagnose", PFI).out
    assert "Staircase of Relationships" in out and "Figure 1 mode" in out
    assert "because" in out and "armistead-pettigrew-2007" in out
    assert "Recommendations" in out and "do first" in out


def test_html_report_escapes_names_and_answers(tmp_path):
    f = write(tmp_path / "x.yaml", "partnership: \"<script>alert(1)</script> & Co\"\nanswers:\n  t1.r01: 1\n")
    html = cli("diagnose", f, "--format", "html").out
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert html.startswith("<!DOCTYPE html>")


def test_two_diagnoses_in_one_process_equal_each_alone():
    from partnerdx.answers import load_answers
    from partnerdx.explain import diagnosis_json
    from partnerdx.inference import diagnose
    from partnerdx.kb import load_kb
    kb = load_kb()
    files = [PFI, CREATING, CONSTRAINING]
    alone = {}
    for f in files:
        fresh = load_kb()
        alone[f] = diagnosis_json(fresh, diagnose(fresh, load_answers(fresh, f)))
    for f in files + files[::-1] + files:
        assert diagnosis_json(kb, diagnose(kb, load_answers(kb, f))) == alone[f]


def test_identical_input_gives_byte_identical_json():
    assert cli("diagnose", PFI, "--format", "json").out == cli("diagnose", PFI, "--format", "json").out
