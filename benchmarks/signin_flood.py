"""A flood of sign-ins against a real `partnerdx serve`: peak memory and other users' latency.

    python benchmarks/signin_flood.py [--attempts 200] [--db URL]

Each attempt is POST /api/v1/auth/token with a random account name, all at once (one thread each).
The server runs with --proxy-headers and every attempt carries a different X-Forwarded-For, so the
per-client throttle refuses none of them: every attempt reaches argon2 (64 MiB each), and only the
per-process semaphore (auth.MAX_HASHES) keeps memory flat. Reported: the server's peak resident
memory (VmHWM from /proc, the kernel's own high-water mark), its resident memory before, and the
median and worst latency of /healthz requests made by another user during the flood.

Figures, not assertions: the test suite never times anything.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main() -> None:
    import httpx

    from web_support import Server
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdx-flood-") as tmp:
        url = args.db or f"sqlite:///{tmp}/flood.db"
        server = Server(url, Path(tmp), args=("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1"))
        with server:
            pid = server.proc.pid
            # the serve script may be a wrapper: find the python process that listens
            before = memory_kb(pid, "VmRSS")
            latencies: list[float] = []
            stop = threading.Event()

            def other_user() -> None:
                with httpx.Client(base_url=server.base, timeout=60) as c:
                    while not stop.is_set():
                        t = time.perf_counter()
                        c.get("/healthz")
                        latencies.append((time.perf_counter() - t) * 1000)
                        time.sleep(0.05)

            def attempt(n: int) -> int:
                with httpx.Client(base_url=server.base, timeout=120) as c:
                    r = c.post("/api/v1/auth/token", json={"name": "x" + secrets.token_hex(6), "password": "guess"},
                               headers={"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
                    return r.status_code

            watcher = threading.Thread(target=other_user)
            watcher.start()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.attempts) as pool:
                codes = list(pool.map(attempt, range(args.attempts)))
            elapsed = time.perf_counter() - started
            stop.set()
            watcher.join()
            peak = memory_kb(pid, "VmHWM")
    statuses = {c: codes.count(c) for c in sorted(set(codes))}
    print(f"{args.attempts} parallel sign-ins with random names in {elapsed:.1f} s; statuses {statuses}")
    print(f"server resident memory: {before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB")
    if latencies:
        print(f"another user's /healthz during the flood: median {statistics.median(latencies):.0f} ms, "
              f"worst {max(latencies):.0f} ms ({len(latencies)} requests)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
