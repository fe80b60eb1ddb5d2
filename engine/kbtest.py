"""Run every rule's `examples` (answers in, expected conclusions out) on one backend."""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .answers import validate
from .inference import diagnose
from .kb import KnowledgeBase


@dataclass
class ExampleResult:
    rule: str
    name: str
    path: str
    line: int
    missing: list[str]       # expected concluded, but not
    unexpected: list[str]    # expected not concluded, but was
    concluded: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected

    @property
    def test_id(self) -> str:
        return f"{self.rule}::{self.name}"


def run_examples(kb: KnowledgeBase, pattern: str | None = None, backend: str = "durable") -> list[ExampleResult]:
    results = []
    for rule in kb.rules:
        for x in rule.examples:
            test_id = f"{rule.id}::{x.name}"
            if pattern and pattern not in test_id and not fnmatch.fnmatch(test_id, pattern):
                continue
            answers, _ = validate(kb, x.answers, rule.path)
            d = diagnose(kb, answers, backend)
            got = d.concluded_ids
            results.append(ExampleResult(rule.id, x.name, rule.path, x.line,
                                         [c for c in x.concluded if c not in got],
                                         [c for c in x.not_concluded if c in got], got))
    return results
