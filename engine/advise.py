"""The advise stage, between inference and explanation: what a manager should read first.

Inference concludes everything the rules support; a manager cannot act on forty recommendations.
This stage adds, without removing anything:
- `headline`: the staircase step, the Figure 1 mode, what is working well, the top risks ordered by
  their rating, and at most five first actions;
- `first` on each recommendation (one of the first actions or not);
- `sensitivity` on each conclusion: the single-answer, one-point changes that would withdraw it, so
  that a report can say when a finding sits near a boundary (a mode one answer from flipping).

Everything here is generic: conclusion types come from `rules/_types.yaml` (the `headline` role of a
type), priorities from the rules. No item, rule or conclusion id is named.
"""
from __future__ import annotations

from .kb import KnowledgeBase
from .model import Conclusion, Diagnosis, Recommendation

MAX_FIRST = 5
MAX_TOP_RISKS = 3
LOW, HIGH = 1, 5


def advise(kb: KnowledgeBase, d: Diagnosis, backend: str = "reference") -> Diagnosis:
    """Fill `headline`, `first` and `sensitivity` in place (idempotent) and return the diagnosis."""
    if d.headline is not None:
        return d
    roles = _roles(kb)
    for c, entries in zip(d.conclusions, _sensitivity(kb, d, backend)):
        c.sensitivity = entries
    top = top_risks(kb, d, roles)
    first = first_actions(d, top, roles)
    for r in d.recommendations:
        r.first = r.id in first
    d.headline = {
        "step": _one(d, roles, "step"),
        "mode": _one(d, roles, "mode"),
        "strengths": [c.id for c in d.conclusions if roles.get(c.type) == "strength"],
        "top_risks": top,
        "first_actions": [r.id for r in d.recommendations if r.id in first],
    }
    return d


def _roles(kb: KnowledgeBase) -> dict[str, str]:
    """Conclusion type -> its role in the headline (`headline:` in rules/_types.yaml)."""
    return {t: spec.get("headline") for t, spec in kb_types(kb).items() if spec.get("headline")}


def kb_types(kb: KnowledgeBase) -> dict[str, dict]:
    """The conclusion types of the base and its overlays (the loader's vocabulary, `kb.types`)."""
    return kb.types


def _one(d: Diagnosis, roles: dict[str, str], role: str) -> str | None:
    return next((c.id for c in d.conclusions if roles.get(c.type) == role), None)


def rating(kb: KnowledgeBase, d: Diagnosis, c: Conclusion) -> float:
    """How strongly the answers behind a conclusion were rated, on the 1-5 scale of severity: the
    most severe rated item it rests on (a failure reason rated 5 outranks one rated 4). An item the
    rule tests from below (`lt`/`lte`, a row answered towards its first column) counts as 6 - value,
    so a row answered 1 is as severe as a reason rated 5; 0 when it rests on no rated answer."""
    best = 0.0
    for j in c.justifications:
        rule = kb.rules_by_id.get(j.rule)
        atoms = rule.dnf[d.fired.get(j.rule, 0)] if rule is not None else []
        below = {a.ref for a in atoms if a.kind == "item" and a.op in ("lt", "lte")}
        for p in j.premises:
            if p.kind == "item" and isinstance(p.value, (int, float)) and not isinstance(p.value, bool):
                best = max(best, float(HIGH + LOW - p.value if p.id in below else p.value))
    return best


def top_risks(kb: KnowledgeBase, d: Diagnosis, roles: dict[str, str]) -> list[str]:
    """Risks ordered by rating, highest first; knowledge-base order breaks ties."""
    risks = [(i, c) for i, c in enumerate(d.conclusions) if roles.get(c.type) == "risk"]
    risks.sort(key=lambda ic: (-rating(kb, d, ic[1]), ic[0]))
    return [c.id for _, c in risks[:MAX_TOP_RISKS]]


def first_actions(d: Diagnosis, top: list[str], roles: dict[str, str]) -> set[str]:
    """At most five recommendations, in the rules' order of priority (the seeds' order: Quiver's
    stages, HOW before WHAT), chosen so that together they address the most serious conclusions:
    the urgent ones first (priority 1), then one for each top risk and each serious finding, then
    whatever covers something not yet covered."""
    recs = d.recommendations          # already by priority, then breadth
    chosen: list[Recommendation] = []
    covered: set[str] = set()

    def take(r: Recommendation) -> None:
        if r not in chosen and len(chosen) < MAX_FIRST:
            chosen.append(r)
            covered.update(r.addresses)

    urgent = min((r.priority for r in recs), default=None)
    for r in recs:
        if r.priority == urgent and set(r.addresses) - covered:
            take(r)
    serious = top + [c.id for c in d.conclusions if roles.get(c.type) == "serious"]
    for ident in serious:
        if ident not in covered:
            found = next((r for r in recs if ident in r.addresses), None)
            if found is not None:
                take(found)
    for r in recs:
        if set(r.addresses) - covered and not all(roles.get(_type(d, a)) == "strength" for a in r.addresses):
            take(r)
    if not chosen and recs:
        take(recs[0])
    return {r.id for r in chosen}


def _type(d: Diagnosis, ident: str) -> str | None:
    found = d.conclusion(ident)
    return getattr(found, "type", None)


def _concluded(kb: KnowledgeBase, answers: dict, backend: str) -> list[str]:
    """The conclusion ids the rules reach from these answers (no justifications: only the fixpoint)."""
    from . import scores as scoring
    from .inference import run_rules
    values = {k: v.value for k, v in scoring.compute(kb.scores, answers).items()}
    by_id = kb.rules_by_id
    return list(dict.fromkeys(by_id[r].concludes for r in run_rules(kb, answers, values, backend)
                              if by_id[r].kind == "conclusion"))


def _sensitivity(kb: KnowledgeBase, d: Diagnosis, backend: str) -> list[list[dict]]:
    """For each conclusion, the one-point changes of one answered rated item that would withdraw it.

    Each answered rated item that feeds a rule is moved one point up and one point down (within
    1-5) and the whole diagnosis is drawn again; a conclusion that disappears is sensitive to that
    change. Cost: two diagnoses per answered item (a fraction of a millisecond each)."""
    before = [c.id for c in d.conclusions]
    per: dict[str, list[dict]] = {c: [] for c in before}
    feeding = kb.feeding_items
    for item in kb.questions:
        value = d.answers.get(item)
        if item not in feeding or kb.questions[item].type != "rated" or isinstance(value, bool) \
                or not isinstance(value, (int, float)):
            continue
        for new in (value - 1, value + 1):
            if not LOW <= new <= HIGH:
                continue
            trial = dict(d.answers)
            trial[item] = int(new) if float(new).is_integer() else new
            after = _concluded(kb, trial, backend)
            removed = [c for c in before if c not in after]
            if not removed:
                continue
            added = [c for c in after if c not in before]
            entry = {"set": {item: trial[item]}, "removes": removed, "adds": added}
            for c in removed:
                per[c].append(entry)
    return [per[c] for c in before]
