"""`partnerdx kb lint`: what loads but is questionable, as located findings with stable codes.

The loader (kb.py) already rejects what cannot work: bad YAML, unknown keys and ids, unknown
source refs. Lint looks at the knowledge base as a whole once it loads: conclusions no answers can
reach, cycles, overrides, quotes that are not in their seed, rules without examples, loose ends
between conclusions, recommendations and interventions, and rules that contradict each other.

One rule, one place (as in sqlfluff and ruff): each check is a function registered with its
`Code`, whose fields are both the documentation (`docs/lint-codes.md`, `kb lint --explain CODE`)
and the message's severity. Codes are stable; a retired code goes in `RENAMED`, never reused.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Iterator

import networkx as nx

from .conditions import ConditionError, atoms, describe_atom, dnf
from .errors import Problem
from .feasible import Impossible, score_never_known, why_impossible
from .kb import KnowledgeBase, builtin_root, check_quotes, load_kb
from .model import All, AnyOf, Atom, Cond, Not, Rule
from .yamlio import load_yaml_file

ERROR, WARNING = "error", "warning"
MAX_EXPANSION = 256          # fact expansion beyond this falls back to ignoring the facts (sound)
RENAMED: dict[str, str] = {}  # retired code -> its replacement


# ---- registry -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Code:
    """A lint code and its documentation, in ruff's fixed shape."""

    code: str
    name: str
    severity: str
    summary: str          # one line: what is wrong (also the heading of the docs section)
    what: str             # What it does
    why: str              # Why is this bad?
    example: str          # Example (YAML showing the problem)
    fix: str              # Use instead (YAML or words)

    def markdown(self) -> str:
        return (f"## {self.code} {self.name}\n\n"
                f"**Severity:** {self.severity}. {self.summary}\n\n"
                f"### What it does\n\n{self.what}\n\n"
                f"### Why is this bad?\n\n{self.why}\n\n"
                f"### Example\n\n```yaml\n{self.example.rstrip()}\n```\n\n"
                f"### Use instead\n\n{self.fix.rstrip()}\n")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int | None
    code: str
    ident: str | None
    message: str

    @property
    def severity(self) -> str:
        return REGISTRY[self.code].severity

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        who = f" {self.ident}" if self.ident else ""
        return f"{where}: {self.code}{who}: {self.message} [{self.severity}]"

    def as_json(self) -> dict:
        return {"path": self.path, "line": self.line, "code": self.code, "name": REGISTRY[self.code].name,
                "severity": self.severity, "id": self.ident, "message": self.message}


REGISTRY: dict[str, Code] = {}
Check = Callable[["Context"], Iterable[Finding]]
CHECKS: list[tuple[Code, Check]] = []


def rule(code: Code) -> Callable[[Check], Check]:
    """Register a check under its code; the code's docs live beside the check."""
    def register(fn: Check) -> Check:
        assert code.code not in REGISTRY, f"duplicate lint code {code.code}"
        REGISTRY[code.code] = code
        CHECKS.append((code, fn))
        return fn
    return register


LOAD_ERROR = Code(
    "PDX001", "load-error", ERROR,
    "The knowledge base does not load: a schema error, an unknown id or source ref, or bad YAML.",
    "Reports every problem the loader finds (the same messages as `partnerdx kb check`) as findings, "
    "so a script reading `--format json` sees them too. No other check runs until the base loads.",
    "Nothing else works on a knowledge base that does not load: every command exits 2.",
    "rules:\n  - id: local.rule\n    source: {ref: no-such-source, at: p. 1, quote: \"...\"}   # unknown ref",
    "Fix the reported file and line; `partnerdx kb check` prints the same messages.")
REGISTRY[LOAD_ERROR.code] = LOAD_ERROR


# ---- context shared by the checks ---------------------------------------------------------------

def load_types(root: Path | None = None) -> dict[str, dict]:
    """Conclusion types of the built-in base (rules/_types.yaml): title, text, exclusive, section, order.
    A loaded knowledge base has them, overlays' included, as `kb.types`."""
    doc = load_yaml_file((root or builtin_root()) / "rules" / "_types.yaml")
    return {k: {x: y for x, y in v.items() if x != "override"} for k, v in doc["types"].items()}


def default_seeds() -> Path | None:
    """The seed texts beside the repository (`<repo>/../shared/seeds`), when they are there."""
    candidate = builtin_root().resolve().parent / "shared" / "seeds"
    return candidate if candidate.is_dir() else None


@dataclass
class Context:
    kb: KnowledgeBase
    seeds: list[Path] = field(default_factory=list)

    @cached_property
    def types(self) -> dict[str, dict]:
        return self.kb.types

    @cached_property
    def base(self) -> KnowledgeBase:
        """The built-in base alone: where an overridden id was first defined."""
        return load_kb()

    @cached_property
    def impossible(self) -> dict[tuple[str, int], Impossible | None]:
        """Per rule alternative (rule id, DNF index): why its non-fact atoms cannot hold, or None."""
        return {(r.id, i): why_impossible(self.kb, c) for r in self.kb.rules for i, c in enumerate(r.dnf)}

    @cached_property
    def reachable(self) -> set[str]:
        """Conclusions and recommendations some answers can produce (least fixpoint: a cycle with
        no way in from the answers stays unreachable)."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in self.kb.rules:
                if r.concludes not in found and any(self.alive(r, i, found) for i in range(len(r.dnf))):
                    found.add(r.concludes)
                    changed = True
        return found

    def alive(self, r: Rule, index: int, reachable: set[str]) -> bool:
        """Can alternative `index` of rule r hold, given the facts that can be reached?"""
        if self.impossible[(r.id, index)] is not None:
            return False
        return all(a.ref in reachable for a in r.dnf[index] if a.kind == "fact")

    def fires(self, r: Rule) -> bool:
        return any(self.alive(r, i, self.reachable) for i in range(len(r.dnf)))

    def conjunct_alive(self, conj: list[Atom]) -> bool:
        if why_impossible(self.kb, conj) is not None:
            return False
        return all(a.ref in self.reachable for a in conj if a.kind == "fact")

    @cached_property
    def addressed(self) -> dict[str, list[Rule]]:
        """Conclusion id -> recommendation rules naming it in a `fact` atom."""
        out: dict[str, list[Rule]] = {}
        for r in self.kb.rules:
            if r.kind == "recommendation":
                for a in atoms(r.when):
                    if a.kind == "fact":
                        out.setdefault(a.ref, []).append(r)
        return out


def _line(r: Rule, key: str) -> int:
    return r.data.line_of(key) if hasattr(r.data, "line_of") else r.line


# ---- PDX1xx: reachability and the dependency graph ----------------------------------------------

@rule(Code(
    "PDX101", "unreachable-conclusion", ERROR,
    "A rule can never fire, so what it concludes may never be reached.",
    "Checks every alternative of a rule's condition (its disjunctive normal form) against the values "
    "items and scores can take: a rated item lies in 1–5, a score in the range its function allows "
    "given its inputs and `min_answered`, a `fact` must itself be reachable. A rule none of whose "
    "alternatives can hold is reported at the clashing atoms.",
    "A rule that can never fire is dead knowledge: its conclusion (and every recommendation resting "
    "on it) silently never appears, and its examples cannot both fire and not fire.",
    "- id: local.high_and_low\n  when: {all: [{score: dim.trust, gte: 4}, {score: dim.trust, lt: 2}]}\n"
    "  then: {conclude: local.high_and_low, type: risk}",
    "Write thresholds that some answers can meet, e.g. `{all: [{score: dim.trust, gte: 2}, "
    "{score: dim.trust, lt: 4}]}`."))
def unreachable(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if ctx.fires(r):
            continue
        why = ctx.impossible[(r.id, 0)]
        if why is None:
            missing = [a for a in r.dnf[0] if a.kind == "fact" and a.ref not in ctx.reachable]
            why = Impossible(f"it needs {missing[0].ref}, which no answers can conclude", (missing[0],))
        lead = "its only alternative" if len(r.dnf) == 1 else f"none of its {len(r.dnf)} alternatives can hold; the first"
        tail = "" if r.concludes in ctx.reachable else f"; '{r.concludes}' is never concluded"
        yield Finding(r.path, why.line if len(r.dnf) == 1 and why.line else _line(r, "when"), "PDX101", r.id,
                      f"rule can never fire: {lead}: {why.reason}{tail}")


def _any_nodes(cond: Cond, negated: bool = False) -> Iterator[AnyOf]:
    """`any` nodes not under a `not` (under negation an `any` is a conjunction)."""
    if isinstance(cond, Not):
        yield from _any_nodes(cond.part, not negated)
    elif isinstance(cond, (All, AnyOf)):
        if isinstance(cond, AnyOf) and not negated:
            yield cond
        for p in cond.parts:
            yield from _any_nodes(p, negated)


def _replace(cond: Cond, target: Cond, by: Cond) -> Cond:
    if cond is target:
        return by
    if isinstance(cond, Not):
        return Not(_replace(cond.part, target, by))
    if isinstance(cond, (All, AnyOf)):
        return type(cond)(tuple(_replace(p, target, by) for p in cond.parts))
    return cond


def _first_line(cond: Cond) -> int | None:
    lines = [a.line for a in atoms(cond) if a.line]
    return min(lines) if lines else None


@rule(Code(
    "PDX102", "dead-alternative", WARNING,
    "An alternative of an `any` can never hold where it stands, though the rule can fire otherwise.",
    "For each branch of each `any` (outside `not`), keeps only that branch and checks whether the "
    "rule could then still fire, given the conditions around the `any`.",
    "A branch that can never hold is a thinking error (a threshold the wrong way round, a score "
    "that cannot be known when an item is unanswered) that the examples do not reveal, because the "
    "rule still fires through its other branches.",
    "when:\n  all:\n    - {score: dim.trust, gte: 3}\n    - any: [{score: dim.trust, lt: 2}, {item: t2.r01, gte: 4}]",
    "Remove the branch or fix its threshold: `any: [{score: dim.trust, lt: 4}, {item: t2.r01, gte: 4}]`."))
def dead_alternative(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if not ctx.fires(r):
            continue
        for node in _any_nodes(r.when):
            for branch in node.parts:
                try:
                    alternatives = dnf(_replace(r.when, node, branch))
                except ConditionError:   # too large to analyse: say nothing rather than guess
                    continue
                if any(ctx.conjunct_alive(c) for c in alternatives):
                    continue
                why = next((w for c in alternatives if (w := why_impossible(ctx.kb, c))), None)
                reason = why.reason if why else "it needs a conclusion no answers can reach"
                yield Finding(r.path, _first_line(branch) or _line(r, "when"), "PDX102", r.id,
                              f"this alternative can never hold here: {reason}")


@rule(Code(
    "PDX103", "dependency-cycle", ERROR,
    "Rules depend on each other in a cycle (A needs B's conclusion and B needs A's).",
    "Looks for cycles in the dependency graph item → score → rule → conclusion → rule.",
    "Forward chaining is monotonic: a conclusion that (through other rules) rests on itself either "
    "never fires or fires for reasons that cite themselves, and `why` cannot give a finite proof.",
    "- id: local.a\n  when: {fact: local.b}\n  then: {conclude: local.a, type: risk}\n"
    "- id: local.b\n  when: {fact: local.a}\n  then: {conclude: local.b, type: risk}",
    "Make one of the rules rest on answers or scores instead of the other's conclusion."))
def cycles(ctx: Context) -> Iterator[Finding]:
    g = ctx.kb.graph
    order = {f"rule:{r.id}": i for i, r in enumerate(ctx.kb.rules)}
    for scc in nx.strongly_connected_components(g):
        if len(scc) == 1 and not any(g.has_edge(n, n) for n in scc):
            continue
        cycle = [a for a, _ in nx.find_cycle(g.subgraph(scc))]
        rules_in = sorted((n for n in cycle if n in order), key=order.get)
        first = ctx.kb.rules_by_id[rules_in[0][5:]]
        start = cycle.index(rules_in[0])
        path = cycle[start:] + cycle[:start]
        rules_shown = " → ".join([n[5:] for n in path if n.startswith("rule:")] + [first.id])
        through = ", ".join(n for n in path if not n.startswith("rule:"))
        fact = next((a for a in atoms(first.when) if a.kind == "fact" and a.ref in scc), None)
        yield Finding(first.path, (fact.line if fact else None) or _line(first, "when"), "PDX103", first.id,
                      f"rules depend on each other in a cycle: {rules_shown} (through {through})")


@rule(Code(
    "PDX104", "unused-item", WARNING,
    "A question feeds no score and no rule.",
    "Checks that every question reaches at least one rule in the dependency graph.",
    "Respondents are asked a question whose answer changes nothing: it costs their time and the "
    "diagnosis never explains it.",
    "- id: local.q01\n  instrument: context\n  title: Data sharing\n  ...     # no rule or score reads local.q01",
    "Add a rule (or a score's `of`) that reads the item, or remove the question."))
def unused_items(ctx: Context) -> Iterator[Finding]:
    g = ctx.kb.graph
    for q in ctx.kb.questions.values():
        if q.id not in g or not g.nodes[q.id].get("feeds_rules"):
            yield Finding(q.path, q.line, "PDX104", q.id, "no score or rule reads this question")


@rule(Code(
    "PDX105", "unused-score", WARNING,
    "A score feeds no rule.",
    "Checks that every score reaches at least one rule in the dependency graph.",
    "An unused score is computed for nothing and makes authors believe it matters.",
    "scores:\n  - id: local.mean\n    fn: mean\n    of: [\"t2.r*\"]     # no rule tests local.mean",
    "Test the score in a rule's `when`, or remove it."))
def unused_scores(ctx: Context) -> Iterator[Finding]:
    g = ctx.kb.graph
    for s in ctx.kb.scores.values():
        if not g.nodes[s.id].get("feeds_rules"):
            yield Finding(s.path, s.line, "PDX105", s.id, "no rule tests this score")


@rule(Code(
    "PDX106", "score-never-known", ERROR,
    "A score needs more answered inputs than it has, so it is always unknown.",
    "Compares `min_answered` with the inputs a score can have (and `diff` with its two).",
    "A score that is always unknown makes every rule that tests it silent, whatever the answers.",
    "scores:\n  - id: local.pair\n    fn: mean\n    of: [stair.q01, stair.q02]\n    min_answered: 3",
    "`min_answered` at most the number of inputs (here 2)."))
def never_known(ctx: Context) -> Iterator[Finding]:
    for s in ctx.kb.scores.values():
        if score_never_known(ctx.kb, s.id):
            line = s.data.line_of("min_answered") if hasattr(s.data, "line_of") else s.line
            yield Finding(s.path, line, "PDX106", s.id,
                          f"{s.fn} needs {max(s.min_answered, 1)} answered inputs but can have at most "
                          f"{len(s.inputs)}: the score is always unknown")


# ---- PDX2xx: ids, titles and overrides ------------------------------------------------------------

def _origin(base: KnowledgeBase, ident: str) -> tuple[str, int] | None:
    for found in (base.entry(ident), base.scores.get(ident), base.rules_by_id.get(ident)):
        if found is not None:
            return found.path, found.line
    return None


@rule(Code(
    "PDX201", "override", WARNING,
    "An overlay replaces a built-in entry (`override: true`).",
    "Lists every id that an overlay given with `--kb` redefines, with where the built-in was defined.",
    "An override changes what every diagnosis with this overlay says, out of sight of the built-in "
    "base's tests and reviews; it should be a deliberate, visible choice.",
    "- id: mode.creating\n  override: true\n  title: Creating (our reading)\n  ...",
    "Prefer a new id beside the built-in one; keep an override only when replacing is the point, "
    "and accept this warning (or run lint without `--strict`)."))
def overrides(ctx: Context) -> Iterator[Finding]:
    for ident, path, line in ctx.kb.overrides:
        where = _origin(ctx.base, ident)
        shown = f" (defined at {where[0]}:{where[1]})" if where else ""
        yield Finding(path, line, "PDX201", ident, f"overrides the built-in '{ident}'{shown}")


def _conclusion_titles(kb: KnowledgeBase) -> dict[str, list[Rule]]:
    out: dict[str, list[Rule]] = {}
    for r in kb.rules:
        if r.kind == "conclusion":
            out.setdefault(r.title.strip().lower(), []).append(r)
    return out


@rule(Code(
    "PDX202", "duplicate-title", WARNING,
    "Two different conclusions, interventions or questions share a title.",
    "Compares titles (ignoring case) of rules concluding different ids, of interventions and of "
    "questions.",
    "Reports and the questionnaire show titles, not ids: two findings or two actions with the same "
    "title read as one, and the reader cannot tell which is meant.",
    "- id: local.a\n  title: Partners do not share data\n  then: {conclude: local.a, type: risk}\n"
    "- id: local.b\n  title: Partners do not share data\n  then: {conclude: local.b, type: barrier}",
    "Give each its own title naming its situation (or action)."))
def duplicate_titles(ctx: Context) -> Iterator[Finding]:
    for rules in _conclusion_titles(ctx.kb).values():
        first: dict[str, Rule] = {}
        for r in rules:
            first.setdefault(r.concludes, r)
        if len(first) > 1:
            seen = list(first.values())
            for r in seen[1:]:
                yield Finding(r.path, _line(r, "title"), "PDX202", r.id,
                              f"title also used by '{seen[0].concludes}' ({seen[0].path}:{seen[0].line})")
    for table in (ctx.kb.interventions, ctx.kb.questions):
        by_title: dict[str, list] = {}
        for e in table.values():
            by_title.setdefault(e.title.strip().lower(), []).append(e)
        for entries in by_title.values():
            for e in entries[1:]:
                yield Finding(e.path, e.data.line_of("title"), "PDX202", e.id,
                              f"title also used by '{entries[0].id}' ({entries[0].path}:{entries[0].line})")


@rule(Code(
    "PDX203", "mixed-conclusion-type", ERROR,
    "Rules conclude the same id with different types.",
    "Checks that every rule concluding an id gives it the same `type`.",
    "A conclusion has one type: the report files it under one heading and exclusivity is judged by "
    "type. With two, the first rule loaded silently wins.",
    "- id: local.a.one\n  then: {conclude: local.a, type: risk}\n"
    "- id: local.a.two\n  then: {conclude: local.a, type: barrier}",
    "Use one type for every rule concluding the id."))
def mixed_types(ctx: Context) -> Iterator[Finding]:
    first: dict[str, Rule] = {}
    for r in ctx.kb.rules:
        if r.kind != "conclusion":
            continue
        other = first.setdefault(r.concludes, r)
        if other.ctype != r.ctype:
            yield Finding(r.path, _line(r, "then"), "PDX203", r.id,
                          f"concludes '{r.concludes}' as type '{r.ctype}', but {other.id} ({other.path}:"
                          f"{other.line}) concludes it as '{other.ctype}'")


@rule(Code(
    "PDX204", "override-without-target", WARNING,
    "An entry says `override: true` but there is no built-in entry with its id.",
    "Checks that every entry marked `override: true` in an overlay does replace a built-in id.",
    "Usually the id is misspelt: the author believes the built-in entry is replaced, while the "
    "overlay silently adds a second one beside it.",
    "- id: mode.creatng        # misspelt\n  override: true",
    "Spell the id of the built-in entry, or drop `override: true` for a new entry."))
def override_without_target(ctx: Context) -> Iterator[Finding]:
    replaced = {ident for ident, _, _ in ctx.kb.overrides}
    entries = [(e.id, e.path, e.data) for t in (ctx.kb.sources, ctx.kb.questions, ctx.kb.concepts,
                                                  ctx.kb.interventions) for e in t.values()]
    entries += [(s.id, s.path, s.data) for s in ctx.kb.scores.values()]
    entries += [(r.id, r.path, r.data) for r in ctx.kb.rules]
    for ident, path, data in entries:
        if data.get("override") is True and ident not in replaced:
            yield Finding(path, data.line_of("override"), "PDX204", ident,
                          "marked 'override: true' but no built-in entry has this id")


# ---- PDX3xx: sources and quotes ----------------------------------------------------------------

@rule(Code(
    "PDX301", "quote-not-in-seed", ERROR,
    "A quote is not found verbatim in the seed text of its source.",
    "Compares every `source.quote` with the seed file its source names (whitespace collapsed, curly "
    "quotes straightened), for the seeds found with `--seeds`, `PARTNERDX_SEEDS`, the default "
    "`../shared/seeds` beside the repository, or an overlay's own `seeds/` folder.",
    "A quote is the evidence behind a rule: if the seed does not say it, the diagnosis cites words "
    "nobody wrote.",
    "source: {ref: morley-staircase, at: Q1, quote: \"shared objectives matter most\"}   # a paraphrase",
    "Copy the seed's words exactly; paraphrase in `note` instead."))
def quotes(ctx: Context) -> Iterator[Finding]:
    found: set[Problem] = set()
    for d in ctx.seeds:
        found |= set(check_quotes(ctx.kb, d))
    for p in sorted(found):
        yield Finding(p.path, p.line, "PDX301", p.ident, p.message)


@rule(Code(
    "PDX302", "seed-text-missing", WARNING,
    "Seed texts are available, but not the one a source names: its quotes go unchecked.",
    "For each source, looks for its `seed` file in the seed folders in use (see PDX301).",
    "Quotes of that source cannot be verified, so a paraphrase or a typo would pass unnoticed.",
    "- id: local-workshop\n  seed: workshop-notes.txt     # not in ../shared/seeds nor in the overlay's seeds/",
    "Put the seed text in the overlay's `seeds/` folder (or the shared seeds), named as `seed` says."))
def missing_seeds(ctx: Context) -> Iterator[Finding]:
    """Built-in sources are looked for only in the main seed folder (given or default): an overlay's
    own `seeds/` is not expected to carry the built-in texts."""
    overlay_dirs = {r / "seeds" for r in ctx.kb.roots[1:]}
    main = [d for d in ctx.seeds if d not in overlay_dirs]
    builtin = {ident for ident in ctx.base.sources if ident not in {o for o, _, _ in ctx.kb.overrides}}
    for s in ctx.kb.sources.values():
        if (s.id in builtin and not main) or not ctx.seeds:
            continue
        if not any((d / s.data["seed"]).is_file() for d in ctx.seeds):
            yield Finding(s.path, s.data.line_of("seed"), "PDX302", s.id,
                          f"seed text {s.data['seed']} not found in {', '.join(map(str, ctx.seeds))}; "
                          "its quotes are not checked")


@rule(Code(
    "PDX303", "unused-source", WARNING,
    "A source is cited by nothing.",
    "Checks that every source in a `kind: source` file is the `ref` of at least one citation.",
    "An uncited source promises knowledge that the base does not encode, and its docs page is empty.",
    "- id: local-workshop\n  title: Our 2024 workshop\n  ...      # no entry or rule cites local-workshop",
    "Cite it from the entries and rules drawn from it, or remove it."))
def unused_sources(ctx: Context) -> Iterator[Finding]:
    cited = {e.source.ref for t in (ctx.kb.questions, ctx.kb.concepts, ctx.kb.interventions)
             for e in t.values() if e.source}
    cited |= {s.source.ref for s in ctx.kb.scores.values()} | {r.source.ref for r in ctx.kb.rules}
    for s in ctx.kb.sources.values():
        if s.id not in cited:
            yield Finding(s.path, s.line, "PDX303", s.id, "no entry, score or rule cites this source")


# ---- PDX4xx: rules and their examples --------------------------------------------------------------

@rule(Code(
    "PDX401", "rule-without-examples", WARNING,
    "A rule has no examples.",
    "Checks that `examples` lists at least one example.",
    "Examples are the rule's tests (`partnerdx kb test`, and one pytest test each): without them a "
    "change of threshold or a renamed score breaks the rule unnoticed.",
    "- id: local.rule\n  ...\n  examples: []",
    "examples:\n  - name: fires\n    answers: {stair.q06: 1}\n    expect: {concluded: [local.rule]}\n"
    "  - name: stays_quiet\n    answers: {stair.q06: 5}\n    expect: {not_concluded: [local.rule]}"))
def no_examples(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if not r.examples:
            yield Finding(r.path, _line(r, "examples"), "PDX401", r.id, "rule has no examples")


@rule(Code(
    "PDX402", "no-firing-example", WARNING,
    "No example of the rule expects its conclusion to be drawn.",
    "Checks that some example lists the rule's conclusion (or recommendation) under `concluded`.",
    "Examples that only show when a rule stays quiet would pass for a rule that never fires.",
    "examples:\n  - name: stays_quiet\n    answers: {stair.q06: 5}\n    expect: {not_concluded: [local.rule]}",
    "Add an example whose answers make the rule fire, expecting `concluded: [local.rule]`."))
def no_firing_example(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if r.examples and not any(r.concludes in x.concluded for x in r.examples):
            yield Finding(r.path, _line(r, "examples"), "PDX402", r.id,
                          f"no example expects '{r.concludes}' to be concluded")


@rule(Code(
    "PDX403", "no-quiet-example", WARNING,
    "No example of the rule expects its conclusion not to be drawn.",
    "Checks that some example lists the rule's conclusion (or recommendation) under `not_concluded`.",
    "Examples that only show the rule firing would pass for a rule that always fires: the boundary "
    "of its condition is never tested.",
    "examples:\n  - name: fires\n    answers: {stair.q06: 1}\n    expect: {concluded: [local.rule]}",
    "Add an example just on the other side of the threshold, expecting `not_concluded: [local.rule]`."))
def no_quiet_example(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if r.examples and not any(r.concludes in x.not_concluded for x in r.examples):
            yield Finding(r.path, _line(r, "examples"), "PDX403", r.id,
                          f"no example expects '{r.concludes}' not to be concluded")


def _placeholders(text: str) -> list[str]:
    from .inference import _PLACEHOLDER
    return [m.group(1) for m in _PLACEHOLDER.finditer(text)]


@rule(Code(
    "PDX404", "unknown-placeholder", ERROR,
    "A `because` text names something that is neither an item nor a score.",
    "Checks every `{ID}` or `{ID:FORMAT}` in the `because` of rules and scores (scores may also use "
    "`{n}`, `{value}` and `{min_answered}`).",
    "An unknown placeholder is printed as it stands, braces and all, in every report and `why`.",
    "because: \"Trust scores {dim.trsut:.1f}.\"     # misspelt score id",
    "because: \"Trust scores {dim.trust:.1f}.\""))
def unknown_placeholders(ctx: Context) -> Iterator[Finding]:
    known = set(ctx.kb.questions) | set(ctx.kb.scores)
    texts = [(r.path, _line(r, "because"), r.id, r.because, known) for r in ctx.kb.rules]
    texts += [(s.path, s.data.line_of("because"), s.id, s.because, known | {"n", "value", "min_answered"})
              for s in ctx.kb.scores.values() if s.because]
    for path, line, ident, text, allowed in texts:
        for name in _placeholders(text):
            if name not in allowed:
                from .schema import suggest
                yield Finding(path, line, "PDX404", ident, f"'{{{name}}}' in because is not an item or score id"
                              + suggest(name, allowed))


def _expand(ctx: Context, conj: list[Atom], depth: int = 0) -> list[list[Atom]]:
    """Replace each `fact` atom by the live alternatives of the rules concluding it, so rules that
    chain through conclusions are compared on answers and scores. Too deep or too wide: drop the
    facts (an over-approximation, so nothing that can hold is missed)."""
    facts = [a for a in conj if a.kind == "fact"]
    rest = [a for a in conj if a.kind != "fact"]
    if not facts:
        return [conj]
    if depth > 6:
        return [rest]
    options = [[c for r in ctx.kb.rules_concluding(f.ref) for i, c in enumerate(r.dnf)
                if ctx.alive(r, i, ctx.reachable)] for f in facts]
    out: list[list[Atom]] = []
    for combo in itertools.product(*options):
        out += _expand(ctx, rest + [a for c in combo for a in c], depth + 1)
        if len(out) > MAX_EXPANSION:
            return [rest]
    return out


def _overlap(ctx: Context, a: Rule, b: Rule) -> list[Atom] | None:
    """Atoms of an alternative of `a` and one of `b` that can hold together, or None."""
    for i, ca in enumerate(a.dnf):
        if not ctx.alive(a, i, ctx.reachable):
            continue
        for j, cb in enumerate(b.dnf):
            if not ctx.alive(b, j, ctx.reachable):
                continue
            for merged in _expand(ctx, ca + cb):
                if why_impossible(ctx.kb, merged) is None:
                    return list({x.key(): x for x in ca + cb}.values())
    return None


@rule(Code(
    "PDX405", "contradictory-rules", ERROR,
    "Two rules can fire together but conclude ids of an exclusive type (two modes, two steps).",
    "For each conclusion type marked `exclusive: true` in `rules/_types.yaml` (mode, staircase), "
    "compares every pair of rules concluding different ids: if an alternative of each can hold at "
    "once — each item and score within the values the other allows, conclusions they rest on "
    "expanded into their own conditions — the pair is reported at the later rule.",
    "The contract promises exactly one Figure 1 mode and exactly one Staircase step: a partnership "
    "diagnosed as both complying and creating gets contradictory advice.",
    "- id: mode.complying\n  when: {all: [{score: dim.trust, lt: 2.5}, {score: dim.voluntary, lt: 3}]}\n"
    "- id: local.mode.cautious\n  when: {score: dim.trust, lt: 3}          # overlaps mode.complying\n"
    "  then: {conclude: local.mode.cautious, type: mode}",
    "Partition the space: make the thresholds of the rules of an exclusive type meet without "
    "overlapping (`lt: 2.5` in one, `gte: 2.5` in the next), as rules/modes.yaml does."))
def contradictions(ctx: Context) -> Iterator[Finding]:
    exclusive = {t for t, d in ctx.types.items() if d.get("exclusive")}
    by_type: dict[str, list[Rule]] = {}
    for r in ctx.kb.rules:
        if r.kind == "conclusion" and r.ctype in exclusive:
            by_type.setdefault(r.ctype, []).append(r)
    for ctype, rules in by_type.items():
        for a, b in itertools.combinations(rules, 2):
            if a.concludes == b.concludes:
                continue
            both = _overlap(ctx, a, b)
            if both is not None:
                when = " and ".join(describe_atom(x) for x in both)
                yield Finding(b.path, _line(b, "when"), "PDX405", b.id,
                              f"can fire together with {a.id} ({a.path}:{a.line}), but '{b.concludes}' and "
                              f"'{a.concludes}' are both of the exclusive type '{ctype}': e.g. when {when}")


# ---- PDX5xx: conclusions, recommendations, interventions ------------------------------------------

@rule(Code(
    "PDX501", "recommendation-addresses-nothing", WARNING,
    "A recommendation rule names no conclusion in its condition, so it addresses nothing.",
    "Checks that each `recommend` rule tests at least one `{fact: …}` (the conclusions it addresses).",
    "A recommendation's `addresses` are the conclusions in its condition; without one the report "
    "cannot say what the action is for, and `why` has no finding to point at.",
    "- id: rec.local.protocol\n  when: {item: stair.q06, lte: 2}\n  then: {recommend: int.local.protocol, priority: 2}",
    "Conclude the situation first, then recommend on it: `when: {fact: local.information_blocked}`."))
def addresses_nothing(ctx: Context) -> Iterator[Finding]:
    for r in ctx.kb.rules:
        if r.kind == "recommendation" and not any(a.kind == "fact" for a in atoms(r.when)):
            yield Finding(r.path, _line(r, "when"), "PDX501", r.id,
                          f"recommends '{r.concludes}' without naming a conclusion it addresses")


@rule(Code(
    "PDX502", "conclusion-not-addressed", WARNING,
    "No recommendation addresses a conclusion.",
    "Checks that each conclusion is named in a `{fact: …}` of at least one recommendation rule.",
    "The diagnosis reports a problem and then says nothing about what to do about it.",
    "- id: local.information_blocked\n  then: {conclude: local.information_blocked, type: whatworks}\n"
    "  # ... and no rule with {fact: local.information_blocked} and then: {recommend: …}",
    "Add a recommendation rule: `when: {fact: local.information_blocked}`, "
    "`then: {recommend: int.local.protocol, priority: 2}`."))
def not_addressed(ctx: Context) -> Iterator[Finding]:
    seen: set[str] = set()
    for r in ctx.kb.rules:
        if r.kind == "conclusion" and r.concludes not in seen:
            seen.add(r.concludes)
            if r.concludes not in ctx.addressed:
                yield Finding(r.path, _line(r, "then"), "PDX502", r.id,
                              f"no recommendation addresses '{r.concludes}'")


@rule(Code(
    "PDX503", "intervention-never-recommended", WARNING,
    "An intervention is recommended by no rule.",
    "Checks that each intervention is the `recommend` of at least one rule.",
    "An intervention no rule recommends never reaches a report: knowledge that was written and "
    "cited but is never used.",
    "- id: int.local.protocol\n  title: Agree a data-sharing protocol\n  ...    # no rule recommends it",
    "Add a rule `then: {recommend: int.local.protocol, priority: 2}` on the conclusions it addresses."))
def never_recommended(ctx: Context) -> Iterator[Finding]:
    recommended = {r.concludes for r in ctx.kb.rules if r.kind == "recommendation"}
    for e in ctx.kb.interventions.values():
        if e.id not in recommended:
            yield Finding(e.path, e.line, "PDX503", e.id, "no rule recommends this intervention")


# ---- running and reporting -----------------------------------------------------------------------

def lint(kb: KnowledgeBase, seeds: list[Path] | None = None, select: Iterable[str] | None = None,
         ignore: Iterable[str] = ()) -> list[Finding]:
    """Every finding of every (selected, not ignored) check, sorted by file, line and code. An entry
    may silence codes for itself with `lint: {ignore: [CODE], reason: "..."}` (the reason is
    required by the schema, so a deliberate override can pass `--strict` and says why)."""
    ctx = Context(kb, list(seeds or []))
    chosen = set(select) if select else None
    skipped = {RENAMED.get(c, c) for c in ignore}
    out: list[Finding] = []
    for code, check in CHECKS:
        if (chosen is None or code.code in chosen) and code.code not in skipped:
            out += check(ctx)
    waived = entry_ignores(kb)
    out = [f for f in out if f.code not in waived.get(f.ident or "", ())]
    return sorted(set(out), key=lambda f: (f.path, f.line or 0, f.code, f.ident or "", f.message))


def entry_ignores(kb: KnowledgeBase) -> dict[str, set[str]]:
    """Entry id -> the codes its `lint: {ignore: [...]}` waives."""
    out: dict[str, set[str]] = {}
    datas = [(e.id, e.data) for t in (kb.sources, kb.questions, kb.concepts, kb.interventions) for e in t.values()]
    datas += [(s.id, s.data) for s in kb.scores.values()] + [(r.id, r.data) for r in kb.rules]
    for ident, data in datas:
        if isinstance(data, dict) and isinstance(data.get("lint"), dict):
            out[ident] = {RENAMED.get(c, c) for c in data["lint"].get("ignore", [])}
    return out


def blocking(kb: KnowledgeBase, seeds: list[Path]) -> list[Finding]:
    """The error-level findings that make a knowledge base unusable (a cycle, two modes at once, a
    quote not in its seed, ...). Kept in the knowledge-base cache, keyed by the files and the seed
    texts, so a command using a clean overlay pays for the analysis once."""
    from . import cache
    seed_files = [d / kb.sources[s].data["seed"] for d in seeds for s in kb.sources
                  if (d / kb.sources[s].data["seed"]).is_file()]
    key = "lint-" + cache.key([Path(f) for f in kb.files] + seed_files)
    found = cache.get(key)
    if not isinstance(found, list):
        found = [f for f in lint(kb, seeds) if f.severity == ERROR]
        cache.put(key, found)
    return found


def seed_files_used(kb: KnowledgeBase, seeds: list[Path]) -> list[str]:
    """The seed files quotes were checked against (one per source found in a seed folder)."""
    from .errors import display_path
    found = {}
    for d in seeds:
        for s in kb.sources.values():
            f = d / s.data["seed"]
            if f.is_file():
                found.setdefault(display_path(f), None)
    return list(found)


def load_findings(problems: Iterable[Problem]) -> list[Finding]:
    return [Finding(p.path, p.line, "PDX001", p.ident, p.message) for p in problems]


def seed_dirs(kb_roots: Iterable[Path], given: Path | None) -> list[Path]:
    """Seed folders: the one given (or the default beside the repo) and each overlay's `seeds/`."""
    dirs = [given] if given else ([d] if (d := default_seeds()) else [])
    dirs += [r / "seeds" for r in kb_roots if (r / "seeds").is_dir()]
    return list(dict.fromkeys(dirs))


def exit_code(findings: list[Finding], strict: bool) -> int:
    if any(f.severity == ERROR for f in findings):
        return 2
    return 1 if strict and findings else 0


def summary(findings: list[Finding], seeds: list[Path], files: list[str] | None = None) -> str:
    errors = sum(1 for f in findings if f.severity == ERROR)
    warnings = len(findings) - errors
    checked = ("quotes checked against " + ", ".join(files)) if files else \
        "quotes checked against " + ", ".join(map(str, seeds)) if seeds else \
        "quotes not checked: no seed texts found (use --seeds or an overlay's seeds/)"
    if not findings:
        return f"All checks passed ({checked})."
    return f"Found {errors} error{'s' * (errors != 1)} and {warnings} warning{'s' * (warnings != 1)} ({checked})."


def render(findings: list[Finding], seeds: list[Path], fmt: str, files: list[str] | None = None) -> str:
    if fmt == "json":
        errors = sum(1 for f in findings if f.severity == ERROR)
        return json.dumps({"findings": [f.as_json() for f in findings],
                           "summary": {"errors": errors, "warnings": len(findings) - errors,
                                       "seeds": [str(s) for s in seeds], "seed_files": files or []}}, indent=2, ensure_ascii=False) + "\n"
    return "".join(f"{f}\n" for f in findings) + summary(findings, seeds, files) + "\n"


def codes_markdown() -> str:
    """docs/lint-codes.md, generated from the registry (a test keeps the file equal to this)."""
    rows = "".join(f"| [{c.code}](#{c.code.lower()}-{c.name}) | {c.name} | {c.severity} | {c.summary} |\n"
                   for c in sorted(REGISTRY.values(), key=lambda c: c.code))
    sections = "\n".join(c.markdown() for c in sorted(REGISTRY.values(), key=lambda c: c.code))
    renamed = "".join(f"| {old} | {new} |\n" for old, new in sorted(RENAMED.items())) or "| – | – |\n"
    return ("# Lint codes\n\n"
            "Generated from the registry in `engine/lint.py` by `partnerdx kb lint --codes`; do not edit by "
            "hand (a test compares this page with the registry). `partnerdx kb lint --explain CODE` prints "
            "one section.\n\n"
            "`partnerdx kb lint` prints one finding per line, `path:line: CODE id: message [severity]`, and "
            "exits 0 when clean, 1 when there are only warnings and `--strict` is given, 2 when there are "
            "errors (including a knowledge base that does not load, PDX001). `partnerdx kb check` fails on "
            "the same errors, and every other command refuses a `--kb` overlay that has any.\n\n"
            "`--select CODE` runs only some codes and `--ignore CODE` skips some; one entry waives codes for "
            "itself, with the reason required beside them: `lint: {ignore: [PDX201], reason: \"...\"}`.\n\n"
            "| code | name | severity | summary |\n|---|---|---|---|\n" + rows +
            "\nRetired codes are never reused; a renamed code points to its successor:\n\n"
            "| retired | now |\n|---|---|\n" + renamed + "\n" + sections)


def explain(code: str) -> str | None:
    code = RENAMED.get(code.upper(), code.upper())
    found = REGISTRY.get(code)
    return found.markdown() if found else None
