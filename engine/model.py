"""The engine's own types. Backends, explanations and reports share these, never raw YAML."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

Value = Union[int, float, str, list]


@dataclass(frozen=True)
class Citation:
    ref: str
    at: str
    quote: str

    def as_json(self) -> dict:
        return {"ref": self.ref, "at": self.at, "quote": self.quote}


@dataclass
class Entry:
    """Any knowledge entry (question, concept, intervention, source) as loaded, with its origin."""

    kind: str
    id: str
    data: dict
    path: str
    line: int
    family: str

    @property
    def title(self) -> str:
        return self.data.get("title", self.id)

    @property
    def source(self) -> Citation | None:
        s = self.data.get("source")
        return Citation(s["ref"], s["at"], s["quote"]) if s else None


@dataclass
class Question(Entry):
    @property
    def type(self) -> str:
        return self.data.get("type", "rated")

    @property
    def options(self) -> list[str]:
        return [o["value"] for o in self.data.get("options", [])]

    @property
    def text(self) -> str:
        return self.data["text"]


# ---- conditions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Atom:
    """One test. kind: item | score | fact | answered | unanswered. op/value only for item/score."""

    kind: str
    ref: str
    op: str | None = None
    value: Any = None
    line: int | None = None

    def key(self) -> tuple:
        v = tuple(self.value) if isinstance(self.value, list) else self.value
        return (self.kind, self.ref, self.op, v)


@dataclass(frozen=True)
class All:
    parts: tuple


@dataclass(frozen=True)
class AnyOf:
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: Any


Cond = Union[Atom, All, AnyOf, Not]


@dataclass
class Score:
    id: str
    title: str
    fn: str
    inputs: list[str]          # expanded: item or score ids, in order
    min_answered: int
    threshold: float | None
    because: str | None
    source: Citation
    path: str
    line: int
    family: str
    data: dict = field(default_factory=dict)


@dataclass
class Example:
    name: str
    answers: dict
    concluded: list[str]
    not_concluded: list[str]
    line: int


@dataclass
class Rule:
    id: str
    title: str
    when: Cond
    dnf: list[list[Atom]]      # disjunctive normal form of `when`, negations pushed into atoms
    concludes: str             # conclusion or intervention id
    kind: str                  # "conclusion" | "recommendation"
    ctype: str | None          # conclusion type
    priority: int | None
    because: str
    source: Citation
    basis: str
    examples: list[Example]
    path: str
    line: int
    family: str
    data: dict = field(default_factory=dict)


# ---- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Premise:
    """A fact a rule matched, with the value it had: the edge of a justification."""

    kind: str      # item | score | fact
    id: str
    value: Any


@dataclass
class Justification:
    rule: str
    premises: list[Premise]
    because: str
    basis: str = "seed"            # the rule's label: "seed" | "expert-judgement"
    note: str | None = None        # the rule's note, for judgement


@dataclass
class ScoreValue:
    id: str
    value: float | None
    inputs: list[Premise]
    answered: int


@dataclass
class Conclusion:
    id: str
    type: str
    title: str
    justifications: list[Justification]
    sources: list[Citation]
    basis: str = "seed"            # "seed" when a seed-labelled rule drew it, else "expert-judgement"
    note: str | None = None        # why it is our judgement (the notes of the rules that drew it)
    sensitivity: list = field(default_factory=list)   # one-point answer changes that withdraw it

    @property
    def premises(self) -> list[str]:
        seen: dict[str, None] = {}
        for j in self.justifications:
            for p in j.premises:
                seen.setdefault(p.id, None)
        return list(seen)


@dataclass
class Recommendation:
    id: str
    title: str
    priority: int
    addresses: list[str]
    justifications: list[Justification]
    sources: list[Citation]
    basis: str = "seed"
    note: str | None = None
    first: bool = False            # one of the headline's first actions (advise stage)


@dataclass
class Diagnosis:
    partnership: str | None
    answers: dict
    scores: dict[str, ScoreValue]
    conclusions: list[Conclusion]
    recommendations: list[Recommendation]
    unanswered: list[str]
    fired: dict[str, int]          # rule id -> index of the DNF conjunct used
    headline: dict | None = None   # set by the advise stage: step, mode, strengths, top risks, first actions

    def conclusion(self, ident: str) -> Conclusion | Recommendation | None:
        for c in self.conclusions:
            if c.id == ident:
                return c
        for r in self.recommendations:
            if r.id == ident:
                return r
        return None

    @property
    def concluded_ids(self) -> list[str]:
        return [c.id for c in self.conclusions] + [r.id for r in self.recommendations]
