"""The guided questionnaire's logic, independent of any screen: what to ask next, why, progress.

The terminal (`engine/ask.py`) and the web use this one class, so both ask the same questions in
the same order for the same reasons. Relevance comes from `relevance` (the graph).

How it asks is data (knowledge/_questionnaire.yaml): the order of the instruments, a plain-words
purpose per instrument, checklists (screen, then drill down: only ticked entries are rated, an
unticked one is recorded as "not present" and asked after all only when its exact value could
still change a finding) and context that removes whole instruments, with the reason shown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .conditions import atom_truth, atoms, truth
from .kb import KnowledgeBase, builtin_root
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
CHECKLIST = "checklist:"          # prefix of a checklist prompt's key: "checklist:" + instrument
SPEC_FILE = "_questionnaire.yaml"


DRILL = ":drill"                 # suffix of the drill-down prompt into a checklist's unticked entries


def is_checklist(key: str | None) -> bool:
    return bool(key) and key.startswith(CHECKLIST)


def checklist_of(key: str) -> tuple[str, bool]:
    """(instrument, whether it is the drill-down prompt) of a checklist key."""
    body = key[len(CHECKLIST):]
    return (body[:-len(DRILL)], True) if body.endswith(DRILL) else (body, False)


def scopes(kb: KnowledgeBase) -> dict[str, tuple[str, tuple[str, ...] | None]]:
    """The questionnaire's modules, read from the knowledge base's vocabulary (built-in and overlay
    `_instruments.yaml`), in SCOPES' shape: name -> (title, instruments or None for all)."""
    names = sorted(kb.modules, key=lambda m: (kb.modules[m].get("order", 1000), m))
    return {m: (kb.modules[m]["title"], kb.module_instruments(m)) for m in names}


@dataclass
class Progress:
    answered: int                 # prompts answered (a checklist counts as one)
    relevant_left: int            # prompts still to come (a checklist not yet shown counts as one)
    skipped_irrelevant: int       # questions of the scope that can no longer change anything

    @property
    def fraction(self) -> float:
        total = self.answered + self.relevant_left
        return 1.0 if total == 0 else self.answered / total


@dataclass
class Spec:
    """knowledge/_questionnaire.yaml, parsed once per knowledge base."""
    order: list[str]
    purpose: dict[str, str]
    checklists: dict[str, dict]
    modules: list[dict]           # {instruments, items, cond, reason, source}
    minutes_per_question: float
    sections: dict[str, str]      # instrument -> a heading for the review page


def spec(kb: KnowledgeBase) -> Spec:
    cache = kb.__dict__.setdefault("_backends", {})
    if "_questionnaire_spec" not in cache:
        cache["_questionnaire_spec"] = _load_spec(kb)
    return cache["_questionnaire_spec"]


def _load_spec(kb: KnowledgeBase) -> Spec:
    from . import conditions
    from .errors import InputError
    from .yamlio import load_yaml_file
    path = Path(builtin_root()) / "knowledge" / SPEC_FILE
    doc = load_yaml_file(path) if path.exists() else {}
    problems: list = []
    modules = []
    for n, m in enumerate(doc.get("modules") or []):
        cond = conditions.parse(m.get("when"), str(path), f"modules[{n}]", problems)
        modules.append({"instruments": list(m.get("instruments") or []), "items": list(m.get("items") or []),
                        "cond": cond, "reason": str(m.get("reason", "")), "source": dict(m.get("source") or {})})
    if problems:
        raise InputError(problems)
    return Spec(list(doc.get("order") or []), dict(doc.get("purpose") or {}),
                {k: dict(v) for k, v in (doc.get("checklists") or {}).items()}, modules,
                float(doc.get("minutes_per_question", 0.3)), dict(doc.get("sections") or {}))


class Questionnaire:
    def __init__(self, kb: KnowledgeBase, scope: str, answers: dict | None = None, skipped: list | None = None,
                 checklists: dict | None = None):
        modules = scopes(kb)
        if scope not in modules:
            raise ValueError(scope)
        self.kb, self.scope = kb, scope
        self.spec = spec(kb)
        raw = dict(answers or {})
        # checklists: instrument -> {"ticked": [...], "defaulted": [...], "skipped": bool}; the web keeps
        # each one as an answer row keyed CHECKLIST + instrument, so accept it inside answers too.
        self.checklists: dict = {k: _record(v) for k, v in (checklists or {}).items()}
        for key in [k for k in raw if is_checklist(k)]:
            self.checklists[key[len(CHECKLIST):]] = _record(raw.pop(key))
        self.answers: dict = raw
        self.skipped: list = list(skipped or [])
        instruments = modules[scope][1]
        always = kb.always_asked
        self.scope_items = [q for q, e in kb.questions.items()
                            if e.data["instrument"] in always or instruments is None or e.data["instrument"] in instruments]
        self._cache: tuple | None = None

    # ---- what is asked ----------------------------------------------------------------------------
    def instrument(self, item: str) -> str:
        return self.kb.questions[item].data["instrument"]

    def removed(self) -> list[dict]:
        """Instruments or items that the context answers rule out, with the reason (unknown context
        removes nothing)."""
        out = []
        for m in self.spec.modules:
            if m["cond"] is None:
                continue
            if truth(m["cond"], lambda a: atom_truth(a, self.answers, {}, set())) is False:
                items = [q for q in self.scope_items if q in m["items"] or self.instrument(q) in m["instruments"]]
                if items:
                    out.append({"items": items, "reason": m["reason"], "source": m["source"]})
        return out

    @property
    def items(self) -> list[str]:
        """The questions of this scope that the context has not ruled out."""
        gone = {q for r in self.removed() for q in r["items"]}
        return [q for q in self.scope_items if q not in gone]

    def group(self, instrument: str) -> str | None:
        """The checklist an instrument's items are screened by (one checklist may cover several)."""
        for name, data in self.spec.checklists.items():
            if instrument in data.get("instruments", [name]):
                return name
        return None

    def checklist_items(self, name: str) -> list[str]:
        covered = self.spec.checklists.get(name, {}).get("instruments", [name])
        return [q for q in self.items if self.instrument(q) in covered]

    @property
    def screened(self) -> dict:
        """Items recorded by a checklist and not rated since: item -> the range they stand for."""
        out = {}
        for instrument, rec in self.checklists.items():
            lo, hi = self.spec.checklists.get(instrument, {}).get("means", [1, 5])
            for q in rec["defaulted"]:
                span = tuple(rec["ranges"].get(q, (lo, hi)))
                if q in self.answers and span[0] < span[1]:       # a single value is simply the answer
                    out[q] = span
        return out

    def _key(self) -> tuple:
        return (tuple(sorted((k, str(v)) for k, v in self.answers.items())), tuple(sorted(self.screened.items())))

    @property
    def status(self) -> Status:
        key = self._key()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, rule_status(self.kb, self.answers, self.screened))
        return self._cache[1]

    @cached_property
    def scope_rules(self) -> set[str]:
        """Rules fed by an item of this scope (other than context): the conclusions the scope can reach."""
        import networkx as nx
        g = self.kb.graph
        out: set[str] = set()
        for q in self.scope_items:
            if self.kb.questions[q].data["instrument"] not in self.kb.always_asked:
                out |= {n[5:] for n in nx.descendants(g, q) if n.startswith("rule:")}
        return out

    def relevant(self) -> list[str]:
        """Items still worth asking, in the order they are asked (instrument order, then KB order)."""
        skipped_lists = {i for i, r in self.checklists.items() if r.get("skipped")}
        active = set(self.items)
        weights: dict = {}
        found = relevant_items(self.kb, self.answers, active, self.status, self.scope_rules, self.screened, weights)
        found = [q for q in found if self.group(self.instrument(q)) not in skipped_lists]
        order = {name: n for n, name in enumerate(self.spec.order)}
        # Within an instrument, the item tested by the most undecided findings first: its answer
        # settles the most, so fewer questions follow.
        return sorted(found, key=lambda q: (order.get(self.instrument(q), len(order)), -weights.get(q, 0)))

    def next_item(self) -> str | None:
        """The next prompt: an item id, or CHECKLIST + instrument when that instrument's checklist
        has not been answered yet."""
        for q in self.items:
            if self.instrument(q) in self.kb.always_asked and q not in self.answers and q not in self.skipped:
                return q
        relevant = [q for q in self.relevant() if q not in self.skipped]
        screened = self.screened
        # Drill down into a checklist's unticked entries only once no other prompt is left: a later
        # checklist or rating often settles the finding that made their exact value matter.
        for q in [q for q in relevant if q not in screened] + [q for q in relevant if q in screened]:
            group = self.group(self.instrument(q))
            if group and group not in self.checklists:
                return CHECKLIST + group
            if q in screened and group:
                return CHECKLIST + group + DRILL
            return q
        return None

    def drill_items(self, instrument: str) -> list[str]:
        """Entries of a checklist recorded as a range whose exact value can still change a finding:
        those sharing the first one's range, so that one drill-down question fits them all."""
        screened = self.screened
        found = [q for q in self.relevant() if q in screened and self.group(self.instrument(q)) == instrument
                 and q not in self.skipped]
        return [q for q in found if screened[q] == screened[found[0]]]

    def progress(self) -> Progress:
        relevant = [q for q in self.relevant() if q not in self.skipped]
        prompts, pending = 0, set()
        for q in relevant:
            group = self.group(self.instrument(q))
            if group and group not in self.checklists:
                pending.add(group)
            else:
                prompts += 1
        defaulted = self.recorded()
        answered = sum(1 for q in self.items if q in self.answers and q not in defaulted)
        answered += sum(1 for i in self.checklists if any(q in self.scope_items for q in self.checklist_items(i)))
        irrelevant = sum(1 for q in self.items if q not in self.answers and q not in self.skipped and q not in relevant)
        return Progress(answered, prompts + len(pending), irrelevant)

    def certain(self) -> list[str]:
        """Conclusions (not recommendations) in scope that no further answer can remove."""
        out = []
        for rid in self.status.certain:
            rule = self.kb.rules_by_id[rid]
            if rule.kind == "conclusion" and rid in self.scope_rules and rule.concludes not in out:
                out.append(rule.concludes)
        return out

    def why(self, item: str) -> list[dict]:
        """The undecided conclusions this item (or checklist) can still change, with their sources."""
        if is_checklist(item):
            seen, out = set(), []
            instrument, drill = checklist_of(item)
            for q in (self.drill_items(instrument) if drill else self.checklist_items(instrument)):
                for r in self.why(q):
                    if r["rule"] not in seen:
                        seen.add(r["rule"])
                        out.append(r)
            return out
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

    def purpose(self, key: str) -> str:
        """Why a question is asked, in plain words that name no finding (shown to respondents)."""
        instrument = checklist_of(key)[0] if is_checklist(key) else self.instrument(key)
        return self.spec.purpose.get(instrument, "This question helps describe how the partnership works.")

    def section_title(self, instrument: str) -> str:
        return self.spec.sections.get(instrument, instrument.replace("_", " ").capitalize())

    def checklist(self, key: str) -> dict:
        """What a checklist prompt shows: title, text, the entries and which are ticked now."""
        instrument, drill = checklist_of(key)
        data = self.spec.checklists[instrument]
        rec = self.checklists.get(instrument)
        ticked = set(rec["ticked"]) if rec and not drill else set()
        items = self.drill_items(instrument) if drill else self.checklist_items(instrument)
        pole = data.get("entry_text")          # bipolar items: show one pole's description to tick
        entries = [{"id": q, "title": self.kb.questions[q].title,
                    "text": (self.kb.questions[q].data.get("scale") or {}).get(pole) or self.kb.questions[q].text
                    if pole else self.kb.questions[q].text,
                    "ticked": q in ticked} for q in items]
        title, text, label = data.get("title", ""), data.get("text", ""), data.get("unticked_label", "")
        if drill and items:
            lo, hi = self.screened[items[0]]
            title = f"{data.get('drill_title', 'A closer look')}"
            text = (f"How strongly each of these is there still matters. Tick each one you "
                    f"would rate {hi:g} out of 5; the others are recorded as below {hi:g}.")
            label = f"below {hi:g}"
        return {"key": key, "instrument": instrument, "title": title, "text": text, "drill": drill,
                "unticked_label": label, "entries": entries}

    def from_checklists(self) -> list[tuple[str, str]]:
        """(item, label) of every answer recorded by a checklist rather than rated: for the report."""
        return [(q, self.checklist_label(q)) for rec in self.checklists.values()
                for q in rec["defaulted"] if q in self.answers]

    def recorded(self) -> set[str]:
        """Items whose answer a checklist (or its drill-down) recorded: not prompts of their own."""
        return {q for rec in self.checklists.values() for q in rec["defaulted"] if q in self.answers}

    def checklist_label(self, item: str) -> str:
        """What an answer recorded by a checklist stands for, and whether it was ticked."""
        group = self.group(self.instrument(item)) or self.instrument(item)
        data, rec = self.spec.checklists.get(group, {}), self.checklists.get(group) or _record(None)
        span = rec["ranges"].get(item)
        if span and span[0] == span[1]:
            return f"{span[0]:g} (narrowed down by the checklists)"
        if item in rec["ticked"]:
            return f"{data.get('ticked_label', '')} (ticked in the checklist)"
        return f"{data.get('unticked_label', '')} (not ticked in the checklist)"

    # ---- changes ----------------------------------------------------------------------------------
    def answer(self, item: str, value) -> None:
        for rec in self.checklists.values():
            if item in rec["defaulted"]:
                rec["defaulted"].remove(item)
        if value is None:
            self.answers.pop(item, None)
            if item not in self.skipped:
                self.skipped.append(item)
        else:
            self.answers[item] = value
            if item in self.skipped:
                self.skipped.remove(item)

    def answer_checklist(self, key: str, ticked: list[str]) -> None:
        """Tick some entries: those are asked next; every other entry is recorded as the checklist's
        unticked value (1, not present) until, if ever, its exact value is asked for."""
        instrument, drill = checklist_of(key)
        if drill:
            self._narrow(instrument, ticked)
            return
        data = self.spec.checklists[instrument]
        old = self.checklists.get(instrument) or _record(None)
        entries = self.checklist_items(instrument)
        chosen = [q for q in entries if q in set(ticked)]
        defaulted, ranges = [], {}
        for q in entries:
            if q in chosen and "ticked_means" in data:
                # a ticked entry stands for a range too (e.g. 4-5): narrowed by a drill-down, not rated
                if q in old["defaulted"] or q not in self.answers or q in old["ticked"]:
                    self.answers[q] = data["ticked"]
                    defaulted.append(q)
                    ranges[q] = list(data["ticked_means"])
                    if q in self.skipped:
                        self.skipped.remove(q)
            elif q in chosen:
                if q in old["defaulted"]:
                    self.answers.pop(q, None)
            elif q in old["defaulted"] or q not in self.answers or old["ticked"] and q in old["ticked"]:
                self.answers[q] = data["unticked"]
                defaulted.append(q)
                if q in self.skipped:
                    self.skipped.remove(q)
        self.checklists[instrument] = {"ticked": chosen, "defaulted": defaulted, "skipped": False, "ranges": ranges}

    def _narrow(self, instrument: str, ticked: list[str]) -> None:
        """Drill down: a ticked entry takes the top of its range (now an answer); the others keep
        the rest of the range, still recorded as the checklist's value if it lies inside."""
        rec = self.checklists[instrument]
        for q in self.drill_items(instrument):
            lo, hi = self.screened[q]
            if q in ticked:
                # still recorded by the checklist (not a prompt of its own), now at one value
                self.answers[q] = int(hi) if float(hi).is_integer() else hi
                rec["ranges"][q] = [hi, hi]
            else:
                rec["ranges"][q] = [lo, hi - 1]
                if not lo <= self.answers.get(q, lo) <= hi - 1:
                    self.answers[q] = int(lo) if float(lo).is_integer() else lo

    def skip_checklist(self, key: str) -> None:
        """"Don't know": none of the entries is recorded or asked."""
        instrument, drill = checklist_of(key)
        if drill:
            for q in self.drill_items(instrument):
                self.answer(q, None)
            return
        self.undo(key)
        self.checklists[instrument] = {"ticked": [], "defaulted": [], "skipped": True, "ranges": {}}

    def undo(self, item: str) -> None:
        if is_checklist(item):
            instrument, drill = checklist_of(item)
            if drill:
                rec = self.checklists.get(instrument)
                if rec:
                    rec["ranges"].clear()
                    span = self.spec.checklists.get(instrument, {}).get("ticked_means")
                    if span:
                        rec["ranges"].update({q: list(span) for q in rec["ticked"] if q in rec["defaulted"]})
                return
            rec = self.checklists.pop(instrument, None)
            for q in (rec or {}).get("defaulted", []):
                self.answers.pop(q, None)
            return
        self.answers.pop(item, None)
        if item in self.skipped:
            self.skipped.remove(item)
        for rec in self.checklists.values():
            if item in rec["defaulted"]:
                rec["defaulted"].remove(item)

    def records(self) -> dict:
        """The checklists' state to save (the web stores each under CHECKLIST + instrument)."""
        return {CHECKLIST + i: dict(r) for i, r in self.checklists.items()}


def _record(value) -> dict:
    value = value if isinstance(value, dict) else {}
    return {"ticked": list(value.get("ticked") or []), "defaulted": list(value.get("defaulted") or []),
            "skipped": bool(value.get("skipped", False)), "ranges": dict(value.get("ranges") or {})}


def estimate(kb: KnowledgeBase, scope: str) -> dict:
    """How long a scope takes, said before starting: the prompts a respondent with middling answers
    (3 on every scale, no checklist entry ticked, every instrument kept) would see."""
    cache = kb.__dict__.setdefault("_backends", {}).setdefault("_questionnaire_estimates", {})
    if scope not in cache:
        q = Questionnaire(kb, scope)
        prompts = 0
        while (key := q.next_item()) is not None and prompts < 500:
            prompts += 1
            if is_checklist(key):
                q.answer_checklist(key, [])
                continue
            entry = kb.questions[key]
            if entry.type == "rated":
                q.answer(key, 3)
            else:
                values = [o["value"] for o in entry.data["options"]]
                q.answer(key, values if entry.type == "multi" else values[-1])
        minutes = max(1, math.ceil(prompts * spec(kb).minutes_per_question))
        cache[scope] = {"questions": prompts, "minutes": minutes}
    return cache[scope]
