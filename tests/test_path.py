"""`partnerdx path`: every path offered really concludes its target when applied with what-if."""
from __future__ import annotations

import json

import pytest

from conftest import EXAMPLES, cli, write

PFI = EXAMPLES / "pfi-hospital.yaml"
CONSTRAINING = EXAMPLES / "eblc-constraining.yaml"
CREATING = EXAMPLES / "mental-health-creating.yaml"


def apply(file, path) -> dict:
    changes = [f"{c['item']}={c['to'] if not isinstance(c['to'], list) else ','.join(c['to'])}" for c in path["changes"]]
    return cli("what-if", file, *changes, "--format", "json").json()


@pytest.mark.parametrize("file,target", [
    (PFI, "stair.collaboration"), (PFI, "mode.constraining"), (PFI, "disconnect.priorities"),
    (PFI, "risk.fail.05"), (CONSTRAINING, "mode.creating"), (CONSTRAINING, "stair.partnership"),
    (CREATING, "stair.transform"), (CONSTRAINING, "mode.complying"),
])
def test_every_returned_path_concludes_its_target_with_what_if(file, target):
    result = cli("path", target, "--answers", file, "--format", "json").json()
    assert result["target"] == target
    assert result["reachable"], result
    assert 1 <= len(result["paths"]) <= 3
    for p in result["paths"]:
        assert 1 <= len(p["changes"]) <= 4
        assert all({"item", "from", "to"} <= set(c) for c in p["changes"])
        effect = apply(file, p)
        assert target in effect["added"], (p, effect)
        assert sorted(effect["added"]) == sorted([target] + p["side_effects"]["added"])
        assert sorted(effect["removed"]) == sorted(p["side_effects"]["removed"])


def test_pfi_path_to_collaboration_is_found():
    result = cli("path", "stair.collaboration", "--answers", PFI, "--format", "json").json()
    assert result["reachable"] and result["paths"][0]["changes"]
    assert all(c["item"].startswith("stair.") for c in result["paths"][0]["changes"])
    assert result["paths"][0]["interventions"]


def test_a_known_single_change_comes_first(tmp_path):
    answers = {"stair.q01": 4, "stair.q02": 4, "fail.03": 3, "ww.09": 1, "ww.10": 2}
    f = write(tmp_path / "a.json", json.dumps({"answers": answers}))
    result = cli("path", "risk.fail.03", "--answers", f, "--format", "json").json()
    first = result["paths"][0]["changes"]
    assert first == [{"item": "fail.03", "from": 3, "to": 4, "question": first[0]["question"]}]
    result = cli("path", "disconnect.priorities", "--answers", f, "--format", "json").json()
    assert [c["item"] for c in result["paths"][0]["changes"]] == ["stair.q02"]
    assert result["paths"][0]["changes"][0]["to"] == 2


def test_unreachable_target_says_what_blocks_it():
    result = cli("path", "mode.creating", "--answers", PFI, "--max-changes", "2", "--format", "json").json()
    assert result["reachable"] is False and result["paths"] == []
    details = [c["detail"] for r in result["blocked"]["rules"] for a in r["alternatives"] for c in a["conditions"]
               if c["status"] != "holds"]
    assert any(d.startswith("blocked: dim.trust") for d in details)
    text = cli("path", "mode.creating", "--answers", PFI, "--max-changes", "2").out
    assert "No path to mode.creating" in text and "blocked: dim.trust" in text


def test_already_concluded_and_unknown_target():
    assert "already concluded" in cli("path", "mode.complying", "--answers", PFI).out
    assert "did you mean" in cli("path", "mode.creatin", "--answers", PFI, code=2).err


def test_every_report_says_what_the_next_step_and_mode_would_take():
    from partnerdx.kb import load_kb
    kb = load_kb()
    md = cli("diagnose", PFI, "--format", "markdown").out
    section, appendix = md.split("## What would it take", 1)[1].split("## Appendix", 1)
    # named by title; the ids are in the appendix
    assert kb.rules_concluding("stair.collaboration")[0].title in section and "stair.collaboration" not in section
    assert "stair.q0" not in section and kb.questions["stair.q02"].title in section
    assert "- `stair.q02` — " in appendix
    # complying suits a PFI (fit.complying.suited): the report does not propose leaving it
    assert kb.rules_concluding("mode.constraining")[0].title not in section and "`t2.r" not in appendix
    assert "suits this context" in section
    md = cli("diagnose", CONSTRAINING, "--format", "markdown").out
    section, appendix = md.split("## What would it take", 1)[1].split("## Appendix", 1)
    assert kb.rules_concluding("mode.creating")[0].title in section
    assert "`t2.r" in appendix or "`t1.r" in appendix


def test_ladders_name_only_real_conclusions_in_order(kb):
    from partnerdx.path import ladders
    found = ladders(kb)
    assert found["staircase"] == ["stair.transactional", "stair.collaboration", "stair.partnership", "stair.transform"]
    assert found["mode"] == ["mode.complying", "mode.constraining", "mode.creating"]
    import yaml
    from conftest import ROOT
    raw = yaml.safe_load((ROOT / "rules" / "_ladders.yaml").read_text())["ladders"]
    assert raw == found, "every rung must be a conclusion some rule draws"
