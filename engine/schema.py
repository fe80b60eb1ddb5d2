"""Strict shapes of every YAML document kind, with messages that point at file, line and id.

JSON Schema (jsonschema) does the checking; this module only turns its errors into the
`path:line: id: message` form and adds "did you mean" for misspelt keys.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable

from .errors import Problem
from .yamlio import LineDict, LineList

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_*-]+)*$"
_id = {"type": "string", "pattern": ID_PATTERN}
_text = {"type": "string", "minLength": 1}
_ids = {"type": "array", "items": _id}
_texts = {"type": "array", "items": _text}

CITATION = {
    "type": "object",
    "required": ["ref", "at", "quote"],
    "additionalProperties": False,
    "properties": {"ref": _id, "at": _text, "quote": _text},
}
BASIS = {"enum": ["seed", "expert-judgement"]}
CONCLUSION_TYPES = ["mode", "staircase", "risk", "barrier", "disconnect", "fit", "outlook", "gap",
                    "symptom", "cause", "pressure", "whatworks", "strength"]
INSTRUMENTS = ["staircase", "table1", "table2", "failure", "barriers", "end_results", "pressures",
               "what_works", "context"]
SCORE_FUNCTIONS = ["mean", "min", "max", "sum", "count", "count_gte", "count_lte", "diff"]


def _entry(required: list[str], properties: dict[str, Any]) -> dict:
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


ENTRY_SCHEMAS: dict[str, dict] = {
    "source": _entry(["id", "title", "authors", "year", "published", "seed"], {
        "id": _id, "title": _text, "authors": _texts, "year": {"type": ["integer", "null"]},
        "published": _text, "seed": _text, "url": _text, "note": _text, "override": {"type": "boolean"},
    }),
    "question": _entry(["id", "instrument", "title", "text", "help", "source"], {
        "id": _id, "instrument": {"enum": INSTRUMENTS}, "title": _text, "text": _text, "help": _text,
        "type": {"enum": ["rated", "choice", "multi"]},
        "scale": _entry(["low", "high"], {"low": _text, "high": _text, "mid": _text}),
        "options": {"type": "array", "minItems": 1,
                    "items": _entry(["value", "label"], {"value": _id, "label": _text})},
        "area": _id, "source": CITATION, "basis": BASIS, "note": _text, "override": {"type": "boolean"},
    }),
    "concept": _entry(["id", "title", "text", "source"], {
        "id": _id, "title": _text, "text": _text, "parent": _id, "related": _ids, "items": _ids,
        "strengths": _texts, "risks": _texts, "share": _text, "basis": BASIS, "note": _text,
        "source": CITATION, "override": {"type": "boolean"},
    }),
    "intervention": _entry(["id", "title", "text", "addresses", "applies_when", "source"], {
        "id": _id, "title": _text, "text": _text, "addresses": _ids, "applies_when": _text,
        "basis": BASIS, "note": _text, "source": CITATION, "override": {"type": "boolean"},
    }),
}

SCORE_SCHEMA = _entry(["id", "title", "fn", "of", "source"], {
    "id": _id, "title": _text, "fn": {"enum": SCORE_FUNCTIONS},
    "of": {"type": "array", "minItems": 1, "items": _id},
    "min_answered": {"type": "integer", "minimum": 0}, "threshold": {"type": "number"},
    "because": _text, "basis": BASIS, "note": _text, "source": CITATION, "override": {"type": "boolean"},
})

EXAMPLE_SCHEMA = _entry(["name", "answers", "expect"], {
    "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"},
    "description": _text,
    "answers": {"type": "object"},
    "expect": {"type": "object", "additionalProperties": False, "minProperties": 1,
               "properties": {"concluded": _ids, "not_concluded": _ids}},
})

RULE_SCHEMA = _entry(["id", "title", "when", "then", "because", "source", "examples"], {
    "id": _id, "title": _text, "when": {"type": "object"},
    "then": {"oneOf": [
        _entry(["conclude", "type"], {"conclude": _id, "type": {"enum": CONCLUSION_TYPES}}),
        _entry(["recommend", "priority"], {"recommend": _id,
                                           "priority": {"type": "integer", "minimum": 1, "maximum": 5}}),
    ]},
    "because": _text, "priority": {"type": "integer", "minimum": 1, "maximum": 5},
    "source": CITATION, "basis": BASIS, "note": _text, "override": {"type": "boolean"},
    "examples": {"type": "array", "items": EXAMPLE_SCHEMA},
})

DOCUMENT_SCHEMAS: dict[str, dict] = {
    kind: _entry(["kind", "family", "entries"], {
        "kind": {"const": kind}, "family": _id, "description": _text,
        "entries": {"type": "array", "items": schema},
    })
    for kind, schema in ENTRY_SCHEMAS.items()
}
DOCUMENT_SCHEMAS["rules"] = _entry(["kind", "family"], {
    "kind": {"const": "rules"}, "family": _id, "description": _text,
    "scores": {"type": "array", "items": SCORE_SCHEMA},
    "rules": {"type": "array", "items": RULE_SCHEMA},
})
KINDS = sorted(DOCUMENT_SCHEMAS)
_VALIDATORS: dict = {}


def _validator(kind: str):
    """jsonschema is imported on first use: a cached knowledge base never needs it (start-up)."""
    if kind not in _VALIDATORS:
        from jsonschema import Draft202012Validator
        _VALIDATORS[kind] = Draft202012Validator(DOCUMENT_SCHEMAS[kind])
    return _VALIDATORS[kind]


def suggest(word: str, choices: Iterable[str]) -> str:
    """'; did you mean X?' when a close match exists, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _locate(doc: Any, path: Iterable[Any]) -> tuple[int | None, str | None, Any]:
    """Walk an error path; return (line, nearest enclosing entry id, innermost node)."""
    node, line, ident = doc, getattr(doc, "line", None), None
    for step in path:
        if isinstance(node, LineDict):
            if isinstance(node.get("id"), str):
                ident = node["id"]
            line = node.line_of(step)
            node = node.get(step)
        elif isinstance(node, LineList) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    if isinstance(node, LineDict) and isinstance(node.get("id"), str):
        ident = node["id"]
    return line, ident, node


def _describe(error: Any, node: Any) -> tuple[str, int | None]:
    """A human message for one jsonschema error, and a better line when we know one."""
    where = ".".join(str(p) for p in error.absolute_path if not isinstance(p, int)) or "document"
    if error.validator == "additionalProperties" and isinstance(node, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in node if k not in allowed]
        key = extras[0] if extras else "?"
        line = node.line_of(key) if isinstance(node, LineDict) else None
        return f"unexpected key '{key}' (allowed: {', '.join(allowed)}){suggest(key, allowed)}", line
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required key '{missing}'", None
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}" + (
            suggest(str(error.instance), map(str, error.validator_value))), None
    if error.validator == "const":
        return f"{where}: expected {error.validator_value!r}, found {error.instance!r}", None
    if error.validator == "pattern":
        return (f"{where}: {error.instance!r} is not a valid id (lower case, dotted, [a-z0-9_-] "
                "between dots)"), None
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return (f"{where}: must be either {{conclude: ID, type: TYPE}} with TYPE one of "
                f"{', '.join(CONCLUSION_TYPES)}, or {{recommend: ID, priority: 1-5}}"), None
    if error.validator == "type":
        return f"{where}: expected {error.validator_value}, found {type(error.instance).__name__}", None
    return f"{where}: {error.message}", None


def validate_document(doc: Any, path: str) -> list[Problem]:
    """Check one parsed file against the schema of its `kind`; every violation, not only the first."""
    if not isinstance(doc, dict):
        return [Problem(path, getattr(doc, "line", None), None,
                        "expected a mapping with keys kind, family and entries (or scores/rules)")]
    kind = doc.get("kind")
    if kind not in DOCUMENT_SCHEMAS:
        line = doc.line_of("kind") if isinstance(doc, LineDict) else None
        return [Problem(path, line, None, f"kind {kind!r} is not one of {', '.join(KINDS)}"
                        + suggest(str(kind), KINDS))]
    problems = []
    for error in _validator(kind).iter_errors(doc):
        line, ident, node = _locate(doc, error.absolute_path)
        message, better = _describe(error, node)
        problems.append(Problem(path, better or line, ident, message))
    return problems
