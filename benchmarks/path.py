"""How long `partnerdx path` takes for every conclusion of the built-in base, on a full answers file.

    python benchmarks/path.py

Prints the median and the slowest target (figures, never assertions).
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from partnerdx.answers import AnswerSet  # noqa: E402
from partnerdx.kb import load_kb  # noqa: E402
from partnerdx.path import find_paths  # noqa: E402


def main() -> None:
    kb = load_kb()
    rng = random.Random(3)
    full = {q: (rng.randint(1, 5) if e.type == "rated" else e.options[0] if e.type == "choice" else e.options[:1])
            for q, e in kb.questions.items()}
    answers = AnswerSet(full, "benchmark")
    find_paths(kb, answers, next(iter(kb.conclusion_types)))       # warm: durable ruleset registered
    times: dict[str, float] = {}
    for target in kb.conclusion_types:
        t = time.perf_counter()
        find_paths(kb, answers, target)
        times[target] = time.perf_counter() - t
    slowest = max(times, key=times.get)
    print(f"targets {len(times)}   median {statistics.median(times.values()) * 1000:.0f} ms   "
          f"slowest {times[slowest] * 1000:.0f} ms ({slowest})")


if __name__ == "__main__":
    main()
