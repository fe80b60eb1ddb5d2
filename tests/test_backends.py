"""durable-rules and the plain-Python reference evaluator agree, and the durable hazards stay shut."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.explain import diagnosis_json
from engine.inference import diagnose
from engine.kb import load_kb

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
    from engine import backend_durable
    from engine.errors import EngineError

    def explode(c):
        raise RuntimeError("boom")

    monkeypatch.setattr(backend_durable, "_sink", explode)
    broken = backend_durable.DurableBackend(KB)
    with pytest.raises(EngineError, match="boom"):
        broken.run({q: 3 for q in RATED}, {})
    # and the process-wide host still works for everyone else afterwards
    assert diagnose(KB, {q: 3 for q in RATED}).conclusions


def test_yaml_python_tags_are_refused(tmp_path):
    from engine.errors import InputError
    from engine.yamlio import parse_yaml
    with pytest.raises(InputError) as info:
        parse_yaml("x: !!python/object/apply:os.system ['true']\n", "t.yaml")
    assert "could not determine a constructor" in str(info.value)
