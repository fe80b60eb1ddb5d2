"""What would it take: the smallest sets of answer changes under which a conclusion is drawn.

The search follows the rules, not the whole questionnaire: only the rules that can conclude the
target are read, each DNF alternative is solved atom by atom (an item moved to the nearest value
that satisfies it; a score moved by changing the fewest inputs, most leverage first; a required
conclusion solved recursively), and every candidate is verified by a real diagnosis — the same
machinery as `what-if` — before it is offered. Each verified path is then trimmed: every moved
answer steps back towards where it was for as long as the target still holds, because the search
solves atoms one at a time and their changes overlap (a score's inputs also move another score).
Candidates are ranked by total movement on the 1–5 scale (the smallest change first), then number of
items changed, then the largest single jump, then leverage (how many interventions the knowledge base
has for the items moved, a proxy for where the seeds put the effort). Alternatives move different
sets of items: of several paths over the same items only the smallest is offered.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from .answers import AnswerSet
from .explain import what_if, why_not
from .inference import diagnose
from .kb import KnowledgeBase
from .model import Atom

LOW, HIGH = 1, 5
MAX_CANDIDATES = 60


@dataclass
class Path:
    changes: dict                      # item -> new value (None: withdraw the answer)
    movement: float
    leverage: int
    side_effects: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return (self.movement, len(self.changes), self.largest_jump(), -self.leverage, sorted(self.changes))

    def largest_jump(self) -> float:
        return max((abs(v - self.was[i]) for i, v in self.changes.items()
                    if isinstance(v, (int, float)) and isinstance(self.was.get(i), (int, float))), default=0)

    was: dict = field(default_factory=dict)           # the answers the changes start from


def _movement(answers: dict, changes: dict) -> float:
    total = 0.0
    for item, new in changes.items():
        old = answers.get(item)
        if isinstance(new, (int, float)) and isinstance(old, (int, float)):
            total += abs(new - old)
        elif isinstance(new, (int, float)):
            total += abs(new - 3)           # answering an unanswered item: distance from the middle
        else:
            total += 1
    return total


class Search:
    def __init__(self, kb: KnowledgeBase, answers: dict, max_changes: int):
        self.kb, self.answers, self.max_changes = kb, answers, max_changes
        self.leverage_of = self._leverage()
        self.memo: dict[tuple, bool] = {}

    def _leverage(self) -> dict[str, int]:
        """Interventions per item: those addressing it directly or a concept it measures."""
        by_concept: dict[str, set] = {}
        for c in self.kb.concepts.values():
            for item in c.data.get("items", []):
                by_concept.setdefault(c.id, set()).add(item)
        out: dict[str, int] = {}
        for i in self.kb.interventions.values():
            for target in i.data.get("addresses", []):
                for item in ({target} if target in self.kb.questions else by_concept.get(target, set())):
                    out[item] = out.get(item, 0) + 1
        return out

    # ---- solving one atom -------------------------------------------------------------------------
    def item_options(self, atom: Atom, current) -> list:
        q = self.kb.questions[atom.ref]
        from .conditions import compare
        if q.type == "rated":
            values = list(range(LOW, HIGH + 1))
            ok = [v for v in values if compare(atom.op, v, atom.value)]
            base = current if isinstance(current, (int, float)) else 3
            return sorted(ok, key=lambda v: (abs(v - base), v))[:2]
        if q.type == "choice":
            return [o for o in q.options if compare(atom.op, o, atom.value)][:2]
        chosen = list(current or [])
        if atom.op == "has":
            return [sorted(set(chosen) | {atom.value}, key=q.options.index)]
        return [[o for o in chosen if o != atom.value]]

    def solve_atom(self, atom: Atom, state: dict, depth: int) -> list[dict]:
        """Alternative change sets (each small) that make one atom true from `state`."""
        from .conditions import atom_truth
        from .scores import compute
        scores = {k: v.value for k, v in compute(self.kb.scores, state).items()}
        if atom_truth(atom, state, scores, set()) is True and atom.kind != "fact":
            return [{}]
        if atom.kind == "item":
            return [{atom.ref: v} for v in self.item_options(atom, state.get(atom.ref))]
        if atom.kind == "answered":
            return [{atom.ref: 3}] if self.kb.questions[atom.ref].type == "rated" else []
        if atom.kind == "unanswered":
            return []           # never advise withdrawing an answer: it is evidence, not a lever
        if atom.kind == "score":
            return self.solve_score(atom, state)
        if atom.kind == "fact":
            if depth <= 0:
                return []
            if self.kb_concluded(state, atom.ref):
                return [{}]
            return [p.changes for p in self.paths_to(atom.ref, state, depth - 1)[:3]]
        return []

    def kb_concluded(self, state: dict, ident: str) -> bool:
        return ident in diagnose(self.kb, state, "reference").concluded_ids

    def solve_score(self, atom: Atom, state: dict) -> list[dict]:
        """Change the fewest inputs of a score, those with most room to move first."""
        from .conditions import compare
        from .scores import compute
        score = self.kb.scores[atom.ref]
        items = [i for i in score.inputs if i in self.kb.questions]
        upward = atom.op in ("gt", "gte") or (atom.op in ("eq", "ne") and True)
        if atom.op in ("lt", "lte"):
            upward = False
        target_value = HIGH if upward else LOW

        needed = self._score_closure(atom.ref)

        def ok(trial: dict) -> bool:
            v = compute(needed, trial)[atom.ref].value
            return v is not None and compare(atom.op, v, atom.value)

        def room(i: str) -> float:
            cur = state.get(i)
            if not isinstance(cur, (int, float)):
                return 2.5          # answering an unanswered input moves the score too
            return (target_value - cur) if upward else (cur - target_value)

        ranked = sorted((i for i in items if room(i) > 0),
                        key=lambda i: (-room(i), -self.leverage_of.get(i, 0), items.index(i)))
        results: list[dict] = []
        for skip in range(0, 3):                     # alternatives: leave out one of the best movers
            order = ranked[:skip] + ranked[skip + 1:] if skip else ranked
            trial, changes = dict(state), {}
            for i in order:
                if len(changes) >= self.max_changes:
                    break
                trial[i] = target_value
                changes[i] = target_value
                if ok(trial):
                    break
            if not ok(trial):
                continue
            # move the last item only as far as needed, then the others, keeping the atom true
            for i in reversed(list(changes)):
                start = state.get(i) if isinstance(state.get(i), (int, float)) else 3
                steps = range(int(start), target_value + 1) if upward else range(int(start), target_value - 1, -1)
                for v in steps:
                    trial[i] = v
                    if ok(trial):
                        changes[i] = v
                        break
                else:
                    trial[i] = changes[i]
            changes = {i: v for i, v in changes.items() if v != state.get(i)}
            if changes and changes not in results:
                results.append(changes)
        for width in range(2, self.max_changes + 1):   # also spread the move: one point at a time
            spread = self._spread(ranked[:width], state, target_value, upward, ok)
            if spread and spread not in results:
                results.append(spread)
        return results

    def _spread(self, items: list[str], state: dict, target_value: int, upward: bool, ok) -> dict | None:
        """Raise (or lower) each of `items` by one point in turn until the atom holds: several small
        moves, where moving the best item all the way is one big jump."""
        if not items:
            return None
        trial, changes = dict(state), {}
        start = {i: state.get(i) if isinstance(state.get(i), (int, float)) else 3 for i in items}
        while not ok(trial):
            moved = False
            for i in items:
                now = changes.get(i, start[i])
                if (now < target_value) if upward else (now > target_value):
                    changes[i] = trial[i] = int(now) + (1 if upward else -1) if now == int(now) else \
                        (math.ceil(now) if upward else math.floor(now))
                    moved = True
                    if ok(trial):
                        break
            if not moved:
                return None
        return {i: v for i, v in changes.items() if v != state.get(i)} or None

    def _score_closure(self, sid: str) -> dict:
        """The score and the scores it reads, in dependency order: all `ok()` needs to recompute."""
        want: set[str] = set()
        stack = [sid]
        while stack:
            s = stack.pop()
            if s not in want:
                want.add(s)
                stack += [i for i in self.kb.scores[s].inputs if i in self.kb.scores]
        return {k: v for k, v in self.kb.scores.items() if k in want}

    # ---- solving a target ---------------------------------------------------------------------------
    def candidates(self, target: str, state: dict, depth: int) -> list[dict]:
        out: list[dict] = []
        for rule in self.kb.rules_concluding(target):
            for conj in rule.dnf:
                partials: list[dict] = [{}]
                for atom in conj:
                    trial_state = dict(state)
                    options = self.solve_atom(atom, trial_state, depth)
                    if not options:
                        partials = []
                        break
                    partials = [{**p, **o} for p, o in itertools.product(partials, options[:3])]
                    partials = [p for p in partials if len(p) <= self.max_changes][:MAX_CANDIDATES]
                out += partials
        return out

    def verify(self, target: str, changes: dict) -> dict | None:
        """Repair a candidate until the target holds (up to three rounds), or give up."""
        for _ in range(3):
            trial = {**self.answers, **changes}
            trial = {k: v for k, v in trial.items() if v is not None}
            if target in diagnose(self.kb, trial, "reference").concluded_ids:
                return {k: v for k, v in changes.items() if self.answers.get(k) != v}
            more = self.candidates(target, trial, 1)
            more = [m for m in more if m]
            if not more:
                return None
            best = min(more, key=lambda m: (len(m), _movement(trial, m)))
            changes = {**changes, **best}
            if len(changes) > self.max_changes:
                return None
        return None

    def holds(self, target: str, changes: dict) -> bool:
        """Whether `changes` on the current answers conclude `target` (memoised: trims overlap)."""
        trial = {k: v for k, v in {**self.answers, **changes}.items() if v is not None}
        key = (target, tuple(sorted((k, str(v)) for k, v in trial.items())))
        if key not in self.memo:
            self.memo[key] = target in diagnose(self.kb, trial, "reference").concluded_ids
        return self.memo[key]

    def trim(self, target: str, changes: dict) -> dict:
        """Step each moved answer back towards its old value, largest jump first, while the target
        holds: the same items (or fewer), fewest points moved."""
        changes = dict(changes)
        order = sorted((i for i in changes if isinstance(changes[i], (int, float))
                        and isinstance(self.answers.get(i), (int, float))),
                       key=lambda i: (-abs(changes[i] - self.answers[i]), i))
        for item in order:
            old = self.answers[item]
            while abs(changes[item] - old) >= 1:
                step = changes[item] + (1 if old > changes[item] else -1)
                trial = dict(changes)
                if step == old:
                    del trial[item]
                else:
                    trial[item] = step
                if not self.holds(target, trial):
                    break
                changes = trial
                if item not in changes:
                    break
        return changes

    def paths_to(self, target: str, state: dict | None = None, depth: int = 2) -> list[Path]:
        saved = self.answers
        if state is not None:
            self.answers = state
        try:
            found: dict[tuple, Path] = {}
            tried: set[tuple] = set()
            for cand in self.candidates(target, self.answers, depth):
                changes = self.verify(target, cand)
                if not changes or len(changes) > self.max_changes:
                    continue
                raw = tuple(sorted((k, str(v)) for k, v in changes.items()))
                if raw in tried:
                    continue
                tried.add(raw)
                changes = self.trim(target, changes)
                path = Path(changes, _movement(self.answers, changes),
                            sum(self.leverage_of.get(i, 0) for i in changes), was=dict(self.answers))
                items = tuple(sorted(changes))             # one path per set of items moved: the smallest
                if items not in found or path.key() < found[items].key():
                    found[items] = path
            return sorted(found.values(), key=Path.key)
        finally:
            self.answers = saved


def find_paths(kb: KnowledgeBase, answer_set: AnswerSet, target: str, max_changes: int = 4,
               limit: int = 3) -> dict:
    """The report for `partnerdx path`: up to `limit` verified paths, or what blocks the target."""
    answers = answer_set.values
    before = diagnose(kb, answer_set)
    result: dict = {"target": target, "reachable": False, "already": target in before.concluded_ids, "paths": []}
    if result["already"]:
        result["reachable"] = True
        return result
    search = Search(kb, answers, max_changes)
    paths = search.paths_to(target)[:limit]
    for p in paths:
        effect = what_if(kb, answer_set, p.changes)
        if target not in effect["added"]:
            continue            # never offer a path the real engine does not confirm
        p.side_effects = {"added": [x for x in effect["added"] if x != target], "removed": effect["removed"]}
        result["paths"].append(_path_json(kb, answers, p))
    result["reachable"] = bool(result["paths"])
    if not result["reachable"]:
        result["blocked"] = why_not(kb, before, target)
    return result


def interventions_for(kb: KnowledgeBase, items: list[str]) -> list[str]:
    concepts = {c.id for c in kb.concepts.values() if set(c.data.get("items", [])) & set(items)}
    out = []
    for i in kb.interventions.values():
        if set(i.data.get("addresses", [])) & (set(items) | concepts):
            out.append(i.id)
    return out


def _path_json(kb: KnowledgeBase, answers: dict, p: Path) -> dict:
    return {
        "changes": [{"item": i, "from": answers.get(i), "to": v, "question": kb.questions[i].text}
                    for i, v in p.changes.items()],
        "movement": p.movement,
        "interventions": interventions_for(kb, list(p.changes)),
        "side_effects": p.side_effects,
    }


def path_text(kb: KnowledgeBase, result: dict) -> list[str]:
    t = result["target"]
    if result["already"]:
        return [f"{t} is already concluded."]
    if not result["reachable"]:
        lines = [f"No path to {t} within the change limit. What blocks it:"]
        from .explain import why_not_text
        return lines + why_not_text(result["blocked"])[1:]
    lines = [f"What it would take to conclude {t}:"]
    for n, p in enumerate(result["paths"], start=1):
        lines.append(f"  path {n}: {len(p['changes'])} change(s), total movement {p['movement']:g}")
        for c in p["changes"]:
            was = "unanswered" if c["from"] is None else c["from"]
            lines.append(f"    {c['item']}: {was} → {c['to']} — {c['question']}")
        if p["interventions"]:
            lines.append("    interventions: " + ", ".join(
                f"{kb.interventions[i].title} ({i})" for i in p["interventions"][:5]))
        se = p["side_effects"]
        if se.get("added") or se.get("removed"):
            lines.append(f"    also: +{', '.join(se['added']) or '—'}  −{', '.join(se['removed']) or '—'}")
    return lines




def ladders(kb: KnowledgeBase) -> dict[str, list[str]]:
    """`rules/_ladders.yaml` from the base and any overlay (a later one replaces a ladder)."""
    from .yamlio import load_yaml_file
    out: dict[str, list[str]] = {}
    for root in kb.roots:
        f = root / "rules" / "_ladders.yaml"
        if f.is_file():
            data = load_yaml_file(f) or {}
            for name, rungs in (data.get("ladders") or {}).items():
                out[name] = [r for r in rungs if r in kb.conclusion_types]
    return out


def stays(kb: KnowledgeBase) -> dict[str, list[str]]:
    """`stay:` in rules/_ladders.yaml: rung -> conclusions under which the rung suits the context."""
    from .yamlio import load_yaml_file
    out: dict[str, list[str]] = {}
    for root in kb.roots:
        f = root / "rules" / "_ladders.yaml"
        if f.is_file():
            for rung, held in ((load_yaml_file(f) or {}).get("stay") or {}).items():
                out[rung] = list(held)
    return out


def held_rungs(kb: KnowledgeBase, concluded: list[str]) -> list[tuple[str, str]]:
    """(current rung, the conclusion that says it suits the context) for rungs not to be left."""
    return [(rung, next(h for h in held if h in concluded)) for rung, held in stays(kb).items()
            if rung in concluded and any(h in concluded for h in held)]


def next_rungs(kb: KnowledgeBase, concluded: list[str]) -> list[tuple[str, str, str]]:
    """(ladder, current rung, next rung) for each ladder whose current rung is concluded, except a
    rung that suits the context (`stay:`): the seeds do not ask such a partnership to climb."""
    out = []
    held = {rung for rung, _ in held_rungs(kb, concluded)}
    for name, rungs in ladders(kb).items():
        here = [r for r in rungs if r in concluded]
        if here and here[0] not in held and rungs.index(here[0]) + 1 < len(rungs):
            out.append((name, here[0], rungs[rungs.index(here[0]) + 1]))
    return out
