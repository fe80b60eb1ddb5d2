"""Can a set of condition atoms hold together? Interval reasoning for `kb lint`.

Lint needs to know when a rule can never fire and when two rules can fire together. Both questions
are about one conjunction of atoms (one alternative of a condition's disjunctive normal form). We
answer with intervals: every item gets the values its atoms allow on its scale, every score the
interval its function can reach from those items, and each atom narrows its own item or score.

The answer is an over-approximation, and that is the direction lint needs: when `why_impossible`
says a conjunction is impossible, it is (no answers satisfy it); when it says possible, the atoms
are at least pairwise consistent per item and score and with the scores' ranges. So a contradiction
reported between two rules may, rarely, be a false alarm, but a conclusion reported unreachable is
always truly unreachable. Relations between scores beyond their ranges (a mean of items that are
each bounded) are followed only as far as interval arithmetic goes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conditions import describe_atom
from .model import Atom

if TYPE_CHECKING:
    from .kb import KnowledgeBase

SCALE = (1.0, 5.0)
_INF = math.inf


@dataclass
class Numeric:
    """What the atoms on one number (a rated item or a score) allow: bounds, allowed points, holes."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    points: set | None = None            # eq / in: only these values
    holes: set = field(default_factory=set)   # ne / nin: not these values

    def narrow(self, op: str, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        numbers = {float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if op in ("gt", "gte", "lt", "lte") and not numbers:
            self.points = set()          # an order test against a non-number is never true
            return
        if op in ("gt", "gte"):
            v, strict = numbers.pop(), op == "gt"
            if v > self.lo or (v == self.lo and strict):
                self.lo, self.lo_open = v, strict
        elif op in ("lt", "lte"):
            v, strict = numbers.pop(), op == "lt"
            if v < self.hi or (v == self.hi and strict):
                self.hi, self.hi_open = v, strict
        elif op in ("eq", "in"):
            self.points = numbers if self.points is None else self.points & numbers
        elif op in ("ne", "nin"):
            self.holes |= numbers

    def _inside(self, v: float) -> bool:
        above = v > self.lo or (v == self.lo and not self.lo_open)
        below = v < self.hi or (v == self.hi and not self.hi_open)
        return above and below and v not in self.holes

    def possible(self) -> bool:
        if self.points is not None:
            return any(self._inside(p) for p in self.points)
        if self.lo > self.hi or (self.lo == self.hi and (self.lo_open or self.hi_open)):
            return False
        return not (self.lo == self.hi and self.lo in self.holes)

    def closure(self) -> tuple[float, float]:
        """The smallest closed interval holding every allowed value (used to bound scores)."""
        if self.points is not None:
            inside = [p for p in self.points if self._inside(p)]
            return (min(inside), max(inside)) if inside else (self.lo, self.hi)
        return self.lo, self.hi


@dataclass
class Reach:
    """The values a score can take under a conjunction, and whether it can be known at all."""

    lo: float
    hi: float
    knowable: bool
    forced: bool          # an atom tests it, so it must be known for the conjunction to hold


def _fmt(x: float) -> str:
    return "any value" if x in (_INF, -_INF) else f"{x:g}"


def _bounds(fn: str, threshold: float | None, need: int,
            inputs: list[tuple[float, float, bool]]) -> tuple[float, float, bool]:
    """Interval of `fn` over inputs (lo, hi, forced); every input may be answered or not unless
    forced, and at least `need` must be. Sound: the true value always lies inside."""
    if fn == "diff":
        if len(inputs) != 2:
            return 0.0, 0.0, False
        (alo, ahi, _), (blo, bhi, _) = inputs
        return alo - bhi, ahi - blo, True
    if len(inputs) < need or not inputs:
        return 0.0, 0.0, False
    forced = [x for x in inputs if x[2]]
    optional = [x for x in inputs if not x[2]]
    los, his = [x[0] for x in inputs], [x[1] for x in inputs]
    if fn == "mean":
        return min(los), max(his), True
    if fn == "min":
        return min(los), (min(x[1] for x in forced) if forced else max(his)), True
    if fn == "max":
        return (max(x[0] for x in forced) if forced else min(los)), max(his), True
    if fn == "sum":
        lo = sum(x[0] for x in forced) + sum(min(0.0, x[0]) for x in optional)
        hi = sum(x[1] for x in forced) + sum(max(0.0, x[1]) for x in optional)
        return lo, hi, True
    if fn == "count":
        return float(max(len(forced), need)), float(len(inputs)), True
    t = threshold or 0.0
    if fn == "count_gte":
        return float(sum(1 for x in forced if x[0] >= t)), float(sum(1 for x in inputs if x[1] >= t)), True
    if fn == "count_lte":
        return float(sum(1 for x in forced if x[1] <= t)), float(sum(1 for x in inputs if x[0] <= t)), True
    return -_INF, _INF, True   # an unknown function: assume anything


def _group(atoms: list[Atom]) -> dict[tuple[str, str], list[Atom]]:
    out: dict[tuple[str, str], list[Atom]] = {}
    for a in atoms:
        if a.kind == "fact":
            continue
        key = ("score" if a.kind == "score" else "item", a.ref)
        out.setdefault(key, []).append(a)
    return out


def _together(group: list[Atom]) -> str:
    return " and ".join(describe_atom(a) for a in group)


def _numeric(domain: tuple[float, float], tests: list[Atom]) -> Numeric:
    n = Numeric(*domain)
    for a in tests:
        n.narrow(a.op or "", a.value)
    return n


def _clash(tests: list[Atom], domain_note: str) -> str:
    """Say whether the atoms contradict each other or only the values the number can take."""
    if not _numeric((-_INF, _INF), tests).possible():
        return f"{_together(tests)} cannot hold together"
    return f"{_together(tests)} cannot hold ({domain_note})"


@dataclass(frozen=True)
class Impossible:
    """Why a conjunction cannot hold, and the atoms that clash (their lines locate the finding)."""

    reason: str
    atoms: tuple[Atom, ...]

    @property
    def line(self) -> int | None:
        lines = [a.line for a in self.atoms if a.line]
        return min(lines) if lines else None


def _item(kb: "KnowledgeBase", ref: str, group: list[Atom]) -> tuple[str | None, str, tuple[float, float]]:
    """(why impossible or None, answer status 'forced'|'never'|'free', closure of allowed values)."""
    kinds = {a.kind for a in group}
    if "unanswered" in kinds and kinds & {"answered", "item"}:
        return f"{_together(group)} cannot hold together (an atom on an item needs it answered)", "never", SCALE
    status = "never" if "unanswered" in kinds else "forced" if kinds & {"answered", "item"} else "free"
    tests = [a for a in group if a.kind == "item"]
    q = kb.questions.get(ref)
    if q is None or not tests:
        return None, status, SCALE
    if q.type == "rated":
        n = _numeric(SCALE, tests)
        if not n.possible():
            return _clash(tests, f"answers are {_fmt(SCALE[0])}–{_fmt(SCALE[1])}"), status, SCALE
        return None, status, n.closure()
    if q.type == "multi":
        must = {a.value for a in tests if a.op == "has"}
        must_not = {a.value for a in tests if a.op == "lacks"}
        if must & must_not or not must <= set(q.options):
            return f"{_together(tests)} cannot hold together", status, SCALE
        return None, status, SCALE
    allowed = set(q.options)
    for a in tests:
        values = set(a.value) if isinstance(a.value, list) else {a.value}
        allowed = allowed & values if a.op in ("eq", "in") else allowed - values if a.op in ("ne", "nin") else allowed
    if not allowed:
        return f"{_together(tests)} cannot hold together", status, SCALE
    return None, status, SCALE


def why_impossible(kb: "KnowledgeBase", atoms: list[Atom]) -> Impossible | None:
    """None when the atoms (fact atoms ignored) may all hold for some answers; else the reason."""
    groups = _group(atoms)
    status: dict[str, str] = {}
    spans: dict[str, tuple[float, float]] = {}
    for (kind, ref), group in groups.items():
        if kind != "item":
            continue
        reason, status[ref], spans[ref] = _item(kb, ref, group)
        if reason:
            return Impossible(reason, tuple(group))
    reach: dict[str, Reach] = {}
    for s in kb.scores.values():          # in dependency order
        inputs: list[tuple[float, float, bool]] = []
        for i in s.inputs:
            if i in reach:
                r = reach[i]
                if r.knowable:
                    inputs.append((r.lo, r.hi, r.forced))
            elif status.get(i) != "never":
                lo, hi = spans.get(i, SCALE)
                inputs.append((lo, hi, status.get(i) == "forced"))
        lo, hi, knowable = _bounds(s.fn, s.threshold, max(s.min_answered, 1), inputs)
        tests = groups.get(("score", s.id), [])
        if tests and not knowable:
            blocked = [i for i in s.inputs if status.get(i) == "never" or (i in reach and not reach[i].knowable)]
            why = f" while {', '.join(blocked)} must stay unknown" if blocked else ""
            clash = [a for a in atoms if a.kind == "unanswered" and a.ref in blocked]
            return Impossible(f"{s.id} can never be known{why} ({s.fn} needs {max(s.min_answered, 1)} of "
                              f"{len(s.inputs)} inputs), so {_together(tests)} cannot hold", tuple(tests + clash))
        n = _numeric((lo, hi), tests)
        if tests and not n.possible():
            return Impossible(_clash(tests, f"{s.id} can only be {_fmt(lo)}–{_fmt(hi)} here"), tuple(tests))
        nlo, nhi = n.closure() if tests else (lo, hi)
        reach[s.id] = Reach(nlo, nhi, knowable, bool(tests))
    return None


def score_never_known(kb: "KnowledgeBase", score_id: str) -> bool:
    """True when no answers at all can make the score known (too few inputs for min_answered)."""
    probe = Atom("score", score_id, "gte", -_INF)
    return why_impossible(kb, [probe]) is not None
