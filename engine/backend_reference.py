"""Plain-Python forward chaining over the compiled rules: the test oracle and the speed floor.

It evaluates each rule's original condition tree in three-valued logic (independently of the DNF
that the durable backend compiles), then picks the justifying DNF alternative.

For speed, every condition tree is compiled once per knowledge base into nested closures, and the
rules are evaluated in dependency order (a rule after every rule concluding a fact it tests), so
one pass reaches the fixpoint; a base whose rules depend on each other in a cycle is iterated until
nothing changes, as a naive fixpoint would.
"""
from __future__ import annotations

from typing import Any, Callable

from .conditions import compare
from .errors import EngineError
from .kb import KnowledgeBase
from .model import All, Atom, Cond, Not

Eval = Callable[[dict, dict, set], Any]     # (answers, scores, facts) -> True | False | None


def _atom(atom: Atom) -> Eval:
    """Same truth as conditions.atom_truth, specialised per atom."""
    ref, op, value = atom.ref, atom.op, atom.value
    if atom.kind == "fact":
        return lambda a, s, f: ref in f
    if atom.kind == "answered":
        return lambda a, s, f: ref in a
    if atom.kind == "unanswered":
        return lambda a, s, f: ref not in a
    scores = atom.kind == "score"
    numeric = op in ("gt", "gte", "lt", "lte") and isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric:
        test = {"gt": lambda x: x > value, "gte": lambda x: x >= value,
                "lt": lambda x: x < value, "lte": lambda x: x <= value}[op]

        def check(a: dict, s: dict, f: set) -> Any:
            x = (s if scores else a).get(ref)
            if x is None:
                return None
            if isinstance(x, (list, str)):
                return False
            try:
                return test(x)
            except TypeError:
                return False
        return check

    def generic(a: dict, s: dict, f: set) -> Any:
        x = (s if scores else a).get(ref)
        return None if x is None else compare(op, x, value)
    return generic


def _compile(cond: Cond) -> Eval:
    """Kleene three-valued evaluation of the original tree, as closures."""
    if isinstance(cond, Atom):
        return _atom(cond)
    if isinstance(cond, Not):
        inner = _compile(cond.part)

        def negate(a: dict, s: dict, f: set) -> Any:
            v = inner(a, s, f)
            return None if v is None else not v
        return negate
    parts = [_compile(p) for p in cond.parts]
    if isinstance(cond, All):
        def conj(a: dict, s: dict, f: set) -> Any:
            unknown = False
            for p in parts:
                v = p(a, s, f)
                if v is False:
                    return False
                if v is None:
                    unknown = True
            return None if unknown else True
        return conj

    def disj(a: dict, s: dict, f: set) -> Any:
        unknown = False
        for p in parts:
            v = p(a, s, f)
            if v is True:
                return True
            if v is None:
                unknown = True
        return None if unknown else False
    return disj


class _Program:
    def __init__(self, kb: KnowledgeBase):
        rules = kb.rules
        self.order, self.cyclic = kb.rule_order()
        self.when = [_compile(r.when) for r in rules]
        self.alternatives = [[[_atom(a) for a in conj] for conj in r.dnf] for r in rules]
        self.concludes = [r.concludes for r in rules]
        self.ids = [r.id for r in rules]


def _program(kb: KnowledgeBase) -> _Program:
    cache = kb.__dict__.setdefault("_backends", {})   # transient: never pickled with the base
    if "_reference_program" not in cache:
        cache["_reference_program"] = _Program(kb)
    return cache["_reference_program"]


def run(kb: KnowledgeBase, answers: dict, scores: dict) -> dict[str, int]:
    """Fixpoint: fire rules until nothing new; return rule id -> first satisfied DNF alternative,
    in knowledge-base order."""
    prog = _program(kb)
    facts: set[str] = set()
    fired: set[int] = set()
    when, concludes = prog.when, prog.concludes
    changed = True
    while changed:
        changed = False
        for i in prog.order:
            if i not in fired and when[i](answers, scores, facts) is True:
                fired.add(i)
                facts.add(concludes[i])
                changed = True
        if not prog.cyclic:
            break        # dependency order: one pass is the fixpoint
    # Justify each rule by its first alternative that holds at the fixpoint, not at the moment it
    # fired: that choice does not depend on firing order, so every backend makes the same one.
    out: dict[str, int] = {}
    for i in sorted(fired):
        index = next((k for k, alt in enumerate(prog.alternatives[i])
                      if all(t(answers, scores, facts) is True for t in alt)), None)
        if index is None:
            raise EngineError(f"rule {prog.ids[i]}: condition true but no DNF alternative holds")
        out[prog.ids[i]] = index
    return out
