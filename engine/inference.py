"""From answers to a Diagnosis: scores, forward chaining on a backend, justifications, ordering.

Ordering is part of the contract (byte-identical JSON for identical input): conclusions by their
type's `order` (rules/_types.yaml and overlays' vocabulary), then in knowledge-base order of the first rule concluding them; recommendations by
priority, then by how many conclusions they address (more first), then by id.
"""
from __future__ import annotations

import re
from typing import Any

from . import scores as scoring
from .conditions import atoms
from .answers import AnswerSet
from .kb import KnowledgeBase
from .model import Citation, Conclusion, Diagnosis, Justification, Premise, Recommendation

BACKENDS = ("durable", "reference")
_PLACEHOLDER = re.compile(r"\{([a-z0-9_][a-z0-9_.-]*)(?::([^{}]*))?\}")


def _fill(key: str, spec: str, whole: str, values: dict[str, Any]) -> str:
    if key not in values:
        return whole
    value = values[key]
    if value is None:
        return "unanswered"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return str(value)


_TEMPLATES: dict[str, list] = {}


def interpolate(template: str, values: dict[str, Any]) -> str:
    """Fill `{id}` / `{id:.1f}` from answers and scores; an unknown value reads 'unanswered'."""
    parts = _TEMPLATES.get(template)
    if parts is None:   # split once per template: literal text and (key, spec, placeholder) triples
        parts, at = [], 0
        for m in _PLACEHOLDER.finditer(template):
            parts += [template[at:m.start()], (m.group(1), m.group(2) or "", m.group(0))]
            at = m.end()
        parts.append(template[at:])
        if len(_TEMPLATES) < 10_000:
            _TEMPLATES[template] = parts
    return "".join(p if isinstance(p, str) else _fill(*p, values) for p in parts)


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


def run_rules(kb: KnowledgeBase, answers: dict, score_values: dict, backend: str) -> dict[str, int]:
    """rule id -> the first DNF alternative that holds at the fixpoint, in knowledge-base order."""
    engine = _backend(kb, backend)
    if backend == "reference":
        return engine.run(kb, answers, score_values)
    return engine.run(answers, score_values)[0]


class _Prepared:
    """What a diagnosis reads about each rule, worked out once per knowledge base."""

    def __init__(self, kb: KnowledgeBase):
        self.premises: dict[str, list[list[tuple[str, str]]]] = {}
        self.addresses: dict[str, list[str]] = {}
        for rule in kb.rules:
            per_alt = []
            for conj in rule.dnf:
                specs = {}
                for atom in conj:
                    kind = atom.kind if atom.kind in ("fact", "score") else "item"
                    specs.setdefault((kind, atom.ref), None)
                per_alt.append(list(specs))
            self.premises[rule.id] = per_alt
            self.addresses[rule.id] = list(dict.fromkeys(a.ref for a in atoms(rule.when) if a.kind == "fact"))
        self.first_rule: dict[str, int] = {}
        for i, rule in enumerate(kb.rules):
            self.first_rule.setdefault(rule.concludes, i)


def _prepared(kb: KnowledgeBase) -> _Prepared:
    cache = kb.__dict__.setdefault("_backends", {})   # transient: never pickled with the base
    if "_prepared" not in cache:
        cache["_prepared"] = _Prepared(kb)
    return cache["_prepared"]


def _premises(specs: list[tuple[str, str]], answers: dict, score_values: dict) -> list[Premise]:
    premise = scoring.premise
    return [premise(kind, ref, True if kind == "fact" else score_values.get(ref) if kind == "score" else answers.get(ref))
            for kind, ref in specs]


def _add_source(sources: list[Citation], cite: Citation | None) -> None:
    if cite is not None and cite not in sources:
        sources.append(cite)


def _label(found, extra_basis: str, extra_note: str | None) -> None:
    """Seed only when a seed-labelled rule drew it (and, for a recommendation, the intervention itself
    is from a seed); otherwise our judgement, with the notes that say why, never the authors' claim."""
    seed = any(j.basis == "seed" for j in found.justifications) and extra_basis == "seed"
    found.basis = "seed" if seed else "expert-judgement"
    if not seed:
        notes = [j.note for j in found.justifications if j.basis != "seed" and j.note]
        if extra_basis != "seed" and extra_note:
            notes.append(extra_note)
        found.note = " ".join(dict.fromkeys(notes)) or None


def diagnose(kb: KnowledgeBase, answer_set: AnswerSet | dict, backend: str = "durable") -> Diagnosis:
    if isinstance(answer_set, dict):
        answer_set = AnswerSet(answer_set)
    answers = answer_set.values
    prep = _prepared(kb)
    computed = scoring.compute(kb.scores, answers)
    score_values = {k: v.value for k, v in computed.items()}
    fired = run_rules(kb, answers, score_values, backend)
    values: dict[str, Any] = {**{q: answers.get(q) for q in kb.questions}, **score_values}

    by_id = kb.rules_by_id
    concluded = {by_id[r].concludes for r in fired}
    conclusions: dict[str, Conclusion] = {}
    recs: dict[str, Recommendation] = {}
    for rule_id, index in fired.items():     # knowledge-base order, whichever backend ran
        rule = by_id[rule_id]
        just = Justification(rule.id, _premises(prep.premises[rule_id][index], answers, score_values),
                             interpolate(rule.because, values), rule.basis,
                             rule.data.get("note") if rule.basis != "seed" else None)
        if rule.kind == "conclusion":
            c = conclusions.get(rule.concludes)
            if c is None:
                c = conclusions[rule.concludes] = Conclusion(rule.concludes, rule.ctype or "", rule.title, [], [])
            c.justifications.append(just)
            _add_source(c.sources, rule.source)
        else:
            r = recs.get(rule.concludes)
            if r is None:
                entry = kb.interventions[rule.concludes]
                r = recs[rule.concludes] = Recommendation(rule.concludes, entry.title, rule.priority or 3, [], [], [])
            r.priority = min(r.priority, rule.priority or 3)
            r.justifications.append(just)
            for ref in prep.addresses[rule_id]:   # every conclusion named in the condition that holds
                if ref in concluded and ref not in r.addresses:
                    r.addresses.append(ref)
            _add_source(r.sources, rule.source)
    for r in recs.values():
        _add_source(r.sources, kb.interventions[r.id].source)
        entry = kb.interventions[r.id].data
        _label(r, entry.get("basis", "seed"), entry.get("note"))
    for c in conclusions.values():
        _label(c, "seed", None)

    first = prep.first_rule
    ordered = sorted(conclusions.values(), key=lambda c: (kb.type_info(c.type)["order"], first[c.id]))
    ordered_recs = sorted(recs.values(), key=lambda r: (r.priority, -len(r.addresses), r.id))
    return Diagnosis(answer_set.partnership, dict(answers), computed, ordered, ordered_recs,
                     unanswered_relevant(kb, answers), fired)


def unanswered_relevant(kb: KnowledgeBase, answers: dict) -> list[str]:
    """Unanswered items that feed at least one rule (per the dependency graph), in KB order."""
    feeding = kb.feeding_items
    return [q for q in kb.questions if q not in answers and q in feeding]
