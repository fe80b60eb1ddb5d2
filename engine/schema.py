"""Strict shapes of every YAML document kind, with messages that point at file, line and id.

JSON Schema (jsonschema) does the checking; this module only turns its errors into the
`path:line: id: message` form and adds "did you mean" for misspelt keys.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .errors import Problem
from .yamlio import LineDict, LineList


def __getattr__(name: str) -> list[str]:
    """`INSTRUMENTS` and `CONCLUSION_TYPES` of the built-in base, read from its vocabulary files
    (they are data now; an overlay may add more)."""
    if name in ("INSTRUMENTS", "CONCLUSION_TYPES"):
        from .kb import builtin_vocabulary
        vocabulary = builtin_vocabulary()
        return list(vocabulary["instruments" if name == "INSTRUMENTS" else "types"])
    raise AttributeError(name)

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
SCORE_FUNCTIONS = ["mean", "min", "max", "sum", "count", "count_gte", "count_lte", "diff"]


def _entry(required: list[str], properties: dict[str, Any]) -> dict:
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


_EXAMPLE_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]+$"}
EXAMPLE_SCHEMA = _entry(["name", "answers", "expect"], {
    "name": _EXAMPLE_NAME,
    "description": _text,
    "answers": {"type": "object"},
    "expect": {"type": "object", "additionalProperties": False, "minProperties": 1,
               "properties": {"concluded": _ids, "not_concluded": _ids}},
})
SCORE_EXAMPLE_SCHEMA = _entry(["name", "answers", "expect"], {
    "name": _EXAMPLE_NAME,
    "description": _text,
    "answers": {"type": "object"},
    "expect": {"oneOf": [
        _entry(["value"], {"value": {"type": "number"}, "tolerance": {"type": "number", "minimum": 0}}),
        _entry(["unknown"], {"unknown": {"const": True}}),
    ]},
})
LINT = _entry(["ignore", "reason"], {"ignore": {"type": "array", "minItems": 1,
                                                "items": {"type": "string", "pattern": "^PDX[0-9]{3}$"}},
                                     "reason": _text})

ENTRY_SCHEMAS: dict[str, dict] = {
    "source": _entry(["id", "title", "authors", "year", "published", "seed"], {
        "id": _id, "title": _text, "authors": _texts, "year": {"type": ["integer", "null"]},
        "published": _text, "seed": _text, "url": _text, "note": _text, "override": {"type": "boolean"}, "lint": LINT,
    }),
    "question": _entry(["id", "instrument", "title", "text", "help", "source"], {
        "id": _id, "instrument": dict(_id), "title": _text, "text": _text, "help": _text,
        "type": {"enum": ["rated", "choice", "multi"]},
        "scale": _entry(["low", "high"], {"low": _text, "high": _text, "mid": _text}),
        "options": {"type": "array", "minItems": 1,
                    "items": _entry(["value", "label"], {"value": _id, "label": _text})},
        "area": _id, "source": CITATION, "basis": BASIS, "note": _text, "override": {"type": "boolean"}, "lint": LINT,
    }),
    "concept": _entry(["id", "title", "text", "source"], {
        "id": _id, "title": _text, "text": _text, "parent": _id, "related": _ids, "items": _ids,
        "strengths": _texts, "risks": _texts, "share": _text, "basis": BASIS, "note": _text,
        "source": CITATION, "override": {"type": "boolean"}, "lint": LINT,
    }),
    "intervention": _entry(["id", "title", "text", "addresses", "applies_when", "source"], {
        "id": _id, "title": _text, "text": _text, "addresses": _ids, "applies_when": _text,
        "basis": BASIS, "note": _text, "source": CITATION, "override": {"type": "boolean"}, "lint": LINT,
    }),
}

SCORE_SCHEMA = _entry(["id", "title", "fn", "of", "source"], {
    "id": _id, "title": _text, "fn": {"enum": SCORE_FUNCTIONS},
    "of": {"type": "array", "minItems": 1, "items": _id},
    "min_answered": {"type": "integer", "minimum": 0}, "threshold": {"type": "number"},
    "because": _text, "basis": BASIS, "note": _text, "source": CITATION, "override": {"type": "boolean"},
    "examples": {"type": "array", "items": SCORE_EXAMPLE_SCHEMA}, "lint": LINT,
})

RULE_SCHEMA = _entry(["id", "title", "when", "then", "because", "source", "examples"], {
    "id": _id, "title": _text, "when": {"type": "object"},
    "then": {"oneOf": [
        _entry(["conclude", "type"], {"conclude": _id, "type": dict(_id)}),
        _entry(["recommend", "priority"], {"recommend": _id,
                                           "priority": {"type": "integer", "minimum": 1, "maximum": 5}}),
    ]},
    "because": _text, "priority": {"type": "integer", "minimum": 1, "maximum": 5},
    "source": CITATION, "basis": BASIS, "note": _text, "override": {"type": "boolean"},
    "examples": {"type": "array", "items": EXAMPLE_SCHEMA}, "lint": LINT,
})

SCENARIO_SCHEMA = _entry(["name", "expect"], {
    "name": _EXAMPLE_NAME, "description": _text,
    "answers": {"type": "object"}, "answers_file": _text,
    "expect": {"type": "object", "additionalProperties": False, "minProperties": 1,
               "properties": {"concluded": _ids, "not_concluded": _ids}},
})

# Which list of a document holds entries of which shape: validated one entry at a time, so one
# broken entry costs only itself (the rest of its file still loads).
ENTRY_LISTS: dict[str, dict[str, dict]] = {
    **{kind: {"entries": schema} for kind, schema in ENTRY_SCHEMAS.items()},
    "rules": {"scores": SCORE_SCHEMA, "rules": RULE_SCHEMA},
    "scenarios": {"scenarios": SCENARIO_SCHEMA},
}


def _document(kind: str, shallow: bool) -> dict:
    lists = ENTRY_LISTS[kind]
    props: dict[str, Any] = {"kind": {"const": kind}, "family": _id, "description": _text}
    props |= {key: {"type": "array"} if shallow else {"type": "array", "items": schema}
              for key, schema in lists.items()}
    required = ["kind", "family"] + (["entries"] if "entries" in lists else [])
    return _entry(required, props)


DOCUMENT_SCHEMAS: dict[str, dict] = {kind: _document(kind, False) for kind in ENTRY_LISTS}
_ENVELOPES: dict[str, dict] = {kind: _document(kind, True) for kind in ENTRY_LISTS}
KINDS = sorted(DOCUMENT_SCHEMAS)
_VALIDATORS: dict = {}

# ---- vocabulary: instruments, ask modules and conclusion types (files named below) --------------

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_override = {"type": "boolean"}
TYPE_SCHEMA = _entry(["title"], {
    "title": _text, "text": _text, "exclusive": {"type": "boolean"}, "section": _text,
    "order": {"type": "number"}, "respondents": {"type": "boolean"}, "override": _override,
    "headline": {"enum": ["step", "mode", "strength", "risk", "serious"]}})
INSTRUMENT_SCHEMA = _entry(["title"], {
    "title": _text, "text": _text, "module": {"type": "string", "pattern": NAME_PATTERN},
    "always": {"type": "boolean"}, "scale": _entry(["low", "high"], {"low": _text, "high": _text, "mid": _text}),
    "override": _override})
MODULE_SCHEMA = _entry(["title"], {
    "title": _text, "text": _text, "order": {"type": "number"}, "all": {"type": "boolean"}, "override": _override})
VOCABULARY_LISTS: dict[str, dict[str, dict]] = {
    "_types.yaml": {"types": TYPE_SCHEMA},
    "_instruments.yaml": {"instruments": INSTRUMENT_SCHEMA, "modules": MODULE_SCHEMA},
}
VOCABULARY_FILES = (*VOCABULARY_LISTS, "_ladders.yaml")   # `_ladders.yaml` is read by engine/path.py


def _named(schema: dict | None) -> dict:
    out: dict[str, Any] = {"type": "object", "propertyNames": {"pattern": NAME_PATTERN}}
    if schema is not None:
        out["additionalProperties"] = schema
    return out


def _vocabulary(name: str, shallow: bool) -> dict:
    return _entry([], {key: _named(None if shallow else schema) for key, schema in VOCABULARY_LISTS[name].items()})


VOCABULARY_SCHEMAS = {name: _vocabulary(name, False) for name in VOCABULARY_LISTS}
_VOCABULARY_ENVELOPES = {name: _vocabulary(name, True) for name in VOCABULARY_LISTS}


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


def _describe(error: Any, node: Any, prefix: tuple = ()) -> tuple[str, int | None]:
    """A human message for one jsonschema error, and a better line when we know one."""
    where = ".".join(str(p) for p in (*prefix, *error.absolute_path) if not isinstance(p, int)) or "document"
    if error.validator == "additionalProperties" and isinstance(node, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extras = [k for k in node if k not in allowed]
        key = extras[0] if extras else "?"
        line = node.line_of(key) if isinstance(node, LineDict) else None
        return f"unexpected key '{key}' (allowed: {', '.join(allowed)}){suggest(key, allowed)}", line
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        inner = ".".join(str(p) for p in error.absolute_path if not isinstance(p, int))
        return (f"{inner}: " if inner else "") + f"missing required key '{missing}'", None
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}" + (
            suggest(str(error.instance), map(str, error.validator_value))), None
    if error.validator == "const":
        return f"{where}: expected {error.validator_value!r}, found {error.instance!r}", None
    if error.validator == "pattern":
        return (f"{where}: {error.instance!r} is not a valid id (lower case, dotted, [a-z0-9_-] "
                "between dots)"), None
    if error.validator == "oneOf" and isinstance(error.instance, dict) and "expect" in error.absolute_path:
        return f"{where}: must be either {{value: NUMBER, tolerance: NUMBER}} or {{unknown: true}}", None
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return f"{where}: must be either {{conclude: ID, type: TYPE}} or {{recommend: ID, priority: 1-5}}", None
    if error.validator == "propertyNames":
        return f"{where}: {error.instance!r} is not a valid name (lower case letters, digits and _)", None
    if error.validator == "type":
        return f"{where}: expected {error.validator_value}, found {type(error.instance).__name__}", None
    return f"{where}: {error.message}", None


def _validator(schema: dict):
    """jsonschema is imported on first use: a cached knowledge base never needs it (start-up)."""
    key = id(schema)
    if key not in _VALIDATORS:
        from jsonschema import Draft202012Validator
        _VALIDATORS[key] = Draft202012Validator(schema)
    return _VALIDATORS[key]


def _problems(schema: dict, node: Any, path: str, prefix: tuple = ()) -> list[Problem]:
    out = []
    for error in _validator(schema).iter_errors(node):
        line, ident, inner = _locate(node, error.absolute_path)
        message, better = _describe(error, inner, prefix)
        out.append(Problem(path, better or line, ident, message))
    return out


@dataclass
class Checked:
    """A document checked entry by entry: its problems and which entries (list key, index) failed."""

    problems: list[Problem] = field(default_factory=list)
    bad: set = field(default_factory=set)
    usable: bool = True          # False: the document as a whole is unusable (wrong kind, not a mapping)


def validate_document(doc: Any, path: str) -> list[Problem]:
    """Every problem of one parsed file (kept for callers that want the list only)."""
    return check_document(doc, path).problems


def check_document(doc: Any, path: str) -> Checked:
    """Check one parsed file against the schema of its `kind`, each entry on its own: an entry that
    fails is reported and left out, the rest of the file still loads."""
    if not isinstance(doc, dict):
        return Checked([Problem(path, getattr(doc, "line", None), None,
                                "expected a mapping with keys kind, family and entries (or scores/rules)")], usable=False)
    kind = doc.get("kind")
    if kind not in DOCUMENT_SCHEMAS:
        line = doc.line_of("kind") if isinstance(doc, LineDict) else None
        return Checked([Problem(path, line, None, f"kind {kind!r} is not one of {', '.join(KINDS)}"
                                + suggest(str(kind), KINDS))], usable=False)
    if _validator(DOCUMENT_SCHEMAS[kind]).is_valid(doc):   # the common case, one pass
        return Checked()
    return _check_lists(_ENVELOPES[kind], ENTRY_LISTS[kind], doc, path)


def check_vocabulary(doc: Any, name: str, path: str) -> Checked:
    """Check a vocabulary file (`_types.yaml`, `_instruments.yaml`) one named entry at a time."""
    if not isinstance(doc, dict):
        return Checked([Problem(path, getattr(doc, "line", None), None,
                                f"expected a mapping with keys {', '.join(VOCABULARY_LISTS[name])}")], usable=False)
    if _validator(VOCABULARY_SCHEMAS[name]).is_valid(doc):
        return Checked()
    return _check_lists(_VOCABULARY_ENVELOPES[name], VOCABULARY_LISTS[name], doc, path)


def _check_lists(envelope: dict, lists: dict[str, dict], doc: Any, path: str) -> Checked:
    checked = Checked(_problems(envelope, doc, path))
    # the frame's own problems (a missing `family`, an unknown top-level key) are reported, and the
    # entries still load when their lists are lists: what follows from them is then no cascade
    checked.usable = all(isinstance(doc.get(k) or [], (list, dict)) for k in lists)
    for key, schema in lists.items():
        node = doc.get(key)
        items = list(enumerate(node)) if isinstance(node, list) else list(node.items()) if isinstance(node, dict) else []
        for index, entry in items:
            found = _merge_misplaced(_problems(schema, entry, path, (key, index)))
            if found:
                line = (node.item_lines[index] if isinstance(node, LineList) else node.line_of(index)
                        if isinstance(node, LineDict) else None)
                checked.problems += [p if p.line else Problem(p.path, line, p.ident or _name(entry, index), p.message)
                                     for p in found]
                checked.bad.add((key, index))
    return checked


_UNEXPECTED = re.compile(r"^(?P<where>[\w.]*?):? ?unexpected key '(?P<key>[^']+)'.*?(did you mean '(?P<mean>[^']+)')?\??$")
_MISSING = re.compile(r"^(?:(?P<where>[\w.]+): )?missing required key '(?P<key>[^']+)'$")


def _merge_misplaced(found: list[Problem]) -> list[Problem]:
    """One mistake, one message: a misspelt key (`becuase`) also makes `because` missing, and a key
    indented one level too shallow (`quote` beside `source`) is both unexpected and missing below.
    The 'missing' half is dropped, and the misplaced key is told where it belongs."""
    unexpected = [(p, m) for p in found if (m := _UNEXPECTED.match(p.message))]
    out = []
    for p in found:
        miss = _MISSING.match(p.message)
        if miss:
            key = miss.group("key")
            if any(m.group("mean") == key for _, m in unexpected):
                continue
            twin = next(((u, m) for u, m in unexpected if m.group("key") == key), None)
            if twin is not None:
                parent = (miss.group("where") or "").split(".")[-1]
                out.append(Problem(twin[0].path, twin[0].line, twin[0].ident,
                                   f"'{key}' is indented as a key of this entry, but belongs under '{parent}': "
                                   f"indent it to line up with the other keys of '{parent}'"))
                continue
        out.append(p)
    merged = {m.group(1) for p in out for m in [re.search(r"^'([^']+)' is indented as", p.message)] if m}
    return [p for p in out if not ((m := _UNEXPECTED.match(p.message)) and m.group("key") in merged)]


def _name(entry: Any, index: Any) -> str | None:
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        return entry["id"]
    return index if isinstance(index, str) else None


# ---- JSON Schema files for editors (`partnerdx kb schema -o DIR`) ------------------------------------

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def export_schemas(kb: Any) -> dict[str, dict]:
    """One JSON Schema per document kind, from the very schemas the loader checks with, with the
    knowledge base's names as enums where an editor can complete them (source refs, instruments,
    modules, conclusion types). File name -> schema."""
    refs = {"enum": sorted(kb.sources)} if kb.sources else _id
    swaps = {
        id(CITATION): {**CITATION, "properties": {**CITATION["properties"], "ref": refs}},
        id(ENTRY_SCHEMAS["question"]["properties"]["instrument"]): {"enum": sorted(kb.instruments)},
        id(INSTRUMENT_SCHEMA["properties"]["module"]): {"enum": sorted(kb.modules)},
    }
    then = RULE_SCHEMA["properties"]["then"]["oneOf"][0]["properties"]["type"]
    swaps[id(then)] = {"enum": sorted(kb.types)}

    def copy(node: Any) -> Any:
        if id(node) in swaps:
            return swaps[id(node)]
        if isinstance(node, dict):
            return {k: copy(v) for k, v in node.items()}
        if isinstance(node, list):
            return [copy(v) for v in node]
        return node

    out = {}
    for kind, schema in DOCUMENT_SCHEMAS.items():
        out[f"{kind}.schema.json"] = {"$schema": SCHEMA_DIALECT, "title": f"partnerdx: kind: {kind}", **copy(schema)}
    for name, schema in VOCABULARY_SCHEMAS.items():
        stem = name.strip("_").removesuffix(".yaml")
        out[f"{stem}.schema.json"] = {"$schema": SCHEMA_DIALECT, "title": f"partnerdx: {name}", **copy(schema)}
    return out
