"""`partnerdx kb lint`: every code is caught where it is, documented, and the built-in base is clean.

Each file in tests/fixtures/lint/ holds one defect and says in its header which code it must raise,
in which folder of an overlay it goes, at which line and for which id (`pytest -k PDX101` runs one).
Fixtures marked `alone: yes` (a file that does not load) get an overlay of their own.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES, ROOT, SEEDS, cli, seeds_dir, write

LINT = sorted((FIXTURES / "lint").glob("*.yaml"))


def _header(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(": ")
        if sep:
            out[key] = value
    return out


def _lint(overlay: Path, *extra: str, code: int | None = None):
    return cli("--kb", overlay, "kb", "lint", "--format", "json", *extra, code=code)


def _seeds() -> tuple[str, ...]:
    return ("--seeds", str(SEEDS)) if SEEDS.is_dir() else ()


def _install(fixture: Path, overlay: Path) -> Path:
    target = overlay / _header(fixture)["dir"] / fixture.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(fixture, target)
    return target


@pytest.fixture(scope="module")
def shared_run(tmp_path_factory) -> tuple[Path, object]:
    """All fixtures that load together in one overlay, linted once (loading is the slow part); each
    test then looks only at its own file, where any cross-talk between fixtures would show."""
    overlay = tmp_path_factory.mktemp("lint")
    for f in LINT:
        if _header(f).get("alone") != "yes":
            _install(f, overlay)
    return overlay, _lint(overlay, "--strict", *_seeds(), code=2)


@pytest.mark.parametrize("fixture", LINT, ids=[p.stem for p in LINT])
def test_each_code_is_reported_at_its_file_and_line(tmp_path, fixture, request):
    head = _header(fixture)
    if head.get("seeds") == "yes":
        seeds_dir()     # skips (or fails in CI) when the seed texts are missing
    if head.get("alone") == "yes":
        target = _install(fixture, tmp_path)
        run = _lint(tmp_path, "--strict")
    else:
        overlay, run = request.getfixturevalue("shared_run")
        target = overlay / head["dir"] / fixture.name
    findings = [f for f in run.json()["findings"] if f["path"] == str(target)]
    mine = [f for f in findings if f["code"] == head["code"]]
    assert mine, f"{head['code']} not reported; got {findings}"
    for f in mine:
        assert (f["line"], f["id"]) == (int(head["line"]), head["id"]), f
    others = sorted(f["code"] for f in findings if f["code"] != head["code"])
    assert others == sorted(head.get("also", "").split()), f"unexpected findings: {findings}"
    from partnerdx.lint import REGISTRY
    assert {f["severity"] for f in mine} == {REGISTRY[head["code"]].severity}
    if head.get("alone") == "yes":
        assert run.code == (2 if REGISTRY[head["code"]].severity == "error" else 1)


def test_every_code_has_a_fixture():
    from partnerdx.lint import REGISTRY
    covered = {_header(p)["code"] for p in LINT}
    assert covered == set(REGISTRY), f"codes without a fixture: {sorted(set(REGISTRY) - covered)}"


def test_builtin_knowledge_base_is_lint_clean_with_strict():
    run = cli("kb", "lint", "--strict", *_seeds())
    assert run.out.startswith("All checks passed")
    if SEEDS.is_dir():
        assert f"quotes checked against {SEEDS}" in run.out


def test_text_format_and_exit_codes(tmp_path):
    shutil.copy(FIXTURES / "lint" / "PDX502_conclusion_not_addressed.yaml", write(tmp_path / "rules" / "x.yaml", ""))
    shown = str(tmp_path / "rules" / "x.yaml")
    run = cli("--kb", tmp_path, "kb", "lint", code=0)
    assert run.out.splitlines()[0] == (f"{shown}:12: PDX502 local.unshared: no recommendation addresses "
                                       "'local.unshared' [warning]")
    assert run.out.splitlines()[-1].startswith("Found 0 errors and 1 warning")
    cli("--kb", tmp_path, "kb", "lint", "--strict", code=1)
    cli("--kb", tmp_path, "kb", "lint", "--strict", "--select", "PDX101", code=0)


def test_load_errors_are_findings_and_exit_2(tmp_path):
    write(tmp_path / "knowledge" / "broken.yaml", "kind: concept\nfamily: x\nentries: [\n")
    run = cli("--kb", tmp_path, "kb", "lint", code=2)
    assert f"{tmp_path / 'knowledge' / 'broken.yaml'}:" in run.out and " PDX001" in run.out
    assert "Traceback" not in run.out + run.err


def test_lint_reports_every_override(tmp_path):
    concept = ("  - id: {id}\n    override: true\n    title: Ours\n    text: Ours\n"
               "    source: {{ref: morley-staircase, at: q, quote: \"The ten questions are\"}}\n")
    write(tmp_path / "knowledge" / "mine.yaml", "kind: concept\nfamily: mine\nentries:\n"
          + concept.format(id="ap.mode.creating") + concept.format(id="ap.mode.complying"))
    findings = _lint(tmp_path, code=0).json()["findings"]
    assert sorted(f["id"] for f in findings if f["code"] == "PDX201") == ["ap.mode.complying", "ap.mode.creating"]
    assert all("knowledge/modes.yaml:" in f["message"] for f in findings if f["code"] == "PDX201")


def test_contradiction_through_an_intermediate_conclusion(tmp_path):
    """A mode rule resting on a conclusion is compared on the conditions behind that conclusion."""
    src = '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n'
    ex = ("    examples:\n      - {{name: f, answers: {{\"t2.*\": 1}}, expect: {{concluded: [{c}]}}}}\n"
          "      - {{name: q, answers: {{\"t2.*\": 5}}, expect: {{not_concluded: [{c}]}}}}\n")
    write(tmp_path / "rules" / "x.yaml", "kind: rules\nfamily: local\nrules:\n"
          "  - id: local.distrust\n    title: Distrust\n    when: {score: dim.trust, lt: 2}\n"
          "    then: {conclude: local.distrust, type: risk}\n    because: x\n" + src + ex.format(c="local.distrust")
          + "  - id: local.mode.wary\n    title: Wary\n    when: {fact: local.distrust}\n"
          "    then: {conclude: local.mode.wary, type: mode}\n    because: x\n" + src + ex.format(c="local.mode.wary"))
    findings = _lint(tmp_path, "--select", "PDX405", code=2).json()["findings"]
    # trust < 2 meets complying (trust < 2.5) and constraining (trust < 2.5 with voluntarism >= 3),
    # never creating (trust >= 3.5): the fact was expanded into the condition behind it
    assert sorted(f["message"].split(" (")[0] for f in findings) == [
        "can fire together with mode.complying", "can fire together with mode.constraining"]


def test_exclusive_rules_that_meet_without_overlap_are_clean(tmp_path):
    """Thresholds that meet at a boundary (lt 2.5 / gte 2.5) do not overlap; unanswered items that
    keep a score unknown separate rules too (the built-in staircase relies on both)."""
    write(tmp_path / "rules" / "x.yaml", "kind: rules\nfamily: local\nrules:\n"
          "  - id: local.mode.a\n    title: A\n    when: {all: [{score: stair.core, gte: 3}, {item: stair.q10, gte: 4}]}\n"
          "    then: {conclude: local.mode.a, type: mode}\n    because: x\n"
          '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n    examples: []\n'
          "  - id: local.mode.b\n    title: B\n    when: {any: [{unanswered: stair.q03}, {item: stair.q10, lt: 4}]}\n"
          "    then: {conclude: local.mode.b, type: mode}\n    because: x\n"
          '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n    examples: []\n')
    findings = _lint(tmp_path, "--select", "PDX405", code=2).json()["findings"]
    # only the built-in modes overlap these two; a and b never fire together
    assert not [f for f in findings if {"local.mode.a", "local.mode.b"} <= set(f["message"].split()) | {f["id"]}]


def test_lint_codes_page_is_generated_from_the_registry():
    from partnerdx.lint import codes_markdown
    assert (ROOT / "docs" / "lint-codes.md").read_text(encoding="utf-8") == codes_markdown(), \
        "docs/lint-codes.md is stale: run `partnerdx kb lint --codes > docs/lint-codes.md`"


def test_every_code_is_documented_in_the_fixed_shape():
    from partnerdx.lint import REGISTRY
    for code in REGISTRY.values():
        assert code.code.startswith("PDX") and len(code.code) == 6
        assert code.severity in ("error", "warning")
        for part in (code.summary, code.what, code.why, code.example, code.fix):
            assert part.strip(), f"{code.code} lacks a part of its docs"
        assert code.summary.endswith("."), code.code


def test_explain_prints_the_docs_section():
    from partnerdx.lint import REGISTRY
    run = cli("kb", "lint", "--explain", "pdx405")
    assert run.out == REGISTRY["PDX405"].markdown()
    run = cli("kb", "lint", "--explain", "PDX999", code=2)
    assert "PDX999: no such lint code" in run.err


def test_conclusion_types_list_matches_the_schema():
    from partnerdx.lint import load_types
    from partnerdx.schema import CONCLUSION_TYPES
    types = load_types()
    assert set(types) == set(CONCLUSION_TYPES)
    assert {t for t, d in types.items() if d["exclusive"]} == {"mode", "staircase"}


def test_an_overlay_carries_its_own_seed_texts(tmp_path):
    write(tmp_path / "seeds" / "notes.txt", "Our workshop notes say that partners must share.\n")
    write(tmp_path / "knowledge" / "sources.yaml", "kind: source\nfamily: local\nentries:\n"
          "  - id: local-notes\n    title: Our notes\n    authors: [Us]\n    year: 2024\n"
          "    published: Internal\n    seed: notes.txt\n")
    write(tmp_path / "knowledge" / "concepts.yaml", "kind: concept\nfamily: local\nentries:\n"
          "  - id: local.share\n    title: Share\n    text: x\n"
          "    source: {ref: local-notes, at: p1, quote: \"partners must share\"}\n"
          "  - id: local.never\n    title: Never share\n    text: x\n"
          "    source: {ref: local-notes, at: p1, quote: \"partners must never share\"}\n")
    findings = _lint(tmp_path, code=2).json()["findings"]
    assert [(f["code"], f["id"], f["line"]) for f in findings] == [("PDX301", "local.never", 11)]
    (tmp_path / "seeds" / "notes.txt").unlink()      # the quote can no longer be checked: say so
    findings = _lint(tmp_path, code=0).json()["findings"]
    assert [(f["code"], f["id"]) for f in findings] == [("PDX302", "local-notes")]


def test_lint_docs_and_feasibility_code_name_no_id(kb):
    """The checks work on any knowledge base: ids appear only in YAML (and in docs examples)."""
    import re
    ids = set(kb.questions) | set(kb.scores) | set(kb.conclusion_types) | set(kb.interventions) | set(kb.concepts)
    ids |= {r.id for r in kb.rules}
    for name in ("lint.py", "docsite.py", "feasible.py"):
        source = (ROOT / "engine" / name).read_text(encoding="utf-8")
        named = {i for i in ids if re.search(r"[\"'`]" + re.escape(i) + r"[\"'`]", source)}
        assert not named, f"engine/{name} names {sorted(named)}"


def test_a_builtin_mode_moved_to_overlap_its_neighbour_is_caught(tmp_path):
    """Lowering mode.creating's trust threshold from 3.5 to 3 makes it overlap mode.constraining
    (trust from 2.5 to under 3.5) for trust in [3, 3.5) with voluntarism >= 3."""
    write(tmp_path / "rules" / "modes.yaml", "kind: rules\nfamily: modes\nrules:\n"
          "  - id: mode.creating\n    override: true\n    title: Trust takes precedence\n"
          "    when: {all: [{score: dim.trust, gte: 3}, {score: dim.voluntary, gte: 3}]}\n"
          "    then: {conclude: mode.creating, type: mode}\n    because: x\n"
          '    source: {ref: morley-staircase, at: q, quote: "The ten questions are"}\n    examples: []\n')
    findings = _lint(tmp_path, "--select", "PDX405", code=2).json()["findings"]
    assert [(f["id"], f["message"].split(" (")[0]) for f in findings] == [
        ("mode.creating", "can fire together with mode.constraining")]
    assert "dim.trust ≥ 3" in findings[0]["message"] and "dim.voluntary ≥ 3" in findings[0]["message"]
