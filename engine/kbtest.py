"""`partnerdx kb test`: run the knowledge base's own tests on one backend, like a test runner.

Three kinds of test, each with an id `OWNER::NAME`:
- a rule's `examples` (answers in, expected conclusions out);
- a score's `examples` (answers in, `expect: {value, tolerance}` or `{unknown: true}`);
- stand-alone scenarios (`kind: scenarios` files under `scenarios/`), answers or an answers file in,
  expected conclusions and recommendations out.
A failure carries the same detail as `why-not` (which condition blocked), so an author need not
re-run the example by hand. Branch coverage (`--coverage`) says, per rule, which alternatives of
its condition some test made true and which thresholds some test put on each side.
"""
from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from .answers import validate
from .conditions import atom_truth, describe_atom
from .inference import diagnose
from .kb import KnowledgeBase
from .model import Atom, Diagnosis

NUMERIC_OPS = ("gt", "gte", "lt", "lte")
_NEGATED = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt"}


@dataclass
class Scenario:
    """A stand-alone scenario: answers (inline or from a file) and the conclusions expected."""

    name: str
    answers: Any
    answers_file: str | None
    concluded: list[str]
    not_concluded: list[str]
    path: str
    line: int
    data: dict = field(default_factory=dict)


@dataclass
class ExampleResult:
    rule: str                # the owner: rule id, score id, or "scenario"
    name: str
    path: str
    line: int
    missing: list[str]       # expected concluded, but not
    unexpected: list[str]    # expected not concluded, but was
    concluded: list[str]
    kind: str = "rule"       # rule | score | scenario
    fired: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)   # why it failed, in why-not's words
    message: str = ""        # for a score: what was expected and found

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unexpected and not self.message

    @property
    def test_id(self) -> str:
        return f"{self.rule}::{self.name}"

    def summary(self) -> str:
        if self.message:
            return self.message
        parts = []
        if self.missing:
            parts.append(f"expected {', '.join(self.missing)} to be concluded")
        if self.unexpected:
            parts.append(f"expected {', '.join(self.unexpected)} not to be concluded")
        return "; ".join(parts) + f" (concluded: {', '.join(self.concluded) or 'nothing'})"

    def as_json(self) -> dict:
        return {"id": self.test_id, "kind": self.kind, "path": self.path, "line": self.line, "ok": self.ok,
                "missing": self.missing, "unexpected": self.unexpected, "fired": self.fired,
                "message": None if self.ok else self.summary(), "detail": self.detail}


@dataclass
class _Case:
    kind: str
    owner: str
    name: str
    path: str
    line: int
    answers: Any
    concluded: list[str]
    not_concluded: list[str]
    expect: dict | None = None   # scores only


def cases(kb: KnowledgeBase) -> list[_Case]:
    """Every test of the knowledge base, in knowledge-base order (scores, rules, scenarios)."""
    out = [_Case("score", s.id, x["name"], s.path, x.line, x["answers"], [], [], dict(x["expect"]))
           for s in kb.scores.values() for x in s.data.get("examples", [])]
    out += [_Case("rule", r.id, x.name, r.path, x.line, x.answers, x.concluded, x.not_concluded)
            for r in kb.rules for x in r.examples]
    out += [_Case("scenario", "scenario", sc.name, sc.path, sc.line, sc.answers, sc.concluded, sc.not_concluded)
            for sc in kb.scenarios]
    return out


def _selected(test_id: str, pattern: str | None) -> bool:
    return not pattern or pattern in test_id or fnmatch.fnmatch(test_id, pattern)


def _blocked(kb: KnowledgeBase, d: Diagnosis, ident: str) -> list[str]:
    from .explain import why_not, why_not_text
    return why_not_text(why_not(kb, d, ident))[1:]


def _fired_by(kb: KnowledgeBase, d: Diagnosis, ident: str) -> list[str]:
    out = []
    for rule_id in d.fired:
        r = kb.rules_by_id[rule_id]
        if r.concludes == ident:
            out.append(f"  fired: rule {r.id} ({r.path}:{r.line}) — {r.title}")
    return out


def run_case(kb: KnowledgeBase, case: _Case, backend: str) -> tuple[ExampleResult, Diagnosis]:
    answers, _ = validate(kb, case.answers, case.path)
    d = diagnose(kb, answers, backend)
    got = d.concluded_ids
    result = ExampleResult(case.owner, case.name, case.path, case.line,
                           [c for c in case.concluded if c not in got],
                           [c for c in case.not_concluded if c in got], got, case.kind, list(d.fired))
    if case.kind == "score":
        value = d.scores[case.owner].value
        want = case.expect or {}
        if want.get("unknown"):
            if value is not None:
                result.message = f"expected {case.owner} to be unknown, found {value:g}"
        elif value is None:
            result.message = f"expected {case.owner} = {want['value']:g}, found unknown (too few answered inputs)"
        elif abs(value - want["value"]) > want.get("tolerance", 1e-9):
            result.message = (f"expected {case.owner} = {want['value']:g} ± {want.get('tolerance', 0):g}, "
                              f"found {value:g}")
    for ident in result.missing:
        result.detail += _blocked(kb, d, ident)
    for ident in result.unexpected:
        result.detail += _fired_by(kb, d, ident)
    return result, d


def run_examples(kb: KnowledgeBase, pattern: str | None = None, backend: str = "durable",
                 coverage: "Coverage | None" = None) -> list[ExampleResult]:
    """Run every selected test; with `coverage`, record what each one made true and false."""
    results = []
    for case in cases(kb):
        if not _selected(f"{case.owner}::{case.name}", pattern):
            continue
        result, d = run_case(kb, case, backend)
        results.append(result)
        if coverage is not None:
            coverage.record(d)
    return results


# ---- branch coverage ------------------------------------------------------------------------------

@dataclass
class Coverage:
    """Per rule: alternatives of its condition (DNF) made true by some test, and for each threshold
    atom (an item or score compared with gt/gte/lt/lte) whether some test put it on each side."""

    kb: KnowledgeBase
    alternatives: dict[tuple[str, int], bool] = field(default_factory=dict)
    sides: dict[tuple[str, tuple], set] = field(default_factory=dict)
    atoms_seen: dict[tuple[str, tuple], Any] = field(default_factory=dict)
    possible_sides: dict[tuple[str, tuple], set] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .feasible import why_impossible
        for r in self.kb.rules:
            for i, conj in enumerate(r.dnf):
                if why_impossible(self.kb, conj) is not None:
                    continue        # no answers can make it true (lint's PDX102 speaks of those)
                self.alternatives[(r.id, i)] = False
                for a in conj:
                    if a.kind in ("item", "score") and a.op in NUMERIC_OPS:
                        self.sides.setdefault((r.id, a.key()), set())
                        self.atoms_seen[(r.id, a.key())] = a
                        self.possible_sides[(r.id, a.key())] = self._possible_sides(a)

    def _possible_sides(self, atom: Atom) -> set:
        """The sides some answers can put a threshold on. True is possible (its alternative is); False
        is not when the number, once known, always passes: a score known only from `min_answered`
        answers on, tested against that many (e.g. a count ≥ its own minimum), has no false side,
        and asking an example for one would ask for the impossible."""
        from .feasible import why_impossible
        negated = Atom(atom.kind, atom.ref, _NEGATED[atom.op], atom.value, atom.line)
        return {True} if why_impossible(self.kb, [negated]) is not None else {True, False}

    def record(self, d: Diagnosis) -> None:
        facts = set(d.concluded_ids)
        scores = {k: v.value for k, v in d.scores.items()}
        for r in self.kb.rules:
            for i, conj in enumerate(r.dnf):
                truths = [atom_truth(a, d.answers, scores, facts) for a in conj]
                if all(t is True for t in truths):
                    self.alternatives[(r.id, i)] = True
                for a, t in zip(conj, truths):
                    key = (r.id, a.key())
                    if key in self.sides and t is not None:
                        self.sides[key].add(t)

    def totals(self) -> dict[str, int]:
        return {"alternatives": len(self.alternatives), "alternatives_covered": sum(self.alternatives.values()),
                "threshold_sides": sum(len(v) for v in self.possible_sides.values()),
                "threshold_sides_covered": sum(len(v & self.possible_sides[k]) for k, v in self.sides.items())}

    def gaps(self) -> list[tuple[str, str, int, str]]:
        """(rule id, path, line, what no test covers)."""
        out = []
        for (rid, i), hit in self.alternatives.items():
            if not hit:
                r = self.kb.rules_by_id[rid]
                which = f"alternative {i + 1} of {len(r.dnf)}" if len(r.dnf) > 1 else "its condition"
                what = " and ".join(describe_atom(a) for a in r.dnf[i])
                out.append((rid, r.path, r.line, f"no test makes {which} true ({what})"))
        for (rid, key), seen in self.sides.items():
            missing = self.possible_sides[(rid, key)] - seen
            if missing:
                r = self.kb.rules_by_id[rid]
                atom = self.atoms_seen[(rid, key)]
                side = "true or false" if len(missing) == 2 else "true" if True in missing else "false"
                out.append((rid, r.path, atom.line or r.line, f"no test makes '{describe_atom(atom)}' {side}"))
        return sorted(out, key=lambda g: (g[1], g[2], g[0], g[3]))

    def text(self) -> str:
        t = self.totals()
        lines = [f"{path}:{line}: {rid}: {what}" for rid, path, line, what in self.gaps()]
        lines.append(f"coverage: {_pct(t['alternatives_covered'], t['alternatives'])} of alternatives "
                     f"({t['alternatives_covered']}/{t['alternatives']}), "
                     f"{_pct(t['threshold_sides_covered'], t['threshold_sides'])} of threshold sides "
                     f"({t['threshold_sides_covered']}/{t['threshold_sides']})")
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict:
        return {**self.totals(), "gaps": [{"rule": rid, "path": p, "line": ln, "message": w}
                                          for rid, p, ln, w in self.gaps()]}


def _pct(n: int, total: int) -> str:
    return "100 %" if n == total else f"{100 * n / total:.1f} %"


# ---- output formats -------------------------------------------------------------------------------

def render_text(results: list[ExampleResult], verbose: bool) -> str:
    lines = []
    for r in results:
        if r.ok:
            if verbose:
                lines.append(f"PASS {r.test_id} (fired: {', '.join(r.fired) or 'no rule'})")
            continue
        lines.append(f"{r.path}:{r.line}: FAIL {r.test_id}: {r.summary()}")
        lines += [f"    {d}" for d in r.detail]
        if verbose:
            lines.append(f"    fired: {', '.join(r.fired) or 'no rule'}")
    failed = sum(1 for r in results if not r.ok)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    return "\n".join(lines) + "\n"


def render_json(results: list[ExampleResult], coverage: Coverage | None) -> str:
    failed = sum(1 for r in results if not r.ok)
    doc: dict[str, Any] = {"results": [r.as_json() for r in results],
                           "summary": {"passed": len(results) - failed, "failed": failed}}
    if coverage is not None:
        doc["coverage"] = coverage.as_json()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_junit(results: list[ExampleResult]) -> str:
    """JUnit XML (the format CI servers read): one testcase per test, classname = its owner."""
    failed = sum(1 for r in results if not r.ok)
    suite = ET.Element("testsuite", name="partnerdx kb test", tests=str(len(results)), failures=str(failed),
                       errors="0", skipped="0")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=r.rule, name=r.name, file=r.path, line=str(r.line))
        if not r.ok:
            failure = ET.SubElement(case, "failure", message=r.summary(), type="AssertionError")
            failure.text = "\n".join([r.summary(), *r.detail])
    root = ET.Element("testsuites", tests=str(len(results)), failures=str(failed))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
