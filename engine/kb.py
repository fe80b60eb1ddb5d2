"""Load the built-in knowledge base plus any `--kb` overlays into one validated KnowledgeBase.

Every problem in every file is collected before failing, so an author sees them all at once.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import conditions
from .answers import validate as validate_answers
from .errors import InputError, Problem, display_path
from .model import Citation, Entry, Example, Question, Rule, Score
from .schema import suggest, validate_document
from .yamlio import LineDict, load_yaml_file

RATED_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


def builtin_root() -> Path:
    """Where `rules/` and `knowledge/` live: inside the installed package, or the source checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_builtin"
    return packaged if (packaged / "rules").is_dir() else here.parent


def yaml_files(root: Path, sub: str) -> list[Path]:
    base = root / sub
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*.yaml") if not p.name.startswith("_"))


@dataclass
class KnowledgeBase:
    sources: dict[str, Entry] = field(default_factory=dict)
    questions: dict[str, Question] = field(default_factory=dict)
    concepts: dict[str, Entry] = field(default_factory=dict)
    interventions: dict[str, Entry] = field(default_factory=dict)
    scores: dict[str, Score] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    overrides: list[tuple[str, str, int]] = field(default_factory=list)   # (id, path, line)
    roots: list[Path] = field(default_factory=list)

    @cached_property
    def conclusion_types(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.rules:
            if r.kind == "conclusion":
                out.setdefault(r.concludes, r.ctype or "")
        return out

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def rule_order(self) -> tuple[list[int], bool]:
        """Rule indices, each after every rule concluding a fact it tests, and whether the rules
        form a cycle (then the order is only a best effort). Worked out once per knowledge base and
        shared by the reference evaluator and the questionnaire's relevance analysis."""
        cache = self.__dict__.setdefault("_backends", {})
        if "_rule_order" not in cache:
            concluders: dict[str, list[int]] = {}
            for i, r in enumerate(self.rules):
                concluders.setdefault(r.concludes, []).append(i)
            deps = [sorted({j for conj in r.dnf for a in conj if a.kind == "fact" for j in concluders.get(a.ref, ())})
                    for r in self.rules]
            state = [0] * len(self.rules)      # 0 new, 1 on the stack, 2 done
            order: list[int] = []
            cyclic = False
            for start in range(len(self.rules)):
                if state[start]:
                    continue
                state[start] = 1
                stack = [(start, iter(deps[start]))]
                while stack:
                    node, it = stack[-1]
                    nxt = next(it, None)
                    if nxt is None:
                        stack.pop()
                        state[node] = 2
                        order.append(node)
                    elif state[nxt] == 0:
                        state[nxt] = 1
                        stack.append((nxt, iter(deps[nxt])))
                    elif state[nxt] == 1:
                        cyclic = True
            cache["_rule_order"] = (order, cyclic)
        return cache["_rule_order"]

    def rules_concluding(self, ident: str) -> list[Rule]:
        return [r for r in self.rules if r.concludes == ident]

    def entry(self, ident: str) -> Entry | None:
        for table in (self.questions, self.concepts, self.interventions, self.sources):
            if ident in table:
                return table[ident]
        return None

    @cached_property
    def graph(self):  # -> networkx.DiGraph; imported lazily to keep start-up fast
        from .graph import build_graph
        return build_graph(self)

    @cached_property
    def feeding_items(self) -> frozenset:
        """Items that feed at least one rule, read from the graph once and kept in the cache, so a
        diagnosis needs no networkx import."""
        g = self.graph
        return frozenset(q for q in self.questions if q in g and g.nodes[q].get("feeds_rules"))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for transient in ("graph", "_backends", "rules_by_id", "conclusion_types"):
            state.pop(transient, None)
        return state

    def counts(self) -> dict[str, int]:
        return {"sources": len(self.sources), "questions": len(self.questions),
                "concepts": len(self.concepts), "interventions": len(self.interventions),
                "scores": len(self.scores), "rules": len(self.rules),
                "examples": sum(len(r.examples) for r in self.rules)}


def _put(raw: list[tuple[dict, str, str]], item: tuple[dict, str, str]) -> None:
    """Append a raw score or rule; an override takes the built-in's place (and its order) instead
    of running beside it under the same id."""
    for i, (node, _, _) in enumerate(raw):
        if node["id"] == item[0]["id"]:
            raw[i] = item
            return
    raw.append(item)


class _Builder:
    """Accumulates documents and problems; `finish` cross-checks references once all are in."""

    def __init__(self) -> None:
        self.kb = KnowledgeBase()
        self.problems: list[Problem] = []
        self.ids: dict[str, tuple[str, int, bool]] = {}     # knowledge+score id -> (path, line, builtin)
        self.rule_ids: dict[str, tuple[str, int, bool]] = {}
        self.citations: list[tuple[Citation, str, int, str]] = []
        self.raw_scores: list[tuple[dict, str, str]] = []
        self.raw_rules: list[tuple[dict, str, str]] = []

    def problem(self, path: str, line: int | None, ident: str | None, msg: str) -> None:
        self.problems.append(Problem(path, line, ident, msg))

    def _claim(self, table: dict, ident: str, path: str, line: int, builtin: bool, node: dict, what: str) -> bool:
        """Register an id; overlays may replace a built-in id only with `override: true`."""
        if ident in table:
            first_path, first_line, first_builtin = table[ident]
            if first_builtin and not builtin and node.get("override") is True:
                self.kb.overrides.append((ident, path, line))
                return True
            hint = "; set 'override: true' to replace a built-in entry" if first_builtin and not builtin else ""
            self.problem(path, line, ident, f"duplicate {what} id (first defined at {first_path}:{first_line}){hint}")
            return False
        table[ident] = (path, line, builtin)
        return True

    def add_file(self, file: Path, builtin: bool) -> None:
        path = display_path(file)
        self.kb.files.append(path)
        try:
            doc = load_yaml_file(file)
        except InputError as exc:
            self.problems += exc.problems
            return
        found = validate_document(doc, path)
        if found:
            self.problems += found
            return
        family = doc["family"]
        if doc["kind"] == "rules":
            for s in doc.get("scores", []):
                if self._claim(self.ids, s["id"], path, s.line, builtin, s, "knowledge"):
                    _put(self.raw_scores, (s, path, family))
            for r in doc.get("rules", []):
                if self._claim(self.rule_ids, r["id"], path, r.line, builtin, r, "rule"):
                    _put(self.raw_rules, (r, path, family))
            return
        for e in doc["entries"]:
            if not self._claim(self.ids, e["id"], path, e.line, builtin, e, "knowledge"):
                continue
            cls = Question if doc["kind"] == "question" else Entry
            entry = cls(doc["kind"], e["id"], e, path, e.line, family)
            table = {"source": self.kb.sources, "question": self.kb.questions,
                     "concept": self.kb.concepts, "intervention": self.kb.interventions}[doc["kind"]]
            for t in (self.kb.sources, self.kb.questions, self.kb.concepts, self.kb.interventions):
                t.pop(e["id"], None)   # an override replaces whatever kind it had
            table[e["id"]] = entry
            if "source" in e:
                self.citations.append((entry.source, path, e.line_of("source"), e["id"]))

    # ---- cross-checks ---------------------------------------------------------------------------

    def _check_question(self, q: Question) -> None:
        d = q.data
        if q.type == "rated":
            if "scale" not in d:
                self.problem(q.path, q.line, q.id, "a rated question needs scale: {low, high}")
            if "options" in d:
                self.problem(q.path, d.line_of("options"), q.id, "a rated question takes no options")
        elif "options" not in d:
            self.problem(q.path, q.line, q.id, f"a {q.type} question needs options")
        if "area" in d and d["area"] not in self.kb.concepts:
            self.problem(q.path, d.line_of("area"), q.id, f"area '{d['area']}' is not a concept id"
                         + suggest(d["area"], self.kb.concepts))

    def _known(self, ident: str) -> bool:
        return ident in self.ids or ident in self.kb.conclusion_types

    def _check_links(self, e: Entry) -> None:
        for key in ("parent", "related", "items", "addresses"):
            if key not in e.data:
                continue
            values = e.data[key] if isinstance(e.data[key], list) else [e.data[key]]
            for v in values:
                if not self._known(v):
                    self.problem(e.path, e.data.line_of(key), e.id, f"{key}: '{v}' is not a known id"
                                 + suggest(v, list(self.ids) + list(self.kb.conclusion_types)))

    def _build_scores(self) -> None:
        score_ids = {s["id"] for s, _, _ in self.raw_scores}
        for s, path, family in self.raw_scores:
            inputs: list[str] = []
            for pattern in s["of"]:
                if any(ch in pattern for ch in "*?["):
                    matched = fnmatch.filter(self.kb.questions, pattern)
                    if not matched:
                        self.problem(path, s.line_of("of"), s["id"], f"'{pattern}' matches no item id")
                    inputs += matched
                elif pattern in self.kb.questions or pattern in score_ids:
                    inputs.append(pattern)
                else:
                    self.problem(path, s.line_of("of"), s["id"], f"'{pattern}' is not an item or score id"
                                 + suggest(pattern, list(self.kb.questions) + list(score_ids)))
            for i in inputs:
                q = self.kb.questions.get(i)
                if q is not None and q.type != "rated":
                    self.problem(path, s.line_of("of"), s["id"], f"'{i}' is not a rated item")
            if s["fn"] == "diff" and len(inputs) != 2:
                self.problem(path, s.line_of("of"), s["id"], "diff takes exactly two inputs")
            if s["fn"] in ("count_gte", "count_lte") and "threshold" not in s:
                self.problem(path, s.line, s["id"], f"{s['fn']} needs a threshold")
            self.kb.scores[s["id"]] = Score(
                s["id"], s["title"], s["fn"], list(dict.fromkeys(inputs)), s.get("min_answered", 1),
                s.get("threshold"), s.get("because"), Citation(**s["source"]), path, s.line, family, s)
            self.citations.append((Citation(**s["source"]), path, s.line_of("source"), s["id"]))
        self.kb.scores = _topological_scores(self.kb.scores, self)

    def _build_rules(self) -> None:
        for r, path, family in self.raw_rules:
            ident = r["id"]
            found: list[Problem] = []
            cond = conditions.parse(r["when"], path, ident, found, r.line_of("when"))
            self.problems += found
            if cond is None:
                continue
            try:
                normal = conditions.dnf(cond)
            except conditions.ConditionError as exc:
                self.problem(path, r.line_of("when"), ident, str(exc))
                continue
            then = r["then"]
            kind = "recommendation" if "recommend" in then else "conclusion"
            concludes = then.get("recommend") or then.get("conclude")
            examples = [Example(x["name"], x["answers"], list(x["expect"].get("concluded", [])),
                                list(x["expect"].get("not_concluded", [])), x.line) for x in r.get("examples", [])]
            self.kb.rules.append(Rule(
                ident, r["title"], cond, normal, concludes, kind, then.get("type"),
                then.get("priority", r.get("priority")), r["because"], Citation(**r["source"]),
                r.get("basis", "seed"), examples, path, r.line, family, r))
            self.citations.append((Citation(**r["source"]), path, r.line_of("source"), ident))

    def _check_rule(self, rule: Rule) -> None:
        d = rule.data
        if rule.kind == "recommendation" and rule.concludes not in self.kb.interventions:
            self.problem(rule.path, d.line_of("then"), rule.id, f"recommends '{rule.concludes}', which is not an "
                         "intervention id" + suggest(rule.concludes, self.kb.interventions))
        if rule.kind == "conclusion" and rule.concludes in self.ids:
            self.problem(rule.path, d.line_of("then"), rule.id,
                         f"concludes '{rule.concludes}', which is already a knowledge or score id")
        known_facts = set(self.kb.conclusion_types) | set(self.kb.interventions)
        for atom in conditions.atoms(rule.when):
            line = atom.line or d.line_of("when")
            if atom.kind in ("item", "answered", "unanswered"):
                if atom.ref not in self.kb.questions:
                    self.problem(rule.path, line, rule.id, f"unknown item id '{atom.ref}'"
                                 + suggest(atom.ref, self.kb.questions))
                elif atom.kind == "item":
                    self._check_item_atom(rule, atom, line)
            elif atom.kind == "score" and atom.ref not in self.kb.scores:
                self.problem(rule.path, line, rule.id, f"unknown score id '{atom.ref}'" + suggest(atom.ref, self.kb.scores))
            elif atom.kind == "fact" and atom.ref not in known_facts:
                self.problem(rule.path, line, rule.id, f"no rule concludes '{atom.ref}'" + suggest(atom.ref, known_facts))
        for x in rule.examples:
            answers = x.answers
            _, found = validate_answers(self.kb, answers, rule.path, f"{rule.id} example {x.name}",
                                        default_line=x.line)
            self.problems += found
            for ident in x.concluded + x.not_concluded:
                if ident not in known_facts:
                    self.problem(rule.path, x.line, rule.id, f"example {x.name} expects unknown conclusion '{ident}'"
                                 + suggest(ident, known_facts))

    def _check_item_atom(self, rule: Rule, atom: Any, line: int) -> None:
        q = self.kb.questions[atom.ref]
        values = atom.value if isinstance(atom.value, list) else [atom.value]
        if q.type == "rated":
            if atom.op not in RATED_OPS:
                self.problem(rule.path, line, rule.id, f"'{atom.op}' does not apply to rated item {atom.ref}")
            elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 1 <= v <= 5 for v in values):
                self.problem(rule.path, line, rule.id, f"{atom.ref} is rated 1–5; {atom.value!r} is out of range")
        else:
            if q.type == "multi" and atom.op not in ("has",):
                self.problem(rule.path, line, rule.id, f"{atom.ref} is multi-choice: use 'has'")
            elif q.type == "choice" and atom.op not in ("eq", "ne", "in"):
                self.problem(rule.path, line, rule.id, f"{atom.ref} is a choice: use eq, ne or in")
            wrong = [v for v in values if v not in q.options]
            if wrong:
                self.problem(rule.path, line, rule.id, f"{wrong[0]!r} is not an option of {atom.ref} "
                             f"({', '.join(q.options)})" + suggest(str(wrong[0]), q.options))

    def finish(self) -> KnowledgeBase:
        self._build_scores()
        self._build_rules()
        for q in self.kb.questions.values():
            self._check_question(q)
        for table in (self.kb.concepts, self.kb.interventions):
            for e in table.values():
                self._check_links(e)
        for rule in self.kb.rules:
            self._check_rule(rule)
        for cite, path, line, ident in self.citations:
            if cite.ref not in self.kb.sources:
                self.problem(path, line, ident, f"unknown source ref '{cite.ref}'" + suggest(cite.ref, self.kb.sources))
        if self.problems:
            raise InputError(self.problems)
        return self.kb


def _topological_scores(scores: dict[str, Score], builder: _Builder) -> dict[str, Score]:
    """Order scores so each comes after the scores it reads; report cycles."""
    ordered: dict[str, Score] = {}
    visiting: set[str] = set()

    def visit(sid: str) -> None:
        if sid in ordered:
            return
        if sid in visiting:
            s = scores[sid]
            builder.problem(s.path, s.line, sid, "scores depend on each other in a cycle")
            return
        visiting.add(sid)
        for i in scores[sid].inputs:
            if i in scores:
                visit(i)
        visiting.discard(sid)
        ordered[sid] = scores[sid]

    for sid in scores:
        visit(sid)
    return ordered


def load_kb(overlays: tuple[Path, ...] = (), root: Path | None = None) -> KnowledgeBase:
    """The built-in base (or `root`) plus overlays in order; raises InputError listing all problems.

    A validated base is cached (pickle keyed by the content of every file), so start-up skips YAML
    parsing and schema checks when nothing changed; the cache is safe to delete."""
    from . import cache
    base = root or builtin_root()
    for d in overlays:
        if not d.is_dir():
            raise InputError([Problem(display_path(d), None, None, "--kb must be a directory with rules/ and/or knowledge/")])
    files = [f for directory in (base, *overlays) for sub in ("knowledge", "rules") for f in yaml_files(directory, sub)]
    key = cache.key(files)
    kb = cache.get(key)
    if kb is None:
        kb = _load_uncached(overlays, base)
        kb.feeding_items  # noqa: B018 - computed once, stored with the cache
        cache.put(key, kb)
    return kb


def _load_uncached(overlays: tuple[Path, ...], root: Path) -> KnowledgeBase:
    builder = _Builder()
    base = root
    builder.kb.roots = [base, *overlays]
    for directory, builtin in [(base, True), *((o, False) for o in overlays)]:
        for sub in ("knowledge", "rules"):
            for f in yaml_files(directory, sub):
                builder.add_file(f, builtin)
    return builder.finish()


_WS = re.compile(r"\s+")


def normalise_quote(text: str) -> str:
    """Whitespace collapsed, curly quotes straightened, markdown emphasis dropped."""
    text = (text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
            .replace("\u201d", '"').replace("*", ""))
    return _WS.sub(" ", text).strip()


def check_quotes(kb: KnowledgeBase, seeds_dir: Path) -> list[Problem]:
    """Every quote must appear verbatim (normalised) in the seed file its source names."""
    texts: dict[str, str] = {}
    for sid, src in kb.sources.items():
        f = seeds_dir / src.data["seed"]
        if f.is_file():
            texts[sid] = normalise_quote(f.read_text(encoding="utf-8"))
    problems = []
    items: list[tuple[Citation | None, str, int, str]] = []
    for table in (kb.questions, kb.concepts, kb.interventions):
        for e in table.values():
            line = e.data.line_of("source") if isinstance(e.data, LineDict) else e.line
            items.append((e.source, e.path, line, e.id))
    items += [(s.source, s.path, s.line, s.id) for s in kb.scores.values()]
    items += [(r.source, r.path, r.data.line_of("source"), r.id) for r in kb.rules]
    for cite, path, line, ident in items:
        if cite is None or cite.ref not in texts:
            continue
        if normalise_quote(cite.quote) not in texts[cite.ref]:
            problems.append(Problem(path, line, ident, f"quote not found in {kb.sources[cite.ref].data['seed']}: "
                                    f"{cite.quote[:60]!r}"))
    return problems
