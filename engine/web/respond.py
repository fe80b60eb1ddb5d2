"""The respondent's questionnaire, for the HTML pages and the JSON API alike.

It is `engine.questionnaire.Questionnaire`, the class behind the terminal's `ask`: the same items
in the same order for the same reasons, the same "why is this asked?" (the conclusions an answer
can still change, with their sources), the same validation (`answers.check_value`).
"""
from __future__ import annotations

from typing import Any

from ..answers import check_value
from ..kb import KnowledgeBase
from ..questionnaire import CHECKLIST, SCOPES, Questionnaire, checklist_of, is_checklist
from . import store

WHY_SHOWN = 8


def questionnaire(kb: KnowledgeBase, scope: str, resp: store.Response) -> Questionnaire:
    return Questionnaire(kb, scope, resp.answers, resp.skipped)


def history(resp: store.Response, q: Questionnaire) -> list[str]:
    """The prompts answered or skipped, in the order first answered: the rows a checklist wrote
    for its unticked entries are not prompts of their own."""
    screened = q.recorded()
    return [k for k in resp.history if k not in screened and (is_checklist(k) or k in q.scope_items)]


def progress(q: Questionnaire, done_keys: list[str] | None = None, shown: str | None = None) -> dict:
    """The terminal's progress, plus "question N of about M": N is the shown prompt's place among
    those answered (so going back shows the right number), M what is answered plus what is left."""
    p = q.progress()
    done_keys = done_keys if done_keys is not None else []
    done = len(done_keys)
    # A shown key already in the history is a revisit (after going back), unless it is the prompt
    # the questionnaire asks next: a drill-down into one checklist can be asked again, under its key.
    fresh = shown is None or shown not in done_keys or shown == q.next_item()
    number = done + 1 if fresh else done_keys.index(shown) + 1
    total = max(done + p.relevant_left, number)
    return {"answered": p.answered, "relevant_left": p.relevant_left, "not_needed": p.skipped_irrelevant,
            "done": done, "number": number, "total": total,
            "percent": round(100 * done / total) if total else 100}


def _source_title(kb: KnowledgeBase, ref: str) -> str:
    entry = kb.sources.get(ref)
    return entry.title if entry is not None else ""


def checklist_question(kb: KnowledgeBase, q: Questionnaire, key: str) -> dict:
    """A checklist prompt: entries by position (1..n), so no internal id reaches the page."""
    c = q.checklist(key)
    return {"id": key, "title": c["title"], "text": c["text"], "help": "", "type": "checklist", "value": None,
            "scale": None, "purpose": q.purpose(key),
            "options": [{"value": str(n), "label": e["title"], "detail": e["text"], "checked": e["ticked"], "item": e["id"]}
                        for n, e in enumerate(c["entries"], start=1)],
            "unticked_label": c["unticked_label"], "source_title": "",
            "why": [{"concludes": r["concludes"], "title": r["title"], "kind": r["kind"],
                     "what": "recommendation" if r["kind"] == "recommendation" else "conclusion",
                     "source": r["source"]} for r in q.why(key)]}


def question(kb: KnowledgeBase, q: Questionnaire, item: str) -> dict:
    """Everything a screen shows for one question: wording, anchors or options, help, why, the
    current answer (when the respondent came back to it)."""
    if is_checklist(item):
        return checklist_question(kb, q, item)
    entry = kb.questions[item]
    current = None if item in q.screened else q.answers.get(item)
    out: dict[str, Any] = {"id": item, "title": entry.title, "text": entry.text,
                           "help": entry.data.get("help", ""), "type": entry.type, "value": current,
                           "scale": None, "options": None}
    if entry.type == "rated":
        scale = entry.data.get("scale", {})
        out["scale"] = {"low": scale.get("low", ""), "high": scale.get("high", ""), "min": 1, "max": 5}
    else:
        chosen = current if isinstance(current, list) else [current]
        out["options"] = [{"value": o["value"], "label": o["label"], "checked": o["value"] in chosen}
                          for o in entry.data["options"]]
    out["why"] = [{"concludes": r["concludes"], "title": r["title"], "kind": r["kind"],
                   "what": "recommendation" if r["kind"] == "recommendation" else "conclusion",
                   "source": r["source"]} for r in q.why(item)]
    out["purpose"] = q.purpose(item)
    out["source_title"] = _source_title(kb, entry.data.get("source", {}).get("ref", ""))
    return out


def value_label(kb: KnowledgeBase, item: str, value: Any) -> str:
    entry = kb.questions[item]
    if entry.type == "rated":
        scale = entry.data.get("scale", {})
        anchor = scale.get("low") if value == 1 else scale.get("high") if value == 5 else ""
        return f"{value} of 5" + (f" ({anchor})" if anchor else "")
    labels = {o["value"]: o["label"] for o in entry.data["options"]}
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(v, str(v)) for v in values) or "none"


def review(kb: KnowledgeBase, q: Questionnaire) -> list[dict]:
    """Every answer, grouped by instrument in the order asked, each with the prompt that changes it
    (a checklist's unticked entries change through their checklist)."""
    order = {name: n for n, name in enumerate(q.spec.order)}
    screened = q.screened
    groups: dict[str, dict] = {}
    for item in sorted(q.scope_items, key=lambda i: order.get(q.instrument(i), len(order))):
        if item not in q.answers and item not in q.skipped:
            continue
        instrument = q.instrument(item)
        if item in screened:
            group = q.group(instrument) or instrument
            label = q.checklist_label(item)
            change = CHECKLIST + group
        elif item in q.answers:
            label, change = value_label(kb, item, q.answers[item]), item
        else:
            label, change = "skipped", item
        group = groups.setdefault(instrument, {"title": q.section_title(instrument), "answers": []})
        group["answers"].append({"title": kb.questions[item].title, "value": label, "change": change})
    for instrument, rec in q.checklists.items():
        if rec.get("skipped"):
            groups.setdefault(instrument, {"title": q.section_title(instrument), "answers": []})["answers"].append(
                {"title": q.spec.checklists[instrument].get("title", ""), "value": "skipped",
                 "change": CHECKLIST + instrument})
    return list(groups.values())


def apply(kb: KnowledgeBase, scope: str, resp: store.Response, item: str, value: Any,
          skip: bool = False) -> tuple[Questionnaire, dict, list]:
    """One prompt's answer applied to the questionnaire; returns it and the rows to write / delete
    (a checklist writes its record and its unticked entries; a rating may end a "not ticked")."""
    q = questionnaire(kb, scope, resp)
    before = dict(resp.answers)
    before_skipped = set(resp.skipped)
    if is_checklist(item):
        if skip:
            q.skip_checklist(item)
        else:
            q.answer_checklist(item, value or [])
    else:
        q.answer(item, None if skip else value)
    after = {**q.answers, **q.records()}
    values = {k: v for k, v in after.items() if before.get(k) != v or k in before_skipped}
    values |= {k: None for k in q.skipped if k not in before_skipped}
    remove = [k for k in list(before) + list(before_skipped) if k not in after and k not in q.skipped]
    return q, values, remove



def back_of(resp: store.Response, item: str | None) -> str | None:
    """The question answered before this one (in the order first answered), for 'Back'."""
    history = resp.history
    if item in history:
        at = history.index(item)
        return history[at - 1] if at > 0 else None
    return history[-1] if history else None


def parse_form(kb: KnowledgeBase, item: str, raw: list[str], q: Questionnaire | None = None) -> tuple[Any, str | None]:
    """A form's value(s) for an item → a checked answer, or a message saying what to do. A
    checklist's boxes carry positions (1..n): the entries ticked (none is an answer too)."""
    if is_checklist(item) and q is not None:
        entries = [e["id"] for e in q.checklist(item)["entries"]]
        picked = [int(v) for v in raw if v.strip().isdigit() and 1 <= int(v) <= len(entries)]
        return [entries[n - 1] for n in sorted(set(picked))], None
    entry = kb.questions[item]
    values = [v.strip() for v in raw if v.strip()]
    if not values:
        what = "tick at least one option" if entry.type == "multi" else "choose an answer"
        return None, f"Please {what}, or press “Skip” if you do not know."
    if entry.type == "rated":
        try:
            value: Any = int(values[0])
        except ValueError:
            return None, "Please choose a number from 1 to 5."
    elif entry.type == "choice":
        value = values[0]
    else:
        value = values
    checked, error = check_value(kb, item, value)
    if error:
        return None, f"That answer cannot be saved: {error}."
    return checked, None


def check_api_value(kb: KnowledgeBase, q: Questionnaire, item: str, value: Any) -> tuple[Any, str | None]:
    """An API answer: the item must belong to this questionnaire; null means skipped. A checklist
    (`checklist:INSTRUMENT`) takes the list of the entries ticked."""
    if is_checklist(item):
        instrument, _ = checklist_of(item)
        if instrument not in q.spec.checklists or not q.checklist(item)["entries"]:
            return None, f"{item!r} is not a checklist of this questionnaire"
        entries = [e["id"] for e in q.checklist(item)["entries"]]
        if value is not None and (not isinstance(value, list) or any(v not in entries for v in value)):
            return None, f"a checklist takes a list of its entries: {', '.join(entries)}"
        return value, None
    if item not in q.items:
        return None, f"{item!r} is not a question of this questionnaire (scope {q.scope!r})"
    if value is None:
        return None, None
    checked, error = check_value(kb, item, value)
    if error:
        return None, error
    if checked is None:
        return None, "use null to skip a question"
    return checked, None


def scope_choices() -> list[tuple[str, str]]:
    return [(key, title) for key, (title, _) in SCOPES.items()]


def without_ids(kb: KnowledgeBase, text: str) -> str:
    """A report for a respondent: the knowledge base's internal ids taken out (they mean nothing to
    a respondent and overflow a phone's screen); titles and quoted sources stay."""
    import re
    text = re.sub(r" ?\(`[^`]+`\)", "", text)
    text = re.sub(r"`([^`]+)`", lambda m: "" if _is_id(kb, m.group(1)) else m.group(0), text)
    for ref, entry in kb.sources.items():
        text = re.sub(rf"(?<![\w.-]){re.escape(ref)}(?![\w-])", source_name(entry).replace("\\", "\\\\"), text)
    return text


def source_name(entry) -> str:
    """A source as a reader names it: its authors and year, else its title."""
    authors = entry.data.get("authors") or []
    year = entry.data.get("year")
    if authors:
        names = " & ".join(a.split()[-1] for a in authors)
        return f"{names} ({year})" if year else names
    return entry.title


def _is_id(kb: KnowledgeBase, word: str) -> bool:
    return (word in kb.questions or word in kb.rules_by_id or word in kb.conclusion_types
            or word in kb.scores or word in kb.concepts or word in kb.interventions)


def checklist_note(kb: KnowledgeBase, q: Questionnaire) -> str:
    """What the report says about answers recorded by a checklist rather than rated one by one."""
    recorded = q.from_checklists()
    if not recorded:
        return ""
    lines = [f"- {kb.questions[item].title}: {label}" for item, label in recorded]
    return ("\n\n## Answers from checklists\n\nThese were recorded from a checklist (ticked or not), "
            "without a rating of their own:\n\n" + "\n".join(lines) + "\n")
