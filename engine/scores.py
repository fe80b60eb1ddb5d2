"""Derived numbers (means, minima, counts) declared in YAML and computed here by name.

durable-rules has no aggregates, so scores are computed in Python before inference and asserted as
facts with their own justification (the answers they were computed from).
"""
from __future__ import annotations

from statistics import fmean
from typing import Callable

from .model import Premise, Score, ScoreValue

FUNCTIONS: dict[str, Callable[[list[float], Score], float]] = {
    "mean": lambda v, s: fmean(v),
    "min": lambda v, s: min(v),
    "max": lambda v, s: max(v),
    "sum": lambda v, s: float(sum(v)),
    "count": lambda v, s: float(len(v)),
    "count_gte": lambda v, s: float(sum(1 for x in v if x >= (s.threshold or 0))),
    "count_lte": lambda v, s: float(sum(1 for x in v if x <= (s.threshold or 0))),
    "diff": lambda v, s: v[0] - v[1],
}


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
                premises.append(Premise(kind, ident, v))
        enough = len(values) >= max(score.min_answered, 1) and (score.fn != "diff" or len(values) == 2)
        value = round(FUNCTIONS[score.fn](values, score), 6) if enough else None
        out[score.id] = ScoreValue(score.id, value, premises, len(values))
    return out
