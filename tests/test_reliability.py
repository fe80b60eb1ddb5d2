"""Properties under bad input and faults: exit 0 or a clean exit 2, never a traceback; monotone
conclusions where the literature implies them; saved sessions survive SIGKILL."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, cli
from partnerdx.inference import diagnose
from partnerdx.kb import load_kb

KB = load_kb()
RATED = [q for q, e in KB.questions.items() if e.type == "rated"]
FUZZ = settings(max_examples=int(os.environ.get("PARTNERDX_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ids = st.one_of(st.sampled_from(list(KB.questions)), st.text(min_size=1, max_size=12),
                st.sampled_from(["stair.q11", "t1.r22", "T2.R01", "fail.1", "context.sector"]))
values = st.one_of(st.integers(-3, 9), st.floats(allow_nan=True, allow_infinity=True), st.none(),
                   st.booleans(), st.text(max_size=8), st.lists(st.text(max_size=6), max_size=3),
                   st.sampled_from(["unknown", "public", "capital_project", "3", ""]),
                   st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))


def _check_clean(run, path) -> None:
    assert run.code in (0, 2), run
    if run.code == 2:
        lines = run.err.strip().splitlines()
        assert lines and all(line.startswith(str(path)) for line in lines), run.err


@FUZZ
@given(st.dictionaries(ids, values, max_size=12), st.sampled_from(["yaml", "json"]))
def test_any_answers_file_gives_a_diagnosis_or_a_located_error(tmp_path_factory, answers, ext):
    d = tmp_path_factory.mktemp("fuzz")
    f = d / f"a.{ext}"
    doc = {"partnership": "Fuzz", "answers": answers}
    f.write_text(json.dumps(doc, default=str) if ext == "json" else yaml.safe_dump(doc), encoding="utf-8")
    out = d / "out.json"
    run = cli("diagnose", f, "--format", "json", "-o", out, code=None)
    _check_clean(run, f)
    if run.code == 0:
        json.loads(out.read_text())
    else:
        assert not out.exists(), "bad input must not create an output file"


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_answers_file(tmp_path_factory, blob):
    f = tmp_path_factory.mktemp("bytes") / "a.yaml"
    f.write_bytes(blob)
    _check_clean(cli("diagnose", f, "--format", "json", code=None), f)


RULE = {"id": "local.rule", "title": "A local situation", "when": {"item": "stair.q01", "gte": 4},
        "then": {"conclude": "local.found", "type": "staircase"}, "because": "q1 is {stair.q01}.",
        "source": {"ref": "morley-staircase", "at": "q", "quote": "The ten questions are"},
        "examples": [{"name": "fires", "answers": {"stair.q01": 4}, "expect": {"concluded": ["local.found"]}}]}
mutations = st.sampled_from(["drop", "rename", "retype", "badwhen", "badthen", "none"])
junk = st.one_of(st.none(), st.integers(), st.text(max_size=6), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.sampled_from(["all", "any", "not", "item", "score", "fact", "gte", "xx"]),
                                 st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)),
                                 max_size=3))


@FUZZ
@given(st.lists(st.tuples(mutations, st.sampled_from(sorted(RULE)), junk), max_size=3))
def test_near_valid_authored_rules_give_ok_or_located_errors(tmp_path_factory, changes):
    rule = json.loads(json.dumps(RULE))
    for kind, key, value in changes:
        if kind == "drop":
            rule.pop(key, None)
        elif kind == "rename" and key in rule:
            rule[key + "x"] = rule.pop(key)
        elif kind == "retype":
            rule[key] = value
        elif kind == "badwhen":
            rule["when"] = value
        elif kind == "badthen":
            rule["then"] = value
    d = tmp_path_factory.mktemp("kb")
    (d / "rules").mkdir()
    f = d / "rules" / "local.yaml"
    f.write_text(yaml.safe_dump({"kind": "rules", "family": "local", "rules": [rule]}), encoding="utf-8")
    _check_clean(cli("--kb", d, "kb", "check", code=None), f)


MODE_RANK = {"mode.complying": 0, "mode.constraining": 1, "mode.creating": 2}
STEP_RANK = {"stair.transactional": 0, "stair.collaboration": 1, "stair.partnership": 2, "stair.transform": 3}
rated_answers = st.fixed_dictionaries({}, optional={q: st.integers(1, 5) for q in RATED})


def rank(d, table):
    found = [table[c] for c in d.concluded_ids if c in table]
    return found[0] if found else None


@settings(max_examples=80, deadline=None)
@given(rated_answers, st.integers(1, 4))
def test_raising_trust_never_moves_the_mode_towards_complying(answers, step):
    raised = {k: (min(5, v + step) if k.startswith("t2.") else v) for k, v in answers.items()}
    before, after = rank(diagnose(KB, answers, "reference"), MODE_RANK), rank(diagnose(KB, raised, "reference"), MODE_RANK)
    if before is not None:
        assert after is not None and after >= before


@settings(max_examples=80, deadline=None)
@given(rated_answers, st.integers(1, 4))
def test_raising_every_staircase_answer_never_lowers_the_step(answers, step):
    raised = {k: (min(5, v + step) if k.startswith("stair.") else v) for k, v in answers.items()}
    before, after = rank(diagnose(KB, answers, "reference"), STEP_RANK), rank(diagnose(KB, raised, "reference"), STEP_RANK)
    if before is not None:
        assert after is not None and after >= before


@settings(max_examples=80, deadline=None)
@given(rated_answers, st.sampled_from([q for q in RATED if q.startswith("barrier.")]))
def test_adding_a_barrier_keeps_recommendations_for_other_barriers(answers, barrier):
    before = diagnose(KB, answers, "reference")
    after = diagnose(KB, {**answers, barrier: 5}, "reference")
    present = f"barrier.present.{barrier.split('.')[1]}"
    kept = {r.id for r in after.recommendations}
    for r in before.recommendations:
        if any(a.startswith("barrier.present.") and a != present for a in r.addresses):
            assert r.id in kept, r.id


def test_same_input_same_bytes_across_processes(tmp_path):
    f = ROOT / "examples" / "eblc-constraining.yaml"
    outs = {subprocess.run([sys.executable, str(ROOT / "cli.py"), "diagnose", str(f), "--format", "json"],
                           capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in (1, 2, 3)}
    assert len(outs) == 1


def test_fifty_kills_at_random_points_never_lose_a_saved_answer(tmp_path):
    """SIGKILL at random moments while answers are being saved: the session file always parses and
    keeps every answer it was seen to hold before."""
    rng = random.Random(11)
    session = tmp_path / "sessions" / "loop.json"
    seen: dict = {}
    env = {**os.environ, "PARTNERDX_HOME": str(tmp_path), "NO_COLOR": "1"}
    env.pop("CI", None)
    for n in range(50):
        if len(seen) >= 10:                 # the staircase is answered: start the answers again
            session.unlink()
            seen = {}
        with subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "ask", "--session", "loop", "--module", "staircase"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env, text=True) as proc:
            proc.stdin.write("1\n1,2\n3\n" + "".join(f"{rng.randint(1, 5)}\n" for _ in range(3)))
            proc.stdin.flush()
            time.sleep(rng.uniform(0.1, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if session.exists():
            data = json.loads(session.read_text())          # never half-written
            for k, v in seen.items():
                assert data["answers"].get(k) == v, (n, k)
            seen = dict(data["answers"])
    # a kill in the middle of a write may leave its temporary file; it is never taken for a session
    listed = subprocess.run([sys.executable, str(ROOT / "cli.py"), "sessions"], capture_output=True, text=True,
                            env=env, check=True).stdout
    assert [line.split("\t")[0] for line in listed.splitlines()] in (["loop"], ["no saved sessions"])
