"""`partnerdx ask`: a real terminal session (pty), kill safety, relevance and resumption."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT, cli

PROMPT = re.compile(r"(?m)^([a-z0-9_.:]+)> ")


def env(home: Path) -> dict:
    e = dict(os.environ, PARTNERDX_HOME=str(home), NO_COLOR="1", COLUMNS="200", TERM="dumb")
    e.pop("CI", None)
    return e


def spawn(home: Path, *args: str) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, [str(ROOT / "cli.py"), "ask", *args], env=env(home),
                         encoding="utf-8", timeout=60, dimensions=(50, 200))


def value_for(kb, item: str) -> str:
    if item.startswith("checklist:"):
        return "1"                                   # tick the first entry of a checklist
    q = kb.questions[item]
    if q.type == "rated":
        return str(1 + zlib.crc32(item.encode()) % 5)
    return "1" if q.type == "choice" else "1,2"


def test_full_session_through_a_terminal_with_why_back_skip_quit_and_resume(tmp_path, kb):
    child = spawn(tmp_path, "--session", "full1", "--module", "full")
    asked: list[str] = []
    did = {"why": False, "back": False, "skip": False}
    while True:
        child.expect(PROMPT)
        item = child.match.group(1)
        if not did["why"] and item == "checklist:table1":          # Table 1's rows come as one checklist
            did["why"] = True
            child.sendline("why")
            child.expect("Asked because it can still change")
            child.expect(r"source: [a-z0-9-]+, ")
            child.expect(PROMPT)
            assert child.match.group(1) == item
        if not did["back"] and len(asked) == 5:
            did["back"] = True
            child.sendline("back")
            child.expect(PROMPT)
            assert child.match.group(1) == asked[-1], "back re-asks the previous question"
            item = asked.pop()
        if not did["skip"] and item.startswith("stair."):
            did["skip"] = True
            child.sendline("skip")
            asked.append(item)
            continue
        if all(did.values()) and len(asked) >= 8:        # quit part-way, once why, back and skip were tried
            child.sendline("quit")
            child.expect("Resume with: partnerdx ask --session full1")
            child.expect(pexpect.EOF)
            child.close()
            break
        child.sendline(value_for(kb, item))
        asked.append(item)
    assert all(did.values()), did
    saved = json.loads((tmp_path / "sessions" / "full1.json").read_text())
    assert len(saved["history"]) == len(asked) and len(saved["skipped"]) == 1
    assert set(saved["answers"]) >= {i for i in saved["history"] if not i.startswith("checklist:")} - {saved["skipped"][0]}

    child = spawn(tmp_path, "--session", "full1")
    child.expect(f"Resumed session 'full1' \\({len(saved['answers'])} answers so far\\)")
    while True:
        i = child.expect([PROMPT, "Write the report to a file"])
        if i == 1:
            break
        item = child.match.group(1)
        assert item not in asked, f"{item} asked again after resuming"
        child.sendline(value_for(kb, item))
        asked.append(item)
    report = tmp_path / "report.md"
    child.sendline(str(report))
    child.expect("Wrote")
    child.expect(pexpect.EOF)
    child.close()
    assert all(a.startswith("context.") for a in asked[:3]), "context questions come first"

    exported = tmp_path / "answers.yaml"
    os.environ["PARTNERDX_HOME"] = str(tmp_path)
    try:
        cli("sessions", "--export", "full1", "-o", exported)
        listing = cli("sessions").out
    finally:
        del os.environ["PARTNERDX_HOME"]
    assert listing.startswith("full1\tfull\t")
    assert report.read_text() == cli("diagnose", exported, "--format", "markdown").out


def test_sigkill_between_answers_loses_nothing(tmp_path):
    # A checklist answer records many answers at once, so wait on the prompts answered (history).
    session = tmp_path / "sessions" / "kill.json"
    given: dict[str, str] = {}
    prompts = 0
    for round_ in range(3):
        proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "ask", "--session", "kill", "--module", "modes"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                env=env(tmp_path), text=True)
        for n in range(2):
            proc.stdin.write("2\n" if n % 2 else "1\n")
            proc.stdin.flush()
            prompts += 1
            deadline = time.time() + 30
            while time.time() < deadline:
                if session.exists() and len(json.loads(session.read_text())["history"]) >= prompts:
                    break
                time.sleep(0.02)
            given.update({k: v for k, v in json.loads(session.read_text())["answers"].items()})
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
        saved = json.loads(session.read_text())
        kept = saved["answers"]
        assert kept == {k: kept[k] for k in given} and set(kept) == set(given), f"round {round_}"
        assert len(saved["history"]) == prompts, f"round {round_}"
    assert len(given) > prompts == 6                  # the checklists recorded more than one answer each


def run_piped(home: Path, lines: list[str], *args: str) -> tuple[list[str], str]:
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ask", *args], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env(home), timeout=120, cwd=home)
    return PROMPT.findall(proc.stdout), proc.stdout + proc.stderr


def test_quick_staircase_check_never_asks_table_items(tmp_path):
    asked, out = run_piped(tmp_path, ["1", "1,2", "2"] + ["3"] * 10 + [""], "--session", "quick", "--module", "staircase")
    stair = [a for a in asked if a.startswith("stair.")]
    # the question tested by the most undecided findings first (Q1: every say-versus-do check), then
    # the others, each once
    assert stair[0] == "stair.q01" and len(set(stair)) == len(stair) >= 7
    assert asked[:3] == ["context.sectors", "context.aims", "context.service"]
    assert not [a for a in asked if not a.startswith(("stair.", "context."))]
    assert "So far:" in out and "stair.collaboration" in out
    # a few answers of 3 already settle "collaboration": the rest can no longer change anything
    assert f"All relevant questions answered ({10 - len(stair)} not needed)" in out


def test_settled_conclusions_stop_their_items_being_asked(tmp_path):
    """Table 2 all contract (1) and 15 Table 1 rows mandatory (1): even if the last six rows were 5,
    voluntarism could reach only (15 + 30) / 21 = 2.14, so complying and the mandatory outlook are
    settled and t1.r16 … t1.r21 are not asked."""
    pre = tmp_path / "pre.json"
    answers = {f"t2.r{n:02d}": 1 for n in range(1, 11)} | {f"t1.r{n:02d}": 1 for n in range(1, 16)}
    answers |= {"context.sectors": ["public"], "context.aims": ["reduce_cost"], "context.service": "capital_project"}
    pre.write_text(json.dumps({"answers": answers}))
    asked, out = run_piped(tmp_path, ["quit"], "--session", "settled", "--module", "modes", "--answers", str(pre))
    assert asked == [], f"asked {asked}"
    assert "All relevant questions answered (6 not needed)" in out
    assert "So far: " in out and "mode.complying" in out


def test_invalid_input_is_reasked_with_a_hint(tmp_path):
    asked, out = run_piped(tmp_path, ["1", "1", "1", "seven", "9", "3", "quit"], "--session", "hint", "--module", "staircase")
    assert asked[3:6] == ["stair.q01", "stair.q01", "stair.q01"]
    assert "type a number from 1 to 5" in out and "out of range" in out
    assert "Traceback" not in out


def test_corrupted_session_is_kept_aside_not_overwritten(tmp_path):
    sessions = tmp_path / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "broken.json").write_text("{ this is not json")
    asked, out = run_piped(tmp_path, ["quit"], "--session", "broken", "--module", "staircase")
    assert "session file is unreadable" in out and "kept aside as" in out
    aside = list(sessions.glob("broken.corrupt-*.json"))
    assert len(aside) == 1 and aside[0].read_text() == "{ this is not json"
    assert json.loads((sessions / "broken.json").read_text())["version"] == 1


def test_why_is_read_from_the_graph(kb):
    from partnerdx.questionnaire import Questionnaire
    q = Questionnaire(kb, "modes", {})
    reasons = q.why("t2.r01")
    assert any(r["concludes"] == "mode.creating" and r["source"]["ref"] == "armistead-pettigrew-2007" for r in reasons)
    assert q.next_item() == "context.sectors"


def test_end_of_input_at_the_scope_prompt_keeps_prefilled_answers_and_the_name(tmp_path):
    """A scripted run whose input ends at once (`< /dev/null`) is a `quit`: saved, and said where."""
    answers = tmp_path / "pre.yaml"
    answers.write_text("partnership: Riverside\nanswers:\n  stair.q01: 4\n  stair.q02: 2\n  t1.r01: 5\n")
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ask", "--answers", str(answers),
                           "--session", "scripted"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env(tmp_path), timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Resume with: partnerdx ask --session scripted" in proc.stdout
    assert str(tmp_path) in proc.stdout.replace("\n", "")           # says where it was saved
    listing = subprocess.run([sys.executable, str(ROOT / "cli.py"), "sessions"], capture_output=True,
                             text=True, env=env(tmp_path), timeout=60).stdout
    assert re.search(r"^scripted\t-\t3 answers\t", listing, re.M), listing
    # Resuming asks the scope, then continues with what is still missing: never the pre-filled items.
    asked, out = run_piped(tmp_path, ["staircase", "quit"], "--session", "scripted")
    assert "Resumed session 'scripted' (3 answers so far)" in out
    assert asked and asked[0] not in ("stair.q01", "stair.q02")
    saved = json.loads(next(tmp_path.rglob("scripted.json")).read_text())
    assert saved["answers"] == {"stair.q01": 4, "stair.q02": 2, "t1.r01": 5}
    assert saved["partnership"] == "Riverside" and saved["scope"] == "staircase"


def test_end_of_input_at_a_question_and_the_scope_flag(tmp_path):
    """`--scope quick` skips the prompt; input ending mid-questionnaire saves what was answered."""
    asked, out = run_piped(tmp_path, ["1", "1,2"], "--session", "mid", "--scope", "quick")
    assert "scope>" not in out and asked[:2] == ["context.sectors", "context.aims"]
    assert "Resume with: partnerdx ask --session mid" in out
    saved = json.loads(next(tmp_path.rglob("mid.json")).read_text())
    assert saved["scope"] == "staircase" and set(saved["answers"]) == {"context.sectors", "context.aims"}
