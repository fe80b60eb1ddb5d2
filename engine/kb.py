"""Load the built-in knowledge base plus any `--kb` overlays into one validated KnowledgeBase.

Every problem in every file is collected before failing, so an author sees them all at once.
"""
from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from . import conditions
from .answers import validate as validate_answers
from .errors import InputError, Problem, display_path
from .model import Citation, Entry, Example, Question, Rule, Score
from .schema import VOCABULARY_FILES, VOCABULARY_LISTS, check_document, check_vocabulary, suggest
from .yamlio import LineDict, LineList, load_yaml_file, parse_yaml_entries, read_text

RATED_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in")


def builtin_root() -> Path:
    """Where `rules/` and `knowledge/` live: inside the installed package, or the source checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_builtin"
    return packaged if (packaged / "rules").is_dir() else here.parent


SUBFOLDERS = ("knowledge", "rules", "scenarios")
OVERLAY_FOLDERS = (*SUBFOLDERS, "seeds")
YAML_SUFFIXES = (".yaml", ".yml")


def yaml_files(root: Path, sub: str) -> list[Path]:
    """The documents of one folder of a root: YAML files (.yaml or .yml), vocabulary files aside."""
    base = root / sub
    if not base.is_dir():
        return []
    return sorted(p for p in base.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file()
                  and not p.name.startswith(("_", ".")) and not _hidden(p, base))


def vocabulary_files(root: Path) -> list[Path]:
    """`_types.yaml` and `_instruments.yaml` directly under knowledge/ or rules/ of a root."""
    return [root / sub / name for sub in ("knowledge", "rules") for name in VOCABULARY_LISTS
            if (root / sub / name).is_file()]


def _hidden(p: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(base).parts)


def ignored_files(root: Path) -> list[Problem]:
    """Everything under an overlay that no loader reads, each reported once (never a silent skip)."""
    out: list[Problem] = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        shown = display_path(child)
        if child.is_dir() and child.name not in OVERLAY_FOLDERS:
            out.append(Problem(shown, None, None, "ignored: an overlay reads only the folders "
                               + ", ".join(f"{f}/" for f in OVERLAY_FOLDERS)
                               + suggest(child.name, OVERLAY_FOLDERS).replace("'?", "/'?")))
        elif child.is_file():
            out.append(Problem(shown, None, None, "ignored: an overlay reads files inside "
                               + ", ".join(f"{f}/" for f in OVERLAY_FOLDERS) + ", not beside them"))
    for sub in SUBFOLDERS:
        base = root / sub
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if not p.is_file() or _hidden(p, base):
                continue
            if p.suffix not in YAML_SUFFIXES:
                out.append(Problem(display_path(p), None, None, "ignored: only .yaml and .yml files are read"))
            elif p.name.startswith("_") and not (p.parent in (root / "knowledge", root / "rules")
                                                  and p.name in VOCABULARY_LISTS):
                why = ("ladders are read from the built-in base only" if p.name in VOCABULARY_FILES else
                       "files starting with '_' are not knowledge; the vocabulary files are "
                       + ", ".join(f"knowledge/ or rules/{n}" for n in VOCABULARY_LISTS))
                out.append(Problem(display_path(p), None, None, f"ignored: {why}"))
    return out


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
    # vocabulary (knowledge/_instruments.yaml, rules/_types.yaml): name -> its description
    types: dict[str, dict] = field(default_factory=dict)
    instruments: dict[str, dict] = field(default_factory=dict)
    modules: dict[str, dict] = field(default_factory=dict)
    scenarios: list = field(default_factory=list)          # stand-alone scenarios (kbtest.Scenario)
    notices: list[Problem] = field(default_factory=list)   # files and folders of overlays not read

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

    def module_instruments(self, module: str) -> tuple[str, ...] | None:
        """The instruments a questionnaire module asks (None: every instrument), from the vocabulary."""
        if self.modules[module].get("all"):
            return None
        return tuple(name for name, i in self.instruments.items() if i.get("module") == module)

    @property
    def always_asked(self) -> frozenset:
        """Instruments asked in every module (the context of the partnership)."""
        return frozenset(name for name, i in self.instruments.items() if i.get("always"))

    def type_info(self, ctype: str) -> dict:
        """Title, report section and order of a conclusion type (a renderer reads these)."""
        info = self.types.get(ctype, {})
        return {"title": info.get("title", ctype), "section": info.get("section", "Findings"),
                "order": info.get("order", 1000), "respondents": info.get("respondents", False),
                "exclusive": info.get("exclusive", False), "text": info.get("text", "")}

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
    """Accumulates documents and problems; `finish` cross-checks references once all are in.

    Entries are validated one at a time: an entry that fails is left out and its id remembered as
    *defined but invalid*, so that what refers to it is reported as a consequence of that one root
    cause (after it, pointing at it) instead of as an unknown id with a misleading suggestion."""

    def __init__(self) -> None:
        self.kb = KnowledgeBase()
        self.problems: list[Problem] = []
        self.ids: dict[str, tuple[str, int, bool]] = {}     # knowledge+score id -> (path, line, builtin)
        self.rule_ids: dict[str, tuple[str, int, bool]] = {}
        self.citations: list[tuple[Citation, str, int, str]] = []
        self.raw_scores: list[tuple[dict, str, str]] = []
        self.raw_rules: list[tuple[dict, str, str]] = []
        self.invalid: dict[str, tuple[str, int]] = {}       # id defined by an entry that failed -> where
        self.vocabulary_origin: dict[tuple[str, str], tuple[str, int, bool]] = {}
        self.contributed: dict[Path, int] = {}               # overlay root -> entries it added

    def problem(self, path: str, line: int | None, ident: str | None, msg: str) -> None:
        self.problems.append(Problem(path, line, ident, msg))

    def refer(self, path: str, line: int | None, ident: str | None, ref: str, message: str,
              choices: Any, kinds: tuple[str, ...] = ()) -> None:
        """A reference that does not resolve: a consequence when `ref` is an invalid entry, a plain
        statement of what `ref` is when it exists as something else, else a did-you-mean."""
        root = self.invalid.get(ref)
        if root is not None:
            self.problems.append(Problem(path, line, ident, f"{message} (consequence: '{ref}' is defined at "
                                         f"{root[0]}:{root[1]} but that entry is invalid)", True))
            return
        what = self.kind_of(ref)
        if what and what not in kinds:
            self.problem(path, line, ident, f"{message} ('{ref}' is a {what})")
            return
        self.problem(path, line, ident, message + suggest(ref, choices))

    def kind_of(self, ident: str) -> str | None:
        kb = self.kb
        for what, table in (("question", kb.questions), ("concept", kb.concepts), ("intervention", kb.interventions),
                            ("source", kb.sources), ("score", kb.scores)):
            if ident in table:
                return what
        if any(r.get("then", {}).get("conclude") == ident for r, _, _ in self.raw_rules):
            return "conclusion"
        if ident in self.rule_ids:
            return "rule id"
        return None

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

    def _mark_invalid(self, entry: Any, path: str, line: int | None) -> None:
        if isinstance(entry, dict):
            for ident in (entry.get("id"), (entry.get("then") or {}).get("conclude") if isinstance(
                    entry.get("then"), dict) else None):
                if isinstance(ident, str):
                    self.invalid.setdefault(ident, (path, line or 0))

    def _load(self, file: Path) -> tuple[Any, str] | None:
        path = display_path(file)
        self.kb.files.append(path)
        try:
            doc, found = parse_yaml_entries(read_text(file), path)
        except InputError as exc:
            self.problems += exc.problems
            return None
        self.problems += found
        return (doc, path) if doc is not None else None

    def add_vocabulary(self, file: Path, builtin: bool, root: Path) -> None:
        loaded = self._load(file)
        if loaded is None:
            return
        doc, path = loaded
        checked = check_vocabulary(doc, file.name, path)
        self.problems += checked.problems
        if not checked.usable:
            return
        for key in VOCABULARY_LISTS[file.name]:
            table = getattr(self.kb, key)
            for name, entry in (doc.get(key) or {}).items():
                line = doc[key].line_of(name) if isinstance(doc[key], LineDict) else None
                if (key, name) in checked.bad:
                    self.invalid.setdefault(name, (path, line or 0))
                    continue
                first = self.vocabulary_origin.get((key, name))
                if first is not None and not (first[2] and not builtin and entry.get("override") is True):
                    hint = "; set 'override: true' to replace a built-in one" if first[2] and not builtin else ""
                    self.problem(path, line, name, f"duplicate {key[:-1]} name (first defined at "
                                 f"{first[0]}:{first[1]}){hint}")
                    continue
                self.vocabulary_origin[(key, name)] = (path, line or 0, builtin)
                table[name] = {k: v for k, v in entry.items() if k != "override"}
                self.contributed[root] = self.contributed.get(root, 0) + 1

    def add_file(self, file: Path, builtin: bool, root: Path | None = None) -> None:
        loaded = self._load(file)
        if loaded is None:
            return
        doc, path = loaded
        if isinstance(doc, dict):
            for key in ("entries", "scores", "rules", "scenarios"):   # entries whose YAML is broken
                node = doc.get(key)
                if isinstance(node, LineList):
                    for i in reversed(range(len(node))):
                        if isinstance(node[i], dict) and node[i].get("__broken__"):
                            self._mark_invalid(node[i], path, node.item_lines[i])
                            del node[i]
                            del node.item_lines[i]
        checked = check_document(doc, path)
        self.problems += checked.problems
        if not checked.usable:
            return
        for key in ("entries", "scores", "rules", "scenarios"):
            node = doc.get(key)
            if isinstance(node, list):
                for i in sorted(i for k, i in checked.bad if k == key):
                    self._mark_invalid(node[i], path, node.item_lines[i] if hasattr(node, "item_lines") else None)
        good = {key: [x for i, x in enumerate(doc.get(key) or []) if (key, i) not in checked.bad]
                for key in ("entries", "scores", "rules", "scenarios")}
        if root is not None:
            self.contributed[root] = self.contributed.get(root, 0) + sum(len(v) for v in good.values())
        family = doc.get("family", "")
        if doc["kind"] == "scenarios":
            from .kbtest import Scenario
            for x in good["scenarios"]:
                self.kb.scenarios.append(Scenario(x["name"], x.get("answers"), x.get("answers_file"),
                                                  list(x["expect"].get("concluded", [])),
                                                  list(x["expect"].get("not_concluded", [])), path, x.line, x))
            return
        if doc["kind"] == "rules":
            for s in good["scores"]:
                if self._claim(self.ids, s["id"], path, s.line, builtin, s, "knowledge"):
                    _put(self.raw_scores, (s, path, family))
            for r in good["rules"]:
                if self._claim(self.rule_ids, r["id"], path, r.line, builtin, r, "rule"):
                    _put(self.raw_rules, (r, path, family))
            return
        for e in good["entries"]:
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

    def _check_vocabulary(self) -> None:
        for name, inst in self.kb.instruments.items():
            module = inst.get("module")
            path, line, _ = self.vocabulary_origin[("instruments", name)]
            if module is not None and module not in self.kb.modules:
                self.refer(path, line, name, module, f"module '{module}' is not a module name", self.kb.modules)
            if module is None and not inst.get("always"):
                self.problem(path, line, name, "an instrument needs a module (or always: true)")

    def _check_question(self, q: Question) -> None:
        d = q.data
        instrument = self.kb.instruments.get(d["instrument"])
        if instrument is None:
            self.refer(q.path, d.line_of("instrument"), q.id, d["instrument"],
                       f"instrument '{d['instrument']}' is not one of {', '.join(self.kb.instruments)}",
                       self.kb.instruments)
        if q.type == "rated":
            if "scale" not in d and instrument is not None and "scale" in instrument:
                d["scale"] = dict(instrument["scale"])   # the instrument's scale is the default
            if "scale" not in d:
                self.problem(q.path, q.line, q.id, "a rated question needs scale: {low, high} (or its instrument one)")
            if "options" in d:
                self.problem(q.path, d.line_of("options"), q.id, "a rated question takes no options")
        elif "options" not in d:
            self.problem(q.path, q.line, q.id, f"a {q.type} question needs options")
        if "area" in d and d["area"] not in self.kb.concepts:
            self.refer(q.path, d.line_of("area"), q.id, d["area"], f"area '{d['area']}' is not a concept id",
                       self.kb.concepts, ("concept",))

    def _known(self, ident: str) -> bool:
        return ident in self.ids or ident in self.kb.conclusion_types

    def _check_links(self, e: Entry) -> None:
        for key in ("parent", "related", "items", "addresses"):
            if key not in e.data:
                continue
            values = e.data[key] if isinstance(e.data[key], list) else [e.data[key]]
            for v in values:
                if not self._known(v):
                    self.refer(e.path, e.data.line_of(key), e.id, v, f"{key}: '{v}' is not a known id",
                               list(self.ids) + list(self.kb.conclusion_types))

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
                    self.refer(path, s.line_of("of"), s["id"], pattern, f"'{pattern}' is not an item or score id",
                               list(self.kb.questions) + list(score_ids))
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
            self._check_example_names(s.get("examples", []), path, s["id"])
        self.kb.scores = _topological_scores(self.kb.scores, self)

    def _check_example_names(self, examples: list, path: str, ident: str) -> None:
        seen: dict[str, int] = {}
        for x in examples:
            if x["name"] in seen:
                self.problem(path, x.line, ident, f"duplicate example name '{x['name']}' (first at line {seen[x['name']]})")
            seen.setdefault(x["name"], x.line)

    def _build_rules(self) -> None:
        for r, path, family in self.raw_rules:
            ident = r["id"]
            found: list[Problem] = []
            cond = conditions.parse(r["when"], path, ident, found, r.line_of("when"))
            self.problems += found
            if cond is None:
                self._mark_invalid(r, path, r.line)
                continue
            try:
                normal = conditions.dnf(cond)
            except conditions.ConditionError as exc:
                self.problem(path, r.line_of("when"), ident, str(exc))
                self._mark_invalid(r, path, r.line)
                continue
            then = r["then"]
            kind = "recommendation" if "recommend" in then else "conclusion"
            concludes = then.get("recommend") or then.get("conclude")
            if kind == "conclusion" and then["type"] not in self.kb.types:
                self.refer(path, then.line_of("type") if isinstance(then, LineDict) else r.line, ident, then["type"],
                           f"type '{then['type']}' is not one of {', '.join(self.kb.types)} (add it to a "
                           "_types.yaml to make a new one)", self.kb.types)
            self._check_example_names(r.get("examples", []), path, ident)
            examples = [Example(x["name"], x["answers"], list(x["expect"].get("concluded", [])),
                                list(x["expect"].get("not_concluded", [])), x.line) for x in r.get("examples", [])]
            self.kb.rules.append(Rule(
                ident, r["title"], cond, normal, concludes, kind, then.get("type"),
                then.get("priority", r.get("priority")), r["because"], Citation(**r["source"]),
                r.get("basis", "seed"), examples, path, r.line, family, r))
            self.citations.append((Citation(**r["source"]), path, r.line_of("source"), ident))

    def _check_answers(self, answers: Any, path: str, label: str, line: int, owner: str) -> None:
        """Validate an example's answers; answers naming an invalid item are consequences of it."""
        if isinstance(answers, dict):
            for key in [k for k in answers if k in self.invalid]:
                self.refer(path, line, owner, key, f"{label} answers '{key}'", ())
            answers = {k: v for k, v in answers.items() if k not in self.invalid}
        _, found = validate_answers(self.kb, answers, path, label, default_line=line)
        self.problems += found

    def _check_rule(self, rule: Rule) -> None:
        d = rule.data
        if rule.kind == "recommendation" and rule.concludes not in self.kb.interventions:
            self.refer(rule.path, d.line_of("then"), rule.id, rule.concludes,
                       f"recommends '{rule.concludes}', which is not an intervention id", self.kb.interventions,
                       ("intervention",))
        if rule.kind == "conclusion" and rule.concludes in self.ids:
            self.problem(rule.path, d.line_of("then"), rule.id,
                         f"concludes '{rule.concludes}', which is already a knowledge or score id")
        known_facts = set(self.kb.conclusion_types) | set(self.kb.interventions)
        for atom in conditions.atoms(rule.when):
            line = atom.line or d.line_of("when")
            if atom.kind in ("item", "answered", "unanswered"):
                if atom.ref not in self.kb.questions:
                    self.refer(rule.path, line, rule.id, atom.ref, f"unknown item id '{atom.ref}'",
                               self.kb.questions, ("question",))
                elif atom.kind == "item":
                    self._check_item_atom(rule, atom, line)
            elif atom.kind == "score" and atom.ref not in self.kb.scores:
                self.refer(rule.path, line, rule.id, atom.ref, f"unknown score id '{atom.ref}'", self.kb.scores,
                           ("score",))
            elif atom.kind == "fact" and atom.ref not in known_facts:
                self.refer(rule.path, line, rule.id, atom.ref, f"no rule concludes '{atom.ref}'", known_facts,
                           ("conclusion", "intervention"))
        for x in rule.examples:
            self._check_answers(x.answers, rule.path, f"{rule.id} example {x.name}", x.line, rule.id)
            for ident in x.concluded + x.not_concluded:
                if ident not in known_facts:
                    self.refer(rule.path, x.line, rule.id, ident, f"example {x.name} expects unknown conclusion "
                               f"'{ident}'", known_facts, ("conclusion", "intervention"))

    def _check_score_examples(self, s: Score) -> None:
        for x in s.data.get("examples", []):
            self._check_answers(x["answers"], s.path, f"{s.id} example {x['name']}", x.line, s.id)

    def _check_scenarios(self) -> None:
        known_facts = set(self.kb.conclusion_types) | set(self.kb.interventions)
        names: dict[str, tuple[str, int]] = {}
        for sc in self.kb.scenarios:
            if sc.name in names:
                self.problem(sc.path, sc.line, sc.name, f"duplicate scenario name (first at {names[sc.name][0]}:"
                             f"{names[sc.name][1]})")
            names.setdefault(sc.name, (sc.path, sc.line))
            if (sc.answers is None) == (sc.answers_file is None):
                self.problem(sc.path, sc.line, sc.name, "a scenario needs either answers or answers_file")
                continue
            if sc.answers_file is not None:
                target = Path(sc.path).parent / sc.answers_file
                try:
                    raw = parse_yaml_entries(read_text(target), display_path(target))[0]
                except InputError as exc:
                    self.problems += exc.problems
                    continue
                sc.answers = raw.get("answers", {}) if isinstance(raw, dict) else raw
            self._check_answers(sc.answers, sc.path, f"scenario {sc.name}", sc.line, sc.name)
            for ident in sc.concluded + sc.not_concluded:
                if ident not in known_facts:
                    self.refer(sc.path, sc.line, sc.name, ident, f"expects unknown conclusion '{ident}'", known_facts,
                               ("conclusion", "intervention"))

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
        self._check_vocabulary()
        self._build_scores()
        self._build_rules()
        for q in self.kb.questions.values():
            self._check_question(q)
        for table in (self.kb.concepts, self.kb.interventions):
            for e in table.values():
                self._check_links(e)
        for rule in self.kb.rules:
            self._check_rule(rule)
        for s in self.kb.scores.values():
            self._check_score_examples(s)
        self._check_scenarios()
        for cite, path, line, ident in self.citations:
            if cite.ref not in self.kb.sources:
                self.refer(path, line, ident, cite.ref, f"unknown source ref '{cite.ref}'", self.kb.sources, ("source",))
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
    files = [f for directory in (base, *overlays)
             for f in (*vocabulary_files(directory), *(f for sub in SUBFOLDERS for f in yaml_files(directory, sub)))]
    if not vocabulary_files(base):
        files += vocabulary_files(builtin_root())
    listing = [p for o in overlays for p in sorted(o.rglob("*"))]   # ignored files are reported, so key them
    key = cache.key(files + [Path(f"<listing>{p}") for p in listing])
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
    roots = [(base, True), *((o, False) for o in overlays)]
    if not vocabulary_files(base):               # a generated base (tests, benchmarks) without vocabulary
        for f in vocabulary_files(builtin_root()):   # uses the built-in instruments, modules and types
            builder.add_vocabulary(f, True, base)
    for directory, builtin in roots:            # vocabulary first: entries are checked against it
        for f in vocabulary_files(directory):
            builder.add_vocabulary(f, builtin, directory)
    for directory, builtin in roots:
        for sub in SUBFOLDERS:
            for f in yaml_files(directory, sub):
                builder.add_file(f, builtin, directory)
    for o in overlays:
        builder.kb.notices += ignored_files(o)
        if not builder.contributed.get(o) and not any(p.path.startswith(display_path(o)) for p in builder.problems):
            builder.problem(display_path(o), None, None, "this --kb folder contributes nothing: no entries under "
                            + ", ".join(f"{s}/" for s in SUBFOLDERS) + " and no _types.yaml or _instruments.yaml")
    return builder.finish()


@functools.lru_cache(maxsize=1)
def builtin_vocabulary() -> dict[str, dict]:
    """Instruments, modules and conclusion types of the built-in base alone, read straight from its
    vocabulary files (for code that needs the names without loading the whole base)."""
    out: dict[str, dict] = {"types": {}, "instruments": {}, "modules": {}}
    for f in vocabulary_files(builtin_root()):
        doc = load_yaml_file(f)
        for key in VOCABULARY_LISTS[f.name]:
            out[key].update(doc.get(key) or {})
    return out


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
