"""`partnerdx assess`: survey CSVs across organisations → figures, gaps, anonymity, diagnoses, agenda.

Every test goes through the command line, as a facilitator would, except the property test of the
anonymity rule, which drives the engine directly to try many group sizes quickly.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from conftest import EXAMPLES, ROOT, cli, seeds_dir, write

EXAMPLE = EXAMPLES / "three-organisations.csv"
STAIR = [f"stair.q{i:02d}" for i in range(1, 11)]
T1 = [f"t1.r{i:02d}" for i in range(1, 22)]
T2 = [f"t2.r{i:02d}" for i in range(1, 11)]
ITEMS = STAIR + T1 + T2


def survey_csv(path: Path, groups: dict[str, list[dict | int]], items: list[str] = ITEMS,
               meta: tuple[str, ...] = ("respondent", "organisation"), extra_rows: list[list[str]] = (),
               round_label: str | None = None, delimiter: str = ",", start: int = 1) -> Path:
    """A CSV with one row per respondent: `groups` maps organisation -> list of answer dicts (or a
    single number meaning every item gets that answer)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    header = list(meta) + (["round"] if round_label is not None else []) + items
    w.writerow(header)
    for row in extra_rows:
        w.writerow(row)
    n = start
    for org, people in groups.items():
        for person in people:
            answers = {i: person for i in items} if isinstance(person, (int, float)) else person
            cells = {"respondent": f"R{n}", "organisation": org, "round": round_label}
            w.writerow([cells[m] for m in meta] + ([round_label] if round_label is not None else [])
                       + [answers.get(i, "") for i in items])
            n += 1
    return write(path, buf.getvalue())


def org(data: dict, name: str) -> dict:
    return next(o for o in data["organisations"] if o["name"] == name)


# ---- the shared example, CONTRACT §5 ----------------------------------------------------------

def test_example_is_a_copy_of_the_shared_one():
    shared = ROOT.parent / "shared" / "examples" / "three-organisations.csv"
    if shared.is_file():
        assert EXAMPLE.read_bytes() == shared.read_bytes()


def test_example_json_follows_the_contract():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    assert data["respondents"] == 9
    assert [(o["name"], o["respondents"], o["suppressed"]) for o in data["organisations"]] == [
        ("Borough Council", 3, False), ("Clinical Commissioning Group", 3, False), ("Housing Association", 3, False)]
    assert data["gaps"], "the example has perception gaps"
    for g in data["gaps"]:
        assert {"item", "between", "difference"} <= set(g)
        assert len(g["between"]) == 2 and g["difference"] >= 1.5
    overall = data["overall"]
    assert {"conclusions", "recommendations", "unanswered"} <= set(overall)
    types = {c["type"] for c in overall["conclusions"]}
    assert {"staircase", "mode", "gap"} <= types
    for c in overall["conclusions"]:
        assert {"id", "type", "title", "because", "rule", "sources", "from"} <= set(c)
    rule_based = [c for c in overall["conclusions"] if c["type"] != "gap"]
    assert all("mean answers of 9 respondents" in c["because"] for c in rule_based)
    assert all("mean answers of 9 respondents" in r["because"] for r in overall["recommendations"])
    assert overall["respondents"] == 9 and "means" in overall["basis"]


def test_item_statistics_per_organisation_and_overall():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    q05 = org(data, "Borough Council")["items"]["stair.q05"]
    assert q05 == {"n": 3, "mean": 4.0, "sd": 0.0, "consistency": "consistent", "interval": [4.0, 4.0],
                   "agreement": 1.0}
    q02 = org(data, "Housing Association")["items"]["stair.q02"]      # answers 3, 1, 3
    assert q02["mean"] == 2.33 and q02["sd"] == 1.15 and q02["consistency"] == "mixed"
    assert data["items"]["stair.q01"]["n"] == 9 and data["items"]["stair.q01"]["mean"] == 3.0


def test_same_input_gives_byte_identical_json_whatever_the_row_order(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    shuffled = write(tmp_path / "three-organisations.csv", "\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    a = cli("assess", EXAMPLE, "--format", "json").out
    b = cli("assess", shuffled, "--format", "json").out
    assert cli("assess", EXAMPLE, "--format", "json").out == a
    without_files = [{k: v for k, v in json.loads(x).items() if k != "files"} for x in (a, b)]
    assert without_files[0] == without_files[1]


# ---- gaps -------------------------------------------------------------------------------------

def test_gap_is_a_conclusion_naming_both_groups_their_means_and_sizes_citing_morley():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    ident = "gap.stair.q05.borough_council.housing_association"
    gap = next(g for g in data["gaps"] if g["id"] == ident)
    assert gap["item"] == "stair.q05" and gap["between"] == ["Borough Council", "Housing Association"]
    assert gap["difference"] == 2.0 and gap["means"] == [4.0, 2.0] and gap["respondents"] == [3, 3]
    concl = next(c for c in data["overall"]["conclusions"] if c["id"] == ident)
    assert concl["type"] == "gap" and concl["from"] == ["stair.q05"]
    for words in ("Borough Council", "Housing Association", "4.00", "2.00", "3 of 3 respondents"):
        assert words in concl["because"]
    assert [s["ref"] for s in concl["sources"]] == ["morley-staircase"]
    quote = concl["sources"][0]["quote"]
    assert "significant variance in the perceptions" in quote
    from partnerdx.kb import normalise_quote
    seed = (seeds_dir() / "000_5675769acb783eba.txt").read_text(encoding="utf-8")
    assert normalise_quote(quote) in normalise_quote(seed)


def test_gap_threshold_option():
    wide = cli("assess", EXAMPLE, "--format", "json", "--gap", "2.1").json()["gaps"]
    assert [(g["item"], g["difference"]) for g in wide] == [("t1.r19", 2.33)]
    assert cli("assess", EXAMPLE, "--format", "json", "--gap", "3").json()["gaps"] == []
    default = cli("assess", EXAMPLE, "--format", "json").json()["gaps"]
    assert len(default) > len(wide) and all(g["difference"] >= 1.5 for g in default)


def test_gap_ids_are_stable_when_the_direction_flips(tmp_path):
    a = survey_csv(tmp_path / "a.csv", {"Zed Trust": [5, 5, 5], "Alpha Council": [1, 1, 1]}, items=STAIR)
    b = survey_csv(tmp_path / "b.csv", {"Zed Trust": [1, 1, 1], "Alpha Council": [5, 5, 5]}, items=STAIR)
    ga = {g["id"]: g for g in cli("assess", a, "--format", "json").json()["gaps"]}
    gb = {g["id"]: g for g in cli("assess", b, "--format", "json").json()["gaps"]}
    assert set(ga) == set(gb) and "gap.stair.q01.alpha_council.zed_trust" in ga
    assert ga["gap.stair.q01.alpha_council.zed_trust"]["between"] == ["Zed Trust", "Alpha Council"]
    assert gb["gap.stair.q01.alpha_council.zed_trust"]["between"] == ["Alpha Council", "Zed Trust"]


# ---- anonymity --------------------------------------------------------------------------------

def test_small_group_is_suppressed_with_its_count_only(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"Big": [4] * 5, "Mid": [2] * 4, "Tiny": [1, 5]})
    data = cli("assess", f, "--format", "json").json()
    tiny = org(data, "Tiny")
    assert tiny["suppressed"] is True and tiny["respondents"] == 2
    assert set(tiny) == {"name", "slug", "respondents", "suppressed", "reason"}
    assert all("Tiny" not in g["between"] for g in data["gaps"])
    assert "Tiny" not in json.dumps(data["overall"])


def test_exactly_one_suppressed_group_also_suppresses_the_next_smallest(tmp_path):
    """The inference case: with only Tiny hidden, overall minus Big and Mid would reveal Tiny's two
    answers; so Mid (the smallest shown) is hidden too, and overall minus Big mixes 6 people."""
    f = survey_csv(tmp_path / "s.csv", {"Big": [4] * 5, "Mid": [2] * 4, "Tiny": [1, 5]})
    data = cli("assess", f, "--format", "json").json()
    assert [(o["name"], o["suppressed"]) for o in data["organisations"]] == [
        ("Big", False), ("Mid", True), ("Tiny", True)]
    assert "secondary" in org(data, "Mid")["reason"]
    assert set(org(data, "Mid")) == {"name", "slug", "respondents", "suppressed", "reason"}
    assert data["anonymity"]["method"] == "secondary-suppression"
    shown_n = sum(o["items"]["stair.q01"]["n"] for o in data["organisations"] if not o["suppressed"])
    assert data["items"]["stair.q01"]["n"] - shown_n >= 3
    md = cli("assess", f, "--format", "markdown").out
    assert "secondary suppression" in md and "suppressed as well" in md


def test_two_small_groups_together_hide_enough_and_no_one_else_is_suppressed(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"Big": [4] * 5, "Mid": [2] * 4, "One": [1], "Two": [5, 5]})
    data = cli("assess", f, "--format", "json").json()
    assert [(o["name"], o["suppressed"]) for o in data["organisations"]] == [
        ("Big", False), ("Mid", False), ("One", True), ("Two", True)]


def test_a_question_answered_by_too_few_is_hidden_and_complemented(tmp_path):
    """In each group of 4 only Beta has a single answer to stair.q10: that cell is hidden, and so is
    the smallest other cell, or overall minus Alpha and Gamma would give Beta's one answer."""
    full = {i: 3 for i in ITEMS}
    no_q10 = {i: 3 for i in ITEMS if i != "stair.q10"}
    f = survey_csv(tmp_path / "s.csv", {"Alpha": [full] * 4, "Beta": [{**full, "stair.q10": 5}] + [no_q10] * 3,
                                        "Gamma": [full] * 3 + [no_q10]})
    data = cli("assess", f, "--format", "json").json()
    cells = {o["name"]: o["items"]["stair.q10"] for o in data["organisations"]}
    assert cells["Beta"] == {"n": 1, "suppressed": True}
    assert cells["Gamma"] == {"n": 3, "suppressed": True}       # the smallest other cell
    assert cells["Alpha"]["mean"] == 3.0
    assert data["items"]["stair.q10"]["n"] == 8


def test_a_question_answered_by_too_few_overall_is_hidden_and_treated_as_unanswered(tmp_path):
    full = {i: 3 for i in ITEMS}
    no_q10 = {i: 3 for i in ITEMS if i != "stair.q10"}
    f = survey_csv(tmp_path / "s.csv", {"A": [{**full, "stair.q10": 5}, no_q10, no_q10],
                                        "B": [{**full, "stair.q10": 1}, no_q10, no_q10]})
    data = cli("assess", f, "--format", "json").json()
    assert data["items"]["stair.q10"] == {"n": 2, "suppressed": True}
    assert all(o["items"]["stair.q10"] == {"n": 1, "suppressed": True} for o in data["organisations"])
    assert "stair.q10" in data["overall"]["unanswered"]
    assert all("stair.q10" in o["diagnosis"]["unanswered"] for o in data["organisations"])


def test_fewer_respondents_than_the_minimum_reports_nothing_but_the_count(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"Only": [{"stair.q01": 5, **{i: 2 for i in ITEMS[1:]}}, 3]})
    data = cli("assess", f, "--format", "json").json()
    assert data["respondents"] == 2 and data["overall"] is None and data["items"] == {} and data["gaps"] == []
    assert data["organisations"] == [{"name": "Only", "slug": "only", "respondents": 2, "suppressed": True,
                                      "reason": "fewer than the minimum group size"}]
    md = cli("assess", f, "--format", "markdown").out
    assert "fewer respondents in all than the minimum group size" in md


def test_min_group_option_and_its_floor(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"A": [4] * 4, "B": [2] * 4})
    assert all(o["suppressed"] for o in cli("assess", f, "--format", "json", "--min-group", "5").json()["organisations"])
    assert not any(o["suppressed"] for o in cli("assess", f, "--format", "json", "--min-group", "4").json()["organisations"])
    cli("assess", f, "--min-group", "1", code=2)
    cli("assess", f, "--gap", "0", code=2)


def test_individual_answers_never_appear(tmp_path):
    """A lone respondent's distinctive answers leave no trace in any format."""
    odd = {i: 1 for i in ITEMS}
    f = survey_csv(tmp_path / "s.csv", {"Alpha": [3] * 4, "Beta": [3] * 4, "Lone": [odd]}, items=ITEMS)
    for fmt in ("json", "markdown", "html", "text"):
        out = cli("assess", f, "--format", fmt).out
        assert "1.00" not in out, fmt            # the lone respondent's mean would read 1.00
    data = cli("assess", f, "--format", "json").json()
    assert [o["name"] for o in data["organisations"] if o["suppressed"]] == ["Alpha", "Lone"]   # tie: by name


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=6),
       skips=st.lists(st.integers(min_value=0, max_value=3), min_size=6, max_size=6),
       min_group=st.integers(min_value=2, max_value=4))
def test_nothing_hidden_can_be_worked_out_from_what_is_shown(kb, tmp_path, sizes, skips, min_group):
    """For every question and for respondent counts: overall minus the shown groups is 0 or >= N."""
    from partnerdx.assess import assess, assessment_json
    from partnerdx.survey import read_survey
    groups = {f"Org {k}": [{i: 1 + (k + n) % 5 for i in STAIR if not (n < skips[k] and i == "stair.q03")}
                           for n in range(size)] for k, size in enumerate(sizes)}
    f = survey_csv(tmp_path / "p.csv", groups, items=STAIR)
    data = assessment_json(kb, assess(kb, read_survey(kb, [f]), min_group, backend="reference"))
    shown = [o for o in data["organisations"] if not o["suppressed"]]
    hidden = data["respondents"] - sum(o["respondents"] for o in shown)
    assert hidden == 0 or hidden >= min_group or data["overall"] is None
    assert all(o["respondents"] >= min_group for o in shown)
    for item, stat in data["items"].items():
        if stat.get("suppressed"):
            assert all(item not in o["items"] or o["items"][item].get("suppressed") for o in shown)
            continue
        cells = [o["items"][item] for o in shown if item in o["items"] and not o["items"][item].get("suppressed")]
        assert all(c["n"] >= min_group for c in cells)
        rest = stat["n"] - sum(c["n"] for c in cells)
        assert rest == 0 or rest >= min_group, (item, stat, cells)


# ---- reading survey exports -------------------------------------------------------------------

def test_survey_platform_header_rows_are_skipped_with_a_warning_naming_the_line(tmp_path):
    text_row = ["Response ID", "Which organisation are you in?"] + [f"Q{i}. Is there evidence …?" for i in range(10)]
    import_row = ['{"ImportId":"_recordId"}', '{"ImportId":"QID1"}'] + [f'{{"ImportId":"QID{i}"}}' for i in range(len(STAIR))]
    f = survey_csv(tmp_path / "export.csv", {"A": [3] * 3, "B": [4] * 3}, items=STAIR, extra_rows=[text_row, import_row])
    run = cli("assess", f, "--format", "json")
    assert run.json()["respondents"] == 6
    assert re.search(r"export\.csv:2: warning: skipped a header row", run.err)
    assert re.search(r"export\.csv:3: warning: skipped a header row", run.err)


def test_a_row_with_no_rated_answers_is_skipped_with_a_warning(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"A": [3] * 3 + [{}]}, items=STAIR)
    run = cli("assess", f, "--format", "json")
    assert run.json()["respondents"] == 3 and re.search(r"s\.csv:5: warning: row has no rated answers", run.err)


def test_a_data_row_with_a_typo_is_an_error_not_a_header(tmp_path):
    typo = {i: 3 for i in STAIR} | {"stair.q02": "x"}
    f = survey_csv(tmp_path / "s.csv", {"A": [3, typo, 3]}, items=STAIR)
    run = cli("assess", f, code=2)
    assert re.search(r"s\.csv:3: stair\.q02: expected a number from 1 to 5 \(or unknown\), found 'x'", run.err)


def test_out_of_range_values_are_errors_even_when_a_whole_row_is_off_the_scale(tmp_path):
    f = survey_csv(tmp_path / "s.csv", {"A": [3, {**{i: 3 for i in STAIR}, "stair.q04": 7}, 3, 9]}, items=STAIR)
    run = cli("assess", f, code=2)
    assert re.search(r"s\.csv:3: stair\.q04: value 7 is out of range 1–5", run.err)
    assert re.search(r"s\.csv:5: stair\.q01: value 9 is out of range 1–5", run.err)
    assert "header row" not in run.err


def test_duplicated_respondent_ids_are_an_error_naming_both_lines(tmp_path):
    f = write(tmp_path / "dup.csv", "respondent,organisation," + ",".join(STAIR) + "\n"
              + "\n".join(f"R{n},A," + ",".join(["3"] * 10) for n in (1, 2, 3, 1)) + "\n")
    run = cli("assess", f, code=2)
    assert re.search(r"dup\.csv:5: R1: duplicate respondent id: also at .*dup\.csv:2", run.err)


def test_ragged_rows_are_errors_with_file_and_line(tmp_path):
    f = write(tmp_path / "ragged.csv", "organisation,stair.q01,stair.q02\nA,3,3\nA,3\nA,3,3,3\n")
    run = cli("assess", f, code=2)
    assert re.search(r"ragged\.csv:3: row has 2 cells, the header has 3", run.err)
    assert re.search(r"ragged\.csv:4: row has 4 cells, the header has 3", run.err)


def test_unknown_columns_are_warned_about_once_with_a_suggestion(tmp_path):
    f = write(tmp_path / "u.csv", "organisation,stair.q1,stair.q02,Timestamp\n" + "A,3,3,2024\n" * 3)
    run = cli("assess", f, "--format", "json")
    assert run.err.count("stair.q1: warning: unknown column") == 1
    assert "did you mean 'stair.q01'" in run.err and run.err.count("Timestamp") == 1


def test_bad_files_and_headers_exit_2(tmp_path):
    assert "no such file" in cli("assess", tmp_path / "missing.csv", code=2).err
    assert "no column is named by a rated item id" in cli("assess", write(tmp_path / "n.csv", "a,b\n1,2\n"), code=2).err
    dup = write(tmp_path / "d.csv", "stair.q01,stair.q01\n3,3\n")
    assert "column appears twice" in cli("assess", dup, code=2).err
    assert "nothing to assess" in cli("assess", write(tmp_path / "h.csv", "stair.q01\n"), code=2).err


def test_bom_semicolons_and_decimal_commas_read_like_plain_csv(tmp_path):
    plain = survey_csv(tmp_path / "plain.csv", {"A": [3, 4, 4.5], "B": [2, 2, 3]}, items=STAIR)
    text = plain.read_text().replace("4.5", '"4,5"').replace(",", ";").replace('"4;5"', "4,5")
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    a, b = (cli("assess", f, "--format", "json").json() for f in (plain, excel))
    assert a["organisations"] == b["organisations"] and a["gaps"] == b["gaps"]
    assert org(a, "A")["items"]["stair.q01"]["mean"] == 3.83


def test_large_groups_are_counted_exactly_on_both_paths(tmp_path):
    """Thousands of rows per group (several batches), blanks, and cells that take the slow path
    (' 3 ', '4.0', '2.5', 'unknown'): the figures equal a direct computation."""
    import random
    import statistics
    rng = random.Random(7)
    cells = ["1", "2", "3", "4", "5", "", "", " 3 ", "4.0", "2.5", "unknown"]
    value = {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5, " 3 ": 3, "4.0": 4, "2.5": 2.5}
    rows, expected = [], {"A": [], "B": []}
    for n in range(2600):
        who = "A" if n % 3 else "B"
        row = [rng.choice(cells[:6]) if n % 50 else rng.choice(cells) for _ in STAIR]
        if all(c in ("", "unknown") for c in row):
            row[0] = "3"
        rows.append(",".join([f"R{n}", who, *row]))
        expected[who].append(value.get(row[1]))
    f = write(tmp_path / "big.csv", "respondent,organisation," + ",".join(STAIR) + "\n" + "\n".join(rows) + "\n")
    data = cli("assess", f, "--format", "json").json()
    for who in ("A", "B"):
        got = org(data, who)["items"]["stair.q02"]
        answers = [v for v in expected[who] if v is not None]
        assert got["n"] == len(answers)
        assert got["mean"] == round(statistics.fmean(answers), 2)
        assert got["sd"] == round(statistics.stdev(answers), 2)
    assert data["respondents"] == 2600


def test_bad_input_never_destroys_an_existing_output_file(tmp_path):
    out = write(tmp_path / "report.json", "precious\n")
    bad = write(tmp_path / "bad.csv", "organisation,stair.q01\nA,6\n")
    cli("assess", bad, "--format", "json", "-o", out, code=2)
    assert out.read_text() == "precious\n"
    cli("assess", EXAMPLE, "--format", "json", "-o", out)
    assert json.loads(out.read_text())["respondents"] == 9
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


# ---- diagnoses, differences and the agenda ----------------------------------------------------

def test_one_diagnosis_per_shown_organisation_saying_whose_means_it_rests_on():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    for o in data["organisations"]:
        d = o["diagnosis"]
        assert d["partnership"] == o["name"]
        assert d["conclusions"] and all(f"3 respondents in {o['name']}" in c["because"] for c in d["conclusions"])
        assert set(o["position"]) == {"staircase", "mode", "x", "y"}
        assert o["position"]["x"] == round(d["scores"]["dim.voluntary"], 2)
        assert o["position"]["y"] == round(d["scores"]["dim.trust"], 2)


def test_where_organisations_land_differently_is_said():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    md = cli("assess", EXAMPLE, "--format", "markdown").out
    assert [d["kind"] for d in data["differences"]] == ["staircase", "mode"]
    for diff in data["differences"]:
        landed = diff["by_organisation"]
        assert set(landed) == {o["name"] for o in data["organisations"]}
        assert landed == {o["name"]: o["position"][diff["kind"]] for o in data["organisations"]}
        assert diff["same"] == (len(set(landed.values())) == 1)
        what = "staircase steps" if diff["kind"] == "staircase" else "Figure 1 modes"
        assert (f"land on different {what}" in md) == (not diff["same"])


def test_agenda_ranks_priority_areas_with_reasons_mechanisms_and_lists_those_without():
    data = cli("assess", EXAMPLE, "--format", "json").json()
    agenda = data["agenda"]
    assert {"working_well", "barriers", "priorities", "no_mechanism"} <= set(agenda)
    ranks = [p["rank"] for p in agenda["priorities"]]
    assert ranks == list(range(1, len(ranks) + 1)) and ranks
    assert all(p["why"] for p in agenda["priorities"])
    without = [p["id"] for p in agenda["priorities"] if not p["mechanisms"]]
    assert [x["id"] for x in agenda["no_mechanism"]] == without
    assert set(agenda["barriers"]["gaps"]) == {g["id"] for g in data["gaps"] if g["credible"]}
    weak = {b["item"] for b in agenda["barriers"]["items"]}
    assert "stair.q10" in weak                          # mean 2.44 across the nine
    recommended = [m for p in agenda["priorities"] for m in p["mechanisms"] if m["via"] == "diagnosis"]
    rec_ids = {r["id"] for r in data["overall"]["recommendations"]}
    assert all(m["id"] in rec_ids for m in recommended)
    priorities = [p["priority"] or 99 for p in agenda["priorities"]]
    assert priorities == sorted(priorities)
    md = cli("assess", EXAMPLE, "--format", "markdown").out
    for heading in ("### What is working well", "### Barriers", "### Priority areas",
                    "### Areas with no mechanism in the knowledge base"):
        assert heading in md
    assert "Prepare to discuss those areas which require attention" in md


def test_high_and_consistent_items_are_what_works_well(tmp_path):
    good = {i: 5 for i in ITEMS} | {"stair.q03": 1}
    f = survey_csv(tmp_path / "w.csv", {"A": [good] * 3, "B": [good | {"stair.q01": 4}] * 3})
    agenda = cli("assess", f, "--format", "json").json()["agenda"]
    well = [x["item"] for x in agenda["working_well"]]
    assert "stair.q02" in well and "stair.q01" in well and "stair.q03" not in well
    assert "stair.q03" in [x["item"] for x in agenda["barriers"]["items"]]
    assert not any(i.startswith("t1.") for i in well), "Table 1 places the partnership; it is not a strength"


def test_fractional_answers_are_accepted(tmp_path):
    f = survey_csv(tmp_path / "f.csv", {"A": [{i: 3.5 for i in STAIR}, 2.5, 4]}, items=STAIR)
    data = cli("assess", f, "--format", "json").json()
    assert data["items"]["stair.q01"]["mean"] == 3.33


def test_respondents_without_an_organisation(tmp_path):
    """A blank organisation is a group of its own (it counts for anonymity); no organisation column
    at all gives the whole partnership only."""
    f = survey_csv(tmp_path / "b.csv", {"Council": [4] * 3, "": [2] * 3}, round_label="1")
    g = write(tmp_path / "b2.csv", f.read_text() + survey_csv(tmp_path / "x.csv", {"Council": [5] * 3, "": [1] * 3},
                                                               round_label="2", start=7).read_text().split("\n", 1)[1])
    data = cli("assess", g, "--format", "json").json()
    unstated = org(data, "(organisation not stated)")
    assert not unstated["suppressed"] and "in (organisation not stated)" in unstated["diagnosis"]["conclusions"][0]["because"]
    travel = {t["name"]: t for t in data["direction"]}
    assert set(travel) == {"All organisations", "Council", "(organisation not stated)"}
    assert travel["All organisations"]["slug"] is None
    assert travel["(organisation not stated)"]["now"]["x"] == unstated["position"]["x"]
    bare = write(tmp_path / "bare.csv", ",".join(STAIR) + "\n" + ("3," * 9 + "3\n") * 4)
    data = cli("assess", bare, "--format", "json").json()
    assert data["organisations"] == [] and data["respondents"] == 4 and data["overall"]["conclusions"]


# ---- rounds -----------------------------------------------------------------------------------

def _two_rounds(tmp_path) -> tuple[Path, Path, Path]:
    r1 = {"Council": [2] * 3, "Trust": [1] * 3}
    r2 = {"Council": [4] * 3, "Trust": [2] * 3}
    first = survey_csv(tmp_path / "2023.csv", r1)
    second = survey_csv(tmp_path / "2024.csv", r2)
    a = survey_csv(tmp_path / "x1.csv", r1, round_label="1").read_text()
    b = survey_csv(tmp_path / "x2.csv", r2, round_label="2").read_text().split("\n", 1)[1]
    both = write(tmp_path / "both.csv", a + b)
    return first, second, both


def test_round_column_gives_the_direction_of_travel(tmp_path):
    _, _, both = _two_rounds(tmp_path)
    data = cli("assess", both, "--format", "json").json()
    assert data["round"] == "2" and data["respondents"] == 6
    assert [r["label"] for r in data["rounds"]] == ["1", "2"]
    travel = {t["name"]: t for t in data["direction"]}
    assert set(travel) == {"All organisations", "Council", "Trust"}
    council = travel["Council"]
    assert council["then"]["round"] == "1" and council["now"]["round"] == "2"
    assert council["step_change"] == "up"
    assert council["now"]["x"] > council["then"]["x"] and council["now"]["y"] > council["then"]["y"]
    assert council["moved_most"] and council["moved_most"][0]["change"] == 2.0
    md = cli("assess", both, "--format", "markdown").out
    assert "## Direction of travel" in md and "up the staircase" in md


def test_several_csvs_are_rounds_in_the_order_given_unless_same_round(tmp_path):
    first, second, both = _two_rounds(tmp_path)
    by_files = cli("assess", first, second, "--format", "json").json()
    by_column = cli("assess", both, "--format", "json").json()
    assert [r["label"] for r in by_files["rounds"]] == ["2023", "2024"]
    strip = lambda ts: [{k: v for k, v in t.items() if k not in ("then", "now", "path")} for t in ts]  # noqa: E731
    assert strip(by_files["direction"]) == strip(by_column["direction"])
    reversed_ = {t["name"]: t for t in cli("assess", second, first, "--format", "json").json()["direction"]}
    assert reversed_["Council"]["step_change"] == "down"


def test_same_round_merges_files_and_still_finds_duplicates(tmp_path):
    a = survey_csv(tmp_path / "a.csv", {"Council": [3] * 3})
    b = survey_csv(tmp_path / "b.csv", {"Trust": [3] * 3}, start=4)
    data = cli("assess", a, b, "--same-round", "--format", "json").json()
    assert data["respondents"] == 6 and len(data["rounds"]) == 1 and data["direction"] == []
    c = survey_csv(tmp_path / "c.csv", {"Trust": [3] * 3})
    run = cli("assess", a, c, "--same-round", code=2)
    assert re.search(r"c\.csv:2: R1: duplicate respondent id: also at .*a\.csv:2", run.err)


# ---- formats ----------------------------------------------------------------------------------

def test_html_is_one_self_contained_page_with_both_pictures_and_escaped_names(tmp_path):
    f = survey_csv(tmp_path / "x.csv", {"<script>alert(1)</script>": [4] * 3, "Cost $5$ & <b>Co</b>": [1] * 3})
    page = cli("assess", f, "--format", "html").out
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert "<script" not in page.lower() and "<b>Co</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'id="figure1"' in page and 'id="bars"' in page and page.count("<svg") == 2
    assert not re.search(r"(src|href)=\"https?:", page) and "@import" not in page and "<image" not in page
    assert "Creating" in page and "Complying" in page and "Constraining" in page


def test_text_and_markdown_formats(tmp_path):
    text = cli("assess", EXAMPLE).out
    assert "Agenda" in text and "Perception gaps" in text and "Housing Association" in text
    md = cli("assess", EXAMPLE, "--format", "markdown", "--title", "Northshire | *P*").out
    assert md.startswith("# Northshire \\| \\*P\\*")


# ---- the engine names no id -------------------------------------------------------------------

def test_assess_settings_name_only_ids_the_knowledge_base_has(kb):
    from partnerdx.assess import figure1_axes, settings, step_order
    from partnerdx.schema import INSTRUMENTS
    cfg = settings()
    assert all(kb.entry(ident) is not None for ident in cfg["cite"].values())
    assert set(cfg["polarity"]) <= set(INSTRUMENTS)
    fig = cfg["figure1"]
    assert {fig["x"]["instrument"], fig["y"]["instrument"], cfg["staircase"]["instrument"]} <= set(INSTRUMENTS)
    assert figure1_axes(kb) is not None
    steps = step_order(kb)
    assert set(steps) == {c for c, t in kb.conclusion_types.items() if t == cfg["staircase"]["conclusion_type"]}


def test_assess_modules_name_no_item_rule_or_conclusion_id(kb):
    ids = set(kb.questions) | set(kb.scores) | set(kb.conclusion_types) | set(kb.interventions) | set(kb.concepts)
    ids |= {r.id for r in kb.rules}
    for name in ("survey.py", "assess.py", "assess_report.py"):
        source = (ROOT / "engine" / name).read_text(encoding="utf-8")
        named = {i for i in ids if re.search(r"[\"'`]" + re.escape(i) + r"[\"'`]", source)}
        assert not named, f"engine/{name} names {sorted(named)}"
