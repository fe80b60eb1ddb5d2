"""Plain-Python forward chaining over the compiled rules: the test oracle and the speed floor.

It evaluates each rule's original condition tree in three-valued logic (independently of the DNF
that the durable backend compiles), then picks the justifying DNF alternative.
"""
from __future__ import annotations

from .conditions import atom_truth, truth
from .errors import EngineError
from .kb import KnowledgeBase


def run(kb: KnowledgeBase, answers: dict, scores: dict) -> dict[str, int]:
    """Fixpoint: fire rules until nothing new; return rule id -> first satisfied DNF alternative."""
    facts: set[str] = set()
    fired: dict[str, int] = {}
    pending = list(kb.rules)
    changed = True
    while changed:
        changed = False
        still = []
        for rule in pending:
            lookup = lambda a: atom_truth(a, answers, scores, facts)  # noqa: E731
            if truth(rule.when, lookup) is True:
                index = next((k for k, conj in enumerate(rule.dnf) if all(lookup(a) is True for a in conj)), None)
                if index is None:
                    raise EngineError(f"rule {rule.id}: condition true but no DNF alternative holds")
                fired[rule.id] = index
                facts.add(rule.concludes)
                changed = True
            else:
                still.append(rule)
        pending = still
    # Justify each rule by its first alternative that holds at the fixpoint, not at the moment it
    # fired: that choice does not depend on firing order, so every backend makes the same one.
    final = lambda a: atom_truth(a, answers, scores, facts)  # noqa: E731
    for rule_id in fired:
        rule = kb.rules_by_id[rule_id]
        fired[rule_id] = next(k for k, conj in enumerate(rule.dnf) if all(final(a) is True for a in conj))
    return fired
