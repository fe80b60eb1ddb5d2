"""Shared test helpers: one way to invoke the CLI and assert exit code and output."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

# Tests never write into the user's own cache directory (set before any module loads a KB).
os.environ.setdefault("PARTNERDX_CACHE", tempfile.mkdtemp(prefix="partnerdx-test-cache-"))

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def cli(*args: str, code: int | None = 0) -> Run:
    """Invoke `partnerdx ARGS`; assert the exit status when `code` is given; never a traceback."""
    from partnerdx.cli import main
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    err = result.stderr if hasattr(result, "stderr") else ""
    assert "Traceback" not in result.output + err
    run = Run(result.exit_code, result.stdout, err)
    if code is not None:
        assert run.code == code, f"exit {run.code}, expected {code}\nstdout: {run.out}\nstderr: {run.err}"
    return run


@pytest.fixture(scope="session")
def kb():
    from partnerdx.kb import load_kb
    return load_kb()


def seeds_dir() -> Path:
    """The seeds; absent only outside the project workspace. CI always has them."""
    if not SEEDS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SEEDS} is missing in CI")
        pytest.skip(f"seed texts not found at {SEEDS} (they live beside the repo, not in it)")
    return SEEDS


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
