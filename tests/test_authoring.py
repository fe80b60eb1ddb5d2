"""docs/authoring.md, followed literally: its titled YAML blocks become files, its `partnerdx` lines
are run in order, and the new conclusion shows in `diagnose` and `why`.

Convention (documented at the top of the tutorial): a fenced block whose info string has
`title="PATH"` is written verbatim to PATH; every line of a `sh` block that starts with
`partnerdx ` is a command that must succeed.
"""
from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, cli

TUTORIAL = ROOT / "docs" / "authoring.md"
FENCE = re.compile(r"^( *)```(\w+)([^\n]*)\n(.*?)^\1```\s*$", re.S | re.M)
TITLE = re.compile(r'title="([^"]+)"')


def blocks() -> list[tuple[str, str | None, str]]:
    """(language, title or None, body) of every fenced block (list items' blocks dedented), in order."""
    text = TUTORIAL.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        title = TITLE.search(m.group(3))
        out.append((m.group(2), title.group(1) if title else None, textwrap.dedent(m.group(4))))
    return out


def commands() -> list[list[str]]:
    return [shlex.split(line)[1:] for lang, _, body in blocks() if lang == "sh"
            for line in body.splitlines() if line.startswith("partnerdx ")]


@pytest.fixture
def tutorial(tmp_path, monkeypatch) -> Path:
    files = [(title, body) for _, title, body in blocks() if title]
    assert len(files) >= 4, "the tutorial's titled blocks are missing"
    for title, body in files:
        target = tmp_path / title
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_tutorial_adds_a_question_rule_intervention_and_recommendation(tutorial):
    from partnerdx.kb import load_kb
    kb = load_kb((tutorial / "my-kb",))
    assert "local.q01" in kb.questions and "int.local.data_sharing_protocol" in kb.interventions
    assert kb.conclusion_types["local.information_blocked"] == "whatworks"
    assert kb.rules_by_id["rec.local.data_sharing_protocol"].kind == "recommendation"


def test_following_the_tutorial_literally(tutorial):
    runs = [(args, cli(*args, code=0)) for args in commands()]
    ran = {" ".join(a[a.index("--kb") + 2:][:2]) for a, _ in runs}
    assert {"kb check", "kb lint", "kb test", "diagnose answers.yaml", "why answers.yaml"} <= ran

    lint = next(r for a, r in runs if "lint" in a)
    assert lint.out.startswith("All checks passed")
    test = next(r for a, r in runs if "test" in a)
    assert test.out.strip().endswith("5 passed, 0 failed")
    diagnose = next(r for a, r in runs if "diagnose" in a)
    assert "Information does not flow between the partners" in diagnose.out
    assert "local.information_blocked" in diagnose.out
    assert "Agree a data-sharing protocol" in diagnose.out
    why = next(r for a, r in runs if "why" in a and "local.information_blocked" in a)
    assert why.out.startswith("local.information_blocked — Information does not flow between the partners")
    assert "answer local.q01 = 1" in why.out and "answer stair.q06 = 2" in why.out
    assert (tutorial / "site" / "rules-local.html").is_file()


def test_the_diagnosis_json_carries_the_new_conclusion_and_recommendation(tutorial):
    d = cli("--kb", "my-kb", "diagnose", "answers.yaml", "--format", "json").json()
    [c] = [c for c in d["conclusions"] if c["id"] == "local.information_blocked"]
    assert c["type"] == "whatworks" and sorted(c["from"]) == ["local.q01", "stair.q06"]
    [r] = [r for r in d["recommendations"] if r["id"] == "int.local.data_sharing_protocol"]
    assert r["addresses"] == ["local.information_blocked"] and r["priority"] == 2
    tree = cli("--kb", "my-kb", "why", "answers.yaml", "int.local.data_sharing_protocol",
               "--format", "json").json()
    assert tree["premises"][0]["id"] == "local.information_blocked"


def test_the_lint_message_quoted_in_the_tutorial_is_what_lint_says(tutorial):
    """The tutorial shows lint's answer to a rule without its quiet examples: keep that true."""
    rules = tutorial / "my-kb" / "rules" / "local.yaml"
    text = rules.read_text(encoding="utf-8")
    start = text.index("      - name: systems_work")
    end = text.index("\n\n  - id: rec.local")
    rules.write_text(text[:start].rstrip("\n") + text[end:], encoding="utf-8")
    shown = next(body.strip() for lang, _, body in blocks() if lang == "text" and "PDX403" in body)
    run = cli("--kb", "my-kb", "kb", "lint", code=0)
    assert shown in run.out.splitlines()


def test_the_instrument_walkthrough_is_the_example_overlay_and_runs(tutorial):
    """Section 9 shows examples/health-check file by file: the blocks are those files, exactly, and
    its commands (already run in order by the test above) give the new section and a JUnit report."""
    from xml.etree import ElementTree as ET
    shown = {title: body for _, title, body in blocks() if title and title.startswith("health-check/")}
    assert len(shown) >= 8
    for title, body in shown.items():
        assert body == (ROOT / "examples" / title).read_text(encoding="utf-8"), title
    answers = next(body for _, title, body in blocks() if title == "riverside.yaml")
    assert answers == (ROOT / "examples" / "riverside-health-check.yaml").read_text(encoding="utf-8")
    for args in commands():
        if "health-check" in args:
            cli(*args, code=0)
    suite = ET.parse(tutorial / "results.xml").getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    md = cli("--kb", "health-check", "diagnose", "riverside.yaml", "--format", "markdown").out
    assert "## Partnership health check" in md and "### Health-check concerns" in md
    assert (tutorial / "health-site" / "instrument-health_check.html").is_file()
    assert (tutorial / "schemas" / "question.schema.json").is_file()
