"""Answers files (CONTRACT §2) and the validation of answer values shared by every input path."""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, Problem, display_path
from .schema import suggest
from .yamlio import LineDict, parse_yaml, read_text

if TYPE_CHECKING:
    from .kb import KnowledgeBase

UNANSWERED = (None, "unknown", "")
TOP_KEYS = ("partnership", "respondent", "answers", "round", "note")
SCALE = (1, 5)


@dataclass
class AnswerSet:
    """Validated answers: item id → value, in knowledge-base order."""

    values: dict
    partnership: str | None = None
    respondent: dict = field(default_factory=dict)
    path: str | None = None


def check_value(kb: "KnowledgeBase", item: str, value: Any) -> tuple[Any, str | None]:
    """Normalise one answer; return (value or None when unanswered, error message or None)."""
    q = kb.questions[item]
    if isinstance(value, str) and value.strip().lower() in ("unknown", "") or value is None:
        return None, None
    if q.type == "rated":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f"expected a number from {SCALE[0]} to {SCALE[1]} (or unknown), found {value!r}"
        if not SCALE[0] <= value <= SCALE[1]:
            return None, f"value {value!r} is out of range {SCALE[0]}–{SCALE[1]}"
        return (int(value) if float(value).is_integer() else float(value)), None
    allowed = q.options
    if q.type == "choice":
        if not isinstance(value, str) or value not in allowed:
            return None, f"expected one of {', '.join(allowed)}, found {value!r}" + suggest(str(value), allowed)
        return value, None
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None, f"expected a list of {', '.join(allowed)}, found {value!r}"
    wrong = [v for v in values if v not in allowed]
    if wrong:
        return None, f"{wrong[0]!r} is not one of {', '.join(allowed)}" + suggest(wrong[0], allowed)
    return sorted(set(values), key=allowed.index), None


def expand_keys(kb: "KnowledgeBase", raw: dict) -> tuple[dict, list[tuple[str, str]]]:
    """Expand glob keys ("t2.*": 5) over item ids; exact keys win. Returns (answers, unknown keys)."""
    out: dict = {}
    unknown: list[tuple[str, str]] = []
    for key, value in raw.items():
        if any(ch in key for ch in "*?["):
            matched = fnmatch.filter(kb.questions, key)
            if not matched:
                unknown.append((key, "matches no item id"))
            for m in matched:
                if m not in raw:
                    out[m] = value
    for key, value in raw.items():
        if not any(ch in key for ch in "*?["):
            if key in kb.questions:
                out[key] = value
            else:
                unknown.append((key, "unknown item id" + suggest(key, kb.questions)))
    return out, unknown


def validate(kb: "KnowledgeBase", raw: Any, path: str, ident: str | None = None,
             lines: dict | None = None, default_line: int | None = None) -> tuple[dict, list[Problem]]:
    """Validate a mapping of answers; every problem located by path, line and item id."""
    if not isinstance(raw, dict):
        return {}, [Problem(path, default_line, ident, "answers must be a mapping of item id to value")]
    lines = lines if lines is not None else (raw.key_lines if isinstance(raw, LineDict) else {})
    expanded, unknown = expand_keys(kb, {str(k): v for k, v in raw.items()})
    problems = [Problem(path, lines.get(k, default_line), ident or k, msg) for k, msg in unknown]
    values: dict = {}
    for item in kb.questions:
        if item not in expanded:
            continue
        value, error = check_value(kb, item, expanded[item])
        if error:
            problems.append(Problem(path, lines.get(item, default_line), ident or item, error))
        elif value is not None:
            values[item] = value
    return values, problems


def _json_key_lines(text: str) -> dict:
    lines: dict = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for m in re.finditer(r'"([^"\\]+)"\s*:', line):
            lines.setdefault(m.group(1), number)
    return lines


def load_answers(kb: "KnowledgeBase", path: Path) -> AnswerSet:
    """Read and validate an answers file; InputError lists every problem with its line."""
    shown = display_path(path)
    text = read_text(path)
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError([Problem(shown, exc.lineno, None, f"malformed JSON: {exc.msg}")]) from None
        key_lines = _json_key_lines(text)
    else:
        doc = parse_yaml(text, shown)
        key_lines = None
    if not isinstance(doc, dict) or "answers" not in doc:
        raise InputError([Problem(shown, getattr(doc, "line", 1), None,
                                  "expected a mapping with an 'answers' mapping of item ids to answers")])
    problems = []
    for key in doc:
        if key not in TOP_KEYS:
            line = doc.line_of(key) if isinstance(doc, LineDict) else (key_lines or {}).get(key)
            problems.append(Problem(shown, line, None, f"unexpected key '{key}' (allowed: {', '.join(TOP_KEYS)})"
                                    + suggest(str(key), TOP_KEYS)))
    raw = doc["answers"] if doc["answers"] is not None else {}
    values, more = validate(kb, raw, shown, lines=key_lines)
    problems += more
    partnership = doc.get("partnership")
    if partnership is not None and not isinstance(partnership, str):
        problems.append(Problem(shown, None, None, "partnership must be text"))
    respondent = doc.get("respondent") or {}
    if not isinstance(respondent, dict):
        problems.append(Problem(shown, None, None, "respondent must be a mapping"))
        respondent = {}
    if problems:
        raise InputError(problems)
    return AnswerSet(values, partnership, dict(respondent), shown)
