"""The full diagnostic is short enough to finish: checklists screen the long lists, context removes
modules that do not apply, and the same conclusions come out as from answering every item.

Each answer pattern (the built-in examples and three of our own) is a "truth": what the respondent
would answer to every question. The respondent ticks a checklist entry when they would rate it
clearly (4 or 5; for pressures 1 or 5; for What Works 3 or less), ticks in a drill-down exactly the
entries at the value asked about, skips a checklist whose entries they cannot judge at all, and
skips a question they have no answer to. The same script drives `partnerdx ask` in a terminal and
the web pages; each must ask at most 45 prompts and reach the conclusions and recommendations of
`diagnose` on the whole truth.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES, FIXTURES, ROOT
from web_support import Person, db_url, make_app  # noqa: F401 (db_url is a fixture)

PATTERNS = sorted(EXAMPLES.glob("*.yaml")) + sorted((FIXTURES / "patterns").glob("*.yaml"))
LIMIT = 45
PROMPT = re.compile(r"(?m)^([a-z0-9_.:]+)> ")


def overlays_of(path: Path) -> tuple[Path, ...]:
    """An example that extends the knowledge base (its answers name the overlay's items) runs with
    its overlay: examples/NAME.yaml answers examples/health-check's instrument."""
    folder = EXAMPLES / "health-check"
    return (folder,) if path.stem == "riverside-health-check" else ()


def kb_for(kb, path: Path):
    from partnerdx.kb import load_kb
    return load_kb(overlays_of(path)) if overlays_of(path) else kb


def truth_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["answers"]


def ticks(instrument: str, value) -> bool:
    if instrument == "pressures":
        return value <= 1 or value >= 5
    if instrument == "what_works":
        return value <= 3
    return value >= 4


def script(kb, truth: dict) -> tuple[list[tuple[str, str, object]], dict]:
    """What this respondent does at each prompt: (key, kind, payload) and the answers kept. kind is
    'checklist' (payload: 1-based positions ticked, or None to skip) or 'item' (a value or None)."""
    from partnerdx.questionnaire import Questionnaire, checklist_of, is_checklist
    q = Questionnaire(kb, "full")
    steps = []
    while (key := q.next_item()) is not None and len(steps) < 200:
        if is_checklist(key):
            _, drill = checklist_of(key)
            entries = [e["id"] for e in q.checklist(key)["entries"]]
            if drill:
                chosen = [i for i in entries if truth.get(i) == q.screened[i][1]]
            elif not any(i in truth for i in entries):
                steps.append((key, "checklist", None))
                q.skip_checklist(key)
                continue
            else:
                chosen = [i for i in entries if i in truth and ticks(q.instrument(i), truth[i])]
            steps.append((key, "checklist", [entries.index(i) + 1 for i in chosen]))
            q.answer_checklist(key, chosen)
        else:
            steps.append((key, "item", truth.get(key)))
            q.answer(key, truth.get(key))
    return steps, q.answers


def answered_a_checklist(steps) -> bool:
    """Whether the respondent answered (not skipped) a checklist: only then is anything recorded
    from one (riverside-health-check answers only its overlay's instrument and skips every list)."""
    return any(kind == "checklist" and payload is not None for _, kind, payload in steps)


def findings(kb, answers: dict) -> tuple[list[str], list[str]]:
    from partnerdx.answers import AnswerSet
    from partnerdx.inference import diagnose
    d = diagnose(kb, AnswerSet(answers, "pattern"))
    return sorted(c.id for c in d.conclusions), sorted(r.id for r in d.recommendations)


@pytest.mark.parametrize("path", PATTERNS, ids=lambda p: p.stem)
def test_the_questionnaire_asks_at_most_45_prompts_and_concludes_as_answering_everything(kb, path):
    kb = kb_for(kb, path)
    truth = truth_of(path)
    steps, kept = script(kb, truth)
    assert len(steps) <= LIMIT, f"{path.stem}: {len(steps)} prompts"
    assert any(kind == "checklist" for _, kind, _ in steps)
    assert findings(kb, kept) == findings(kb, truth)
    # the checklists recorded unticked entries as "not present" (1) rather than leaving them out
    # (unless every checklist was skipped: riverside answers only its overlay's instrument)
    assert not answered_a_checklist(steps) or any(kept.get(q) == 1 and q not in (k for k, _, _ in steps) for q in kb.questions)


def test_context_removes_the_outsourcing_module_and_says_why(kb):
    from partnerdx.questionnaire import Questionnaire
    q = Questionnaire(kb, "full", {"context.sectors": ["public"], "context.service": "joined_up_service"})
    removed = q.removed()
    gone = {i for r in removed for i in r["items"]}
    assert {i for i in kb.questions if kb.questions[i].data["instrument"] in ("barriers", "end_results")} <= gone
    assert any("outsource" in r["reason"] for r in removed)
    assert not gone & set(q.items)
    kept = Questionnaire(kb, "full", {"context.sectors": ["public", "private"]})
    assert not kept.removed() and len(kept.items) == len(kb.questions)


def terminal_input(kb, steps) -> list[str]:
    lines = []
    for key, kind, payload in steps:
        if kind == "checklist":
            lines.append("skip" if payload is None else (",".join(map(str, payload)) or "none"))
            continue
        q = kb.questions[key]
        if payload is None:
            lines.append("skip")
        elif q.type == "rated":
            lines.append(str(payload))
        elif q.type == "choice":
            lines.append(str(q.options.index(payload) + 1))
        else:
            lines.append(",".join(str(q.options.index(v) + 1) for v in payload))
    return lines


@pytest.mark.parametrize("path", PATTERNS, ids=lambda p: p.stem)
def test_ask_in_a_terminal_asks_the_same_short_questionnaire(kb, path, tmp_path):
    kb = kb_for(kb, path)
    truth = truth_of(path)
    steps, _ = script(kb, truth)
    env = dict(os.environ, PARTNERDX_HOME=str(tmp_path), NO_COLOR="1", COLUMNS="200", TERM="dumb")
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), *(a for o in overlays_of(path) for a in ("--kb", str(o))),
                           "ask", "--session", "length", "--module", "full"],
                          input="\n".join(terminal_input(kb, steps) + [""]) + "\n", capture_output=True, text=True,
                          env=env, timeout=600, cwd=tmp_path)
    asked = PROMPT.findall(proc.stdout)
    assert asked == [k for k, _, _ in steps], proc.stdout[-2000:]
    assert len(asked) <= LIMIT
    assert re.search(r"about \d+ questions, \d+ minutes", proc.stdout)          # the length, said first
    assert "All relevant questions answered" in proc.stdout
    if answered_a_checklist(steps):
        assert "From checklists" in proc.stdout and "not ticked in the checklist" in proc.stdout
    saved = json.loads((tmp_path / "sessions" / "length.json").read_text())
    assert findings(kb, saved["answers"]) == findings(kb, truth_of(path))


@pytest.fixture
def app(db_url, kb):
    app = make_app(db_url, kb)
    yield app
    app.state.ctx.db.dispose()


@pytest.mark.parametrize("path", PATTERNS, ids=lambda p: p.stem)
def test_the_web_asks_the_same_short_questionnaire(db_url, kb, path):
    kb = kb_for(kb, path)
    app = make_app(db_url, kb)
    try:
        _web_round(app, kb, path)
    finally:
        app.state.ctx.db.dispose()


def _web_round(app, kb, path):
    from partnerdx.web import store
    truth = truth_of(path)
    steps, _ = script(kb, truth)
    f = Person(app)
    f.sign_in()
    aid, links = f.create("Pattern", ["Org"], scope="full")
    link = links["Org"]
    p = Person(app)
    welcome = p.get(link).text
    assert re.search(r"About \d+ questions, \d+ minutes", welcome)
    p.post(f"{link}/start", {})
    pages = 0
    for key, kind, payload in steps:
        assert p.current_item() == key
        pages += 1
        if payload is None:
            p.skip(link)
        elif kind == "checklist" or kb.questions[key].type == "multi":
            p.post(f"{link}/q", {"item": key, "value": [str(v) for v in payload], "action": "answer"})
        else:
            p.answer(link, payload)
    assert p.current_item() is None and "Ready to submit" in p.page and pages <= LIMIT
    if answered_a_checklist(steps):
        assert "not present (not ticked in the checklist)" in p.page or "below" in p.page or "balanced" in p.page
    p.submit(link)
    rows = store.submitted_rows(app.state.ctx.db, aid)
    assert len(rows) == 1
    assert findings(kb, rows[0][2]) == findings(kb, truth)


def test_the_json_api_asks_checklists_too(app, kb):
    from starlette.testclient import TestClient

    from web_support import PASSWORD
    c = TestClient(app)
    token = c.post("/api/v1/auth/token", json={"name": "alice", "password": PASSWORD}).json()["token"]
    made = c.post("/api/v1/assessments", headers={"Authorization": f"Bearer {token}"},
                  json={"partnership": "API", "organisations": ["Org"], "scope": "full"}).json()
    link = made["rounds"][0]["links"][0]["token"]
    rk = {"X-Response-Key": c.post(f"/api/v1/r/{link}/responses").json()["response_key"]}
    state = c.get(f"/api/v1/r/{link}/response", headers=rk).json()
    prompts, lists = 0, 0
    while state["next"] and prompts < 100:
        prompts += 1
        nxt = state["next"]
        if nxt["type"] == "checklist":
            lists += 1
            bad = c.put(f"/api/v1/r/{link}/response/answers/{nxt['id']}", headers=rk, json={"value": ["stair.q01"]})
            assert bad.status_code == 422
            value = [nxt["options"][0]["item"]] if lists == 1 else []          # tick the first entry once
        else:
            value = None if nxt["id"].startswith("context.") else 2
        assert c.put(f"/api/v1/r/{link}/response/answers/{nxt['id']}", headers=rk, json={"value": value}).status_code == 200
        state = c.get(f"/api/v1/r/{link}/response", headers=rk).json()
    assert state["next"] is None and lists >= 3 and prompts <= LIMIT
    ones = [k for k, v in state["answers"].items() if v == 1 and not k.startswith("checklist:")]
    assert ones                                                               # unticked entries: not present
