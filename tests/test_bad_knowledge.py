"""Each deliberately broken authored file gives exit 2 and exactly the located message expected."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, cli

BAD = sorted((FIXTURES / "bad").glob("*.yaml"))


def _header(path: Path) -> tuple[str, list[str], list[str]]:
    where, exact, patterns = "knowledge", [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].strip().partition(": ")
        if key == "dir":
            where = value
        elif key == "expect":
            exact.append(value)
        elif key == "expect-re":
            patterns.append(value)
    return where, exact, patterns


@pytest.mark.parametrize("fixture", BAD, ids=[p.stem for p in BAD])
def test_broken_file_is_reported_with_file_line_and_id(tmp_path, fixture):
    where, exact, patterns = _header(fixture)
    assert exact or patterns, f"{fixture.name} declares no expected message"
    target = tmp_path / where / "bad.yaml"
    target.parent.mkdir(parents=True)
    shutil.copy(fixture, target)
    run = cli("--kb", tmp_path, "kb", "check", code=2)
    lines = run.err.strip().splitlines()
    shown = str(target)
    for message in exact:
        assert message.format(path=shown) in lines, f"missing {message!r} in:\n{run.err}"
    for pattern in patterns:
        rx = re.compile(re.escape(shown).join(re.escape("{path}").split("{path}")) if False else
                        pattern.replace("{path}", re.escape(shown)))
        assert any(rx.fullmatch(line) for line in lines), f"no line matches {pattern!r} in:\n{run.err}"
    assert run.out == ""


def test_all_problems_are_reported_at_once(tmp_path):
    for name in ("unknown_source_ref", "wrong_type", "duplicate_key"):
        shutil.copy(FIXTURES / "bad" / f"{name}.yaml", tmp_path / f"{name}.yaml")
    (tmp_path / "knowledge").mkdir()
    for f in tmp_path.glob("*.yaml"):
        f.rename(tmp_path / "knowledge" / f.name)
    run = cli("--kb", tmp_path, "kb", "check", code=2)
    assert len(run.err.strip().splitlines()) == 3


def test_override_replaces_a_builtin_entry(tmp_path):
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "mine.yaml").write_text(
        "kind: concept\nfamily: mine\nentries:\n  - id: ap.mode.creating\n    override: true\n"
        "    title: Creating (our reading)\n    text: Ours\n"
        "    source: {ref: morley-staircase, at: q, quote: \"The ten questions are\"}\n", encoding="utf-8")
    from partnerdx.kb import load_kb
    kb = load_kb((tmp_path,))
    assert kb.concepts["ap.mode.creating"].title == "Creating (our reading)"
    assert kb.overrides and kb.overrides[0][0] == "ap.mode.creating"


def test_missing_overlay_directory_is_bad_usage(tmp_path):
    cli("--kb", tmp_path / "nope", "kb", "check", code=2)
