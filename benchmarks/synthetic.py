"""Synthetic rule bases for the peer comparison: one description, four engines.

A description has 60 rated items in three instruments of 20 and R rules in two layers, shaped like
ours: layer 1 (80 %) concludes from two or three thresholds on items, often of different instruments
(a join across facts); layer 2 (20 %) concludes from two layer-1 conclusions and one threshold (a join
of derived facts with answers). From it come:

- partnerdx YAML (`write_partnerdx(desc, DIR)`: DIR/knowledge and DIR/rules, loaded with
  `engine.kb.load_kb(root=DIR)`);
- CLIPS constructs (`clips_constructs(desc)`, run with clipspy);
- an Experta KnowledgeEngine class (`experta_engine(desc)`).

Every engine returns, per session, the frozenset of conclusion ids; the benchmark checks that all
are identical. Sessions are 60 answers each, 1-5, from a seeded generator.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import yaml

N_ITEMS = 60
INSTRUMENTS = ("table1", "table2", "failure")      # 20 items each (instrument names the schema allows)
OPS = {"gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}


@dataclass(frozen=True)
class Test:
    item: str
    op: str
    value: int


@dataclass(frozen=True)
class SynRule:
    id: str
    concludes: str
    tests: tuple          # Test, ...
    facts: tuple          # conclusion ids this rule needs (layer 2)


@dataclass
class Description:
    items: list
    rules: list


def item_id(n: int) -> str:
    return f"syn.x{n + 1:02d}"


def describe(r: int, seed: int = 1) -> Description:
    rng = random.Random(seed * 7919 + r)
    items = [item_id(n) for n in range(N_ITEMS)]
    layer1 = max(1, int(r * 0.8))
    rules: list[SynRule] = []

    def threshold() -> tuple[str, int]:
        op = rng.choice(("gte", "lte", "gt", "lt"))
        value = {"gte": rng.choice((3, 4)), "lte": rng.choice((2, 3)), "gt": rng.choice((2, 3)),
                 "lt": rng.choice((3, 4))}[op]
        return op, value

    for n in range(layer1):
        k = rng.choice((2, 2, 3))
        chosen = rng.sample(items, k)
        tests = tuple(Test(i, *threshold()) for i in chosen)
        rules.append(SynRule(f"syn.r{n:04d}", f"syn.c{n:04d}", tests, ()))
    for n in range(layer1, r):
        a, b = rng.sample(range(layer1), 2) if layer1 > 1 else (0, 0)
        tests = (Test(rng.choice(items), *threshold()),)
        rules.append(SynRule(f"syn.r{n:04d}", f"syn.d{n:04d}", tests,
                             tuple(dict.fromkeys((f"syn.c{a:04d}", f"syn.c{b:04d}")))))
    return Description(items, rules)


def sessions(count: int, seed: int = 2) -> list[dict]:
    rng = random.Random(seed)
    return [{item_id(n): rng.randint(1, 5) for n in range(N_ITEMS)} for _ in range(count)]


def expected(desc: Description, answers: dict) -> frozenset:
    """The conclusions by plain evaluation of the description (a check on the check)."""
    ops = {"gte": lambda x, v: x >= v, "lte": lambda x, v: x <= v, "gt": lambda x, v: x > v, "lt": lambda x, v: x < v}
    out: set = set()
    for rule in desc.rules:      # layer 2 comes after layer 1
        if all(ops[t.op](answers[t.item], t.value) for t in rule.tests) and all(f in out for f in rule.facts):
            out.add(rule.concludes)
    return frozenset(out)


# ---- partnerdx ----------------------------------------------------------------------------------

def write_partnerdx(desc: Description, root: Path) -> Path:
    """A knowledge base directory: knowledge/sources.yaml, knowledge/questions/, rules/."""
    cite = {"ref": "synthetic", "at": "generated", "quote": "synthetic benchmark"}
    (root / "knowledge" / "questions").mkdir(parents=True, exist_ok=True)
    (root / "rules").mkdir(parents=True, exist_ok=True)
    dump = lambda doc, path: path.write_text(yaml.safe_dump(doc, sort_keys=False, width=200))  # noqa: E731
    dump({"kind": "source", "family": "sources", "entries": [{
        "id": "synthetic", "title": "Synthetic benchmark", "authors": ["benchmarks/synthetic.py"],
        "year": None, "published": "generated", "seed": "none.txt"}]}, root / "knowledge" / "sources.yaml")
    questions = [{"id": q, "instrument": INSTRUMENTS[n // 20], "title": f"Item {n + 1}", "text": f"Synthetic item {n + 1}",
                  "help": "Generated for the benchmark.",
                  "type": "rated", "scale": {"low": "low", "high": "high"}, "source": cite}
                 for n, q in enumerate(desc.items)]
    dump({"kind": "question", "family": "synthetic", "entries": questions},
         root / "knowledge" / "questions" / "synthetic.yaml")
    rules = []
    for rule in desc.rules:
        parts = [{"fact": f} for f in rule.facts] + [{"item": t.item, t.op: t.value} for t in rule.tests]
        rules.append({"id": rule.id, "title": f"Synthetic rule {rule.id}", "when": {"all": parts},
                      "then": {"conclude": rule.concludes, "type": "fit" if rule.facts else "risk"},
                      "because": "synthetic", "source": cite, "basis": "expert-judgement", "examples": []})
    dump({"kind": "rules", "family": "synthetic", "rules": rules}, root / "rules" / "synthetic.yaml")
    return root


# ---- CLIPS (clipspy) ----------------------------------------------------------------------------

def _clips_name(ident: str) -> str:
    return ident.replace(".", "-")


def clips_constructs(desc: Description) -> str:
    """Answers are template facts (a (i ITEM) (v VALUE)); conclusions ordered facts (c ID)."""
    out = ["(deftemplate a (slot i) (slot v))"]
    for rule in desc.rules:
        ces = [f"(c {_clips_name(f)})" for f in rule.facts]
        for n, t in enumerate(rule.tests):
            ces.append(f"(a (i {_clips_name(t.item)}) (v ?v{n}&:({OPS[t.op]} ?v{n} {t.value})))")
        out.append(f"(defrule {_clips_name(rule.id)} {' '.join(ces)} => (assert (c {_clips_name(rule.concludes)})))")
    return "\n".join(out)


class ClipsRunner:
    """One environment, reset per session; answers asserted through the template API (the fastest
    clipspy path we measured: `eval` of one big `assert` parses slower), conclusions read back with
    one deffunction call rather than iterating fact objects."""

    def __init__(self, desc: Description):
        import clips
        self.env = clips.Environment()
        for construct in clips_constructs(desc).splitlines():
            self.env.build(construct)
        self.env.build("(deffunction conclusions () (bind ?r (create$))"
                       " (do-for-all-facts ((?f c)) TRUE (bind ?r (create$ ?r (nth$ 1 ?f:implied)))) ?r)")
        self.back = {_clips_name(r.concludes): r.concludes for r in desc.rules}
        self.template = self.env.find_template("a")
        self.symbols = {i: clips.Symbol(_clips_name(i)) for i in desc.items}

    def __call__(self, answers: dict) -> frozenset:
        env, new, symbols = self.env, self.template.assert_fact, self.symbols
        env.reset()
        for item, value in answers.items():
            new(i=symbols[item], v=value)
        env.run()
        return frozenset(self.back[str(s)] for s in env.eval("(conclusions)"))


# ---- Experta ------------------------------------------------------------------------------------

def _experta():
    """Import experta; its pinned frozendict 1.2 needs collections.Mapping (gone since 3.10)."""
    import collections
    import collections.abc
    for name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable", "Hashable"):
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    import experta
    return experta


def experta_engine(desc: Description):
    ex = _experta()

    class A(ex.Fact):
        pass

    class C(ex.Fact):
        pass

    cmp = {"gte": lambda v: (lambda x: x >= v), "lte": lambda v: (lambda x: x <= v),
           "gt": lambda v: (lambda x: x > v), "lt": lambda v: (lambda x: x < v)}
    methods = {}
    for rule in desc.rules:
        ces = [C(id=f) for f in rule.facts] + [A(item=t.item, value=ex.P(cmp[t.op](t.value))) for t in rule.tests]

        def action(self, _c=rule.concludes):
            self.declare(C(id=_c))
        methods[_clips_name(rule.id).replace("-", "_")] = ex.Rule(ex.AND(*ces))(action)
    engine_cls = type("SyntheticEngine", (ex.KnowledgeEngine,), methods)
    return engine_cls, A, C


class ExpertaRunner:
    def __init__(self, desc: Description):
        cls, self.A, self.C = experta_engine(desc)
        self.engine = cls()

    def __call__(self, answers: dict) -> frozenset:
        e = self.engine
        e.reset()
        e.declare(*(self.A(item=i, value=v) for i, v in answers.items()))
        e.run()
        return frozenset(f["id"] for f in e.facts.values() if isinstance(f, self.C))
