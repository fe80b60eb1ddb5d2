"""partnerdx benchmarks: prints one table and writes the same figures as JSON.

    python benchmarks/run.py [--quick] [--json OUT]

1. built-in knowledge base: load cold and warm (cached), one diagnosis of a full answers file on
   durable-rules and on the reference evaluator (median, p95, answer facts/s, ratio);
2. peers on the same synthetic work (benchmarks/synthetic.py): R = 50, 200, 1,000 rules, S sessions
   of 60 answers through partnerdx (durable), the reference evaluator, clipspy and experta, checking
   that all four give identical conclusions;
3. questionnaire step at R = 1,000: pick the next question and update the running conclusions;
4. start-up: `partnerdx --help` and `partnerdx diagnose FILE` as whole processes;
5. assess (benchmarks/assess.py, a colleague's): 1,000 / 10,000 / 100,000 respondents.

Peers come from the `bench` extra: pip install -e '.[bench]'. Figures, not assertions: the test
suite never times anything. Exit status 1 if the engines disagree on any session.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

ROWS: list[dict] = []


def row(section: str, measure: str, value: float | str | None, unit: str = "ms", p95: float | None = None,
        ratio: str = "", note: str = "") -> None:
    ROWS.append({"section": section, "measure": measure, "value": value, "p95": p95, "unit": unit,
                 "ratio": ratio, "note": note})


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def full_answers(kb) -> dict:
    """Every item answered (rated 1-5, first option of a choice, two options of a multi)."""
    rng = random.Random(1)
    return {q: rng.randint(1, 5) if e.type == "rated" else (e.options[0] if e.type == "choice" else e.options[:2])
            for q, e in kb.questions.items()}


def load_synthetic(root: Path):
    """Synthetic bases bypass the knowledge-base cache (it keeps only a few recent bases)."""
    from partnerdx.kb import load_kb
    os.environ["PARTNERDX_NO_CACHE"] = "1"
    try:
        return load_kb(root=root)
    finally:
        del os.environ["PARTNERDX_NO_CACHE"]


# ---- 1. built-in knowledge base ---------------------------------------------------------------

def builtin(quick: bool) -> dict:
    from partnerdx.inference import diagnose
    from partnerdx.kb import load_kb
    os.environ["PARTNERDX_NO_CACHE"] = "1"
    cold = timed(load_kb, 1 if quick else 3)
    del os.environ["PARTNERDX_NO_CACHE"]
    load_kb()                                   # make sure the cache is written
    warm = timed(load_kb, 5 if quick else 20)
    kb = load_kb()
    t = time.perf_counter()
    diagnose(kb, {})                            # compiles and registers the durable ruleset
    compile_ms = (time.perf_counter() - t) * 1000
    full = full_answers(kb)
    n = 200 if quick else 2000
    out = {"rules": len(kb.rules), "scores": len(kb.scores), "questions": len(kb.questions),
           "load_cold_ms": statistics.median(cold), "load_warm_ms": statistics.median(warm),
           "durable_compile_ms": compile_ms, "repetitions": n}
    section = f"built-in KB ({len(kb.rules)} rules, {len(kb.questions)} items)"
    row(section, "load cold (YAML + schema)", out["load_cold_ms"])
    row(section, "load warm (cached base)", out["load_warm_ms"])
    row(section, "durable compile + register", compile_ms)
    for backend in ("durable", "reference"):
        diagnose(kb, full, backend)
        times = timed(lambda: diagnose(kb, full, backend), n)
        med = statistics.median(times)
        out[backend] = {"median_ms": med, "p95_ms": pct(times, 95), "answer_facts_per_s": len(full) / (med / 1000)}
    out["ratio_durable_to_reference"] = out["durable"]["median_ms"] / out["reference"]["median_ms"]
    for backend, label in (("durable", "diagnosis, durable-rules"), ("reference", "diagnosis, reference evaluator")):
        r = out[backend]
        row(section, label + f" ({len(full)} answers)", r["median_ms"], p95=r["p95_ms"],
            ratio=f"{r['median_ms'] / out['reference']['median_ms']:.1f}x ref",
            note=f"{r['answer_facts_per_s']:,.0f} answer facts/s")
    return out


# ---- 2. peers on synthetic work ------------------------------------------------------------------

def peers(quick: bool, skip: tuple = ()) -> tuple[dict, bool]:
    import synthetic as syn
    from partnerdx import scores as scoring
    from partnerdx.inference import diagnose, run_rules
    sizes = (50, 200) if quick else (50, 200, 1000)
    sessions = 100 if quick else 1000
    experta_cap = {50: 20, 200: 10} if quick else {50: 1000, 200: 1000, 1000: 100}
    out: dict = {"sessions": sessions}
    all_agree = True
    work = Path(tempfile.mkdtemp(prefix="partnerdx-bench-"))
    try:
        for r in sizes:
            desc = syn.describe(r)
            root = syn.write_partnerdx(desc, work / f"r{r}")
            kb = load_synthetic(root)
            answers = syn.sessions(sessions)
            expected = [syn.expected(desc, a) for a in answers]

            def engine(backend: str):
                def go(a: dict) -> frozenset:
                    values = {k: v.value for k, v in scoring.compute(kb.scores, a).items()}
                    fired = run_rules(kb, a, values, backend)
                    fired = fired[0] if isinstance(fired, tuple) else fired   # (fired, matched) before issue 8
                    return frozenset(kb.rules_by_id[i].concludes for i in fired)
                return go

            runners: dict = {"partnerdx (durable)": engine("durable"), "reference evaluator": engine("reference")}
            notes: dict = {}
            for name, make in (("clipspy", "ClipsRunner"), ("experta", "ExpertaRunner")):
                if name in skip:
                    notes[name] = "skipped (--skip)"
                    continue
                try:
                    runners[name] = getattr(syn, make)(desc)
                except ImportError as exc:
                    notes[name] = f"not installed ({exc.name}): pip install -e '.[bench]'"
            # Engines take turns on chunks of 50 sessions, so that a busy moment on the machine falls
            # on all of them alike; each engine's figure is its total time over its sessions.
            counts = {name: min(sessions, experta_cap[r]) if name == "experta" else sessions for name in runners}
            spent = dict.fromkeys(runners, 0.0)
            got: dict = {name: [] for name in runners}
            first100: dict = {}
            for run in runners.values():
                run(answers[0])                        # warm up (compile/register)
            for start in range(0, sessions, 50):
                for name, run in runners.items():
                    chunk = answers[start:min(start + 50, counts[name])]
                    if not chunk:
                        continue
                    t = time.perf_counter()
                    got[name] += [run(a) for a in chunk]
                    spent[name] += time.perf_counter() - t
                    if len(got[name]) == min(100, counts[name]):
                        first100[name] = spent[name] * 1000 / len(got[name])
            res: dict = {}
            for name in runners:
                agree = got[name] == expected[:counts[name]]
                all_agree &= agree
                res[name] = {"ms_per_session": spent[name] * 1000 / counts[name], "sessions": counts[name],
                             "identical": agree, "first_100_ms_per_session": first100.get(name)}
            full = timed(lambda: [diagnose(kb, a) for a in answers[:200]], 1)[0] / min(200, sessions)
            res["partnerdx diagnose() with justifications"] = {"ms_per_session": full, "sessions": min(200, sessions),
                                                               "identical": None}
            ref = res["reference evaluator"]["ms_per_session"]
            clips = res.get("clipspy", {}).get("ms_per_session")
            section = f"peers, synthetic R={r} ({len(kb.rules)} rules, 60 answers)"
            for name, v in res.items():
                ratio = f"{v['ms_per_session'] / ref:.1f}x ref" + (f", {v['ms_per_session'] / clips:.2f}x clips" if clips else "")
                agree = {True: "identical conclusions", False: "DIFFERENT CONCLUSIONS", None: "full diagnosis"}[v["identical"]]
                first = v.get("first_100_ms_per_session")
                creep = f"; first 100: {first:.3f}" if first and v["sessions"] > 100 and v["ms_per_session"] > 1.2 * first else ""
                row(section, name, v["ms_per_session"], unit="ms/session", ratio=ratio,
                    note=f"{agree}, {v['sessions']} sessions{creep}")
            for name, note in notes.items():
                row(section, name, None, unit="", note=note)
            out[str(r)] = {"rules": len(kb.rules), "avg_conclusions": sum(map(len, expected)) / len(expected),
                           "engines": res, "missing": notes}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["all_identical"] = all_agree
    return out, all_agree


# ---- 3. questionnaire step ---------------------------------------------------------------------

def questionnaire(quick: bool) -> dict:
    import synthetic as syn
    from partnerdx.questionnaire import Questionnaire, is_checklist
    r = 1000
    work = Path(tempfile.mkdtemp(prefix="partnerdx-bench-"))
    try:
        kb = load_synthetic(syn.write_partnerdx(syn.describe(r), work))
        steps: list[float] = []
        first: list[float] = []
        for answers in syn.sessions(1 if quick else 3, seed=5):
            q = Questionnaire(kb, "full")
            t = time.perf_counter()
            item = q.next_item()
            q.certain()
            first.append((time.perf_counter() - t) * 1000)
            while item is not None and (not quick or len(steps) < 20):
                if is_checklist(item):          # a screening checklist: nothing ticked, as `estimate` does
                    q.answer_checklist(item, [])
                else:
                    q.answer(item, answers[item])
                t = time.perf_counter()
                item = q.next_item()      # pick the next question ...
                q.certain()               # ... and update the running conclusions
                steps.append((time.perf_counter() - t) * 1000)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {"rules": r, "steps": len(steps), "median_ms": statistics.median(steps), "p95_ms": pct(steps, 95),
           "first_question_ms": statistics.median(first)}
    section = f"questionnaire, synthetic R={r}"
    row(section, "next question + running conclusions, per answer", out["median_ms"], p95=out["p95_ms"],
        note=f"{len(steps)} steps")
    row(section, "first question (includes graph work)", out["first_question_ms"])
    return out


# ---- 4. start-up ---------------------------------------------------------------------------------

def startup(quick: bool) -> dict:
    script = Path(sys.executable).with_name("partnerdx")
    cmd = [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]
    example = ROOT / "examples" / "pfi-hospital.yaml"
    n = 5 if quick else 15
    run = lambda *args: subprocess.run([*cmd, *args], capture_output=True, check=True)  # noqa: E731
    run("diagnose", str(example))      # the knowledge-base cache exists from here on
    helps = timed(lambda: run("--help"), n)
    diags = timed(lambda: run("diagnose", str(example)), n)
    out = {"command": " ".join(Path(c).name for c in cmd), "help_ms": statistics.median(helps),
           "help_p95_ms": pct(helps, 95), "diagnose_ms": statistics.median(diags), "diagnose_p95_ms": pct(diags, 95),
           "repetitions": n}
    row("start-up (whole process, cache warm)", "partnerdx --help", out["help_ms"], p95=out["help_p95_ms"])
    row("start-up (whole process, cache warm)", f"partnerdx diagnose {example.relative_to(ROOT)} (text)",
        out["diagnose_ms"], p95=out["diagnose_p95_ms"])
    return out


# ---- 5. assess -----------------------------------------------------------------------------------

def assess(quick: bool) -> dict:
    path = ROOT / "benchmarks" / "assess.py"
    section = "assess (benchmarks/assess.py)"
    if not path.exists():
        row(section, "assess", None, unit="", note="benchmarks/assess.py is missing: skipped")
        return {"skipped": "benchmarks/assess.py is missing"}
    spec = importlib.util.spec_from_file_location("bench_assess", path)
    mod = importlib.util.module_from_spec(spec)
    out: dict = {}
    try:
        spec.loader.exec_module(mod)
        sizes = mod.SIZES[:1] if quick else mod.SIZES
        with tempfile.TemporaryDirectory(prefix="partnerdx-bench-") as tmp:
            for size in sizes:
                csv_path = Path(tmp) / f"survey-{size}.csv"
                mod.generate(csv_path, size)
                t = time.perf_counter()
                child = subprocess.run([sys.executable, str(path), "--format", "json", "--one", str(csv_path),
                                        str(Path(tmp) / f"report-{size}.json")],
                                       capture_output=True, text=True, check=True)
                wall = time.perf_counter() - t
                r = json.loads(child.stdout.strip().splitlines()[-1])
                out[str(size)] = {"wall_s": wall, **r}
                row(section, f"{size:,} respondents in {mod.ORGANISATIONS} organisations", wall * 1000,
                    note=f"peak {r['peak_mb']:.0f} MB; in-process {r['total_s']:.2f} s")
    except Exception as exc:  # a colleague's work in progress: report, don't hide the other figures
        detail = getattr(exc, "stderr", None) or str(exc)
        note = f"failed: {type(exc).__name__}: {str(detail).strip().splitlines()[-1] if str(detail).strip() else ''}"
        row(section, "assess", None, unit="", note=note[:160])
        out["failed"] = note
    return out


# ---- table ---------------------------------------------------------------------------------------

def table() -> str:
    head = ("section", "measure", "median", "p95", "unit", "ratio", "note")
    lines = []
    for r in ROWS:
        fmt = lambda v: "" if v is None else (f"{v:,.3f}" if v < 10 else f"{v:,.1f}") if isinstance(v, float) else str(v)  # noqa: E731
        lines.append((r["section"], r["measure"], fmt(r["value"]) if r["value"] is not None else "-",
                      fmt(r["p95"]), r["unit"], r["ratio"], r["note"]))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for line in lines:
        out.append("| " + " | ".join((c.rjust(w) if i in (2, 3) else c.ljust(w)) for i, (c, w) in enumerate(zip(line, widths))) + " |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sessions, R = 50 and 200 only (CI proves it still runs)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    ap.add_argument("--skip", action="append", default=[], choices=["experta", "clipspy"],
                    help="leave a peer out (experta at R=1,000 takes minutes)")
    args = ap.parse_args()
    started = time.perf_counter()
    result: dict = {"command": "python benchmarks/run.py" + (" --quick" if args.quick else ""),
                    "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                "platform": platform.platform()}}
    result["builtin"] = builtin(args.quick)
    result["peers"], agree = peers(args.quick, tuple(args.skip))
    result["questionnaire"] = questionnaire(args.quick)
    result["startup"] = startup(args.quick)
    result["assess"] = assess(args.quick)
    result["seconds"] = time.perf_counter() - started
    result["table"] = ROWS
    text = table()
    print(text)
    print(f"\n{result['command']}: {result['seconds']:.0f} s; "
          f"engines {'agree on every session' if agree else 'DISAGREE'}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if agree else 1)


if __name__ == "__main__":
    main()
