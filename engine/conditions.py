"""The condition language of `when`: parsing with located errors, normal forms, 3-valued truth.

Both backends compile from the same disjunctive normal form, so they cannot disagree about what a
condition means; the three-valued evaluator over the original tree is the independent oracle.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from .errors import Problem
from .model import All, AnyOf, Atom, Cond, Not
from .schema import suggest
from .yamlio import LineDict

ITEM_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "has")
SCORE_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")
COMPLEMENT = {"eq": "ne", "ne": "eq", "gt": "lte", "lte": "gt", "gte": "lt", "lt": "gte",
              "in": "nin", "nin": "in", "has": "lacks", "lacks": "has"}
OP_WORDS = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤", "in": "in",
            "nin": "not in", "has": "includes", "lacks": "does not include"}
MAX_CONJUNCTS = 256
_KEYS = ("all", "any", "not", "item", "score", "fact", "answered", "unanswered") + ITEM_OPS


class ConditionError(Exception):
    pass


def parse(node: Any, path: str, ident: str, problems: list[Problem], line: int | None = None,
          negated: bool = False) -> Cond | None:
    """Parse a `when` mapping; append a located Problem for each mistake and return None then."""
    here = node.line if isinstance(node, LineDict) else line

    def bad(msg: str, key: str | None = None) -> None:
        ln = node.line_of(key) if isinstance(node, LineDict) and key else here
        problems.append(Problem(path, ln, ident, msg))

    if not isinstance(node, dict) or not node:
        bad(f"a condition must be a mapping such as {{item: ID, gte: 4}}, found {node!r}")
        return None
    unknown = [k for k in node if k not in _KEYS]
    if unknown:
        bad(f"unexpected key '{unknown[0]}' in condition (allowed: {', '.join(_KEYS)})"
            + suggest(unknown[0], _KEYS), unknown[0])
        return None
    for group in ("all", "any"):
        if group in node:
            if len(node) != 1:
                bad(f"'{group}' must be the only key of its mapping", group)
                return None
            parts = node[group]
            if not isinstance(parts, list) or not parts:
                bad(f"'{group}' takes a non-empty list of conditions", group)
                return None
            lines = getattr(parts, "item_lines", [here] * len(parts))
            parsed = [parse(p, path, ident, problems, lines[i], negated) for i, p in enumerate(parts)]
            if any(p is None for p in parsed):
                return None
            return All(tuple(parsed)) if group == "all" else AnyOf(tuple(parsed))
    if "not" in node:
        if len(node) != 1:
            bad("'not' must be the only key of its mapping", "not")
            return None
        inner = parse(node["not"], path, ident, problems, here, not negated)
        return None if inner is None else Not(inner)
    for kind in ("fact", "answered", "unanswered"):
        if kind in node:
            if len(node) != 1:
                extra = next(k for k in node if k != kind)
                bad(f"'{kind}' takes no operator (found '{extra}')", extra)
                return None
            if not isinstance(node[kind], str):
                bad(f"'{kind}' takes an id", kind)
                return None
            if kind == "fact" and negated:
                bad("{fact: …} cannot be negated: rules chain monotonically; "
                    "write the exclusive condition on scores or items instead", kind)
                return None
            return Atom(kind, node[kind], line=node.line_of(kind) if isinstance(node, LineDict) else here)
    kind = "item" if "item" in node else "score" if "score" in node else None
    if kind is None:
        bad("a condition needs one of: all, any, not, item, score, fact, answered, unanswered")
        return None
    ops = [k for k in node if k != kind]
    allowed = ITEM_OPS if kind == "item" else SCORE_OPS
    if len(ops) != 1 or ops[0] not in allowed:
        bad(f"{{{kind}: …}} takes exactly one operator of {', '.join(allowed)}"
            + (f" (found {', '.join(ops)})" if ops else ""), ops[0] if ops else kind)
        return None
    op, value = ops[0], node[ops[0]]
    if op == "in" and not isinstance(value, list):
        bad("'in' takes a list of values", op)
        return None
    if kind == "score" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        bad(f"score comparisons take a number, found {value!r}", op)
        return None
    if not isinstance(node[kind], str):
        bad(f"'{kind}' takes an id", kind)
        return None
    return Atom(kind, node[kind], op, list(value) if isinstance(value, list) else value,
                line=node.line_of(kind) if isinstance(node, LineDict) else here)


def complement(atom: Atom) -> Atom:
    if atom.kind == "answered":
        return Atom("unanswered", atom.ref, line=atom.line)
    if atom.kind == "unanswered":
        return Atom("answered", atom.ref, line=atom.line)
    if atom.kind == "fact":
        raise ConditionError("a fact cannot be negated")
    return Atom(atom.kind, atom.ref, COMPLEMENT[atom.op], atom.value, atom.line)


def dnf(cond: Cond, negated: bool = False) -> list[list[Atom]]:
    """Disjunctive normal form with negations pushed into atoms (sound in Kleene logic)."""
    if isinstance(cond, Atom):
        return [[complement(cond) if negated else cond]]
    if isinstance(cond, Not):
        return dnf(cond.part, not negated)
    conjunctive = isinstance(cond, All) != negated
    parts = [dnf(p, negated) for p in cond.parts]
    if not conjunctive:
        out = [c for part in parts for c in part]
    else:
        out = []
        for combo in itertools.product(*parts):
            merged: dict[tuple, Atom] = {}
            for conj in combo:
                for a in conj:
                    merged.setdefault(a.key(), a)
            out.append(list(merged.values()))
            if len(out) > MAX_CONJUNCTS:
                raise ConditionError(f"condition expands to more than {MAX_CONJUNCTS} alternatives")
    unique: dict[tuple, list[Atom]] = {}
    for conj in out:
        unique.setdefault(tuple(sorted(a.key() for a in conj)), conj)
    return list(unique.values())


def compare(op: str, actual: Any, value: Any) -> bool:
    """Compare an answer to a literal; a type mismatch is simply false, never an exception."""
    try:
        if op == "eq":
            return actual == value
        if op == "ne":
            return actual != value
        if op == "in":
            return actual in value
        if op == "nin":
            return actual not in value
        if op == "has":
            return isinstance(actual, list) and value in actual
        if op == "lacks":
            return isinstance(actual, list) and value not in actual
        if isinstance(actual, (list, str)) or isinstance(value, (list, str)):
            return False
        if op == "gt":
            return actual > value
        if op == "gte":
            return actual >= value
        if op == "lt":
            return actual < value
        if op == "lte":
            return actual <= value
    except TypeError:
        return False
    raise ConditionError(f"unknown operator {op}")


Lookup = Callable[[Atom], "bool | None"]


def atom_truth(atom: Atom, answers: dict, scores: dict, facts: set | dict) -> bool | None:
    """Truth of one atom; None means unknown (an unanswered item or an uncomputable score)."""
    if atom.kind == "fact":
        return atom.ref in facts
    if atom.kind == "answered":
        return atom.ref in answers
    if atom.kind == "unanswered":
        return atom.ref not in answers
    source = answers if atom.kind == "item" else scores
    actual = source.get(atom.ref)
    if actual is None:
        return None
    return compare(atom.op, actual, atom.value)


def truth(cond: Cond, lookup: Lookup) -> bool | None:
    """Kleene three-valued evaluation of the original tree."""
    if isinstance(cond, Atom):
        return lookup(cond)
    if isinstance(cond, Not):
        v = truth(cond.part, lookup)
        return None if v is None else not v
    values = [truth(p, lookup) for p in cond.parts]
    if isinstance(cond, All):
        return False if False in values else None if None in values else True
    return True if True in values else None if None in values else False


def atoms(cond: Cond) -> list[Atom]:
    if isinstance(cond, Atom):
        return [cond]
    if isinstance(cond, Not):
        return atoms(cond.part)
    return [a for p in cond.parts for a in atoms(p)]


def describe_atom(atom: Atom) -> str:
    """Plain words for an atom, used by why-not, docs and traces."""
    if atom.kind == "fact":
        return f"{atom.ref} is concluded"
    if atom.kind in ("answered", "unanswered"):
        return f"{atom.ref} is {atom.kind}"
    value = ", ".join(map(str, atom.value)) if isinstance(atom.value, list) else atom.value
    return f"{atom.ref} {OP_WORDS[atom.op]} {value}"


def describe(cond: Cond) -> str:
    if isinstance(cond, Atom):
        return describe_atom(cond)
    if isinstance(cond, Not):
        return f"not ({describe(cond.part)})"
    joiner = " and " if isinstance(cond, All) else " or "
    return joiner.join(f"({describe(p)})" if not isinstance(p, Atom) else describe(p) for p in cond.parts)
