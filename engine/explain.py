"""Explanations read one structure: the Diagnosis' justifications. JSON, text, docs and the web all
render from the dictionaries built here, with fixed verbs (fired, blocked, unanswered, unknown).
"""
from __future__ import annotations

from typing import Any

from .conditions import OP_WORDS, atom_truth, describe_atom
from .inference import diagnose, interpolate
from .kb import KnowledgeBase
from .model import Atom, Diagnosis, Premise


def _cites(cites) -> list[dict]:
    return [c.as_json() for c in cites if c is not None]


def diagnosis_json(kb: KnowledgeBase, d: Diagnosis) -> dict:
    """CONTRACT §5, plus `rules` (every rule that concluded it) and `scores`; the advise stage's
    `headline`, `first`, `sensitivity`, and each finding's `basis` and `note`."""
    from .advise import advise
    advise(kb, d)
    return {
        "partnership": d.partnership,
        "headline": d.headline,
        "conclusions": [{
            "id": c.id, "type": c.type, "title": c.title,
            "because": " ".join(j.because for j in c.justifications),
            "rule": c.justifications[0].rule, "rules": [j.rule for j in c.justifications],
            "sources": _cites(c.sources), "from": c.premises,
            "basis": c.basis, "note": c.note, "sensitivity": c.sensitivity,
        } for c in d.conclusions],
        "recommendations": [{
            "id": r.id, "title": r.title, "priority": r.priority, "addresses": r.addresses,
            "because": " ".join(j.because for j in r.justifications),
            "rules": [j.rule for j in r.justifications], "sources": _cites(r.sources),
            "basis": r.basis, "note": r.note, "first": r.first,
        } for r in d.recommendations],
        "unanswered": d.unanswered,
        "scores": {k: v.value for k, v in d.scores.items()},
    }


def _provenance(node: dict, data) -> dict:
    """`basis` on every why/why-not node, and the note when it is our judgement."""
    basis = data.get("basis", "seed") if data is not None else "seed"
    node["basis"] = basis
    if basis != "seed":
        node["note"] = data.get("note")
    return node


def _score_because(kb: KnowledgeBase, d: Diagnosis, sid: str) -> str:
    s, v = kb.scores[sid], d.scores[sid]
    values = {**d.answers, **{k: x.value for k, x in d.scores.items()},
              "n": v.answered, "value": v.value, "min_answered": s.min_answered}
    if s.because:
        return interpolate(s.because, values)
    shown = "unknown" if v.value is None else f"{v.value:.2f}"
    return f"{s.fn} of {v.answered} answered of {len(s.inputs)} inputs = {shown}"


def premise_node(kb: KnowledgeBase, d: Diagnosis, p: Premise, seen: frozenset = frozenset()) -> dict:
    if p.kind == "fact":
        return why_tree(kb, d, p.id, seen)
    if p.kind == "score":
        s, v = kb.scores[p.id], d.scores[p.id]
        return _provenance({"id": p.id, "title": s.title, "value": p.value, "rule": p.id,
                            "because": _score_because(kb, d, p.id), "sources": _cites([s.source]),
                            "premises": [premise_node(kb, d, x, seen) for x in v.inputs]}, s.data)
    q = kb.questions[p.id]
    return _provenance({"id": p.id, "value": p.value, "question": q.text, "sources": _cites(_leaf_sources(q, p.value))},
                       q.data)


def _leaf_sources(q, value) -> list:
    """A rated answer quotes the pole it was answered at. Where a question's source quotes one pole
    of its scale verbatim (the Table rows), an answer at the other end quotes the other pole, and a
    middle answer both: a leaf never quotes the mandate/contract column for an answer of 5."""
    scale = q.data.get("scale") or {}
    src = q.source
    if src is None or not isinstance(value, (int, float)) or isinstance(value, bool) \
            or src.quote not in (scale.get("low"), scale.get("high")) or not scale.get("low") or not scale.get("high"):
        return [src]
    from .model import Citation
    low, high = Citation(src.ref, src.at, scale["low"]), Citation(src.ref, src.at, scale["high"])
    return [low] if value < 3 else [high] if value > 3 else [low, high]


def why_tree(kb: KnowledgeBase, d: Diagnosis, ident: str, seen: frozenset = frozenset()) -> dict:
    """Proof tree of a conclusion or recommendation, down to the answers (CONTRACT §5)."""
    found = d.conclusion(ident)
    if found is None:
        raise KeyError(ident)
    j = found.justifications[0]
    node: dict[str, Any] = {"id": ident, "title": found.title, "rule": j.rule, "because": j.because,
                            "sources": _cites(found.sources), "basis": found.basis}
    if found.basis != "seed":
        node["note"] = found.note
    if hasattr(found, "type"):
        node["type"] = found.type
    if len(found.justifications) > 1:
        node["also"] = [x.rule for x in found.justifications[1:]]
    if ident in seen:  # defensive: rules are acyclic (lint), but never recurse forever
        node["premises"] = []
        return node
    node["premises"] = [premise_node(kb, d, p, seen | {ident}) for p in j.premises]
    return node


def why_text(tree: dict, indent: str = "") -> list[str]:
    lines = []
    value = f" = {tree['value']}" if "value" in tree and "question" not in tree and tree.get("value") is not None else ""
    if "question" in tree:
        shown = "unanswered" if tree["value"] is None else tree["value"]
        lines.append(f"{indent}answer {tree['id']} = {shown}: {tree['question']}")
    else:
        title = f" — {tree['title']}" if tree.get("title") else ""
        lines.append(f"{indent}{tree['id']}{value}{title}")
        if tree.get("basis", "seed") != "seed":
            lines.append(f"{indent}  because: our reading (expert judgement, not the authors' claim): {tree['because']}")
            if tree.get("note"):
                lines.append(f"{indent}  why it is our judgement: {tree['note']}")
        else:
            lines.append(f"{indent}  because: {tree['because']}")
        lines.append(f"{indent}  rule: {tree['rule']}")
    rests = " (what our reading rests on)" if tree.get("basis", "seed") != "seed" and "question" not in tree else ""
    for s in tree.get("sources", []):
        lines.append(f"{indent}  source: {s['ref']}, {s['at']}: \"{s['quote']}\"{rests}")
    for p in tree.get("premises", []):
        lines += why_text(p, indent + "    ")
    return lines


def _atom_status(kb: KnowledgeBase, d: Diagnosis, atom: Atom) -> dict:
    facts = set(d.concluded_ids)
    scores = {k: v.value for k, v in d.scores.items()}
    t = atom_truth(atom, d.answers, scores, facts)
    text = describe_atom(atom)
    if t is True:
        return {"status": "holds", "condition": text}
    if atom.kind == "fact":
        return {"status": "missing", "condition": text, "detail": f"{atom.ref} is not concluded"}
    if t is None and atom.kind == "item":
        return {"status": "unanswered", "condition": text, "detail": f"unanswered: {atom.ref}"}
    if t is None and atom.kind == "score":
        s, v = kb.scores[atom.ref], d.scores[atom.ref]
        missing = [i for i in s.inputs if i not in d.answers and i in kb.questions]
        return {"status": "unknown", "condition": text, "unanswered": missing,
                "detail": f"unknown: {atom.ref} needs {s.min_answered} answered inputs, has {v.answered}"}
    actual = d.answers.get(atom.ref) if atom.kind in ("item", "answered", "unanswered") else scores.get(atom.ref)
    if atom.kind in ("answered", "unanswered"):
        detail = f"blocked: {atom.ref} is {'answered' if atom.kind == 'unanswered' else 'unanswered'}"
    else:
        shown = f"{actual:.2f}" if isinstance(actual, float) else actual
        detail = f"blocked: {atom.ref} = {shown}, needs {OP_WORDS[atom.op]} {atom.value}"
    return {"status": "blocked", "condition": text, "value": actual, "detail": detail}


def why_not(kb: KnowledgeBase, d: Diagnosis, ident: str) -> dict:
    """Each rule that could conclude ident, each alternative, each condition with its status."""
    rules = kb.rules_concluding(ident)
    out = {"id": ident, "concluded": d.conclusion(ident) is not None, "rules": []}
    for rule in rules:
        alts = []
        for conj in rule.dnf:
            statuses = [_atom_status(kb, d, a) for a in conj]
            alts.append({"conditions": statuses, "holds": all(s["status"] == "holds" for s in statuses)})
        out["rules"].append(_provenance({"rule": rule.id, "title": rule.title, "fired": rule.id in d.fired,
                                         "where": f"{rule.path}:{rule.line}", "alternatives": alts,
                                         "source": rule.source.as_json()}, rule.data))
    return out


def why_not_text(report: dict, why_command: str | None = None) -> list[str]:
    """`why_command` is the command line that shows the proof, when the caller can give a runnable one."""
    if report["concluded"]:
        how = f"; this shows how: {why_command}" if why_command else "; `why` shows how."
        return [f"{report['id']} is concluded{how}"]
    lines = [f"{report['id']} is not concluded. Rules that could conclude it:"]
    for r in report["rules"]:
        lines.append(f"  rule {r['rule']} ({r['where']}) — {r['title']}")
        for i, alt in enumerate(r["alternatives"], start=1):
            if len(r["alternatives"]) > 1:
                lines.append(f"    alternative {i}:")
            for c in alt["conditions"]:
                lines.append(f"      {c.get('detail') or 'holds: ' + c['condition']}")
    return lines


def what_if(kb: KnowledgeBase, answer_set, changes: dict, backend: str = "durable") -> dict:
    """Diagnose before and after changing answers; both from scratch (no truth maintenance needed)."""
    from copy import copy
    before = diagnose(kb, answer_set, backend)
    after_set = copy(answer_set)
    values = dict(answer_set.values)
    for k, v in changes.items():
        if v is None:
            values.pop(k, None)
        else:
            values[k] = v
    after_set.values = {q: values[q] for q in kb.questions if q in values}
    after = diagnose(kb, after_set, backend)
    b, a = before.concluded_ids, after.concluded_ids
    return {"added": [x for x in a if x not in b], "removed": [x for x in b if x not in a],
            "unchanged": [x for x in a if x in b], "changes": {k: v for k, v in changes.items()},
            "before": before, "after": after}
