"""The only module that touches durable_rules. It neutralises every hazard we measured
(see ../shared/notes/durable-rules.md), so the rest of the engine never sees the library:

- background timer threads (use-after-free segfault with delete_state): no `durable.engine.Host` is
  ever created; we drive the C engine (`durable_rules_engine`, the library's own core) directly with
  a small action loop, so no thread exists and timers are never dispatched;
- no locking in the C core: one process-wide lock around every call;
- 1,024-session cap and 32-bit sid hash collisions: exactly one short-lived session at a time, with a
  fresh counter-based sid, deleted in `finally`;
- deleting a session whose actions are still queued corrupted the heap (measured): every queued
  action is drained before `delete_state`, whatever went wrong;
- facts matching no rule are dropped with "not handled": a catch-all sink rule for answer facts and
  the session opener, conclusions asserted only where a pattern tests them, and every return code
  checked (a fact that is not handled raises, never vanishes);
- facts no rule can ever test are not asserted at all, and the answers travel in a few grouped
  facts (consecutive items, at most GROUP_SIZE, cut where their tests could open more than
  MAX_BRANCH alpha nodes at once), so there are few JSON round trips, few sink callbacks and, as
  an alternative's tests on one fact make one pattern, fewer beta nodes to allocate per session;
- error 303 (ERR_MAX_STACK_SIZE: a grouped fact satisfying the first test of more than ~64 rules at
  once) is caught: the session is drained and deleted and the diagnosis is run again, and from then
  on, with one fact per answer (FALLBACK), which gives identical results (the MAX_BRANCH cut
  makes this rare);
- errors inside actions: our own loop runs the actions, records the first error, drains the session
  and re-raises it as EngineError (durable's Python layer would have hidden it in the session state);
- "already registered" ruleset names: a versioned name per compiled knowledge base;
- registration never mutates our definition: it is serialised to JSON (a copy) before the C call;
- identical facts are rejected by content hash: every fact carries a distinct group name, and
  conclusions are asserted once each;
- no truth maintenance: every diagnosis starts from an empty session;
- Python 3.13 removed `PyEval_CallObject`, which the extension calls: it is built with
  `CPPFLAGS=-DPyEval_CallObject=PyObject_CallObject` (README; measured to build and fire on 3.11
  and 3.13, and CI tests both). Nothing here depends on the Python version.
"""
from __future__ import annotations

import itertools
import json
import threading
from typing import Any

from .errors import EngineError
from .kb import KnowledgeBase
from .model import Atom

_LOCK = threading.Lock()
_NAMES = itertools.count(1)
_SIDS = itertools.count(1)
GROUP_SIZE = 40            # at most this many ids per grouped fact ...
MAX_BRANCH = 48            # ... whose tests may open at most this many alpha nodes at once (durable's stack: 64)
FALLBACK = 1               # one fact per answer after error 303
SINK_KINDS = ("g", "z")    # grouped answers/scores and the session opener; see _Compiled for "c"

_DURABLE_OPS = {"eq": None, "ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


def _engine() -> Any:
    import durable_rules_engine   # the C core of durable-rules 2.0.28; importing it starts nothing
    return durable_rules_engine


def _test(field: str, op: str, value: Any) -> dict:
    if op == "eq":
        return {field: value}
    if op == "in":
        return {"$or": [{field: v} for v in value]} if len(value) > 1 else {field: value[0]}
    if op == "nin":
        return {"$and": [{"$neq": {field: v}} for v in value]}
    return {_DURABLE_OPS[op]: {field: value}}


class Overflow(Exception):
    """durable's error 303: a fact satisfied the first test of too many rules at once."""


def _branching(keys: set) -> int:
    """At most how many distinct tests on one id can pass at once: an upper bound on the alpha
    nodes one value of it opens in durable's network (each test counted as a node of its own)."""
    value_tests = [(op, v) for kind, _, op, v in keys if kind in ("item", "score") and op not in ("has", "lacks")]
    options = {v for kind, _, op, v in keys if op in ("has", "lacks")}
    presence = any(kind in ("answered", "unanswered") for kind, *_ in keys)
    candidates: set = set()
    for _, v in value_tests:
        for x in (v if isinstance(v, tuple) else (v,)):
            candidates.add(x)
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                candidates |= {x - 1e-6, x + 1e-6}
    from .conditions import compare
    most = max((sum(1 for op, v in value_tests if compare(op, x, list(v) if isinstance(v, tuple) else v))
                for x in candidates), default=0)
    return most + len(options) + (1 if presence else 0)


class _Plan:
    """How answers and scores become grouped facts: item/score id -> (group name, field name)."""

    def __init__(self, kb: KnowledgeBase, group_size: int, max_branch: int | None = None):
        tested_refs: set[tuple[str, str]] = set()
        self.options: dict[str, set] = {}          # multi item -> options some atom tests
        tests: dict[str, set] = {}                 # ref -> distinct tests on it
        for rule in kb.rules:
            for conj in rule.dnf:
                for a in conj:
                    if a.kind == "fact":
                        continue
                    tested_refs.add(("s" if a.kind == "score" else "i", a.ref))
                    tests.setdefault(a.ref, set()).add(a.key())
                    if a.kind == "item" and a.op in ("has", "lacks"):
                        self.options.setdefault(a.ref, set()).add(a.value)
        self.multi = {q.id for q in kb.questions.values() if q.type == "multi"}
        self.field: dict[str, str] = {}
        self.group: dict[str, str] = {}
        by_group: dict[str, list[str]] = {}
        items = [q for q in kb.questions if ("i", q) in tested_refs]
        for n, q in enumerate(items):
            self.field[q] = f"f{n}"
            by_group.setdefault("items", []).append(q)    # in knowledge-base order
        scores = [s for s in kb.scores if ("s", s) in tested_refs]
        for n, s in enumerate(scores):
            self.field[s] = f"s{n}"
            by_group.setdefault("s", []).append(s)
        self.groups: list[list[str]] = []          # ids per group, in order
        for members in by_group.values():
            chunk: list[str] = []
            load = 0
            for ident in members:
                weight = _branching(tests.get(ident, set())) if max_branch else 0
                if chunk and (len(chunk) >= group_size or (max_branch and load + weight > max_branch)):
                    self._add_group(chunk)
                    chunk, load = [], 0
                chunk.append(ident)
                load += weight
            if chunk:
                self._add_group(chunk)
        self.scores = set(scores)

    def _add_group(self, chunk: list[str]) -> None:
        name = f"g{len(self.groups)}"
        for ident in chunk:
            self.group[ident] = name
        self.groups.append(chunk)

    def option_field(self, item: str, option: str) -> str:
        return f"{self.field[item]}o{sorted(self.options[item]).index(option)}"

    def pattern_tests(self, atoms: list[Atom]) -> dict[str, list[dict]]:
        """Group name -> the value tests of one alternative on that group's fact."""
        out: dict[str, list[dict]] = {}
        for a in atoms:
            tests = out.setdefault(self.group[a.ref], [])
            f = self.field[a.ref]
            if a.kind == "answered":
                tests.append({"$ex": {f: 1}})
            elif a.kind == "unanswered":
                tests.append({"$nex": {f: 1}})
            elif a.op == "has":
                tests.append({self.option_field(a.ref, a.value): 1})
            elif a.op == "lacks":
                tests.append({self.option_field(a.ref, a.value): 0})
            else:
                tests.append(_test(f, a.op, a.value))
        return out

    def facts(self, answers: dict, scores: dict, sid: str) -> list[dict]:
        out = []
        for k, members in enumerate(self.groups):
            fact: dict[str, Any] = {"sid": sid, "t": "g", "g": f"g{k}"}
            for ident in members:
                if ident in self.scores:
                    v = scores.get(ident)
                    if v is not None:
                        fact[self.field[ident]] = v
                elif ident in answers:
                    if ident in self.multi:
                        fact[self.field[ident]] = 1
                        chosen = answers[ident]
                        for o in self.options.get(ident, ()):
                            fact[self.option_field(ident, o)] = 1 if o in chosen else 0
                    else:
                        fact[self.field[ident]] = answers[ident]
            out.append(fact)
        return out


class _Compiled:
    """One registered ruleset for one fact plan."""

    def __init__(self, backend: "DurableBackend", group_size: int, max_branch: int | None = None):
        kb = backend.kb
        self.plan = _Plan(kb, group_size, max_branch)
        tested_facts = {a.ref for r in kb.rules for conj in r.dnf for a in conj if a.kind == "fact"}
        definition: dict = {}
        self.actions: dict[str, tuple] = {}    # durable rule name -> (rule index, alternative, concludes, tested)
        for r_index, rule in enumerate(kb.rules):
            for k, conj in enumerate(rule.dnf):
                pats = [{"$and": [{"t": "c"}, {"i": ref}]} for ref in dict.fromkeys(
                    a.ref for a in conj if a.kind == "fact")]
                plain = [a for a in conj if a.kind != "fact"]
                pats += [{"$and": [{"t": "g"}, {"g": g}, *tests]}
                         for g, tests in self.plan.pattern_tests(plain).items()]
                name = f"a{len(self.actions)}"
                definition[name] = {"all": [{f"p{i}": p} for i, p in enumerate(pats)]}
                self.actions[name] = (r_index, k, rule.concludes, rule.concludes in tested_facts)
        # A sink per fact kind makes every fact "handled" (stored, never dropped). NB: a sink that
        # never completes (a second pattern nothing matches) would save the callback, but it
        # corrupted durable's heap (segfault with 10 facts), so sinks complete and do nothing.
        # Conclusion facts need none: only conclusions some pattern tests are asserted, and that
        # pattern's alpha tests (kind and id) always pass, so they are handled by construction;
        # their return code is checked all the same.
        for kind in SINK_KINDS:
            definition[f"sink_{kind}"] = {"all": [{"p0": {"t": kind}}]}
        self.sink = backend.sink
        self.name = f"partnerdx_{next(_NAMES)}"
        with _LOCK:
            try:
                self.handle = _engine().create_ruleset(self.name, json.dumps(definition, ensure_ascii=False))
            except Exception as exc:  # opaque C error codes: say which knowledge base failed
                raise EngineError(f"durable-rules rejected the compiled rules: {exc}") from None

    def run(self, answers: dict, scores: dict) -> dict[int, int]:
        """One session: assert the facts, run every action, drain, delete. rule index -> alternative."""
        engine = _engine()
        fired: dict[int, int] = {}
        concluded: set[str] = set()
        errors: list[BaseException] = []
        actions, sink, handle = self.actions, self.sink, self.handle
        with _LOCK:
            sid = str(next(_SIDS))
            state = None
            try:
                code, state = engine.assert_fact(handle, '{"sid":"%s","t":"z"}' % sid)
                self._check(code, "session opener")
                facts = self.plan.facts(answers, scores, sid)
                try:
                    if facts:
                        code, _ = engine.assert_facts(handle, json.dumps(facts, ensure_ascii=False))
                        self._check(code, "answers")
                except Exception as exc:
                    errors.append(_classify(exc))
                # Waves: drain every queued action; conclusions they draw are asserted together in
                # one call once the queue is empty (no action is then in flight), and so on.
                pending: list[dict] = []
                while True:
                    message = engine.start_action_for_state(handle, state)
                    message = message[1] if message else None
                    while message:
                        name = message[2:message.index('"', 2)]
                        if not errors:   # after an error, only drain
                            try:
                                action = actions.get(name)
                                if action is None:
                                    sink(message)
                                else:
                                    r_index, k, concludes, tested = action
                                    if r_index not in fired or k < fired[r_index]:
                                        fired[r_index] = k
                                    if concludes not in concluded:
                                        concluded.add(concludes)
                                        if tested:
                                            pending.append({"sid": sid, "t": "c", "i": concludes})
                            except Exception as exc:
                                errors.append(_classify(exc))
                        message = engine.complete_and_start_action(handle, state)
                    if not pending or errors:
                        break
                    try:
                        code, _ = engine.assert_facts(handle, json.dumps(pending, ensure_ascii=False))
                        self._check(code, "conclusion")
                    except Exception as exc:
                        errors.append(_classify(exc))
                    pending = []
            except Exception as exc:
                errors.append(_classify(exc))
            finally:
                if state is not None:
                    try:
                        engine.delete_state(handle, sid)
                    except Exception:  # no state was created: nothing to delete
                        pass
        if errors:
            first = next((e for e in errors if isinstance(e, Overflow)), errors[0])
            if isinstance(first, (EngineError, Overflow)):
                raise first
            raise EngineError(f"a rule action failed: {type(first).__name__}: {first}")
        return fired

    @staticmethod
    def _check(code: int, what: str) -> None:
        if code == 1:
            raise EngineError(f"durable-rules did not handle the {what} fact")
        if code == 2:
            raise EngineError(f"durable-rules had already observed the {what} fact")
        if code != 0:
            raise EngineError(f"durable-rules returned code {code} for the {what} fact")


def _classify(exc: BaseException) -> BaseException:
    text = str(exc)
    if "error code: 303" in text:
        return Overflow(text)
    if type(exc).__module__ == "durable_rules_engine" or type(exc).__name__ == "error":
        return EngineError(f"durable-rules failed during inference: {text}")
    return exc


class DurableBackend:
    """A compiled knowledge base registered once in durable's C engine.

    `group_size` is how many answers share one fact at most; a group is also cut where its items'
    tests could open more than `max_branch` alpha nodes at once (None: no such cut, which lets
    error 303 happen and the fallback take over). `force_fallback` starts with one fact per answer.
    Tests use all three to prove that every plan gives identical results."""

    def __init__(self, kb: KnowledgeBase, group_size: int = GROUP_SIZE, force_fallback: bool = False,
                 max_branch: int | None = MAX_BRANCH):
        self.kb = kb
        self.sink = _sink
        self._compile_lock = threading.Lock()
        self.fell_back = force_fallback
        self._grouped = None if force_fallback else _Compiled(self, group_size, max_branch)
        self._fallback: _Compiled | None = _Compiled(self, FALLBACK) if force_fallback else None

    def _fallback_compiled(self) -> "_Compiled":
        with self._compile_lock:          # two threads falling back at once compile it once
            if self._fallback is None:
                self._fallback = _Compiled(self, FALLBACK)
            return self._fallback

    def run(self, answers: dict, scores: dict) -> tuple[dict[str, int], dict]:
        """Return (rule id -> first satisfied DNF alternative, in knowledge-base order, {})."""
        compiled = self._fallback_compiled() if self.fell_back else self._grouped
        try:
            fired = compiled.run(answers, scores)
        except Overflow as exc:
            if compiled is self._fallback:
                raise EngineError(f"durable-rules overflowed even with one fact per answer: {exc}") from None
            self.fell_back = True   # error 303 depends on the rules: stay on the safe plan from now on
            try:
                fired = self._fallback_compiled().run(answers, scores)
            except Overflow as again:
                raise EngineError(f"durable-rules overflowed even with one fact per answer: {again}") from None
        rules = self.kb.rules
        return {rules[i].id: fired[i] for i in sorted(fired)}, {}


def _sink(message: Any) -> None:
    """Catch-all so that every fact is stored (unmatched facts would be silently dropped)."""
    return None
