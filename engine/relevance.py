"""Which conclusions are already certain, and which unanswered items can still change one.

Every unanswered item may later get any value on its scale, or stay unanswered. For each score we
compute the interval of values it could still take (and whether it could stay unknown); each atom
then has a set of possible truth values, combined in Kleene logic (an over-approximation: sound, so a
relevant question is never skipped). A rule is *decided* when it certainly fires or certainly
cannot. Items that feed (per the dependency graph) only decided rules cannot change anything.
"""
from __future__ import annotations

from dataclasses import dataclass

from .conditions import atom_truth, atoms, compare, truth
from .kb import KnowledgeBase
from .model import All, Atom, Cond, Not

T, F, U = True, False, None
SCALE = (1.0, 5.0)


@dataclass(frozen=True)
class Range:
    lo: float | None       # None: no number is possible (only unknown)
    hi: float | None
    may_be_unknown: bool

    @property
    def fixed(self) -> bool:
        return self.lo is not None and self.lo == self.hi and not self.may_be_unknown


def _input_range(ident: str, answers: dict, ranges: dict[str, Range], screened: dict | None = None) -> Range:
    if ident in ranges:
        return ranges[ident]
    if screened and ident in screened:
        lo, hi = screened[ident]
        return Range(float(lo), float(hi), False)
    v = answers.get(ident)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return Range(float(v), float(v), False)
    return Range(*SCALE, True)


def score_ranges(kb: KnowledgeBase, answers: dict, screened: dict | None = None) -> dict[str, Range]:
    """The values each score could still take as unanswered inputs get answered (or not).

    `screened` items (an unticked checklist entry) are answered, but only known to lie in a range:
    they count as answered and contribute their range to a mean, sum, min or max."""
    ranges: dict[str, Range] = {}
    for s in kb.scores.values():
        inputs = [_input_range(i, answers, ranges, screened) for i in s.inputs]
        known = [r for r in inputs if r.fixed]
        open_ = [r for r in inputs if not r.fixed]
        sure: list[Range] = []
        if s.fn in ("mean", "sum", "min", "max"):
            sure = [r for r in open_ if not r.may_be_unknown and r.lo is not None]
            open_ = [r for r in open_ if r.may_be_unknown or r.lo is None]
        need = max(s.min_answered, 1)
        if s.fn == "diff":
            a, b = inputs
            if a.lo is None or b.lo is None:
                ranges[s.id] = Range(None, None, True)
            else:
                ranges[s.id] = Range(a.lo - b.hi, a.hi - b.lo, a.may_be_unknown or b.may_be_unknown)
            continue
        k, m = len(known) + len(sure), len(open_)
        can_stay_unknown = k < need or any(r.may_be_unknown and r.lo is None for r in open_)
        if k + m < need:
            ranges[s.id] = Range(None, None, True)
            continue
        lo_vals, hi_vals = [], []
        total_lo = sum(r.lo for r in known) + sum(r.lo for r in sure)
        total_hi = sum(r.lo for r in known) + sum(r.hi for r in sure)
        for j in range(max(0, need - k), m + 1):
            n = k + j
            if n == 0:
                continue
            if s.fn == "mean":
                lo_vals.append((total_lo + j * SCALE[0]) / n)
                hi_vals.append((total_hi + j * SCALE[1]) / n)
            elif s.fn == "sum":
                lo_vals.append(total_lo + j * SCALE[0])
                hi_vals.append(total_hi + j * SCALE[1])
            elif s.fn == "count":
                lo_vals.append(float(n))
                hi_vals.append(float(n))
            elif s.fn in ("count_gte", "count_lte"):
                t = s.threshold or 0
                hits = sum(1 for r in known if (r.lo >= t if s.fn == "count_gte" else r.lo <= t))
                lo_vals.append(float(hits))
                hi_vals.append(float(hits + j))
            elif s.fn == "min":
                los = [r.lo for r in known] + [r.lo for r in sure]
                his = [r.lo for r in known] + [r.hi for r in sure]
                lo_vals.append(min(los + ([SCALE[0]] if j else []), default=SCALE[1]))
                hi_vals.append(min(his) if his else SCALE[1])
            elif s.fn == "max":
                los = [r.lo for r in known] + [r.lo for r in sure]
                his = [r.lo for r in known] + [r.hi for r in sure]
                lo_vals.append(max(los) if los else SCALE[0])
                hi_vals.append(max(his + ([SCALE[1]] if j else []), default=SCALE[0]))
        if not lo_vals:
            ranges[s.id] = Range(None, None, True)
        else:
            ranges[s.id] = Range(min(lo_vals), max(hi_vals), can_stay_unknown)
    return ranges


def _compare_possible(op: str, r: Range, value: float) -> set:
    """Possible truth values of `score OP value` when the score lies in r."""
    out: set = {U} if r.may_be_unknown or r.lo is None else set()
    if r.lo is None:
        return out
    lo, hi = r.lo, r.hi
    tests = {
        "gt": (hi > value, lo <= value), "gte": (hi >= value, lo < value),
        "lt": (lo < value, hi >= value), "lte": (lo <= value, hi > value),
        "eq": (lo <= value <= hi, not (lo == hi == value)), "ne": (not (lo == hi == value), lo <= value <= hi),
    }
    can_true, can_false = tests[op]
    if can_true:
        out.add(T)
    if can_false:
        out.add(F)
    return out


def _atom_possible(kb: KnowledgeBase, atom: Atom, answers: dict, ranges: dict, facts: dict,
                   screened: dict | None = None) -> set:
    if atom.kind == "fact":
        return facts.get(atom.ref, {F})
    if atom.kind == "score":
        return _compare_possible(atom.op, ranges[atom.ref], float(atom.value))
    if screened and atom.ref in screened:
        if atom.kind in ("answered", "unanswered"):
            return {atom.kind == "answered"}
        return {compare(atom.op, x, atom.value) for x in _points(screened[atom.ref], [atom])}
    if atom.ref in answers:
        return {atom_truth(atom, answers, {}, set())}
    if atom.kind == "answered":
        return {T, F}
    if atom.kind == "unanswered":
        return {T, F}
    return {T, F, U}   # an unanswered item may take any value, or stay unanswered


def _points(span: tuple, tests: list[Atom]) -> list[float]:
    """Values of one variable in span [lo, hi] at which every test of it can change: the ends,
    each threshold inside and its neighbours, and the whole numbers between (answers are 1-5)."""
    lo, hi = float(span[0]), float(span[1])
    pts = {lo, hi} | {float(n) for n in range(int(lo), int(hi) + 1) if lo <= n <= hi}
    for a in tests:
        if isinstance(a.value, (int, float)) and not isinstance(a.value, bool):
            for x in (a.value - 1e-6, float(a.value), a.value + 1e-6):
                if lo <= x <= hi:
                    pts.add(x)
    return sorted(pts)


def _one_variable(cond: Cond, ranges: dict, screened: dict | None) -> set | None:
    """The exact possible truth values of a group that tests one score (or one screened item)
    only, such as `x < 3 or x >= 3`; None when it tests more than one thing. Kleene logic alone
    would call that tautology undecided while x is open, and keep asking questions for nothing."""
    tests = atoms(cond)
    refs = {(a.kind, a.ref) for a in tests}
    if len(refs) != 1 or any(a.op is None or not isinstance(a.value, (int, float)) for a in tests):
        return None
    kind, ref = next(iter(refs))
    if kind == "score":
        r = ranges.get(ref)
        if r is None or r.lo is None:
            return None
        span, unknown = (r.lo, r.hi), r.may_be_unknown
    elif kind == "item" and screened and ref in screened:
        span, unknown = screened[ref], False
    else:
        return None
    out = {truth(cond, lambda a, x=x: compare(a.op, x, a.value)) for x in _points(span, tests)}
    if unknown:
        out.add(truth(cond, lambda a: None))
    return out


def _combine(cond: Cond, leaf, exact=None) -> set:
    if isinstance(cond, Atom):
        return leaf(cond)
    if exact is not None:
        found = exact(cond)
        if found is not None:
            return found
    if isinstance(cond, Not):
        return {None if v is None else not v for v in _combine(cond.part, leaf, exact)}
    out: set = set()
    sets = [_combine(p, leaf, exact) for p in cond.parts]
    is_all = isinstance(cond, All)
    # Kleene AND/OR over every combination of possible values (sets are at most 3 values each)
    acc = {T} if is_all else {F}
    for s in sets:
        nxt = set()
        for a in acc:
            for b in s:
                if is_all:
                    nxt.add(F if F in (a, b) else U if U in (a, b) else T)
                else:
                    nxt.add(T if T in (a, b) else U if U in (a, b) else F)
        acc = nxt
    out |= acc
    return out


@dataclass
class Status:
    certain: list[str]          # rule ids that will fire whatever the remaining answers
    impossible: list[str]       # rule ids that cannot fire any more
    undecided: list[str]        # rule ids whose outcome can still change
    open_atoms: dict            # undecided rule id -> its atoms whose truth can still change


def _rule_order(kb: KnowledgeBase) -> list[int] | None:
    """Rule indices with every rule after all rules concluding a fact it tests (None: a cycle).
    Worked out once per knowledge base (kept with the other transient per-base caches)."""
    order, cyclic = kb.rule_order()
    return None if cyclic else order


def _rule_atoms(kb: KnowledgeBase) -> dict[str, list[Atom]]:
    cache = kb.__dict__.setdefault("_backends", {})
    if "_relevance_atoms" not in cache:
        cache["_relevance_atoms"] = {r.id: atoms(r.when) for r in kb.rules}
    return cache["_relevance_atoms"]


def _fires(possible: set) -> set:
    return {T} if possible == {T} else ({F} if T not in possible else {T, F})


def rule_status(kb: KnowledgeBase, answers: dict, screened: dict | None = None) -> Status:
    """`screened`: item -> (lo, hi) for answers known only to lie in a range (an unticked
    checklist entry); such items count as answered, and may still be asked to drill down."""
    if screened:
        answers = {k: v for k, v in answers.items() if k not in screened}
    ranges = score_ranges(kb, answers, screened)
    facts: dict[str, set] = {}
    outcome: dict[str, set] = {}
    leaf = lambda a: _atom_possible(kb, a, answers, ranges, facts, screened)  # noqa: E731
    exact = lambda c: _one_variable(c, ranges, screened)  # noqa: E731
    order = _rule_order(kb)
    if order is not None:
        # Dependency order: every fact a rule tests is final before the rule is read, so one pass
        # gives the fixpoint that the loop below reaches.
        by_index: dict[int, set] = {}
        for i in order:
            rule = kb.rules[i]
            o = by_index[i] = _fires(_combine(rule.when, leaf, exact))
            prev = facts.get(rule.concludes, {F})
            facts[rule.concludes] = {T} if (o == {T} or prev == {T}) else (prev | o)
        outcome = {r.id: by_index[i] for i, r in enumerate(kb.rules)}
    for _ in range(0 if order is not None else len(kb.rules) + 1):   # a cycle: iterate to the fixpoint
        changed = False
        for rule in kb.rules:
            fires = _fires(_combine(rule.when, leaf, exact))
            if outcome.get(rule.id) != fires:
                outcome[rule.id] = fires
                changed = True
        new_facts: dict[str, set] = {}
        for rule in kb.rules:
            prev = new_facts.get(rule.concludes, {F})
            o = outcome[rule.id]
            new_facts[rule.concludes] = {T} if (o == {T} or prev == {T}) else (prev | o)
        if new_facts != facts:
            facts.clear()
            facts.update(new_facts)
            changed = True
        if not changed:
            break
    undecided = [r for r, o in outcome.items() if o == {T, F}]
    rule_atoms = _rule_atoms(kb)
    open_atoms = {r: [a for a in rule_atoms[r] if len(leaf(a)) > 1] for r in undecided}
    return Status([r for r, o in outcome.items() if o == {T}], [r for r, o in outcome.items() if o == {F}],
                  undecided, open_atoms)


class _Feeds:
    """Which unanswered items can still move each undecided rule: through its open atoms only,
    following the dependency graph (score inputs, rules concluding a fact)."""

    def __init__(self, kb: KnowledgeBase, answers: dict, status: Status):
        self.kb, self.answers, self.status = kb, answers, status
        self.memo: dict[str, frozenset] = {}

    def of_rule(self, rid: str) -> frozenset:
        if rid not in self.memo:
            self.memo[rid] = frozenset()          # guard against cycles while computing
            found: set[str] = set()
            for atom in self.status.open_atoms.get(rid, []):
                found |= self.of_atom(atom)
            self.memo[rid] = frozenset(found)
        return self.memo[rid]

    def of_atom(self, atom: Atom) -> set[str]:
        g = self.kb.graph
        if atom.kind == "fact":
            out: set[str] = set()
            for pred in g.predecessors(atom.ref):
                if g.nodes[pred]["kind"] == "rule" and pred[5:] in self.status.open_atoms:
                    out |= self.of_rule(pred[5:])
            return out
        if atom.kind == "score":
            import networkx as nx
            return {n for n in nx.ancestors(g, atom.ref) if g.nodes[n]["kind"] == "item" and n not in self.answers}
        return {atom.ref} if atom.ref not in self.answers else set()


def relevant_items(kb: KnowledgeBase, answers: dict, scope: set[str] | None = None,
                   status: Status | None = None, rules: set[str] | None = None,
                   screened: dict | None = None, weights: dict | None = None) -> list[str]:
    """Unanswered items (in scope) that can still change an undecided rule (of `rules`), in KB order.
    `weights`, when given, is filled with item -> the number of undecided rules testing it directly
    (the questionnaire asks those first: one answer settles more)."""
    status = status or rule_status(kb, answers, screened)
    if screened:
        answers = {k: v for k, v in answers.items() if k not in screened}
    feeds = _Feeds(kb, answers, status)
    found: set[str] = set()
    for rid in status.undecided:
        if rules is None or rid in rules:
            found |= feeds.of_rule(rid)
            if weights is not None:
                for atom in status.open_atoms.get(rid, []):
                    if atom.kind == "item":
                        weights[atom.ref] = weights.get(atom.ref, 0) + 1
    return [q for q in kb.questions if q in found and (scope is None or q in scope)]


def conclusions_changed_by(kb: KnowledgeBase, item: str, status: Status) -> list[str]:
    """Undecided rules that answering item can still change: what `why` at a prompt reports."""
    feeds = _Feeds(kb, {}, status)
    feeds.answers = {}
    return sorted(r for r in status.undecided if item in feeds.of_rule(r))
