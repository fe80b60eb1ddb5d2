"""Benchmark of `partnerdx assess`: generated survey exports of 1,000 / 10,000 / 100,000 respondents
in 20 organisations, every rated item of the knowledge base as a column.

    python benchmarks/assess.py [--quick] [--format json|html|markdown|text] [--keep DIR]

Each size runs in a fresh process (so peak memory is that run's own) through the same code as the
command line: read and validate the CSV, aggregate, suppress, diagnose every organisation and the
whole partnership, render. Prints wall time and peak resident memory. Target: ≤ 10 s and ≤ 500 MB
for 100,000 respondents. Figures, not assertions: the test suite never times anything.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SIZES = (1_000, 10_000, 100_000)
ORGANISATIONS = 20


def generate(path: Path, respondents: int, seed: int = 1) -> None:
    """A plausible export: organisations of unequal size, each with its own leaning, some blanks."""
    from partnerdx.kb import load_kb
    kb = load_kb()
    items = [q for q, e in kb.questions.items() if e.type == "rated"]
    rng = random.Random(seed)
    weights = [1 + k % 5 for k in range(ORGANISATIONS)]
    leaning = [rng.uniform(1.5, 4.5) for _ in range(ORGANISATIONS)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["respondent", "organisation", "sector", *items])
        orgs = rng.choices(range(ORGANISATIONS), weights=weights, k=respondents)
        for n, org in enumerate(orgs):
            base = leaning[org]
            row = ["" if rng.random() < 0.05 else str(min(5, max(1, round(base + rng.gauss(0, 1))))) for _ in items]
            w.writerow([f"R{n:06d}", f"Organisation {org + 1:02d}", "public", *row])


def one(csv_path: str, fmt: str, out: str) -> None:
    """Child process: one assessment, as the CLI runs it; prints a JSON line of figures."""
    start = time.perf_counter()
    from partnerdx.assess import assess
    from partnerdx.assess_report import render
    from partnerdx.io_safe import write_atomic
    from partnerdx.kb import load_kb
    from partnerdx.survey import read_survey
    kb = load_kb()
    loaded = time.perf_counter()
    survey = read_survey(kb, [Path(csv_path)])
    read = time.perf_counter()
    result = assess(kb, survey)
    assessed = time.perf_counter()
    write_atomic(Path(out), render(kb, result, fmt))
    done = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"total_s": done - start, "load_kb_s": loaded - start, "read_s": read - loaded,
                      "assess_s": assessed - read, "render_s": done - assessed, "peak_mb": peak_kb / 1024,
                      "organisations": len(result.current.groups), "respondents": result.current.respondents}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only 1,000 respondents (CI proves it still runs)")
    ap.add_argument("--format", default="json", choices=["json", "html", "markdown", "text"])
    ap.add_argument("--keep", help="write the generated CSVs and reports here instead of a temporary folder")
    ap.add_argument("--one", nargs=2, metavar=("CSV", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        one(args.one[0], args.format, args.one[1])
        return
    sizes = SIZES[:1] if args.quick else SIZES
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'respondents':>12} {'CSV MB':>7} {'total s':>8} {'read s':>7} {'assess s':>8} {'render s':>8} "
              f"{'wall s':>7} {'peak MB':>8}")
        for size in sizes:
            path = folder / f"survey-{size}.csv"
            generate(path, size)
            t = time.perf_counter()
            child = subprocess.run([sys.executable, __file__, "--format", args.format, "--one", str(path),
                                    str(folder / f"report-{size}.{args.format}")],
                                   capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{size:>12,} {path.stat().st_size / 1e6:>7.1f} {r['total_s']:>8.2f} {r['read_s']:>7.2f} "
                  f"{r['assess_s']:>8.2f} {r['render_s']:>8.2f} {wall:>7.2f} {r['peak_mb']:>8.1f}")


if __name__ == "__main__":
    main()
