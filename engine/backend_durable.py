"""The only module that touches durable_rules. It neutralises every hazard we measured
(see ../shared/notes/durable-rules.md), so the rest of the engine never sees the library:

- background timer threads (use-after-free segfault with delete_state): a Host whose `_run` does nothing;
- no locking in the C core: one process-wide lock around every call;
- 1,024-session cap and 32-bit sid hash collisions: exactly one short-lived session at a time, with a
  fresh counter-based sid, deleted in `finally`;
- facts matching no rule are dropped with MessageNotHandledException: a catch-all sink rule per fact kind;
- facts no rule can ever test are not asserted at all (fewer JSON round trips and callbacks);
- errors inside actions end up in the session state: checked after every call and re-raised as ours;
- "already registered" ruleset names: a versioned name per compiled knowledge base;
- registration mutates the definition (pops "run"): a deep copy is registered;
- identical facts are rejected by content hash: conclusions are asserted once each;
- no truth maintenance: every diagnosis starts from an empty session.
"""
from __future__ import annotations

import copy
import itertools
import threading
import warnings
from typing import Any

from .errors import EngineError
from .kb import KnowledgeBase
from .model import Atom

_LOCK = threading.Lock()
_HOST: Any = None
_NAMES = itertools.count(1)
_SIDS = itertools.count(1)
FACT_KINDS = ("a", "u", "m", "ml", "ma", "s", "c")

_DURABLE_OPS = {"eq": None, "ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


def _host() -> Any:
    global _HOST
    if _HOST is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from durable.engine import Host

        class QuietHost(Host):  # type: ignore[misc, valid-type]
            def _run(self) -> None:  # no dispatch/timer threads: they raced delete_state into a segfault
                return None

        _HOST = QuietHost()
    return _HOST


def _test(field: str, op: str, value: Any) -> dict:
    if op == "eq":
        return {field: value}
    if op == "in":
        return {"$or": [{field: v} for v in value]} if len(value) > 1 else {field: value[0]}
    if op == "nin":
        return {"$and": [{"$neq": {field: v}} for v in value]}
    return {_DURABLE_OPS[op]: {field: value}}


def _fact_key(atom: Atom, multi: set[str]) -> tuple:
    """Which asserted fact an atom tests. durable binds each fact to one pattern per match, so
    every atom on the same fact must become one pattern (e.g. 2.5 <= mean < 3.5)."""
    if atom.kind == "fact":
        return ("c", atom.ref)
    if atom.kind == "score":
        return ("s", atom.ref)
    if atom.kind == "unanswered":
        return ("u", atom.ref)
    if atom.kind == "answered":
        return ("ma" if atom.ref in multi else "a", atom.ref)
    if atom.op in ("has", "lacks"):
        return ("m" if atom.op == "has" else "ml", atom.ref, atom.value)
    return ("a", atom.ref)


def patterns(conj: list[Atom], multi: set[str]) -> list[dict]:
    """One durable pattern per distinct fact an alternative tests, with all its value tests."""
    groups: dict[tuple, list[Atom]] = {}
    for atom in conj:
        groups.setdefault(_fact_key(atom, multi), []).append(atom)
    out = []
    for key, atoms in groups.items():
        tests: list[dict] = [{"t": key[0]}, {"i": key[1]}]
        if len(key) == 3:
            tests.append({"v": key[2]})
        for atom in atoms:
            if atom.kind in ("item", "score") and atom.op not in ("has", "lacks"):
                tests.append(_test("v", atom.op, atom.value))
        out.append({"$and": tests})
    return out


class DurableBackend:
    """A compiled knowledge base registered once in the process-wide durable host."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.multi = {q.id for q in kb.questions.values() if q.type == "multi"}
        self.name = f"partnerdx_{next(_NAMES)}"
        self.tested: set[tuple] = set()       # (fact kind, id) pairs some pattern tests
        self._run_state: dict | None = None
        definition: dict = {}
        for r_index, rule in enumerate(kb.rules):
            for k, conj in enumerate(rule.dnf):
                pats = patterns(conj, self.multi)
                self.tested |= {(_fact_key(a, self.multi)[0], a.ref) for a in conj}
                definition[f"r{r_index}_{k}"] = {
                    "all": [{f"p{i}": p} for i, p in enumerate(pats)],
                    "run": self._action(r_index, k, len(pats)),
                }
        for kind in FACT_KINDS:
            # A sink makes every fact "handled" (stored, never silently dropped). NB: a sink that
            # never completes (a second pattern nothing matches) would save the callback, but it
            # corrupted durable's heap (segfault with 10 facts), so sinks fire and do nothing.
            definition[f"sink_{kind}"] = {"all": [{"p0": {"t": kind}}], "run": _sink}
        with _LOCK:
            try:
                _host().register_rulesets({self.name: copy.deepcopy(definition)})
            except Exception as exc:  # opaque C error codes: say which knowledge base failed
                raise EngineError(f"durable-rules rejected the compiled rules: {exc}") from None

    def _action(self, r_index: int, k: int, width: int):
        rule = self.kb.rules[r_index]

        def fire(c: Any) -> None:
            state = self._run_state
            if state is None:  # a stray call outside run(): never mix sessions
                raise EngineError("rule fired outside a diagnosis")
            matched = {}
            for i in range(width):
                fact = getattr(c, f"p{i}")
                matched[fact["i"]] = fact["v"] if "v" in fact._d else None
            state["fired"].setdefault(rule.id, []).append((k, matched))
            if rule.concludes not in state["concluded"]:
                state["concluded"].add(rule.concludes)
                c.assert_fact({"t": "c", "i": rule.concludes})

        return fire

    def facts(self, answers: dict, scores: dict, sid: str) -> list[dict]:
        """The answers and scores as facts, leaving out those no pattern could ever match."""
        tested = self.tested
        out: list[dict] = []
        for item, q in self.kb.questions.items():
            if item not in answers:
                if ("u", item) in tested:
                    out.append({"sid": sid, "t": "u", "i": item})
            elif item in self.multi:
                if ("ma", item) in tested:
                    out.append({"sid": sid, "t": "ma", "i": item})
                chosen = answers[item]
                out += [{"sid": sid, "t": t, "i": item, "v": o} for o in q.options
                        for t in ("m" if o in chosen else "ml",) if (t, item) in tested]
            elif ("a", item) in tested:
                out.append({"sid": sid, "t": "a", "i": item, "v": answers[item]})
        out += [{"sid": sid, "t": "s", "i": s, "v": v} for s, v in scores.items() if v is not None and ("s", s) in tested]
        return out

    def run(self, answers: dict, scores: dict) -> tuple[dict[str, int], dict[str, dict]]:
        """Return (rule id -> first satisfied DNF alternative, rule id -> facts it matched)."""
        with _LOCK:
            host = _host()
            sid = str(next(_SIDS))
            self._run_state = {"fired": {}, "concluded": set()}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    result = host.assert_facts(self.name, self.facts(answers, scores, sid))
                if isinstance(result, dict) and result.get("exception"):
                    raise EngineError(f"a rule action failed: {result['exception']}")
                fired_all = self._run_state["fired"]
            except EngineError:
                raise
            except Exception as exc:
                raise EngineError(f"durable-rules failed during inference: {type(exc).__name__}: {exc}") from None
            finally:
                self._run_state = None
                try:
                    host.delete_state(self.name, sid)
                except Exception:  # no state was created: nothing to delete
                    pass
        fired: dict[str, int] = {}
        matched: dict[str, dict] = {}
        for rule_id, hits in fired_all.items():
            k, facts = min(hits, key=lambda h: h[0])
            fired[rule_id] = k
            matched[rule_id] = facts
        return fired, matched


def _sink(c: Any) -> None:
    """Catch-all so that every fact is stored (unmatched facts would be silently dropped)."""
    return None
