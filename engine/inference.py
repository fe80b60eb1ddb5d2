"""From answers to a Diagnosis: scores, forward chaining on a backend, justifications, ordering.

Ordering is part of the contract (byte-identical JSON for identical input): conclusions by type in
TYPE_ORDER, then in knowledge-base order of the first rule concluding them; recommendations by
priority, then by how many conclusions they address (more first), then by id.
"""
from __future__ import annotations

import re
from typing import Any

from . import scores as scoring
from .conditions import atoms
from .answers import AnswerSet
from .kb import KnowledgeBase
from .model import Citation, Conclusion, Diagnosis, Justification, Premise, Recommendation, Rule

TYPE_ORDER = ["staircase", "mode", "disconnect", "risk", "barrier", "symptom", "cause", "fit",
              "outlook", "pressure", "whatworks", "gap"]
BACKENDS = ("durable", "reference")
_PLACEHOLDER = re.compile(r"\{([a-z0-9_][a-z0-9_.-]*)(?::([^{}]*))?\}")


def interpolate(template: str, values: dict[str, Any]) -> str:
    """Fill `{id}` / `{id:.1f}` from answers and scores; an unknown value reads 'unanswered'."""
    def sub(m: re.Match) -> str:
        key, spec = m.group(1), m.group(2) or ""
        if key not in values:
            return m.group(0)
        value = values[key]
        if value is None:
            return "unanswered"
        if isinstance(value, list):
            return ", ".join(map(str, value)) or "none"
        try:
            return format(value, spec)
        except (ValueError, TypeError):
            return str(value)
    return _PLACEHOLDER.sub(sub, template)


def _backend(kb: KnowledgeBase, name: str):
    cache = kb.__dict__.setdefault("_backends", {})
    if name not in cache:
        if name == "durable":
            from .backend_durable import DurableBackend
            cache[name] = DurableBackend(kb)
        elif name == "reference":
            from . import backend_reference
            cache[name] = backend_reference
        else:
            raise ValueError(f"unknown backend {name}")
    return cache[name]


def run_rules(kb: KnowledgeBase, answers: dict, score_values: dict, backend: str) -> tuple[dict, dict]:
    engine = _backend(kb, backend)
    if backend == "reference":
        return engine.run(kb, answers, score_values), {}
    return engine.run(answers, score_values)


def _premises(rule: Rule, index: int, answers: dict, score_values: dict, matched: dict | None) -> list[Premise]:
    out: list[Premise] = []
    for atom in rule.dnf[index]:
        if atom.kind == "fact":
            out.append(Premise("fact", atom.ref, True))
        elif atom.kind == "score":
            value = matched[atom.ref] if matched and atom.ref in matched else score_values.get(atom.ref)
            out.append(Premise("score", atom.ref, value))
        else:
            value = matched[atom.ref] if matched and atom.ref in matched and atom.kind == "item" \
                and not isinstance(answers.get(atom.ref), list) else answers.get(atom.ref)
            out.append(Premise("item", atom.ref, value))
    return list({(p.kind, p.id): p for p in out}.values())


def _add_source(sources: list[Citation], cite: Citation | None) -> None:
    if cite is not None and cite not in sources:
        sources.append(cite)


def diagnose(kb: KnowledgeBase, answer_set: AnswerSet | dict, backend: str = "durable") -> Diagnosis:
    if isinstance(answer_set, dict):
        answer_set = AnswerSet(answer_set)
    answers = answer_set.values
    computed = scoring.compute(kb.scores, answers)
    score_values = {k: v.value for k, v in computed.items()}
    fired, matched = run_rules(kb, answers, score_values, backend)
    values: dict[str, Any] = {**{q: answers.get(q) for q in kb.questions}, **score_values}

    concluded = {kb.rules_by_id[r].concludes for r in fired}
    conclusions: dict[str, Conclusion] = {}
    recs: dict[str, Recommendation] = {}
    for rule in kb.rules:
        if rule.id not in fired:
            continue
        premises = _premises(rule, fired[rule.id], answers, score_values, matched.get(rule.id))
        just = Justification(rule.id, premises, interpolate(rule.because, values))
        if rule.kind == "conclusion":
            c = conclusions.setdefault(rule.concludes, Conclusion(rule.concludes, rule.ctype or "", rule.title, [], []))
            c.justifications.append(just)
            _add_source(c.sources, rule.source)
        else:
            entry = kb.interventions[rule.concludes]
            r = recs.get(rule.concludes)
            if r is None:
                r = recs[rule.concludes] = Recommendation(rule.concludes, entry.title, rule.priority or 3, [], [], [])
            r.priority = min(r.priority, rule.priority or 3)
            r.justifications.append(just)
            for atom in atoms(rule.when):   # every conclusion named in the condition that holds
                if atom.kind == "fact" and atom.ref in concluded and atom.ref not in r.addresses:
                    r.addresses.append(atom.ref)
            _add_source(r.sources, rule.source)
    for r in recs.values():
        _add_source(r.sources, kb.interventions[r.id].source)

    type_rank = {t: i for i, t in enumerate(TYPE_ORDER)}
    first_rule = {}
    for i, rule in enumerate(kb.rules):
        first_rule.setdefault(rule.concludes, i)
    ordered = sorted(conclusions.values(), key=lambda c: (type_rank.get(c.type, len(TYPE_ORDER)), first_rule[c.id]))
    ordered_recs = sorted(recs.values(), key=lambda r: (r.priority, -len(r.addresses), r.id))
    return Diagnosis(answer_set.partnership, dict(answers), computed, ordered, ordered_recs,
                     unanswered_relevant(kb, answers), fired)


def unanswered_relevant(kb: KnowledgeBase, answers: dict) -> list[str]:
    """Unanswered items that feed at least one rule (per the dependency graph), in KB order."""
    feeding = kb.feeding_items
    return [q for q in kb.questions if q not in answers and q in feeding]
