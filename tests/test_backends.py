"""durable-rules and the plain-Python reference evaluator agree, and the durable hazards stay shut."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from partnerdx.explain import diagnosis_json
from partnerdx.inference import diagnose
from partnerdx.kb import load_kb

KB = load_kb()
RATED = [q for q, e in KB.questions.items() if e.type == "rated"]


@st.composite
def answer_sets(draw):
    chosen = draw(st.lists(st.sampled_from(RATED), unique=True, max_size=len(RATED)))
    answers = {q: draw(st.integers(1, 5)) for q in chosen}
    for q, e in KB.questions.items():
        if e.type == "choice" and draw(st.booleans()):
            answers[q] = draw(st.sampled_from(e.options))
        if e.type == "multi" and draw(st.booleans()):
            answers[q] = sorted(draw(st.sets(st.sampled_from(e.options))), key=e.options.index)
    return answers


def both(answers):
    return (diagnosis_json(KB, diagnose(KB, answers, "durable")),
            diagnosis_json(KB, diagnose(KB, answers, "reference")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets())
def test_durable_and_reference_agree_on_conclusions_and_justifications(answers):
    durable, reference = both(answers)
    assert durable == reference


@pytest.mark.parametrize("value", [1, 2, 3, 4, 5])
def test_agree_on_uniform_answers(value):
    durable, reference = both({q: value for q in RATED})
    assert durable == reference


def test_more_sessions_than_durables_cap_in_one_process():
    """durable-rules corrupts itself past 1,024 open sessions; ours are deleted after each run."""
    answers = {q: 3 for q in RATED}
    first = diagnosis_json(KB, diagnose(KB, answers))
    for _ in range(1100):
        diagnose(KB, answers)
    assert diagnosis_json(KB, diagnose(KB, answers)) == first


def test_threads_interleaved_give_each_result_alone():
    from concurrent.futures import ThreadPoolExecutor
    import random
    rng = random.Random(7)
    sets = [{q: rng.randint(1, 5) for q in RATED if rng.random() < 0.7} for _ in range(30)]
    alone = [diagnosis_json(KB, diagnose(KB, s, "reference")) for s in sets]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda s: diagnosis_json(KB, diagnose(KB, s)), sets * 3))
    assert got == alone * 3


def test_a_failing_action_surfaces_as_engine_error(monkeypatch):
    """durable-rules keeps exceptions raised in actions in the session state; we re-raise them."""
    from partnerdx import backend_durable
    from partnerdx.errors import EngineError

    def explode(c):
        raise RuntimeError("boom")

    monkeypatch.setattr(backend_durable, "_sink", explode)
    broken = backend_durable.DurableBackend(KB)
    with pytest.raises(EngineError, match="boom"):
        broken.run({q: 3 for q in RATED}, {})
    # and the process-wide host still works for everyone else afterwards
    assert diagnose(KB, {q: 3 for q in RATED}).conclusions


def test_yaml_python_tags_are_refused(tmp_path):
    from partnerdx.errors import InputError
    from partnerdx.yamlio import parse_yaml
    with pytest.raises(InputError) as info:
        parse_yaml("x: !!python/object/apply:os.system ['true']\n", "t.yaml")
    assert "could not determine a constructor" in str(info.value)


# ---- grouped answer facts and the error-303 fallback ---------------------------------------------

def _random_sets(count: int, seed: int) -> list[dict]:
    import random
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        answers = {q: rng.randint(1, 5) for q in RATED if rng.random() < 0.8}
        for q, e in KB.questions.items():
            if e.type == "choice" and rng.random() < 0.5:
                answers[q] = rng.choice(e.options)
            if e.type == "multi" and rng.random() < 0.5:
                answers[q] = [o for o in e.options if rng.random() < 0.5]
        out.append(answers)
    return out


def test_grouped_and_one_fact_per_answer_plans_agree_with_the_reference():
    """Answers travel in grouped facts; the fallback (one fact per answer) and other group sizes
    must give exactly what the reference evaluator gives."""
    from partnerdx import backend_reference
    from partnerdx import scores as scoring
    from partnerdx.backend_durable import DurableBackend
    plans = [DurableBackend(KB), DurableBackend(KB, group_size=5), DurableBackend(KB, force_fallback=True)]
    for answers in _random_sets(60, seed=11) + [{}]:
        values = {k: v.value for k, v in scoring.compute(KB.scores, answers).items()}
        expected = backend_reference.run(KB, answers, values)
        for plan in plans:
            assert plan.run(answers, values)[0] == expected


def test_diagnoses_identical_when_durable_runs_on_the_fallback_plan(monkeypatch):
    from partnerdx.backend_durable import DurableBackend
    monkeypatch.setitem(KB.__dict__.setdefault("_backends", {}), "durable", DurableBackend(KB, force_fallback=True))
    for answers in _random_sets(20, seed=12):
        durable, reference = both(answers)
        assert durable == reference


def _crowded_kb(root, rules: int = 80):
    """Many rules whose first test is on the same instrument's items, all satisfied by one grouped
    fact: durable's alpha walk overflows its 64-node stack (error 303) on the grouped plan."""
    import yaml
    cite = {"ref": "crowd", "at": "generated", "quote": "generated for a test"}
    (root / "knowledge" / "questions").mkdir(parents=True)
    (root / "rules").mkdir()
    (root / "knowledge" / "sources.yaml").write_text(yaml.safe_dump({"kind": "source", "family": "sources", "entries": [
        {"id": "crowd", "title": "Generated", "authors": ["tests"], "year": None, "published": "generated",
         "seed": "none.txt"}]}))
    items = [f"crowd.x{n:02d}" for n in range(20)]
    (root / "knowledge" / "questions" / "crowd.yaml").write_text(yaml.safe_dump({
        "kind": "question", "family": "crowd", "entries": [
            {"id": q, "instrument": "table1", "title": q, "text": q, "help": "generated", "type": "rated",
             "scale": {"low": "low", "high": "high"}, "source": cite} for q in items]}))
    docs = []
    for n in range(rules):
        when = {"all": [{"item": items[n % 20], "gte": round(1 + n * 0.01, 2)}, {"item": items[(n + 7) % 20], "lte": 4}]}
        docs.append({"id": f"crowd.r{n:03d}", "title": "generated", "when": when,
                     "then": {"conclude": f"crowd.c{n:03d}", "type": "risk"}, "because": "generated",
                     "source": cite, "basis": "expert-judgement", "examples": []})
    docs.append({"id": "crowd.chain", "title": "generated", "when": {"all": [{"fact": "crowd.c000"}, {"fact": "crowd.c001"}]},
                 "then": {"conclude": "crowd.both", "type": "fit"}, "because": "generated", "source": cite,
                 "basis": "expert-judgement", "examples": []})
    (root / "rules" / "crowd.yaml").write_text(yaml.safe_dump({"kind": "rules", "family": "crowd", "rules": docs}))
    return load_kb(root=root), items


def test_error_303_is_caught_and_the_fallback_gives_identical_results(tmp_path):
    from partnerdx import backend_reference
    from partnerdx.backend_durable import DurableBackend, Overflow
    kb, items = _crowded_kb(tmp_path)
    answers = {q: 3 for q in items}
    backend = DurableBackend(kb, max_branch=None)   # no cut of groups beforehand: the switch
    with pytest.raises(Overflow):           # the grouped plan really hits durable's error 303 ...
        backend._grouped.run(answers, {})
    assert not backend.fell_back
    fired, _ = backend.run(answers, {})     # ... and run() falls back, with the reference's result
    assert backend.fell_back
    assert fired == backend_reference.run(kb, answers, {})
    assert "crowd.chain" in fired and len(fired) > 64
    for value in (1, 2, 4, 5):              # and stays on the fallback, still identical
        other = {q: value for q in items}
        assert backend.run(other, {})[0] == backend_reference.run(kb, other, {})
    # the process-wide engine is unharmed for everyone else
    assert diagnose(KB, {q: 3 for q in RATED}).conclusions


def test_groups_are_cut_beforehand_where_they_could_overflow(tmp_path):
    from partnerdx import backend_reference
    from partnerdx.backend_durable import DurableBackend
    kb, items = _crowded_kb(tmp_path)
    backend = DurableBackend(kb)
    assert len(backend._grouped.plan.groups) > 1
    for value in (1, 3, 5):
        answers = {q: value for q in items}
        assert backend.run(answers, {})[0] == backend_reference.run(kb, answers, {})
    assert not backend.fell_back


def test_diagnose_on_a_base_that_overflows_matches_the_reference(tmp_path):
    from partnerdx.backend_durable import DurableBackend
    kb, items = _crowded_kb(tmp_path)
    kb.__dict__.setdefault("_backends", {})["durable"] = DurableBackend(kb, max_branch=None)
    for value in (2, 3, 5):
        answers = {q: value for q in items}
        assert diagnosis_json(kb, diagnose(kb, answers, "durable")) == diagnosis_json(kb, diagnose(kb, answers, "reference"))


def test_sessions_are_deleted_even_when_an_action_fails(monkeypatch):
    """After a failing action every queued action is drained and the session deleted: many failing
    runs in a row neither exhaust durable's 1,024 sessions nor corrupt it."""
    from partnerdx import backend_durable
    from partnerdx.errors import EngineError

    def explode(message):
        raise RuntimeError("boom")

    monkeypatch.setattr(backend_durable, "_sink", explode)
    broken = backend_durable.DurableBackend(KB)
    for _ in range(1100):
        with pytest.raises(EngineError, match="boom"):
            broken.run({q: 3 for q in RATED}, {})
    answers = {q: 3 for q in RATED}
    assert diagnosis_json(KB, diagnose(KB, answers)) == diagnosis_json(KB, diagnose(KB, answers, "reference"))


def test_no_timer_threads_are_started():
    """durable's Host starts two timer threads (a use-after-free with delete_state); we drive the C
    engine without one."""
    import threading
    before = threading.active_count()
    diagnose(KB, {q: 2 for q in RATED})
    assert threading.active_count() == before
    import sys
    assert "durable.lang" not in sys.modules
