"""The respondent's questionnaire, for the HTML pages and the JSON API alike.

It is `engine.questionnaire.Questionnaire`, the class behind the terminal's `ask`: the same items
in the same order for the same reasons, the same "why is this asked?" (the conclusions an answer
can still change, with their sources), the same validation (`answers.check_value`).
"""
from __future__ import annotations

from typing import Any

from ..answers import check_value
from ..kb import KnowledgeBase
from ..questionnaire import SCOPES, Questionnaire
from . import store

WHY_SHOWN = 8


def questionnaire(kb: KnowledgeBase, scope: str, resp: store.Response) -> Questionnaire:
    return Questionnaire(kb, scope, resp.answers, resp.skipped)


def progress(q: Questionnaire) -> dict:
    """The terminal's progress, plus `done` (answered or skipped) for "question N of about M"."""
    p = q.progress()
    done = p.answered + sum(1 for s in q.skipped if s in q.items)
    total = done + p.relevant_left
    return {"answered": p.answered, "relevant_left": p.relevant_left, "not_needed": p.skipped_irrelevant,
            "done": done, "total": total, "percent": round(100 * done / total) if total else 100}


def question(kb: KnowledgeBase, q: Questionnaire, item: str) -> dict:
    """Everything a screen shows for one question: wording, anchors or options, help, why, the
    current answer (when the respondent came back to it)."""
    entry = kb.questions[item]
    current = q.answers.get(item)
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
    return out


def back_of(resp: store.Response, item: str | None) -> str | None:
    """The question answered before this one (in the order first answered), for 'Back'."""
    history = resp.history
    if item in history:
        at = history.index(item)
        return history[at - 1] if at > 0 else None
    return history[-1] if history else None


def parse_form(kb: KnowledgeBase, item: str, raw: list[str]) -> tuple[Any, str | None]:
    """A form's value(s) for an item → a checked answer, or a message saying what to do."""
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
    """An API answer: the item must belong to this questionnaire; null means skipped."""
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
