"""Authoring a whole instrument, and the tools catching mistakes at their root (issue 17).

The example overlay examples/health-check adds an instrument, an `ask` module, a conclusion type
with a report section of its own, a score, two conclusions and a recommendation; these tests use it
as an author would, through the command line."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conftest import EXAMPLES, ROOT, cli, write

OVERLAY = EXAMPLES / "health-check"
ANSWERS = EXAMPLES / "riverside-health-check.yaml"
CITE = '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n'


def question(ident: str, title: str, extra: str = "") -> str:
    return (f"  - id: {ident}\n    instrument: staircase\n    title: {title}\n{extra}"
            f"    text: \"{title}?\"\n    help: \"Help.\"\n    scale: {{low: \"No\", high: \"Yes\"}}\n" + CITE)


def rule(ident: str, when: str, ctype: str = "risk", because: str = "Because {stair.q01}.") -> str:
    return (f"  - id: {ident}\n    title: Situation {ident}\n    when: {when}\n"
            f"    then: {{conclude: {ident}, type: {ctype}}}\n    because: \"{because}\"\n" + CITE
            + "    examples: []\n")


# ---- the example overlay: a new instrument, module, type and report section ---------------------------

def test_the_example_overlay_is_clean_and_its_tests_pass():
    assert cli("--kb", OVERLAY, "kb", "check").out.startswith("ok: ")
    assert "All checks passed" in cli("--kb", OVERLAY, "kb", "lint", "--strict").out
    run = cli("--kb", OVERLAY, "kb", "test", "-k", "hc.", "-v")
    assert "PASS hc.mean::mean_of_six" in run.out and "PASS hc.mean::too_few_answers" in run.out
    assert "PASS rec.hc.joint_review::weak_foundations (fired: " in run.out
    assert run.out.rstrip().endswith("10 passed, 0 failed")


def test_its_conclusions_have_a_report_section_of_their_own():
    md = cli("--kb", OVERLAY, "diagnose", ANSWERS, "--format", "markdown").out
    section = md.index("## Partnership health check")
    assert md.index("### Health-check concerns", section) < md.index("## Recommendations")
    assert "**The foundations of the partnership need attention**\n" in md        # by title in the text
    assert "- `hc.foundations_weak` — The foundations of the partnership need attention" in md  # id: appendix
    assert "*local-health-check, Reading the results*" in md          # its own source, not a seed's
    assert "## Findings" not in md                                     # no empty built-in section
    d = cli("--kb", OVERLAY, "diagnose", ANSWERS, "--format", "json").json()
    assert {c["id"]: c["type"] for c in d["conclusions"]} == {"hc.foundations_weak": "health",
                                                               "hc.review_missing": "health"}
    assert [r["id"] for r in d["recommendations"]] == ["int.hc.joint_review"]


def test_ask_asks_the_new_instrument_in_its_own_module(tmp_path):
    from partnerdx.answers import AnswerSet
    from partnerdx.inference import diagnose
    from partnerdx.kb import load_kb
    env = dict(os.environ, PARTNERDX_HOME=str(tmp_path), NO_COLOR="1", TERM="dumb")
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--kb", str(OVERLAY), "ask", "--module",
                          "health_check", "--session", "hc"], input="1\n1\n1\n" + "1\n" * 6 + "quit\n",
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    asked = re.findall(r"(?m)^([a-z_]+\.q\d\d)> ", out.stdout)          # the prompt names the item
    hc = [a for a in asked if a.startswith("hc.")]
    assert asked == [a for a in asked if a.startswith("context.")] + hc and len(set(hc)) == len(hc)
    # the items a rule tests directly (review: Q6 and Q3) settle most, so they come first; once four
    # answers of 1 fix the mean at 2.5 or less, the other two cannot change a finding and are not asked
    assert sorted(hc[:2]) == ["hc.q03", "hc.q06"] and len(hc) == 4
    kb = load_kb((OVERLAY,))
    given = {a: 1 for a in hc}
    outcome = lambda answers: sorted(c.id for c in diagnose(kb, AnswerSet(answers, "hc")).conclusions)  # noqa: E731
    rest = [q for q in kb.questions if q.startswith("hc.") and q not in hc]
    assert all(outcome(given) == outcome({**given, **{q: v for q in rest}}) for v in (1, 3, 5))
    assert "1 = Not at all true of us" in out.stdout       # the instrument's scale
    assert "The foundations of the partnership need attention" in out.stdout
    wrong = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ask", "--module", "health_check",
                            "--session", "x"], capture_output=True, text=True, env=env, timeout=120)
    assert wrong.returncode == 2 and "not a module" in wrong.stderr   # without the overlay it is unknown


def test_kb_docs_and_kb_graph_show_it_under_its_own_name(tmp_path):
    cli("--kb", OVERLAY, "kb", "docs", "-o", tmp_path / "site")
    page = (tmp_path / "site" / "instrument-health_check.html").read_text(encoding="utf-8")
    assert "Six-item partnership health check (health_check, asked in module health_check)" in page
    assert 'id="item-hc.q06"' in page
    conclusions = (tmp_path / "site" / "conclusions.html").read_text(encoding="utf-8")
    assert 'id="type-health"' in conclusions and "Health-check concerns" in conclusions
    graph = cli("--kb", OVERLAY, "kb", "graph", "--format", "json").json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["hc.q01"]["instrument"] == "health_check"
    assert nodes["hc.foundations_weak"]["type"] == "health"
    assert {"from": "hc.mean", "to": "rule:hc.foundations_weak"} in graph["edges"]


def test_modules_come_from_the_knowledge_base(kb):
    from partnerdx.kb import load_kb
    from partnerdx.questionnaire import SCOPES, scopes
    assert scopes(kb) == SCOPES          # the built-in vocabulary says what SCOPES said
    assert scopes(load_kb((OVERLAY,)))["health_check"] == ("Partnership health check (six questions)",
                                                           ("health_check",))


def test_an_unknown_type_or_instrument_is_an_error_with_a_suggestion(tmp_path):
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.x", "{item: stair.q01, lte: 2}", ctype="rsik"))
    run = cli("--kb", tmp_path, "kb", "check", code=2)
    assert "local.x: type 'rsik' is not one of" in run.err and "did you mean 'risk'?" in run.err


# ---- root causes first -------------------------------------------------------------------------------

def test_one_misindented_entry_gives_one_error_and_the_rest_of_its_file_loads(tmp_path):
    text = ("kind: question\nfamily: local\nentries:\n" + question("local.q01", "First")
            + question("local.q02", "Second").replace("    text:", "     text:")
            + question("local.q03", "Third"))
    path = write(tmp_path / "knowledge" / "q.yaml", text)
    broken = text.splitlines().index('     text: "Second?"') + 1
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.uses", "{all: [{item: local.q02, lte: 2}, {item: local.q03, lte: 2}]}"))
    lines = cli("--kb", tmp_path, "kb", "check", code=2).err.strip().splitlines()
    assert lines[0].startswith(f"{path}:{broken}: local.q02: malformed YAML: ")
    assert "indented" in lines[0]
    rest = lines[1:]
    assert rest and all("(consequence: 'local.q02' is defined at" in line for line in rest), lines
    assert not any("local.q03" in line or "local.q01" in line or "did you mean" in line for line in lines)


def test_a_schema_error_costs_only_its_entry(tmp_path):
    text = ("kind: question\nfamily: local\nentries:\n" + question("local.q01", "First", "    colour: red\n")
            + question("local.q02", "Second"))
    path = write(tmp_path / "knowledge" / "q.yaml", text)
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.uses", "{all: [{item: local.q01, lte: 2}, {item: local.q02, lte: 2}]}"))
    lines = cli("--kb", tmp_path, "kb", "check", code=2).err.strip().splitlines()
    assert lines[0] == (f"{path}:7: local.q01: unexpected key 'colour' (allowed: area, basis, help, id, instrument, "
                        "lint, note, options, override, scale, source, text, title, type)")
    assert len(lines) == 2 and "consequence: 'local.q01' is defined at" in lines[1]


def test_a_key_indented_too_little_is_one_message_saying_where_it_belongs(tmp_path):
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.x", "{item: stair.q01, lte: 2}").replace(
              CITE, "    source:\n      ref: morley-staircase\n      at: q\n    quote: \"The ten questions are\"\n"))
    lines = cli("--kb", tmp_path, "kb", "check", code=2).err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("local.x: 'quote' is indented as a key of this entry, but belongs under 'source': "
                             "indent it to line up with the other keys of 'source'")


def test_tabs_are_named_in_plain_words(tmp_path):
    path = write(tmp_path / "knowledge" / "q.yaml", "kind: question\nfamily: local\nentries:\n"
                 + question("local.q01", "First").replace("    help:", "\thelp:"))
    err = cli("--kb", tmp_path, "kb", "check", code=2).err
    assert f"{path}:8: local.q01: malformed YAML: a tab character indents this line; YAML indents with spaces only" in err


def test_an_id_that_exists_as_something_else_gets_no_did_you_mean(tmp_path):
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.x", "{fact: stair.q01}"))
    err = cli("--kb", tmp_path, "kb", "check", code=2).err
    assert "no rule concludes 'stair.q01' ('stair.q01' is a question)" in err and "did you mean" not in err


# ---- error-level findings block ------------------------------------------------------------------------

CYCLE = ("kind: rules\nfamily: local\nrules:\n"
         + rule("local.a", "{all: [{fact: local.b}, {item: stair.q01, gte: 2}]}")
         + rule("local.b", "{any: [{fact: local.a}, {item: stair.q01, gte: 4}]}"))
TWO_MODES = ("kind: rules\nfamily: local\nrules:\n"
             + rule("local.mode.cautious", "{score: dim.trust, lt: 3}", ctype="mode", because="Trust {dim.trust}."))
WRONG_QUOTE = ("kind: source\nfamily: local\nentries:\n  - id: local-notes\n    title: Our notes\n"
               "    authors: [Us]\n    year: 2024\n    published: Internal\n    seed: notes.txt\n"
               "---\n")


@pytest.mark.parametrize("case", ["cycle", "mode_contradiction", "wrong_overlay_quote"])
def test_error_findings_fail_kb_check_and_make_diagnose_refuse(tmp_path, case):
    if case == "cycle":
        write(tmp_path / "rules" / "r.yaml", CYCLE)
        code = "PDX103"
    elif case == "mode_contradiction":
        write(tmp_path / "rules" / "r.yaml", TWO_MODES)
        code = "PDX405"
    else:
        write(tmp_path / "seeds" / "notes.txt", "Our workshop notes say that partners must share.\n")
        write(tmp_path / "knowledge" / "sources.yaml", WRONG_QUOTE.replace("---\n", ""))
        write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n" + rule(
            "local.x", "{item: stair.q01, lte: 2}").replace(
            CITE, '    source: {ref: local-notes, at: p. 1, quote: "partners should share"}\n'))
        code = "PDX301"
    run = cli("--kb", tmp_path, "kb", "check", code=2)
    assert f": {code} " in run.err and "[error]" in run.err
    if case == "wrong_overlay_quote":
        assert "quote not found in notes.txt" in run.err
    refused = cli("--kb", tmp_path, "diagnose", EXAMPLES / "pfi-hospital.yaml", code=2)
    assert f": {code} " in refused.err and "refusing to use the --kb overlay" in refused.err
    assert refused.out == ""


def test_kb_check_names_the_seed_files_it_checked_quotes_against(tmp_path):
    write(tmp_path / "seeds" / "notes.txt", "Our workshop notes say that partners must share.\n")
    write(tmp_path / "knowledge" / "sources.yaml", WRONG_QUOTE.replace("---\n", ""))
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n" + rule(
        "local.x", "{item: stair.q01, lte: 2}").replace(
        CITE, '    source: {ref: local-notes, at: p. 1, quote: "partners must share"}\n'))
    out = cli("--kb", tmp_path, "kb", "check").out
    assert f"quotes checked against " in out and f"{tmp_path}/seeds/notes.txt" in out


def test_warnings_do_not_block(tmp_path):
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.withheld", "{item: stair.q06, lte: 2}"))     # no examples, unaddressed: warnings
    cli("--kb", tmp_path, "kb", "check")
    cli("--kb", tmp_path, "diagnose", EXAMPLES / "pfi-hospital.yaml")


# ---- no silent skips -------------------------------------------------------------------------------------

def test_ignored_files_and_folders_are_reported_and_yml_is_read(tmp_path):
    write(tmp_path / "rules" / "r.yml", "kind: rules\nfamily: local\nrules:\n"
          + rule("local.withheld", "{item: stair.q06, lte: 2}"))
    write(tmp_path / "rule" / "other.yaml", "kind: rules\nfamily: x\n")
    write(tmp_path / "rules" / "_draft.yaml", "kind: rules\nfamily: x\n")
    write(tmp_path / "knowledge" / "notes.txt", "notes\n")
    run = cli("--kb", tmp_path, "diagnose", EXAMPLES / "pfi-hospital.yaml", "--format", "json")
    assert "local.withheld" in {c["id"] for c in run.json()["conclusions"]}    # the .yml file was read
    err = run.err.splitlines()
    assert any(line.startswith(f"{tmp_path}/rule: ignored:") and "did you mean 'rules/'?" in line for line in err)
    assert any(line.startswith(f"{tmp_path}/rules/_draft.yaml: ignored: files starting with '_'") for line in err)
    assert any(line.startswith(f"{tmp_path}/knowledge/notes.txt: ignored: only .yaml and .yml") for line in err)
    assert len(err) == 3
    assert "local.withheld" in cli("--kb", tmp_path, "why-not", "local.withheld", "--answers",
                                   EXAMPLES / "pfi-hospital.yaml", code=None).out


def test_an_overlay_that_contributes_nothing_is_an_error(tmp_path):
    (tmp_path / "rules").mkdir()
    err = cli("--kb", tmp_path, "kb", "check", code=2).err
    assert f"{tmp_path}: this --kb folder contributes nothing" in err


# ---- kb test like a test runner ---------------------------------------------------------------------------

FAILING = ("kind: rules\nfamily: local\nrules:\n"
           + rule("local.low", "{all: [{item: stair.q01, lte: 2}, {item: stair.q02, lte: 2}]}").replace(
               "    examples: []\n", "    examples:\n      - name: should_fire\n"
               "        answers: {stair.q01: 1, stair.q02: 4}\n        expect: {concluded: [local.low]}\n"
               "      - name: quiet\n        answers: {stair.q01: 5}\n        expect: {not_concluded: [local.low]}\n"))


def test_kb_test_selecting_nothing_fails():
    run = cli("kb", "test", "-k", "nomatch", code=2)
    assert "no test matches -k 'nomatch'" in run.err


def test_a_failing_example_shows_the_condition_that_blocked(tmp_path):
    write(tmp_path / "rules" / "r.yaml", FAILING)
    run = cli("--kb", tmp_path, "kb", "test", "-k", "local.", code=1)
    assert "FAIL local.low::should_fire: expected local.low to be concluded" in run.out
    assert "blocked: stair.q02 = 4, needs" in run.out
    assert run.out.rstrip().endswith("1 passed, 1 failed")


def test_junit_and_json_reports(tmp_path):
    write(tmp_path / "rules" / "r.yaml", FAILING)
    run = cli("--kb", tmp_path, "kb", "test", "-k", "local.", "--format", "junit", code=1)
    root = ET.fromstring(run.out.split("\n", 1)[1])
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and len(cases) == 2
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("local.low", "should_fire")]
    assert "blocked: stair.q02 = 4" in failed[0].find("failure").text
    doc = cli("--kb", tmp_path, "kb", "test", "-k", "local.", "--format", "json", code=1).json()
    assert doc["summary"] == {"passed": 1, "failed": 1}


def test_score_examples_and_scenario_files(tmp_path):
    write(tmp_path / "rules" / "s.yaml", "kind: rules\nfamily: local\nscores:\n"
          "  - id: local.pair\n    title: Pair\n    fn: mean\n    of: [stair.q01, stair.q02]\n    min_answered: 2\n"
          + CITE + "    examples:\n      - name: right\n        answers: {stair.q01: 1, stair.q02: 2}\n"
          "        expect: {value: 1.5}\n      - name: wrong\n        answers: {stair.q01: 1, stair.q02: 2}\n"
          "        expect: {value: 2, tolerance: 0.1}\n      - name: unknown\n        answers: {stair.q01: 1}\n"
          "        expect: {unknown: true}\n")
    write(tmp_path / "answers.yaml", "answers: {\"stair.*\": 1}\n")
    write(tmp_path / "scenarios" / "s.yaml", "kind: scenarios\nfamily: local\nscenarios:\n"
          "  - name: all_low_is_transactional\n    answers_file: ../answers.yaml\n"
          "    expect: {concluded: [stair.transactional], not_concluded: [stair.transform]}\n"
          "  - name: wrong_expectation\n    answers: {\"stair.*\": 5}\n    expect: {concluded: [stair.transactional]}\n")
    run = cli("--kb", tmp_path, "kb", "test", "-k", "local.pair", code=1)
    assert "FAIL local.pair::wrong: expected local.pair = 2 ± 0.1, found 1.5" in run.out
    assert run.out.rstrip().endswith("2 passed, 1 failed")
    run = cli("--kb", tmp_path, "kb", "test", "-k", "scenario::", code=1)
    assert "PASS" not in run.out and "FAIL scenario::wrong_expectation" in run.out
    assert run.out.rstrip().endswith("1 passed, 1 failed")


def test_duplicate_example_names_are_refused(tmp_path):
    write(tmp_path / "rules" / "r.yaml", FAILING.replace("name: quiet", "name: should_fire"))
    assert "duplicate example name 'should_fire'" in cli("--kb", tmp_path, "kb", "check", code=2).err


def test_the_builtin_base_has_full_branch_coverage():
    run = cli("kb", "test", "--coverage")
    assert run.out.splitlines()[-1].startswith("coverage: 100 % of alternatives (")
    assert ", 100 % of threshold sides (" in run.out.splitlines()[-1]
    assert len(run.out.splitlines()) == 2      # summary and coverage: no gap listed


def test_coverage_names_a_branch_no_example_reaches(tmp_path):
    write(tmp_path / "rules" / "r.yaml", FAILING.replace(
        "{all: [{item: stair.q01, lte: 2}, {item: stair.q02, lte: 2}]}",
        "{any: [{item: stair.q01, lte: 2}, {item: stair.q03, gte: 4}]}").replace("stair.q02: 4", "stair.q02: 2"))
    run = cli("--kb", tmp_path, "kb", "test", "-k", "local.", "--coverage", "--format", "json").json()
    gaps = [g["message"] for g in run["coverage"]["gaps"] if g["rule"] == "local.low"]
    assert "no test makes alternative 2 of 2 true (stair.q03 ≥ 4)" in gaps


def test_coverage_does_not_ask_for_a_threshold_side_no_answers_reach(tmp_path):
    # Answers are 1-5, so 'stair.q01 ≥ 1' is true whenever it is known: no example can make it false.
    write(tmp_path / "rules" / "r.yaml", FAILING.replace(
        "{all: [{item: stair.q01, lte: 2}, {item: stair.q02, lte: 2}]}",
        "{all: [{item: stair.q01, gte: 1}, {item: stair.q02, lte: 2}]}").replace("stair.q02: 4", "stair.q02: 2"))
    run = cli("--kb", tmp_path, "kb", "test", "-k", "local.", "--coverage", "--format", "json").json()
    gaps = [g["message"] for g in run["coverage"]["gaps"] if g["rule"] == "local.low"]
    assert gaps == ["no test makes 'stair.q02 ≤ 2' false"]


# ---- editors: JSON Schemas ------------------------------------------------------------------------------

def test_json_schemas_validate_every_builtin_file_and_reject_a_bad_one(tmp_path):
    import jsonschema
    import yaml
    cli("kb", "schema", "-o", tmp_path)
    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in tmp_path.glob("*.schema.json")}
    assert set(schemas) == {f"{k}.schema.json" for k in
                            ("question", "concept", "intervention", "source", "rules", "scenarios", "types", "instruments")}
    checked = 0
    for f in sorted([*(ROOT / "knowledge").rglob("*.yaml"), *(ROOT / "rules").rglob("*.yaml")]):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        if f.name in ("_ladders.yaml", "_questionnaire.yaml"):   # read by path and questionnaire, not the loader
            continue
        name = f"{f.stem.strip('_')}.schema.json" if f.name.startswith("_") else f"{doc['kind']}.schema.json"
        jsonschema.Draft202012Validator(schemas[name]).validate(doc)
        checked += 1
    assert checked >= 20
    bad = yaml.safe_load((ROOT / "tests" / "fixtures" / "bad" / "misspelt_rule_key.yaml").read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError, match="becuase"):
        jsonschema.Draft202012Validator(schemas["rules.schema.json"]).validate(bad)
    question_schema = schemas["question.schema.json"]["properties"]["entries"]["items"]["properties"]
    assert "what_works" in question_schema["instrument"]["enum"]             # completion from the KB
    assert "morley-staircase" in question_schema["source"]["properties"]["ref"]["enum"]


# ---- lint waivers, hints -----------------------------------------------------------------------------------

def test_lint_ignore_and_a_per_entry_waiver_with_its_reason(tmp_path):
    body = rule("local.withheld", "{item: stair.q06, lte: 2}")
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n" + body)
    codes = {f["code"] for f in cli("--kb", tmp_path, "kb", "lint", "--format", "json").json()["findings"]}
    assert {"PDX401", "PDX502"} <= codes
    cli("--kb", tmp_path, "kb", "lint", "--strict", "--ignore", "PDX401", "--ignore", "PDX502")
    waived = body.replace("    examples: []\n", "    examples: []\n    lint: {ignore: [PDX401, PDX502], "
                          "reason: \"A draft we keep on purpose.\"}\n")
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n" + waived)
    cli("--kb", tmp_path, "kb", "lint", "--strict")
    write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
          + waived.replace(", reason: \"A draft we keep on purpose.\"", ""))
    assert "lint: missing required key 'reason'" in cli("--kb", tmp_path, "kb", "check", code=2).err
    assert "did you mean 'PDX401'?" in cli("kb", "lint", "--ignore", "PDX4O1", code=2).err


def test_why_hints_reproduce_the_overlay_and_the_answers():
    run = cli("--kb", OVERLAY, "why", "hc.foundations_weak", "--answers", EXAMPLES / "pfi-hospital.yaml", code=1)
    assert f"partnerdx --kb {OVERLAY} why-not {EXAMPLES / 'pfi-hospital.yaml'} hc.foundations_weak\n" in run.err
    run = cli("--kb", OVERLAY, "why-not", "hc.foundations_weak", "--answers", ANSWERS)
    assert f"this shows how: partnerdx --kb {OVERLAY} why {ANSWERS} hc.foundations_weak" in run.out


def test_serve_refuses_an_overlay_with_errors_before_starting(tmp_path):
    write(tmp_path / "rules" / "r.yaml", CYCLE)
    run = cli("--kb", tmp_path, "serve", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", code=2)
    assert "PDX103" in run.err and "refusing to use the --kb overlay" in run.err


def test_kb_check_watch_runs_again_on_save(tmp_path):
    import pexpect
    rules = write(tmp_path / "rules" / "r.yaml", "kind: rules\nfamily: local\nrules:\n"
                  + rule("local.withheld", "{item: stair.q06, lte: 2}"))
    env = dict(os.environ, NO_COLOR="1", TERM="dumb")
    child = pexpect.spawn(sys.executable, [str(ROOT / "cli.py"), "--kb", str(tmp_path), "kb", "check", "--watch"],
                          env=env, encoding="utf-8", timeout=120)
    try:
        child.expect("ok: ")
        rules.write_text(rules.read_text(encoding="utf-8").replace("type: risk", "type: rsik"), encoding="utf-8")
        child.expect("change seen; running again")
        child.expect("type 'rsik' is not one of")
        rules.write_text(rules.read_text(encoding="utf-8").replace("type: rsik", "type: risk"), encoding="utf-8")
        child.expect("ok: ")
    finally:
        child.kill(2)
        child.close()


def test_assess_reports_the_new_instrument_and_section(tmp_path):
    header = "respondent,organisation,sector," + ",".join(f"hc.q0{n}" for n in range(1, 7))
    rows = [f"R{i},{'Council' if i < 4 else 'Trust'},public," + ",".join(["2", "1", "2", "3", "1", "2"]) for i in range(8)]
    csv = write(tmp_path / "hc.csv", "\n".join([header, *rows]) + "\n")
    md = cli("--kb", OVERLAY, "assess", csv, "--format", "markdown").out
    assert "| Shared purpose |" in md and "`hc.q01`" in md      # the title in the table, the id in the appendix
    assert "### Partnership health check" in md and "#### Health-check concerns" in md


def test_an_overlay_may_retitle_a_builtin_type_only_with_override(tmp_path):
    write(tmp_path / "rules" / "_types.yaml", "types:\n  fit:\n    title: Suits the context?\n")
    err = cli("--kb", tmp_path, "kb", "check", code=2).err
    assert "fit: duplicate type name (first defined at" in err and "set 'override: true'" in err
    write(tmp_path / "rules" / "_types.yaml", "types:\n  fit:\n    title: Suits the context?\n    order: 5\n"
          "    override: true\n")
    cli("--kb", tmp_path, "kb", "check")
    md = cli("--kb", tmp_path, "diagnose", EXAMPLES / "pfi-hospital.yaml", "--format", "markdown").out
    headings = [line for line in md.splitlines() if line.startswith("### ")]
    assert headings[0] == "### Suits the context?" and "### Fit with the context" not in md   # title and order


def test_why_of_an_id_that_is_no_conclusion_says_what_it_is():
    err = cli("why", "stair.q01", "--answers", ANSWERS, code=2).err
    assert "no rule concludes this id (it is a question, not a conclusion)" in err and "did you mean" not in err
    err = cli("--kb", OVERLAY, "why-not", "rec.hc.joint_review", "--answers", ANSWERS, code=2).err
    assert "(it is the id of a rule concluding 'int.hc.joint_review', not a conclusion)" in err
