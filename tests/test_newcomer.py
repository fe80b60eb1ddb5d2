"""The command line as a newcomer meets it (issue 19): lists that render at any length, files other
people can read, no broken CSS, no double-counted respondents, hints that run, one convention."""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from conftest import EXAMPLES, cli

PFI = EXAMPLES / "pfi-hospital.yaml"


def low_answers(tmp_path: Path, kb) -> Path:
    """Every rated item answered 1: more than thirty recommendations, each with sub-points."""
    import yaml
    f = tmp_path / "low.yaml"
    f.write_text(yaml.safe_dump({"answers": {q: 1 for q, e in kb.questions.items() if e.type == "rated"}}))
    return f


def low_survey(tmp_path: Path, kb) -> Path:
    """Two organisations of three, answering low: more than ten priority areas with mechanisms."""
    items = [q for q, e in kb.questions.items() if e.type == "rated"]
    rows = [",".join(["respondent", "organisation", *items])]
    for n in range(6):
        rows.append(",".join([f"r{n}", "A" if n < 3 else "B", *("1" if (n + i) % 2 else "2" for i in range(len(items)))]))
    f = tmp_path / "low.csv"
    f.write_text("\n".join(rows) + "\n")
    return f


# ---- 1. numbered lists with sub-points, from item 10 on ------------------------------------------

def _ordered_items_with_sublists(markdown: str) -> list[tuple[int, int]]:
    """(items, items holding a nested bullet list) for each top-level ordered list."""
    tokens = MarkdownIt("commonmark").parse(markdown)
    out = []
    for n, t in enumerate(tokens):
        if t.type == "ordered_list_open" and t.level == 0:
            items = nested = 0
            for u in tokens[n + 1:]:
                if u.type == "ordered_list_close" and u.level == 0:
                    break
                if u.type == "list_item_open" and u.level == 1:
                    items += 1
                if u.type == "bullet_list_open" and u.level == 2:
                    nested += 1
            out.append((items, nested))
    return out


def _html_ordered_items_with_sublists(page: str) -> list[tuple[int, int]]:
    """The same for an HTML page: (direct <li> of each outermost <ol>, those holding a <ul>)."""
    from html.parser import HTMLParser

    class Lists(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []
            self.found: list[list[int]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "ol" and "ol" not in self.stack:
                self.found.append([0, 0])
            if self.stack[-2:] == ["ol", "li"] and tag == "ul" and self.stack.count("ol") == 1 and len(self.stack) >= 2:
                self.found[-1][1] += 1
            if tag == "li" and self.stack and self.stack[-1] == "ol" and self.stack.count("ol") == 1:
                self.found[-1][0] += 1
            if tag in ("ol", "ul", "li"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in ("ol", "ul", "li") and self.stack:
                self.stack.pop()
    parser = Lists()
    parser.feed(page)
    return [tuple(x) for x in parser.found]


def test_recommendations_keep_their_sub_points_from_item_ten_on(tmp_path, kb):
    f = low_answers(tmp_path, kb)
    n = len(cli("diagnose", f, "--format", "json").json()["recommendations"])
    assert n >= 12
    md = cli("diagnose", f, "--format", "markdown").out
    # the full list comes grouped by priority: one ordered list per group, numbered on across groups
    lists = _ordered_items_with_sublists(md.split("## Recommendations", 1)[1].split("\n## ", 1)[0])
    assert sum(items for items, _ in lists) == n and all(items == nested for items, nested in lists), lists
    page = cli("diagnose", f, "--format", "html").out
    section = page.split('id="recommendations"', 1)[-1] if 'id="recommendations"' in page else \
        page.split(">Recommendations</h2>", 1)[1].split("<h2", 1)[0]
    lists = _html_ordered_items_with_sublists(section)
    assert sum(items for items, _ in lists) == n and all(items == nested for items, nested in lists), lists
    text = cli("diagnose", f).out.splitlines()
    subs = [line for line in text if "• addresses:" in line]
    nested = re.compile(r"^ {4,}• ")     # under its numbered item, never a top-level bullet
    assert len(subs) == n and all(nested.match(line) for line in subs), \
        [line for line in subs if not nested.match(line)]


def test_assess_priority_areas_keep_their_mechanisms_from_item_ten_on(tmp_path, kb):
    f = low_survey(tmp_path, kb)
    areas = cli("assess", f, "--format", "json").json()["agenda"]["priorities"]
    assert len(areas) >= 12          # each has a sub-point: a mechanism, or "no mechanism"
    md = cli("assess", f, "--format", "markdown").out
    lists = _ordered_items_with_sublists(md)
    assert (len(areas), len(areas)) in lists
    # lists with sub-points keep every one nested (the summary's and the contents' lists have none)
    assert all(items == nested for items, nested in lists if nested), lists
    page = cli("assess", f, "--format", "html").out
    lists = _html_ordered_items_with_sublists(page)
    assert (len(areas), len(areas)) in lists
    # lists with sub-points keep every one nested (the summary's and the contents' lists have none)
    assert all(items == nested for items, nested in lists if nested), lists
    text = cli("assess", f).out.splitlines()
    subs = [line for line in text if "• mechanism:" in line or "• no mechanism" in line]
    assert subs and all(line.startswith("     •") for line in subs)


# ---- 2. written files are readable as the umask says ---------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_output_files_honour_the_umask_and_keep_an_existing_mode(tmp_path, umask_022):
    out = tmp_path / "report.md"
    cli("diagnose", PFI, "--format", "markdown", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    os.chmod(out, 0o664)
    cli("diagnose", PFI, "--format", "markdown", "-o", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o664
    assert out.read_text().startswith("# ")
    os.umask(0o027)
    fresh = tmp_path / "fresh.md"
    cli("diagnose", PFI, "--format", "markdown", "-o", fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_saved_sessions_stay_private(tmp_path, monkeypatch, umask_022):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    from partnerdx import sessions
    s = sessions.Session("mine")
    s.save()
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600


# ---- 3. the diagnose page's stylesheet ------------------------------------------------------------

def test_the_diagnose_page_has_valid_css():
    page = cli("diagnose", PFI, "--format", "html").out
    css = re.search(r"<style>(.*?)</style>", page, flags=re.S).group(1)
    assert "{{" not in css and "}}code{{" not in css          # no doubled braces of an f-string
    assert css.count("{") == css.count("}")
    assert re.search(r"(^|\})code\{background", css)


# ---- 5. every hint runs as printed; help stands alone ---------------------------------------------

HINT = re.compile(r"`(partnerdx [^`]+)`|(?:^|: |\n\s*)(partnerdx [^\n`]+?)\s*$", re.M)


def hints(text: str) -> list[list[str]]:
    """Every command line a message or report tells the reader to run, as argv (without `partnerdx`)."""
    import shlex
    found = [a or b for a, b in HINT.findall(text)]
    return [shlex.split(h)[1:] for h in found]


def run_hint(argv: list[str], code: int = 0):
    assert "FILE" not in argv and "ID" not in argv, argv       # a template is not a command
    return cli(*argv, code=code)


def blocked_answers(tmp_path: Path, kb) -> Path:
    """Answers whose diagnosis has a next rung with no short path, so the report says what blocks it."""
    import random

    import yaml

    from partnerdx.inference import diagnose
    from partnerdx.report import markdown
    rated = [q for q, e in kb.questions.items() if e.type == "rated"]
    for seed in range(80):
        r = random.Random(seed)
        low = r.choice([1, 1, 2])
        answers = {q: r.randint(low, low + 1) for q in rated}
        if "no path of" in markdown(kb, diagnose(kb, answers)):
            f = tmp_path / "blocked answers.yaml"          # a space: the hint must quote it
            f.write_text(yaml.safe_dump({"answers": answers}))
            return f
    pytest.fail("no answer set found whose report has a blocked next rung")


def test_every_hint_the_cli_prints_runs_as_printed(tmp_path, kb, monkeypatch):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path / "home"))
    ran = 0
    # why of a conclusion not drawn → why-not; why-not of one drawn → why
    for argv in hints(cli("why", PFI, "mode.creating", code=1).err):
        assert run_hint(argv).out.startswith("mode.creating is not concluded")
        ran += 1
    for argv in hints(cli("why-not", PFI, "mode.complying").out):
        assert run_hint(argv).out.startswith("mode.complying — ")
        ran += 1
    # the deprecated spelling names the new one
    for argv in hints(cli("why", "mode.complying", "--answers", PFI).err):
        assert run_hint(argv).err == ""
        ran += 1
    # the report's "what blocks it", with a path that needs quoting, in text, Markdown and HTML
    f = blocked_answers(tmp_path, kb)
    import html
    import shlex
    found = hints(cli("diagnose", f, "--format", "markdown").out)
    assert found and all(argv[:2] == ["why-not", str(f)] for argv in found), found
    for argv in found:
        assert "is not concluded" in run_hint(argv).out
        ran += 1
    page = cli("diagnose", f, "--format", "html").out
    assert [shlex.split(html.unescape(c))[1:] for c in re.findall(r"<code>(partnerdx [^<]+)</code>", page)] == found
    text = " ".join(cli("diagnose", f).out.split())       # the terminal may wrap a long command
    assert all(shlex.join(["partnerdx", *argv]) in text for argv in found)
    # the same with an overlay: the hint keeps --kb
    overlay = tmp_path / "kb"                      # an overlay that adds one conclusion type
    (overlay / "rules").mkdir(parents=True)
    (overlay / "rules" / "_types.yaml").write_text("types:\n  note:\n    title: Notes\n")
    found = hints(cli("--kb", overlay, "diagnose", f, "--format", "markdown").out)
    assert found and all(argv[:2] == ["--kb", str(overlay)] for argv in found)
    run_hint(found[0])
    # ask: resume, and a mistyped session name
    out = cli("ask", "--session", "workshop", "--scope", "quick").out
    resume = hints(out)
    assert resume == [["ask", "--session", "workshop"]]
    err = cli("ask", "--session", "worksohp", code=2).err
    offered = hints(err)
    assert ["ask", "--session", "workshop"] in offered and ["ask", "--session", "worksohp", "--new"] in offered
    for argv in offered:
        assert "Saved session" in run_hint(argv).out
        ran += 1
    assert ran >= 6


def test_the_assess_report_prints_no_command_that_cannot_run_on_a_survey(tmp_path, kb):
    import yaml
    answers = yaml.safe_load(blocked_answers(tmp_path, kb).read_text())["answers"]
    f = tmp_path / "blocked.csv"                 # three respondents whose means have a blocked next rung
    f.write_text(",".join(answers) + "\n" + ("," .join(str(v) for v in answers.values()) + "\n") * 3)
    for fmt in ("text", "markdown", "html"):
        out = cli("assess", f, "--format", fmt).out
        assert "why-not" not in out
        for argv in hints(out):
            run_hint(argv)


def _all_commands(group, prefix=()):
    import click
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


def test_help_texts_stand_alone_and_are_never_cut():
    import click

    from partnerdx.cli import main
    for path, cmd in [((), main), *_all_commands(main)]:
        text = cli(*path, "--help").out
        assert "CONTRACT" not in text and "§" not in text, path
        assert not re.search(r"\b(docs|examples)/", text), (path, "names a file a pip install does not have")
        if isinstance(cmd, click.Group):
            listing = text[text.index("Commands:"):]
            assert "..." not in listing, (path, listing)
            entries = re.findall(r"(?m)^  (\S+) +(.*(?:\n {4,}.*)*)", listing)
            assert {n for n, _ in entries} == set(cmd.commands), entries
            for name, summary in entries:
                summary = " ".join(summary.split())
                assert summary.endswith((".", ")")), (path, name, summary)


def test_a_bad_answers_file_message_stands_alone(tmp_path):
    f = tmp_path / "a.yaml"
    f.write_text("- just a list\n")
    err = cli("diagnose", f, code=2).err
    assert "CONTRACT" not in err and "§" not in err


# ---- 6. one convention for every command ---------------------------------------------------------

def test_the_answers_file_comes_first_for_every_command_and_the_old_option_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    new_and_old = [
        (["diagnose", PFI], ["diagnose", "--answers", PFI]),
        (["why", PFI, "mode.complying"], ["why", "mode.complying", "--answers", PFI]),
        (["why-not", PFI, "mode.creating"], ["why-not", "mode.creating", "--answers", PFI]),
        (["path", PFI, "stair.collaboration"], ["path", "stair.collaboration", "--answers", PFI]),
        (["what-if", PFI, "t2.r05=4"], ["what-if", "--answers", PFI, "t2.r05=4"]),
    ]
    for new, old in new_and_old:
        now = cli(*new)
        assert now.err == "", new
        then = cli(*old)
        assert then.out == now.out, old
        assert "deprecated" in then.err and hints(then.err) == [[str(a) for a in new]], then.err
    err = cli("path", "stair.collaboration", "--answers", PFI, "--max-changes", "3", "--format", "json").err
    assert hints(err) == [["path", str(PFI), "stair.collaboration", "--max-changes", "3", "--format", "json"]]
    swapped = cli("why-not", "mode.creating", PFI, "--format", "json", code=2).err
    assert hints(swapped) == [["why-not", str(PFI), "mode.creating", "--format", "json"]]
    assert run_hint(hints(swapped)[0]).json()["id"] == "mode.creating"
    out = cli("ask", PFI, "--session", "pre", "--scope", "quick").out
    assert "(10 answers so far)" in out or "answers so far" in out
    assert len(json.loads((tmp_path / "sessions" / "pre.json").read_text())["answers"]) > 10


def test_every_command_offers_the_same_formats():
    import click

    from partnerdx.cli import FORMATS, main
    with_format = {name: cmd for name, cmd in main.commands.items()
                   if any(p.name == "fmt" for p in cmd.params)}
    assert set(with_format) >= {"diagnose", "why", "why-not", "path", "what-if", "assess"}
    for name, cmd in with_format.items():
        fmt = next(p for p in cmd.params if p.name == "fmt")
        assert isinstance(fmt.type, click.Choice) and tuple(fmt.type.choices) == FORMATS, name
        assert any(p.name == "out" for p in cmd.params), f"{name} has --format but no -o"
    page = cli("why", PFI, "mode.complying", "--format", "html").out
    assert page.startswith("<!DOCTYPE html>") and "mode.complying" in page
    md = cli("what-if", PFI, "t2.r05=4", "--format", "markdown").out
    assert md.startswith("# ")


def test_the_format_follows_the_output_file_name_and_a_contradiction_is_an_error(tmp_path, kb):
    page = tmp_path / "report.html"
    cli("diagnose", PFI, "-o", page)
    assert page.read_text().startswith("<!DOCTYPE html>")
    data = tmp_path / "report.json"
    cli("diagnose", PFI, "-o", data)
    assert json.loads(data.read_text())["conclusions"]
    md = tmp_path / "why.md"
    cli("why", PFI, "mode.complying", "-o", md)
    assert md.read_text().startswith("# Why mode.complying")
    survey = tmp_path / "assessment.html"
    cli("assess", low_survey(tmp_path, kb), "-o", survey)
    assert survey.read_text().startswith("<!DOCTYPE html>")
    page.write_text("keep me")
    err = cli("diagnose", PFI, "--format", "text", "-o", page, code=2).err
    assert "--format text contradicts -o" in err and "Traceback" not in err
    assert page.read_text() == "keep me"
    plain = tmp_path / "report.out"          # an extension that says nothing: text
    cli("diagnose", PFI, "-o", plain)
    assert plain.read_text().startswith(cli("diagnose", PFI).out[:40])


def test_a_mistyped_session_name_offers_the_saved_one(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    cli("ask", "--session", "council-2026", "--scope", "quick")
    err = cli("ask", "--session", "council-2062", "--scope", "quick", code=2).err
    assert "did you mean 'council-2026'?" in err
    assert not (tmp_path / "sessions" / "council-2062.json").exists()
    assert "Started session 'council-2062'" in cli("ask", "--session", "council-2062", "--new", "--scope", "quick").out
    assert "Started session 'other'" in cli("ask", "--session", "other", "--scope", "quick").out
    assert "did you mean 'other'?" in cli("sessions", "--export", "othre", code=2).err
    from partnerdx import ask as terminal          # unnamed sessions get a time-stamped name: never refused
    monkeypatch.setattr(terminal, "default_name", lambda: "session-20261203-120000")
    cli("ask", "--scope", "quick")
    monkeypatch.setattr(terminal, "default_name", lambda: "session-20261203-120001")
    assert "Started session 'session-20261203-120001'" in cli("ask", "--scope", "quick").out


# ---- 4. no respondent counted twice -----------------------------------------------------------------

SURVEY = EXAMPLES / "three-organisations.csv"


def test_the_same_survey_file_twice_is_refused_not_double_counted(tmp_path):
    out = tmp_path / "a.html"
    run = cli("assess", SURVEY, SURVEY, "-o", out, code=2)
    assert re.search(r"(?m)^\S*three-organisations\.csv: given twice", run.err), run.err
    assert not out.exists()


def test_duplicate_respondents_across_the_files_of_one_round_are_named_by_file_line_and_id(tmp_path):
    copy = tmp_path / "copy.csv"
    copy.write_bytes(SURVEY.read_bytes())
    err = cli("assess", SURVEY, copy, "--same-round", code=2).err
    assert re.search(rf"{re.escape(str(copy))}:2: R1: duplicate respondent id: also at \S*three-organisations.csv:2", err)
    no_ids = tmp_path / "no-ids.csv"
    no_ids.write_text("".join(line.split(",", 1)[1] for line in SURVEY.read_text().splitlines(keepends=True)))
    again = tmp_path / "no-ids-again.csv"
    again.write_bytes(no_ids.read_bytes())
    err = cli("assess", no_ids, again, "--same-round", code=2).err
    assert f"{again}: same content as {no_ids}" in err


def test_successive_rounds_may_hold_the_same_respondents(tmp_path):
    later = tmp_path / "later.csv"
    later.write_bytes(SURVEY.read_bytes())
    data = cli("assess", SURVEY, later, "--format", "json").json()
    assert [(r["label"], r["respondents"]) for r in data["rounds"]] == [("three-organisations", 9), ("later", 9)]
    assert data["respondents"] == 9


# ---- 8. what-if shows how the scores moved; path offers the smallest, distinct changes -------------

def test_what_if_shows_each_score_before_and_after():
    out = cli("what-if", PFI, "t2.r05=4", "t2.r09=4").out
    assert "answer t2.r05: 1 → 4" in out
    assert re.search(r"\(dim\.trust\): 1\.10 → 1\.70", out), out
    data = cli("what-if", PFI, "t2.r05=4", "t2.r09=4", "--format", "json").json()
    assert {"id": "dim.trust", "title": data["scores"][0]["title"], "before": 1.1, "after": 1.7} in data["scores"]


def _seeded_answers(tmp_path: Path, kb, seed: int) -> Path:
    import random

    import yaml
    r = random.Random(seed)
    low = r.choice([1, 2, 2, 3])
    answers = {q: r.randint(low, low + 2) for q, e in kb.questions.items() if e.type == "rated"}
    f = tmp_path / f"seed{seed}.yaml"
    f.write_text(yaml.safe_dump({"answers": answers}))
    return f


@pytest.mark.parametrize("which,target", [("eblc", "stair.partnership"), ("eblc", "mode.creating"),
                                          (1, "stair.partnership"), ("pfi", "stair.collaboration")])
def test_path_offers_no_bigger_move_than_needed_and_distinct_alternatives(tmp_path, kb, which, target):
    f = {"eblc": EXAMPLES / "eblc-constraining.yaml", "pfi": PFI}.get(which) or _seeded_answers(tmp_path, kb, which)
    paths = cli("path", f, target, "--format", "json").json()["paths"]
    assert paths
    item_sets = [frozenset(c["item"] for c in p["changes"]) for p in paths]
    assert len(set(item_sets)) == len(item_sets), "two alternatives move the same answers"
    assert [p["movement"] for p in paths] == sorted(p["movement"] for p in paths)
    best = paths[0]["changes"]
    for c in best:                       # no answer of the first path can move one point less
        if not isinstance(c["from"], int):
            continue
        back = c["to"] + (1 if c["from"] > c["to"] else -1)
        changes = [f"{d['item']}={d['to'] if d is not c else back}" for d in best]
        if back == c["from"]:
            changes.remove(f"{c['item']}={back}")
        if changes:
            added = cli("what-if", f, *changes, "--format", "json").json()["added"]
            assert target not in added, f"{c['item']} {c['from']} → {back} would do"


def test_questions_ask_ruled_out_are_not_said_to_change_the_diagnosis(tmp_path, kb):
    import yaml

    from partnerdx.questionnaire import Questionnaire
    q = Questionnaire(kb, "staircase", {})
    while (item := q.next_item()) is not None:                 # the quick staircase check, answering low
        e = kb.questions[item]
        q.answer(item, 1 if e.type == "rated" else e.options[0] if e.type == "choice" else [e.options[0]])
    ruled_out = [i for i in q.items if i not in q.answers]
    assert ruled_out and q.progress().skipped_irrelevant == len(ruled_out)
    f = tmp_path / "quick.yaml"
    f.write_text(yaml.safe_dump({"answers": q.answers}))
    for item in ruled_out:                                      # truly: no answer changes anything
        for value in (1, 3, 5):
            data = cli("what-if", f, f"{item}={value}", "--format", "json").json()
            assert data["added"] == [] and data["removed"] == []
    feeding = len(cli("diagnose", f, "--format", "json").json()["unanswered"])
    said = re.search(r"(\d+) unanswered questions could still change", cli("diagnose", f, "--format", "markdown").out)
    assert int(said.group(1)) <= feeding - len(ruled_out)


# ---- 7. ask: the partnership's name, context then the staircase, titles, redisplay, previous answer --

def run_ask(home: Path, lines: list[str], *args: str) -> str:
    import subprocess
    import sys

    from conftest import ROOT
    env = dict(os.environ, PARTNERDX_HOME=str(home), NO_COLOR="1", COLUMNS="200", TERM="dumb")
    env.pop("CI", None)
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ask", *args], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=120, cwd=home)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


PROMPT = re.compile(r"(?m)^([a-z0-9_.]+)> ")


def test_ask_asks_the_partnership_name_and_the_report_and_export_carry_it(tmp_path, monkeypatch):
    out = run_ask(tmp_path, ["Riverside Health", "1", "1", "1", "1"] + ["3"] * 10 + [""], "--session", "riv")
    assert "What is the partnership called?" in out
    report = out[out.index("All relevant questions answered"):].splitlines()[1:]
    heading = next(line for line in report if line.strip())
    assert heading.strip() == "Riverside Health", report[:5]
    monkeypatch.setenv("PARTNERDX_HOME", str(tmp_path))
    assert "partnership: Riverside Health" in cli("sessions", "--export", "riv").out


def test_ask_starts_with_the_context_then_the_staircase(tmp_path):
    out = run_ask(tmp_path, ["1", "1", "1", "1", "quit"], "--session", "f", "--scope", "full", "--partnership", "P")
    assert PROMPT.findall(out)[:4] == ["context.sectors", "context.aims", "context.service", "stair.q01"]


def test_ask_heads_each_question_with_its_title_not_its_id(tmp_path, kb):
    out = run_ask(tmp_path, ["1", "1", "1", "3", "3", "3", "3", "3", "3", "quit"], "--session", "t", "--scope", "quick")
    screens = PROMPT.split(out)
    for item in ("stair.q01", "stair.q02", "context.sectors"):
        title = kb.questions[item].title
        assert any(title in screen for screen in screens), title
    body = PROMPT.sub("", out)                      # everything but the prompts (kept for scripts)
    assert not re.search(r"\b(stair|context)\.[a-z0-9]+\b", body.split("Saved session")[0]), body


def test_ask_shows_the_question_again_after_why_and_report_and_the_previous_answer_on_back(tmp_path, kb):
    out = run_ask(tmp_path, ["1", "1", "1", "4", "why", "report", "back", "quit"], "--session", "w", "--scope", "quick")
    # the second staircase question is whichever settles most (not necessarily Q2): read it off the prompts
    second = re.findall(r"(?m)^([a-z0-9_.]+)> ", out)[4]
    assert second.startswith("stair.") and second != "stair.q01"
    text = kb.questions[second].text
    after_why = out[out.index("Asked because"):]
    assert text in after_why[:after_why.index(f"{second}> ", 1) if f"{second}> " in after_why else None]
    after_report = out[out.rindex("could still change this diagnosis"):]
    assert text in after_report
    back = out[out.rindex("stair.q01> ") - 2000:]
    assert "Your previous answer: 4" in back
