"""Derived numbers (means, minima, counts) declared in YAML and computed here by name.

durable-rules has no aggregates, so scores are computed in Python before inference and asserted as
facts with their own justification (the answers they were computed from).
"""
from __future__ import annotations

from math import fsum
from typing import Callable

from .model import Premise, Score, ScoreValue

FUNCTIONS: dict[str, Callable[[list[float], Score], float]] = {
    "mean": lambda v, s: fsum(v) / len(v),      # what statistics.fmean computes, without its overhead
    "min": lambda v, s: min(v),
    "max": lambda v, s: max(v),
    "sum": lambda v, s: float(sum(v)),
    "count": lambda v, s: float(len(v)),
    "count_gte": lambda v, s: float(sum(1 for x in v if x >= (s.threshold or 0))),
    "count_lte": lambda v, s: float(sum(1 for x in v if x <= (s.threshold or 0))),
    "diff": lambda v, s: v[0] - v[1],
}


_PREMISES: dict[tuple, Premise] = {}


def premise(kind: str, ident: str, value) -> Premise:
    """A Premise, shared between diagnoses when its value is hashable (Premise is frozen, so sharing
    is safe; the type is part of the key so that 1, 1.0 and True stay distinct). Bounded."""
    if value == 0 and type(value) is float:    # 0.0 and -0.0 are equal but print differently
        return Premise(kind, ident, value)
    try:
        key = (kind, ident, type(value), value)
        found = _PREMISES.get(key)
    except TypeError:             # a list (multi-choice answer): not hashable, not shared
        return Premise(kind, ident, value)
    if found is None:
        if len(_PREMISES) >= 65_536:
            _PREMISES.clear()
        found = _PREMISES[key] = Premise(kind, ident, value)
    return found


def compute(scores: dict[str, Score], answers: dict) -> dict[str, ScoreValue]:
    """Compute every score in dependency order; a score with too few known inputs is None."""
    out: dict[str, ScoreValue] = {}
    for score in scores.values():
        premises: list[Premise] = []
        values: list[float] = []
        for ident in score.inputs:
            if ident in out:
                v = out[ident].value
                kind = "score"
            else:
                v = answers.get(ident)
                kind = "item"
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                values.append(float(v))
                premises.append(premise(kind, ident, v))
        enough = len(values) >= max(score.min_answered, 1) and (score.fn != "diff" or len(values) == 2)
        value = round(FUNCTIONS[score.fn](values, score), 6) if enough else None
        out[score.id] = ScoreValue(score.id, value, premises, len(values))
    return out
