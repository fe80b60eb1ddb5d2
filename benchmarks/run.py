"""partnerdx benchmarks: prints one table and writes the same figures as JSON.

    python benchmarks/run.py [--quick] [--json OUT]

Figures, not assertions: the test suite never times anything.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (CI proves it still runs)")
    ap.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = ap.parse_args()
    n = 50 if args.quick else 500

    import os
    from engine.kb import load_kb
    os.environ["PARTNERDX_NO_CACHE"] = "1"
    t = time.perf_counter()
    kb = load_kb()
    load_ms = (time.perf_counter() - t) * 1000
    del os.environ["PARTNERDX_NO_CACHE"]
    load_kb()                               # make sure the cache is written
    warm = timed(lambda: load_kb(), 5)
    warm_ms = statistics.median(warm)
    from engine.inference import diagnose
    t = time.perf_counter()
    diagnose(kb, {})            # compiles and registers the durable ruleset
    compile_ms = (time.perf_counter() - t) * 1000

    rng = random.Random(1)
    full = {}
    for q, e in kb.questions.items():
        full[q] = rng.randint(1, 5) if e.type == "rated" else (
            e.options[0] if e.type == "choice" else e.options[:2])
    rows = {}
    for backend in ("durable", "reference"):
        diagnose(kb, full, backend)
        times = timed(lambda: diagnose(kb, full, backend), n)
        rows[backend] = {"median_ms": statistics.median(times), "p95_ms": pct(times, 95),
                         "answer_facts_per_s": len(full) / (statistics.median(times) / 1000)}
    startup = timed(lambda: subprocess.run([sys.executable, str(ROOT / "cli.py"), "--help"],
                                           capture_output=True, check=True), 3 if args.quick else 10)
    example = ROOT / "examples" / "pfi-hospital.yaml"
    e2e = timed(lambda: subprocess.run([sys.executable, str(ROOT / "cli.py"), "diagnose", str(example)],
                                       capture_output=True, check=True), 3 if args.quick else 10)
    result = {
        "rules": len(kb.rules), "scores": len(kb.scores), "questions": len(kb.questions),
        "load_ms": load_ms, "warm_load_ms": warm_ms, "durable_compile_ms": compile_ms,
        "diagnosis": rows, "ratio_durable_to_reference": rows["durable"]["median_ms"] / rows["reference"]["median_ms"],
        "help_wall_ms_median": statistics.median(startup), "diagnose_wall_ms_median": statistics.median(e2e),
        "repetitions": n,
    }
    print(f"rules loaded               {result['rules']} rules, {result['scores']} scores, {result['questions']} questions")
    print(f"load cold (YAML + schema)  {load_ms:8.1f} ms")
    print(f"load warm (cached base)    {warm_ms:8.1f} ms")
    print(f"durable compile+register   {compile_ms:8.1f} ms")
    for b, r in rows.items():
        print(f"diagnosis {b:<16} median {r['median_ms']:7.3f} ms   p95 {r['p95_ms']:7.3f} ms   "
              f"{r['answer_facts_per_s']:10.0f} answer facts/s")
    print(f"ratio durable/reference    {result['ratio_durable_to_reference']:8.1f}x")
    print(f"partnerdx --help (process) {result['help_wall_ms_median']:8.1f} ms")
    print(f"partnerdx diagnose (proc.) {result['diagnose_wall_ms_median']:8.1f} ms")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
