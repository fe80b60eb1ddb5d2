"""The guided questionnaire's logic, independent of any screen: what to ask next, why, progress.

The terminal (`engine/ask.py`) and, later, the web use this one class, so both ask the same
questions in the same order for the same reasons. Relevance comes from `relevance` (the graph).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .conditions import atoms
from .kb import KnowledgeBase
from .relevance import Status, conclusions_changed_by, relevant_items, rule_status

# Scopes are groups of instruments (the `instrument` field of questions), never item ids.
SCOPES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "staircase": ("Quick Staircase check (the 10 questions)", ("staircase",)),
    "full": ("Full diagnostic (every module)", None),
    "modes": ("Figure 1 modes (Table 1 and Table 2)", ("table1", "table2")),
    "failure": ("Failure screen (nine reasons partnerships fail)", ("failure",)),
    "barriers": ("Barriers and end results (outsourcing)", ("barriers", "end_results")),
    "pressures": ("Competing pressures", ("pressures",)),
    "what_works": ("What-Works self-assessment", ("what_works",)),
}
CONTEXT = "context"


def scopes(kb: KnowledgeBase) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """The questionnaire's modules, read from the knowledge base's vocabulary (built-in and overlay
    `_instruments.yaml`), in SCOPES' shape: name -> (title, instruments or None for all)."""
    names = sorted(kb.modules, key=lambda m: (kb.modules[m].get("order", 1000), m))
    return {m: (kb.modules[m]["title"], kb.module_instruments(m)) for m in names}


@dataclass
class Progress:
    answered: int
    relevant_left: int
    skipped_irrelevant: int

    @property
    def fraction(self) -> float:
        total = self.answered + self.relevant_left
        return 1.0 if total == 0 else self.answered / total


class Questionnaire:
    def __init__(self, kb: KnowledgeBase, scope: str, answers: dict | None = None, skipped: list | None = None):
        modules = scopes(kb)
        if scope not in modules:
            raise ValueError(scope)
        self.kb, self.scope = kb, scope
        self.answers: dict = dict(answers or {})
        self.skipped: list = list(skipped or [])
        instruments = modules[scope][1]
        always = kb.always_asked
        self.items = [q for q, e in kb.questions.items()
                      if e.data["instrument"] in always or instruments is None or e.data["instrument"] in instruments]
        self._cache: tuple | None = None

    # ---- state ----------------------------------------------------------------------------------
    def _key(self) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in self.answers.items()))

    @property
    def status(self) -> Status:
        key = self._key()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, rule_status(self.kb, self.answers))
        return self._cache[1]

    @cached_property
    def scope_rules(self) -> set[str]:
        """Rules fed by an item of this scope (other than context): the conclusions the scope can reach."""
        import networkx as nx
        g = self.kb.graph
        out: set[str] = set()
        for q in self.items:
            if self.kb.questions[q].data["instrument"] not in self.kb.always_asked:
                out |= {n[5:] for n in nx.descendants(g, q) if n.startswith("rule:")}
        return out

    def relevant(self) -> list[str]:
        return relevant_items(self.kb, self.answers, set(self.items), self.status, self.scope_rules)

    def next_item(self) -> str | None:
        context = [q for q in self.items if self.kb.questions[q].data["instrument"] in self.kb.always_asked]
        for q in context:
            if q not in self.answers and q not in self.skipped:
                return q
        for q in sorted(self.relevant(), key=self._module_rank):
            if q not in self.skipped:
                return q
        return None

    def _module_rank(self, item: str) -> int:
        """Modules in the order the scope menu lists them (the staircase first), whatever the file order."""
        order = [i for _, instruments in scopes(self.kb).values() for i in instruments or ()]
        instrument = self.kb.questions[item].data["instrument"]
        return order.index(instrument) if instrument in order else len(order)

    def progress(self) -> Progress:
        relevant = [q for q in self.relevant() if q not in self.skipped]
        answered = sum(1 for q in self.items if q in self.answers)
        irrelevant = sum(1 for q in self.items if q not in self.answers and q not in self.skipped and q not in relevant)
        return Progress(answered, len(relevant), irrelevant)

    def certain(self) -> list[str]:
        """Conclusions (not recommendations) in scope that no further answer can remove."""
        out = []
        for rid in self.status.certain:
            rule = self.kb.rules_by_id[rid]
            if rule.kind == "conclusion" and rid in self.scope_rules and rule.concludes not in out:
                out.append(rule.concludes)
        return out

    def why(self, item: str) -> list[dict]:
        """The undecided conclusions this item can still change, with their sources (from the graph)."""
        out = []
        for rid in conclusions_changed_by(self.kb, item, self.status):
            rule = self.kb.rules_by_id[rid]
            if rid not in self.scope_rules and self.kb.questions[item].data["instrument"] not in self.kb.always_asked:
                continue
            out.append({"rule": rid, "concludes": rule.concludes, "title": rule.title,
                        "kind": rule.kind, "source": rule.source.as_json(),
                        "direct": any(a.ref == item for a in atoms(rule.when))})
        out.sort(key=lambda r: (not r["direct"], r["kind"] != "conclusion", r["rule"]))
        return out

    # ---- changes ----------------------------------------------------------------------------------
    def answer(self, item: str, value) -> None:
        if value is None:
            self.answers.pop(item, None)
            if item not in self.skipped:
                self.skipped.append(item)
        else:
            self.answers[item] = value
            if item in self.skipped:
                self.skipped.remove(item)

    def undo(self, item: str) -> None:
        self.answers.pop(item, None)
        if item in self.skipped:
            self.skipped.remove(item)
