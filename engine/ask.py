"""`partnerdx ask`: the questionnaire in a terminal. Rendering with rich; logic in `questionnaire`.

Works the same when stdin is a pipe (one answer per line), so sessions can be scripted and tested.
Every answer is saved (atomically) before the next question is shown.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from rich.console import Console
from rich.markup import escape
from rich.progress_bar import ProgressBar

from . import sessions
from .answers import AnswerSet, check_value
from .inference import diagnose
from .kb import KnowledgeBase
from .questionnaire import SCOPES, Questionnaire, estimate, is_checklist, scopes

HELP = "Answer, or: ? / why · back · skip · report · quit"


class Quit(Exception):
    pass


class Terminal:
    def __init__(self, kb: KnowledgeBase, session: sessions.Session, console: Console | None = None,
                 read: Callable[[str], str] | None = None):
        self.kb, self.session = kb, session
        self.out = console or Console(highlight=False)
        self._read = read or input
        self.q = Questionnaire(kb, session.scope or "full", session.answers, session.skipped, session.checklists)
        self.announced: set[str] = set()
        self.irrelevant_seen = 0
        self.previous: dict = {}             # item -> the answer withdrawn by `back`, shown when re-asked
        self.removed_seen: set[str] = set()

    # ---- input ----------------------------------------------------------------------------------
    def read(self, prompt: str) -> str:
        try:
            return self._read(prompt).strip()
        except EOFError:
            raise Quit from None

    # ---- pieces of screen -------------------------------------------------------------------------
    def show_progress(self) -> None:
        p = self.q.progress()
        self.out.print(f"[dim]{p.answered} answered · {p.relevant_left} still relevant · "
                       f"{p.skipped_irrelevant} not needed[/dim]")
        self.out.print(ProgressBar(total=100, completed=round(100 * p.fraction), width=40))

    def answer_set(self) -> AnswerSet:
        """The answers so far under the partnership's name, so that reports carry it."""
        return AnswerSet(self.q.answers, self.session.partnership)

    def show_length(self) -> None:
        """Said before the first question: how long this scope takes."""
        e = estimate(self.kb, self.q.scope)
        self.out.print(f"{escape(scopes(self.kb)[self.q.scope][0])}: about {e['questions']} questions, {e['minutes']} minutes. "
                       "Lists of problems come as checklists: tick what you see, rate only those.")

    def show_checklist(self, key: str) -> None:
        c = self.q.checklist(key)
        self.out.print()
        self.out.print(f"[bold]{escape(c['title'])}[/bold]")
        self.out.print(escape(c["text"]))
        for n, e in enumerate(c["entries"], start=1):
            self.out.print(f"  {n}. {escape(e['title'])}: {escape(e['text'])}")
        self.out.print("  (type the numbers you see, e.g. 1,3 — or 'none')")
        self.out.print(f"[dim]{HELP}[/dim]")

    def parse_checklist(self, key: str, text: str) -> tuple[list | None, str | None]:
        entries = self.q.checklist(key)["entries"]
        if text.lower() in ("none", "0", "-"):
            return [], None
        chosen = []
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if not part.isdigit() or not 1 <= int(part) <= len(entries):
                return None, f"type numbers from 1 to {len(entries)} separated by commas, or 'none'"
            chosen.append(entries[int(part) - 1]["id"])
        return (chosen, None) if chosen else (None, "type the numbers you see, or 'none'")

    def show_question(self, item: str) -> None:
        """The question under its title (the id is in the prompt, for scripts; `why` gives detail)."""
        if is_checklist(item):
            self.show_checklist(item)
            return
        q = self.kb.questions[item]
        self.out.print()
        self.out.print(f"[bold]{escape(q.title)}[/bold]")
        self.out.print(escape(q.text))
        if q.type == "rated":
            scale = q.data["scale"]
            self.out.print(f"  1 = {escape(scale['low'])}")
            self.out.print(f"  5 = {escape(scale['high'])}")
        else:
            for n, opt in enumerate(q.data["options"], start=1):
                self.out.print(f"  {n}. {escape(opt['label'])} ({opt['value']})")
            if q.type == "multi":
                self.out.print("  (several allowed: e.g. 1,3 — or 'none')")
        self.out.print(f"[dim]{escape(q.data['help'])}[/dim]")
        if item in self.previous:
            self.out.print(f"Your previous answer: {escape(self._shown(item, self.previous[item]))}")
        self.out.print(f"[dim]{HELP}[/dim]")

    def _shown(self, item: str, value) -> str:
        """An answer as the user gave it: the option's label for a choice, the number for a rating."""
        q = self.kb.questions[item]
        if value is None:
            return "skipped"
        labels = {o["value"]: o["label"] for o in q.data.get("options", [])}
        if isinstance(value, list):
            return ", ".join(labels.get(v, str(v)) for v in value) or "none"
        return labels.get(value, str(value))

    def show_why(self, item: str) -> None:
        reasons = self.q.why(item)
        if not reasons:
            self.out.print("This question is asked for context.")
            return
        self.out.print(f"Asked because it can still change {len(reasons)} undecided finding(s):")
        for r in reasons[:6]:
            s = r["source"]
            what = "recommendation" if r["kind"] == "recommendation" else "conclusion"
            self.out.print(f"  - {what} {escape(r['concludes'])}: {escape(r['title'])}")
            self.out.print(f"    source: {escape(s['ref'])}, {escape(s['at'])}: \"{escape(s['quote'])}\"")
        if len(reasons) > 6:
            self.out.print(f"  … and {len(reasons) - 6} more")

    def show_report(self) -> None:
        from .report import text
        width = self.out.width          # laid out for this terminal: a wider report would wrap twice
        self.out.print(text(self.kb, diagnose(self.kb, self.answer_set()), width=width), markup=False,
                       highlight=False)

    def think_aloud(self) -> None:
        """Announce conclusions as soon as no remaining answer can change them."""
        new = [c for c in self.q.certain() if c not in self.announced]
        if not new:
            return
        d = diagnose(self.kb, self.q.answers)
        for cid in new:
            self.announced.add(cid)
            c = d.conclusion(cid)
            if c is not None:
                self.out.print(f"[green]So far:[/green] {escape(c.title)} — because "
                               f"{escape(c.justifications[0].because)}")
        for r in self.q.removed():
            if r["reason"] not in self.removed_seen:
                self.removed_seen.add(r["reason"])
                self.out.print(f"[dim]Not asked ({len(r['items'])} question(s)): {escape(r['reason'])}[/dim]")
        p = self.q.progress()
        if p.skipped_irrelevant > self.irrelevant_seen:
            self.out.print(f"[dim]{p.skipped_irrelevant} question(s) in this scope can no longer change any "
                           "conclusion and will not be asked.[/dim]")
            self.irrelevant_seen = p.skipped_irrelevant

    # ---- parsing an answer ------------------------------------------------------------------------
    def parse(self, item: str, text: str):
        q = self.kb.questions[item]
        if q.type == "rated":
            try:
                value: object = float(text) if "." in text else int(text)
            except ValueError:
                return None, "type a number from 1 to 5, or ? / back / skip / report / quit"
        elif q.type == "choice":
            value = q.options[int(text) - 1] if text.isdigit() and 1 <= int(text) <= len(q.options) else text
        else:
            parts = [] if text.lower() == "none" else [p.strip() for p in text.split(",") if p.strip()]
            value = [q.options[int(p) - 1] if p.isdigit() and 1 <= int(p) <= len(q.options) else p for p in parts]
        checked, error = check_value(self.kb, item, value)
        return (checked, None) if error is None else (None, error)

    def save(self) -> None:
        self.session.answers, self.session.skipped = self.q.answers, self.q.skipped
        self.session.checklists = self.q.checklists
        self.session.save()

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self) -> bool:
        """Ask until nothing relevant is left (True) or the user quits (False). Saves every step."""
        forced: str | None = None
        try:
            if not self.session.history:
                self.show_length()
            self.think_aloud()
            while True:
                item = forced or self.q.next_item()
                forced = None
                if item is None:
                    return True
                self.show_progress()
                self.show_question(item)
                while True:
                    text = self.read(f"{item}> ")
                    low = text.lower()
                    if low in ("?", "why"):
                        self.show_why(item)
                        self.show_question(item)          # the question again, not lost above
                    elif low == "report":
                        self.show_report()
                        self.show_question(item)
                    elif low in ("quit", "exit", "q"):
                        raise Quit
                    elif low == "back":
                        if not self.session.history:
                            self.out.print("Nothing to go back to.")
                            continue
                        previous = self.session.history.pop()
                        self.previous[previous] = self.q.answers.get(previous)
                        self.q.undo(previous)
                        self.save()
                        forced = previous
                        break
                    elif low in ("skip", "unknown", "s") and is_checklist(item):
                        self.q.skip_checklist(item)
                        self.session.history.append(item)
                        self.save()
                        break
                    elif is_checklist(item):
                        ticked, error = self.parse_checklist(item, text)
                        if error:
                            self.out.print(f"[red]{escape(error)}[/red]")
                            continue
                        self.q.answer_checklist(item, ticked)
                        self.session.history.append(item)
                        self.save()
                        self.think_aloud()
                        break
                    elif low in ("skip", "unknown", "s"):
                        self.previous.pop(item, None)
                        self.q.answer(item, None)
                        self.session.history.append(item)
                        self.save()
                        break
                    else:
                        value, error = self.parse(item, text)
                        if error:
                            self.out.print(f"[red]{escape(error)}[/red]")
                            continue
                        self.previous.pop(item, None)
                        self.q.answer(item, value)
                        self.session.history.append(item)
                        self.save()
                        self.think_aloud()
                        break
        except Quit:
            self.save()
            return False


def ask_name(console: Console, read: Callable[[str], str]) -> str | None:
    """The partnership's name titles the report and the exported answers file; Enter leaves it out."""
    console.print("What is the partnership called? It titles the report (press Enter to leave it out).")
    try:
        text = read("partnership name> ").strip()
    except EOFError:
        raise Quit from None
    if text.lower() in ("quit", "exit", "q"):
        raise Quit
    return text or None


def choose_scope(console: Console, read: Callable[[str], str], modules: dict | None = None,
                 kb: KnowledgeBase | None = None) -> str:
    """Ask which module to answer; `modules` comes from the knowledge base (overlays add some)."""
    modules = modules or SCOPES
    keys = list(modules)
    console.print("What would you like to do?")
    from .kb import load_kb
    kb = kb or load_kb()
    for n, k in enumerate(keys, start=1):
        e = estimate(kb, k)
        console.print(f"  {n}. {modules[k][0]} [{k}]: about {e['questions']} questions, {e['minutes']} min")
    while True:
        try:
            text = read("scope> ").strip().lower()
        except EOFError:
            raise Quit from None
        if text.isdigit() and 1 <= int(text) <= len(keys):
            return keys[int(text) - 1]
        if text in modules:
            return text
        console.print(f"Type a number from 1 to {len(keys)}.")


def default_name() -> str:
    return time.strftime("session-%Y%m%d-%H%M%S")


def finish(kb: KnowledgeBase, term: Terminal) -> None:
    """The end: the same report as `diagnose`, and an offer to write Markdown or HTML."""
    from pathlib import Path

    from .io_safe import write_atomic
    from .report import render
    p = term.q.progress()
    term.out.print(f"\nAll relevant questions answered ({p.skipped_irrelevant} not needed).\n")
    term.show_report()
    show_from_checklists(term)
    try:
        path = term.read("Write the report to a file (.md or .html), or press Enter to finish> ")
    except Quit:
        return
    if path and path.lower() not in ("quit", "q", "exit", "no", "n", "skip"):
        fmt = "html" if path.lower().endswith((".html", ".htm")) else "markdown"
        write_atomic(Path(path), render(kb, diagnose(kb, term.answer_set()), fmt))
        term.out.print(f"Wrote {escape(path)}")


def show_from_checklists(term: Terminal) -> None:
    """The report's note on answers that came from a checklist, not from a rating."""
    recorded = term.q.from_checklists()
    if recorded:
        term.out.print(f"\nFrom checklists ({len(recorded)} answers not rated one by one):")
        for item, label in recorded:
            term.out.print(f"  - {escape(term.kb.questions[item].title)}: {escape(label)}, "
                           f"recorded as {term.q.answers[item]}")


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()
