"""Every rule's YAML examples, as one pytest test each, on both backends.

`pytest -k mode.creating` runs that rule's examples.
"""
from __future__ import annotations

import pytest

from partnerdx.kb import load_kb

KB = load_kb()
CASES = [(rule.id, x.name) for rule in KB.rules for x in rule.examples]
BACKENDS = ("durable", "reference")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("rule_id,example", CASES, ids=[f"{r}::{x}" for r, x in CASES])
def test_rule_example(rule_id, example, backend):
    from partnerdx.kbtest import run_examples
    [result] = [r for r in run_examples(KB, f"{rule_id}::{example}", backend) if r.test_id == f"{rule_id}::{example}"]
    assert result.ok, (f"{result.path}:{result.line}: expected concluded ⊇ {result.missing}, "
                       f"not concluded ⊉ {result.unexpected}; concluded {result.concluded}")


def test_every_rule_has_examples_that_fire_and_that_do_not():
    lacking = []
    for rule in KB.rules:
        fires = any(rule.concludes in x.concluded for x in rule.examples)
        quiet = any(rule.concludes in x.not_concluded for x in rule.examples)
        if not (fires and quiet):
            lacking.append(f"{rule.path}:{rule.line}: {rule.id}")
    assert not lacking, "rules without a firing and a non-firing example:\n" + "\n".join(lacking)


def test_there_are_rules_in_every_family():
    families = {r.family for r in KB.rules}
    assert {"modes", "staircase", "disconnect", "failure", "barriers", "fit", "outlook", "pressures",
            "what_works", "interventions"} <= families


def test_kb_test_command_reports_passed_and_failed(tmp_path):
    from conftest import cli
    run = cli("kb", "test")
    assert run.out.strip().endswith(f"{len(CASES)} passed, 0 failed")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "wrong.yaml").write_text(
        "kind: rules\nfamily: extra\nrules:\n  - id: extra.wrong\n    title: High question one\n"
        "    when: {item: stair.q01, gte: 4}\n    then: {conclude: extra.high, type: staircase}\n"
        "    because: \"q1 is {stair.q01}\"\n"
        "    source: {ref: morley-staircase, at: q, quote: \"The ten questions are\"}\n"
        "    examples:\n      - name: claims_wrongly\n        answers: {stair.q01: 2}\n"
        "        expect: {concluded: [extra.high]}\n", encoding="utf-8")
    run = cli("--kb", tmp_path, "kb", "test", "-k", "extra.wrong", code=1)
    assert "FAIL extra.wrong::claims_wrongly: expected extra.high to be concluded" in run.out
    assert run.out.strip().endswith("0 passed, 1 failed")
