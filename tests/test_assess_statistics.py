"""`assess` figures with their uncertainty: per organisation and item a mean with its 95 % interval
(Student t), the spread and an agreement index; a perception gap is credible only when the 95 %
Welch interval of the difference excludes zero (and the difference reaches the threshold), else
"not enough evidence to tell". Suppressed groups show none of the new figures.

The reference computation is scipy's (test extra only; the engine computes t quantiles itself).
"""
from __future__ import annotations

import pytest

from conftest import cli
from test_assess import org, survey_csv

ITEM = "stair.q01"
HIGH = [5, 5, 2]     # mean 4.00, SD 1.73: a divided group
LOW = [1, 4, 2]      # mean 2.33, SD 1.53: difference 1.67 (the nearest to 1.6 three answers allow)


def _survey(tmp_path, copies: int):
    groups = {"Alpha Council": [{ITEM: v} for v in HIGH * copies], "Beta Trust": [{ITEM: v} for v in LOW * copies]}
    return survey_csv(tmp_path / f"s{copies}.csv", groups, items=[ITEM])


def _gap(tmp_path, copies: int) -> tuple[dict, dict]:
    data = cli("assess", _survey(tmp_path, copies), "--format", "json").json()
    gaps = [g for g in data["gaps"] if g["item"] == ITEM]
    assert len(gaps) == 1 and gaps[0]["difference"] == pytest.approx(1.67)
    return data, gaps[0]


def test_three_against_three_with_high_spread_is_not_a_credible_gap(tmp_path):
    data, gap = _gap(tmp_path, 1)
    assert gap["credible"] is False and gap["interval"][0] < 0 < gap["interval"][1]
    assert "not enough evidence to tell" in gap["because"] and "n = 3 and 3" in gap["because"]
    assert not [c for c in data["overall"]["conclusions"] if c["type"] == "gap"], "no gap is claimed"
    assert data["agenda"]["barriers"]["gaps"] == []
    md = cli("assess", _survey(tmp_path, 1), "--format", "markdown").out
    assert "Not enough evidence to tell" in md


def test_thirty_against_thirty_with_the_same_difference_is_credible(tmp_path):
    data, gap = _gap(tmp_path, 10)
    assert gap["credible"] is True and gap["interval"][0] > 0
    assert [c["id"] for c in data["overall"]["conclusions"] if c["type"] == "gap"] == [gap["id"]]
    assert "the data support the gap" in gap["because"]


def test_gap_below_the_threshold_is_not_reported_however_sure(tmp_path):
    f = _survey(tmp_path, 10)
    data = cli("assess", f, "--format", "json", "--gap", "2").json()
    assert data["gaps"] == []


@pytest.mark.parametrize("copies", [1, 2, 10])
def test_intervals_match_scipy(tmp_path, copies):
    stats = pytest.importorskip("scipy.stats", reason="scipy is in the test extra: pip install -e '.[test]'")
    import numpy as np
    data, gap = _gap(tmp_path, copies)
    for name, values in (("Alpha Council", HIGH * copies), ("Beta Trust", LOW * copies)):
        x = np.array(values, dtype=float)
        lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        got = org(data, name)["items"][ITEM]
        assert got["interval"] == [round(max(1.0, lo), 2), round(min(5.0, hi), 2)]
        assert got["agreement"] == round(max(0.0, 1 - x.var(ddof=1) / 2.0), 2)
    ref = stats.ttest_ind(np.array(HIGH * copies, float), np.array(LOW * copies, float), equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert gap["interval"] == [round(ci.low, 2), round(ci.high, 2)]
    assert gap["df"] == round(float(ref.df), 1)


def test_t_quantiles_match_a_hand_checked_table():
    """Published two-sided 95 % critical values of Student's t (any statistics table)."""
    from partnerdx.assess import t_quantile
    for df, t in ((1, 12.7062), (2, 4.3027), (4, 2.7764), (9, 2.2622), (29, 2.0452), (1000, 1.9623)):
        assert t_quantile(0.975, df) == pytest.approx(t, abs=5e-5)
    assert 2.7764 < t_quantile(0.975, 3.2) < 3.1824       # Welch's fractional df: between df 4 and df 3


def test_no_interval_spread_or_agreement_for_a_suppressed_group(tmp_path):
    groups = {"Alpha Council": [{ITEM: v} for v in HIGH * 2], "Beta Trust": [{ITEM: v} for v in LOW * 2],
              "Tiny": [{ITEM: 5}, {ITEM: 1}]}
    data = cli("assess", survey_csv(tmp_path / "s.csv", groups, items=[ITEM]), "--format", "json").json()
    tiny = org(data, "Tiny")
    assert tiny["suppressed"] and set(tiny) <= {"name", "slug", "respondents", "suppressed", "reason"}
    hidden = [o for o in data["organisations"] if o["suppressed"]]
    for o in data["organisations"]:
        if not o["suppressed"]:
            assert o["items"][ITEM]["interval"] and "agreement" in o["items"][ITEM]
    # every figure of a shown cell rests on at least min_group answers, and the hidden ones number none or ≥ 3
    assert sum(o["respondents"] for o in hidden) in (0,) or sum(o["respondents"] for o in hidden) >= 3
    assert all(g["between"][0] != "Tiny" and g["between"][1] != "Tiny" for g in data["gaps"])
    assert data["statistics"]["confidence"] == 0.95 and "Student t" in data["statistics"]["mean_interval"]


def test_figure1_position_interval_is_conservative_against_per_respondent_scores(tmp_path):
    """Each organisation's Figure 1 point has an interval at least as wide as the exact t interval of
    its respondents' own scores (the mean of their Table 1 rows), and none when suppressed."""
    stats = pytest.importorskip("scipy.stats", reason="scipy is in the test extra: pip install -e '.[test]'")
    import random
    import numpy as np
    from test_assess import T1, T2
    rng = random.Random(16)
    people = {name: [{i: rng.choice(choices) for i in T1 + T2} for _ in range(n)]
              for name, n, choices in (("Alpha Council", 8, [2, 3, 4, 5]), ("Beta Trust", 5, [1, 2, 3]),
                                       ("Gamma", 3, [1, 5]), ("Tiny", 1, [3]))}
    data = cli("assess", survey_csv(tmp_path / "s.csv", people, items=T1 + T2), "--format", "json").json()
    shown = [o for o in data["organisations"] if not o["suppressed"]]
    assert {o["name"] for o in shown} == {"Alpha Council", "Beta Trust"}      # Tiny, then Gamma (secondary)
    for o in shown:
        rows = np.array([[p[i] for i in T1] for p in people[o["name"]]], dtype=float).mean(axis=1)
        lo, hi = stats.t.interval(0.95, len(rows) - 1, loc=rows.mean(), scale=stats.sem(rows))
        got = o["position_interval"]["x"]
        assert got[0] <= max(1.0, lo) + 0.005 and got[1] >= min(5.0, hi) - 0.005, (o["name"], got, lo, hi)
        assert got[0] <= o["position"]["x"] <= got[1]
    for o in data["organisations"]:
        if o["suppressed"]:
            assert "position_interval" not in o and "position" not in o


def test_identical_input_gives_byte_identical_reports_in_every_format():
    from test_assess import EXAMPLE
    for fmt in ("html", "markdown", "json"):
        assert cli("assess", EXAMPLE, "--format", fmt).out == cli("assess", EXAMPLE, "--format", fmt).out
