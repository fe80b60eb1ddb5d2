"""`assess`: many respondents across organisations → statistics, anonymity, gaps, diagnoses, agenda.

Morley asks for the ten questions to be put in each organisation, anonymously, and the answers
compared within and between organisations; the variance is itself a finding, and the result is an
agenda (what works well, what the barriers are). The CWA Partnership Test adds: prioritise the areas
needing attention, match mechanisms to them, and name the areas that have none.

Anonymity (the policy we chose, stated in every report):

- an organisation with fewer than N respondents (`--min-group`, default 3) is *suppressed*: listed
  with its count only, never with figures, gaps or a diagnosis of its own;
- the overall figures include everyone, so the respondents hidden from view must number none or at
  least N, otherwise "overall minus the organisations shown" would reveal them: while they do not,
  the smallest organisation still shown (ties: by name) is suppressed too — *secondary suppression*,
  as HR survey platforms do. This covers the case of exactly one suppressed group, and also two
  suppressed groups of one respondent each;
- the same rule applies to each question: a mean resting on fewer than N answers is not shown (nor
  used in a diagnosis), and the answers hidden for that question must number none or at least N;
- fewer than N respondents in all: nothing but the count is reported.

Diagnoses reuse the engine unchanged: the means of the shown items are the answers (the rules
accept numbers from 1 to 5), and every justification says it rests on the means of N respondents.
Nothing here names an item, rule or conclusion id: what assess needs to know about the knowledge
base comes from `engine/assess.yaml` and from the knowledge base itself.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .answers import AnswerSet
from .conditions import atom_truth, atoms, truth
from .explain import diagnosis_json
from .inference import diagnose
from .kb import KnowledgeBase
from .model import Citation, Conclusion, Diagnosis, Justification, Premise
from .survey import Survey, Tally

SETTINGS_FILE = Path(__file__).with_name("assess.yaml")
OVERALL = "All organisations"
OVERALL_KEY = "\x00overall"    # never a casefolded organisation name (those come from CSV text)
GAP_TYPE = "gap"               # the conclusion type CONTRACT §5 fixes for perception gaps


@lru_cache(maxsize=1)
def settings() -> dict:
    """engine/assess.yaml: the ids and judgements assess needs, as data (see that file)."""
    with open(SETTINGS_FILE, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# ---- statistics ---------------------------------------------------------------------------------

CONFIDENCE = 0.95
SCALE_POINTS = 5                         # the 1–5 scale every rated item uses (CONTRACT §1)
METHOD_MEAN = ("Student t interval: mean ± t(0.975, n − 1) · SD / √n, clipped to the 1–5 scale. Chosen "
               "over the bootstrap because groups are small (3 to a few dozen answers): with 3 answers a "
               "bootstrap has only 10 distinct resamples and its interval is too narrow, while the t "
               "interval widens as n falls, as it should, and needs no random numbers (reports stay "
               "byte-identical). It assumes roughly symmetric answers; with every answer the same its "
               "width is 0 (no spread seen, not certainty).")
METHOD_GAP = ("Welch interval for the difference of two means (unequal spreads, Welch–Satterthwaite "
              "degrees of freedom). A gap is credible only when its 95 % interval excludes zero and the "
              "difference is at least the gap threshold; otherwise there is not enough evidence to tell.")
METHOD_AGREEMENT = ("agreement r_wg = 1 − SD² / 2, where 2 is the variance of answers spread evenly over "
                    "the five points (no agreement); 1 = everyone gave the same answer, 0 = as spread as "
                    "chance; clipped to 0–1 (James, Demaree & Wolf 1984; our choice of index, not the seeds').")


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betai(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function (df may be fractional, as Welch's are)."""
    tail = 0.5 * _betai(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=512)
def t_quantile(p: float, df: float) -> float:
    """The p-quantile (p > 0.5) of Student's t, by bisection: exact to 1e-12, no scipy at run time."""
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def mean_interval(n: int, mean: float, sd: float) -> tuple[float, float] | None:
    """95 % Student t interval of a mean, clipped to the scale (see METHOD_MEAN); none below 2 answers."""
    if n < 2:
        return None
    half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * sd / math.sqrt(n)
    return max(1.0, mean - half), min(float(SCALE_POINTS), mean + half)


def agreement(sd: float | None) -> float | None:
    """r_wg against a uniform ("no agreement") spread over the scale points (see METHOD_AGREEMENT)."""
    if sd is None:
        return None
    return min(1.0, max(0.0, 1.0 - sd * sd / ((SCALE_POINTS ** 2 - 1) / 12.0)))


def welch(a: "ItemStat", b: "ItemStat") -> tuple[float, float, float | None] | None:
    """95 % Welch interval of a.mean − b.mean and its degrees of freedom; none if either has < 2 answers."""
    if a.n < 2 or b.n < 2 or a.exact is None or b.exact is None:
        return None
    diff = a.exact - b.exact
    va, vb = (a.sd_exact or 0.0) ** 2 / a.n, (b.sd_exact or 0.0) ** 2 / b.n
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, None
    df = (va + vb) ** 2 / (va * va / (a.n - 1) + vb * vb / (b.n - 1))
    half = t_quantile(0.5 + CONFIDENCE / 2, df) * se
    return diff - half, diff + half, df


@dataclass
class ItemStat:
    """One item in one group: what may be shown (n always; the figures only when `shown`)."""

    n: int
    mean: float | None                 # rounded to 2 places: what is shown and what the rules see
    sd: float | None
    shown: bool = True
    exact: float | None = None         # unrounded, for differences (gaps, movement)
    sd_exact: float | None = None
    interval: tuple[float, float] | None = None    # 95 % interval of the mean, rounded to 2 places
    agreement: float | None = None                 # r_wg, rounded to 2 places

    def consistency(self) -> str | None:
        """Within-group consistency from the spread: consistent, mixed or divided."""
        if self.sd is None:
            return None
        limits = settings()["thresholds"]
        return ("consistent" if self.sd <= limits["consistent_sd"] else
                "mixed" if self.sd <= limits["divided_sd"] else "divided")

    def as_json(self) -> dict:
        """Suppressed: the count only — no mean, interval, spread or agreement that could reveal it."""
        if not self.shown:
            return {"n": self.n, "suppressed": True}
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "consistency": self.consistency(),
                "interval": list(self.interval) if self.interval else None, "agreement": self.agreement}


def item_stat(tally: Tally, index: int) -> ItemStat:
    """Mean, sample SD, 95 % interval and agreement from the counts; rounded to 2 places, the
    precision the rules then see."""
    n, total, squares = tally.moments(index)
    if n == 0:
        return ItemStat(0, None, None)
    mean = total / n
    sd = math.sqrt(max(squares - n * mean * mean, 0.0) / (n - 1)) if n > 1 else None
    ci = mean_interval(n, mean, sd) if sd is not None else None
    agree = agreement(sd)
    return ItemStat(n, round(mean, 2), None if sd is None else round(sd, 2), exact=mean, sd_exact=sd,
                    interval=(round(ci[0], 2), round(ci[1], 2)) if ci else None,
                    agreement=None if agree is None else round(agree, 2))


def aggregate_choice(tally: Tally, item: str, multi: bool, min_group: int) -> Any:
    """A context answer for a group: the most common choice, or the options at least half chose;
    none when fewer than N answered (a lone respondent's answer must not show through)."""
    answered = tally.answered_choice.get(item, 0)
    counts = tally.choices.get(item)
    if answered < min_group or not counts:
        return None
    if multi:
        return sorted(v for v, c in counts.items() if 2 * c >= answered) or None
    best = max(counts.values())
    return sorted(v for v, c in counts.items() if c == best)[0]


# ---- anonymity ----------------------------------------------------------------------------------

def suppress(counts: dict[str, int], names: dict[str, str], hidden: int, min_group: int) -> dict[str, str]:
    """Which groups to hide, with why: too small, or secondary (see the module docstring).

    `counts` are the groups that could be shown; `hidden` counts answers already hidden elsewhere.
    """
    reasons = {k: "small" for k, c in counts.items() if c < min_group}
    hidden += sum(counts[k] for k in reasons)
    shown = sorted((k for k in counts if k not in reasons), key=lambda k: (counts[k], names.get(k, k).casefold(), k))
    while 0 < hidden < min_group and shown:
        k = shown.pop(0)
        reasons[k] = "secondary"
        hidden += counts[k]
    return reasons


# ---- groups and rounds --------------------------------------------------------------------------

@dataclass
class Group:
    key: str
    name: str
    slug: str
    respondents: int
    suppressed: bool = False
    reason: str | None = None                      # small | secondary
    items: dict[str, ItemStat] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    sector: str | None = None
    diagnosis: Diagnosis | None = None

    @property
    def is_overall(self) -> bool:
        return self.key == OVERALL_KEY

    def shown_means(self) -> dict[str, float]:
        return {i: s.mean for i, s in self.items.items() if s.shown and s.mean is not None}


@dataclass
class Gap:
    """A difference of at least the threshold between two shown organisations on one item; credible
    only when the data support it (see METHOD_GAP)."""

    item: str
    high: Group
    low: Group
    difference: float
    conclusion: Conclusion
    credible: bool = False
    interval: tuple[float, float] | None = None    # 95 % Welch interval of high − low, 2 places
    df: float | None = None


@dataclass
class RoundResult:
    label: str
    respondents: int
    overall: Group
    groups: list[Group]
    gaps: list[Gap] = field(default_factory=list)

    @property
    def shown(self) -> list[Group]:
        return [g for g in self.groups if not g.suppressed]


def slugs(names: dict[str, str]) -> dict[str, str]:
    """Stable, unique, id-safe slugs of organisation names (for gap ids)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for key in sorted(names, key=lambda k: (names[k].casefold(), k)):
        ascii_name = unicodedata.normalize("NFKD", names[key]).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_") or "organisation"
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}_{n}"
        used.add(slug)
        out[key] = slug
    return out


def _build_round(kb: KnowledgeBase, survey: Survey, label: str, min_group: int, slug_of: dict[str, str]) -> RoundResult:
    tallies = survey.rounds[label]
    total = Tally(len(survey.items))
    for t in tallies.values():
        total.merge(t)
    overall = Group(OVERALL_KEY, OVERALL, "", total.respondents)
    groups = [Group(k, survey.names[k], slug_of[k], t.respondents) for k, t in tallies.items()] \
        if survey.has_organisations else []
    groups.sort(key=lambda g: (g.name.casefold(), g.key))
    if total.respondents < min_group:
        overall.suppressed, overall.reason = True, "small"
    reasons = suppress({g.key: g.respondents for g in groups}, survey.names, 0, min_group)
    for g in groups:
        if g.key in reasons:
            g.suppressed, g.reason = True, reasons[g.key]
    if not overall.suppressed:
        _fill_items(survey, overall, total, [(g, tallies[g.key]) for g in groups], min_group)
        _fill_context(kb, survey, overall, total, min_group)
        for g in groups:
            if not g.suppressed:
                _fill_context(kb, survey, g, tallies[g.key], min_group)
                sectors = tallies[g.key].sectors
                g.sector = max(sorted(sectors), key=lambda s: sectors[s]) if sectors else None
    return RoundResult(label, total.respondents, overall, groups)


def _fill_items(survey: Survey, overall: Group, total: Tally, groups: list[tuple[Group, Tally]],
                min_group: int) -> None:
    """Per item: the overall figure, each shown group's figure, and the same complementary
    suppression as for whole groups, so that no figure resting on fewer than N answers can be
    shown or worked out."""
    for index, item in enumerate(survey.items):
        stat = item_stat(total, index)
        if stat.n == 0:
            continue
        stat.shown = stat.n >= min_group
        overall.items[item] = stat
        per_group = {g.key: (g, item_stat(t, index)) for g, t in groups}
        hidden = sum(s.n for g, s in per_group.values() if g.suppressed)
        candidates = {k: s.n for k, (g, s) in per_group.items() if not g.suppressed and s.n > 0}
        hide = suppress(candidates, {k: g.name for k, (g, _) in per_group.items()}, hidden, min_group) \
            if stat.shown else dict.fromkeys(candidates, "small")
        for k, n in candidates.items():
            g, s = per_group[k]
            s.shown = k not in hide
            g.items[item] = s


def _fill_context(kb: KnowledgeBase, survey: Survey, group: Group, tally: Tally, min_group: int) -> None:
    for item in survey.choice_items:
        value = aggregate_choice(tally, item, kb.questions[item].type == "multi", min_group)
        if value is not None:
            group.context[item] = value


# ---- diagnoses ----------------------------------------------------------------------------------

def _diagnose_group(kb: KnowledgeBase, group: Group, title: str | None, backend: str) -> Diagnosis:
    values = {**group.shown_means(), **group.context}
    values = {q: values[q] for q in kb.questions if q in values}
    d = diagnose(kb, AnswerSet(values, title), backend)
    where = "" if group.is_overall else f" in {group.name}"
    note = f" (On the mean answers of {group.respondents} respondents{where}.)"
    for c in [*d.conclusions, *d.recommendations]:
        for j in c.justifications:
            j.because = j.because.rstrip() + note
    return d


def position(kb: KnowledgeBase, d: Diagnosis | None) -> dict:
    """Where a diagnosis lands: staircase step, Figure 1 mode, and the two Figure 1 scores."""
    cfg = settings()
    out: dict[str, Any] = {"staircase": None, "mode": None, "x": None, "y": None}
    if d is None:
        return out
    for c in d.conclusions:
        if c.type == cfg["staircase"]["conclusion_type"] and out["staircase"] is None:
            out["staircase"] = c.id
        if c.type == cfg["figure1"]["conclusion_type"] and out["mode"] is None:
            out["mode"] = c.id
    axes = figure1_axes(kb)
    if axes:
        for key, sid in zip(("x", "y"), axes):
            v = d.scores.get(sid)
            out[key] = None if v is None or v.value is None else round(v.value, 2)
    return out


METHOD_POSITION = ("conservative 95 % interval of a Figure 1 score (the mean of its rows): the mean of the "
                   "rows' SDs bounds the SD of each respondent's average from above (as if the rows' answers "
                   "moved together), so the interval is at least as wide as the true one; Student t with the "
                   "fewest answers any row has. Only rows shown (not suppressed) enter it.")


def position_interval(kb: KnowledgeBase, g: Group) -> dict[str, list[float] | None]:
    """Per Figure 1 axis, a conservative 95 % interval of the group's score (see METHOD_POSITION);
    none where the score is not a plain mean of items, or fewer than 2 answers per row are shown."""
    out: dict[str, list[float] | None] = {"x": None, "y": None}
    axes = figure1_axes(kb)
    if axes is None or g.suppressed:
        return out
    for key, sid in zip(("x", "y"), axes):
        score = kb.scores[sid]
        if score.fn != "mean" or not all(i in kb.questions for i in score.inputs):
            continue
        cells = [g.items[i] for i in score.inputs if i in g.items and g.items[i].shown and g.items[i].mean is not None]
        if len(cells) < score.min_answered or any(c.sd_exact is None for c in cells):
            continue
        n = min(c.n for c in cells)
        mean = sum(c.exact for c in cells) / len(cells)
        sd = sum(c.sd_exact for c in cells) / len(cells)
        ci = mean_interval(n, mean, sd)
        out[key] = [round(ci[0], 2), round(ci[1], 2)] if ci else None
    return out


def figure1_axes(kb: KnowledgeBase) -> tuple[str, str] | None:
    """The two scores the `mode` rules test, told apart by the instrument of the items behind them."""
    cache = kb.__dict__.setdefault("_assess_cache", {})
    if "axes" in cache:
        return cache["axes"]
    cfg = settings()["figure1"]
    found: dict[str, str] = {}
    for rule in kb.rules:
        if rule.kind != "conclusion" or rule.ctype != cfg["conclusion_type"]:
            continue
        for a in atoms(rule.when):
            if a.kind == "score" and a.ref in kb.scores:
                instruments = _instruments(kb, a.ref)
                for axis in ("x", "y"):
                    if instruments == {cfg[axis]["instrument"]}:
                        found.setdefault(axis, a.ref)
    cache["axes"] = (found["x"], found["y"]) if len(found) == 2 else None
    return cache["axes"]


def _instruments(kb: KnowledgeBase, ident: str, seen: frozenset = frozenset()) -> set[str]:
    if ident in kb.questions:
        return {kb.questions[ident].data["instrument"]}
    if ident in seen or ident not in kb.scores:
        return set()
    return set().union(*(_instruments(kb, i, seen | {ident}) for i in kb.scores[ident].inputs))


def items_behind(kb: KnowledgeBase, ident: str, seen: frozenset = frozenset()) -> list[str]:
    """Item ids a score (or item) is computed from, in knowledge-base order."""
    if ident in kb.questions:
        return [ident]
    if ident in seen or ident not in kb.scores:
        return []
    found = {i for x in kb.scores[ident].inputs for i in items_behind(kb, x, seen | {ident})}
    return [q for q in kb.questions if q in found]


def step_order(kb: KnowledgeBase) -> list[str]:
    """Staircase steps bottom to top, found by asking the rules: uniform answers to the staircase
    questions from 1 to 5 meet the steps in order. Steps never met follow in rule order."""
    cache = kb.__dict__.setdefault("_assess_cache", {})
    if "steps" in cache:
        return cache["steps"]
    cfg = settings()["staircase"]
    items = [q for q, e in kb.questions.items() if e.data["instrument"] == cfg["instrument"] and e.type == "rated"]
    first: dict[str, float] = {}
    for k in range(17):
        v = 1 + k * 0.25
        d = diagnose(kb, {q: v for q in items}, "reference")
        for c in d.conclusions:
            if c.type == cfg["conclusion_type"]:
                first.setdefault(c.id, v)
    by_rule = [r.concludes for r in kb.rules if r.kind == "conclusion" and r.ctype == cfg["conclusion_type"]]
    rest = [s for s in dict.fromkeys(by_rule) if s not in first]
    cache["steps"] = sorted(first, key=lambda s: first[s]) + rest
    return cache["steps"]


def figure1_regions(kb: KnowledgeBase, cells: int = 80) -> tuple[list[float], list[str], list[list[int]]] | None:
    """The mode regions of Figure 1 as the rules draw them: (grid values, mode ids, grid of indices,
    -1 where no mode rule holds). Evaluated on the two scores alone, in three-valued logic, at the
    centres of `cells` × `cells` squares (plus the edges), so that a contour between two samples
    falls exactly on any threshold that is a multiple of 4 / cells (0.05)."""
    cache = kb.__dict__.setdefault("_assess_cache", {})
    if ("regions", cells) in cache:
        return cache[("regions", cells)]
    axes = figure1_axes(kb)
    if axes is None:
        return None
    conclusion_type = settings()["figure1"]["conclusion_type"]
    rules = [r for r in kb.rules if r.kind == "conclusion" and r.ctype == conclusion_type]
    modes = list(dict.fromkeys(r.concludes for r in rules))
    grid = [1.0, *(1 + 4 * (k + 0.5) / cells for k in range(cells)), 5.0]
    out: list[list[int]] = []
    for y in grid:
        row = []
        for x in grid:
            scores = {axes[0]: x, axes[1]: y}
            hit = next((r.concludes for r in rules
                        if truth(r.when, lambda a: atom_truth(a, {}, scores, set())) is True), None)
            row.append(modes.index(hit) if hit else -1)
        out.append(row)
    cache[("regions", cells)] = (grid, modes, out)
    return cache[("regions", cells)]


# ---- gaps ---------------------------------------------------------------------------------------

def find_gaps(kb: KnowledgeBase, result: RoundResult, threshold: float) -> list[Gap]:
    """Pairs of shown organisations whose means on an item differ by at least `threshold`, each with
    the 95 % interval of the difference and whether the data support it (credible first, then by size)."""
    cfg = settings()
    concept = kb.entry(cfg["cite"]["gap"])
    cite = concept.source if concept is not None else None
    shown = result.shown
    gaps: list[Gap] = []
    for item in kb.questions:
        cells = [(g, g.items[item]) for g in shown if item in g.items and g.items[item].shown]
        found = []
        for i, (a, sa) in enumerate(cells):
            for b, sb in cells[i + 1:]:
                diff = round(abs(sa.exact - sb.exact), 2)
                if diff + 1e-9 < threshold:
                    continue
                (high, sh), (low, sl) = ((a, sa), (b, sb)) if sa.mean >= sb.mean else ((b, sb), (a, sa))
                w = welch(sh, sl)
                credible = w is not None and w[0] > 0
                interval = (round(w[0], 2), round(w[1], 2)) if w else None
                df = None if w is None or w[2] is None else round(w[2], 1)
                found.append(Gap(item, high, low, diff, _gap_conclusion(kb, item, high, sh, low, sl, diff, threshold,
                                                                        cite, credible, interval), credible, interval, df))
        gaps += sorted(found, key=lambda g: (not g.credible, -g.difference, g.conclusion.id))
    return gaps


def _gap_conclusion(kb: KnowledgeBase, item: str, high: Group, sh: ItemStat, low: Group, sl: ItemStat,
                    diff: float, threshold: float, cite: Citation | None, credible: bool = True,
                    interval: tuple[float, float] | None = None) -> Conclusion:
    cfg = settings()["gap"]
    first, second = sorted([high, low], key=lambda g: g.slug)
    ident = f"{cfg['id_prefix']}.{item}.{first.slug}.{second.slug}"
    q = kb.questions[item]
    because = (f"{high.name} ({sh.n} of {high.respondents} respondents answered) rates {item} "
               f"“{q.title}” at {sh.mean:.2f} on average; {low.name} ({sl.n} of {low.respondents}) at "
               f"{sl.mean:.2f}: a gap of {diff:.2f} on the 1–5 scale (threshold {threshold:g}).")
    ci = "not computable from fewer than 2 answers" if interval is None else \
        f"{interval[0]:.2f} to {interval[1]:.2f}"
    if credible:
        because += f" The 95 % interval of the difference, {ci}, excludes zero: the data support the gap."
        title = f"{high.name} and {low.name} see “{q.title}” differently"
    else:
        because += (f" The 95 % interval of the difference, {ci}, includes zero: not enough evidence to tell "
                    f"(n = {sh.n} and {sl.n}).")
        title = f"Not enough evidence to tell whether {high.name} and {low.name} see “{q.title}” differently"
    return Conclusion(ident, GAP_TYPE, title, [Justification(cfg["rule"], [Premise("item", item, None)], because)],
                      [cite] if cite else [])


# ---- the agenda ---------------------------------------------------------------------------------

def health(mean: float, polarity: str) -> float:
    """1–5 with 5 healthy, whichever end of the item's scale is the healthy one."""
    if polarity == "low":
        return 6 - mean
    if polarity == "middle":
        return 5 - 2 * abs(mean - 3)
    return mean


@dataclass
class Area:
    """A priority area: a problem the diagnosis concluded, or a weak or contested item."""

    id: str
    kind: str                                    # conclusion | item
    title: str
    items: list[str]
    weak: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    conclusion: Conclusion | None = None
    priority: int | None = None
    mechanisms: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    lowest: float = 5.0


def _targets(kb: KnowledgeBase, item: str) -> set[str]:
    """Ids an intervention may address to be a mechanism for this item: the item, its area, and the
    concepts that list it among their items."""
    out = {item}
    area = kb.questions[item].data.get("area")
    if area:
        out.add(area)
    for c in kb.concepts.values():
        if item in c.data.get("items", []):
            out.add(c.id)
    return out


def agenda(kb: KnowledgeBase, result: RoundResult) -> dict:
    """What works well, the barriers, the ranked priority areas with their mechanisms, and the
    areas with no mechanism in the knowledge base (CWA Partnership Test, steps 2–4)."""
    cfg = settings()
    limits, polarity = cfg["thresholds"], cfg["polarity"]
    overall, d = result.overall, result.overall.diagnosis
    gapped: dict[str, list[Gap]] = {}
    credible = [g for g in result.gaps if g.credible]
    for g in credible:
        gapped.setdefault(g.item, []).append(g)
    scored = {}
    for item, stat in overall.items.items():
        pol = polarity.get(kb.questions[item].data["instrument"])
        if pol and stat.shown:
            scored[item] = health(stat.mean, pol)
    well = sorted((i for i, h in scored.items() if h >= limits["strong"] and i not in gapped
                   and (overall.items[i].sd or 0) <= limits["consistent_sd"]), key=lambda i: (-scored[i], _kb_pos(kb, i)))
    weak = sorted((i for i, h in scored.items() if h <= limits["weak"]), key=lambda i: (scored[i], _kb_pos(kb, i)))
    recs = d.recommendations if d else []
    addressed = {x for r in recs for x in r.addresses}
    concluded = d.conclusions if d else []
    problems = [c for c in concluded if c.type in cfg["problem_types"]]
    areas = _areas(kb, [c for c in concluded if c in problems or c.id in addressed], weak, gapped, scored)
    for a in areas:
        _mechanisms(kb, a, recs)
        _reasons(kb, a, overall)
    areas.sort(key=_rank)
    return {"working_well": well, "weak": weak, "problems": problems, "gaps": credible,
            "areas": areas, "no_mechanism": [a for a in areas if not a.mechanisms], "health": scored}


def _kb_pos(kb: KnowledgeBase, item: str) -> int:
    cache = kb.__dict__.setdefault("_assess_cache", {})
    if "pos" not in cache:
        cache["pos"] = {q: i for i, q in enumerate(kb.questions)}
    return cache["pos"][item]


def _rank(a: Area) -> tuple:
    """The diagnosis' priority first, then more kinds of evidence, the weakest, the widest gap."""
    return (a.priority or 99, -_strands(a), a.lowest, -max((g.difference for g in a.gaps), default=0), a.id)


def _strands(a: Area) -> int:
    return (a.conclusion is not None) + bool(a.weak) + bool(a.gaps)


def _areas(kb: KnowledgeBase, problems: list[Conclusion], weak: list[str], gapped: dict[str, list[Gap]],
           scored: dict[str, float]) -> list[Area]:
    areas: list[Area] = []
    absorbed: set[str] = set()
    for c in problems:
        direct = [p.id for j in c.justifications for p in j.premises if p.kind == "item"]
        behind = list(dict.fromkeys(i for j in c.justifications for p in j.premises for i in items_behind(kb, p.id)))
        a = Area(c.id, "conclusion", c.title, behind, conclusion=c)
        a.weak = [i for i in direct if i in weak]
        a.gaps = [g for i in direct for g in gapped.get(i, [])]
        a.lowest = min((scored[i] for i in direct if i in scored), default=5.0)
        absorbed.update(direct)
        areas.append(a)
    for item in [*weak, *(i for i in kb.questions if i in gapped)]:
        if item in absorbed:
            continue
        absorbed.add(item)
        a = Area(item, "item", kb.questions[item].title, [item], weak=[item] if item in weak else [],
                 gaps=gapped.get(item, []), lowest=scored.get(item, 5.0))
        areas.append(a)
    return areas


def _mechanisms(kb: KnowledgeBase, a: Area, recs: list) -> None:
    """Recommendations of the diagnosis that address the area first, then knowledge-base
    interventions that address it or its items (CWA step 3)."""
    direct = a.items if a.conclusion is None else \
        [p.id for j in a.conclusion.justifications for p in j.premises if p.kind == "item"]
    targets = {a.id} | {t for i in direct for t in _targets(kb, i)}
    seen: set[str] = set()
    for r in recs:
        kb_addresses = set(kb.interventions[r.id].data.get("addresses", [])) if r.id in kb.interventions else set()
        if a.id in r.addresses or kb_addresses & targets:
            a.mechanisms.append({"id": r.id, "title": r.title, "via": "diagnosis", "priority": r.priority})
            a.priority = r.priority if a.priority is None else min(a.priority, r.priority)
            seen.add(r.id)
    for iid, entry in kb.interventions.items():
        if iid not in seen and set(entry.data.get("addresses", [])) & targets:
            a.mechanisms.append({"id": iid, "title": entry.title, "via": "knowledge base", "priority": None})


def _reasons(kb: KnowledgeBase, a: Area, overall: Group) -> None:
    if a.priority is not None:
        a.reasons.append(f"the diagnosis recommends acting on it at priority {a.priority} (1 = first)")
    if a.conclusion is not None:
        a.reasons.append(f"concluded from the mean answers ({a.conclusion.type}: {a.conclusion.id})")
    for i in a.weak[:3]:
        s = overall.items[i]
        a.reasons.append(f"weak answers on {i} “{kb.questions[i].title}”: mean {s.mean:.2f} of {s.n} answers")
    for g in a.gaps[:3]:
        a.reasons.append(f"perception gap on {g.item}: {g.high.name} {g.high.items[g.item].mean:.2f} vs "
                         f"{g.low.name} {g.low.items[g.item].mean:.2f}")


# ---- direction of travel ------------------------------------------------------------------------

def travel(kb: KnowledgeBase, rounds: list[RoundResult]) -> list[dict]:
    """Per organisation (and overall) shown in two rounds or more: where it was first and where it is
    last, whether it moved up or down the staircase, and the items that moved most."""
    if len(rounds) < 2:
        return []
    order = step_order(kb)
    keys: dict[str, str] = {OVERALL_KEY: OVERALL}
    for r in rounds:
        for g in r.groups:
            keys.setdefault(g.key, g.name)
    out = []
    for key in keys:
        path = []
        for r in rounds:
            g = r.overall if key == OVERALL_KEY else next((x for x in r.groups if x.key == key), None)
            if g is not None and not g.suppressed and g.diagnosis is not None:
                path.append((r.label, g))
        if len(path) < 2:
            continue
        (then_label, then), (now_label, now) = path[0], path[-1]
        p0, p1 = position(kb, then.diagnosis), position(kb, now.diagnosis)
        out.append({"name": now.name, "slug": now.slug or None,
                    "path": [{"round": lbl, **position(kb, g.diagnosis)} for lbl, g in path],
                    "then": {"round": then_label, **p0}, "now": {"round": now_label, **p1},
                    "step_change": _step_change(order, p0["staircase"], p1["staircase"]),
                    "moved_most": _moved_most(kb, then, now)})
    return out


def _step_change(order: list[str], before: str | None, after: str | None) -> str | None:
    if before is None or after is None or before not in order or after not in order:
        return None
    delta = order.index(after) - order.index(before)
    return "up" if delta > 0 else "down" if delta < 0 else "same"


def _moved_most(kb: KnowledgeBase, then: Group, now: Group) -> list[dict]:
    both = [(i, then.items[i], now.items[i]) for i in kb.questions
            if i in then.items and i in now.items and then.items[i].shown and now.items[i].shown]
    moved = [(i, a.mean, b.mean, round(b.exact - a.exact, 2)) for i, a, b in both if abs(b.exact - a.exact) >= 0.005]
    moved.sort(key=lambda m: (-abs(m[3]), _kb_pos(kb, m[0])))
    return [{"item": i, "title": kb.questions[i].title, "then": a, "now": b, "change": c}
            for i, a, b, c in moved[:settings()["thresholds"]["moved_most"]]]


# ---- the whole assessment -----------------------------------------------------------------------

@dataclass
class Assessment:
    title: str | None
    files: list[str]
    min_group: int
    gap_threshold: float
    rounds: list[RoundResult]
    round_source: str
    warnings: list
    agenda: dict
    travel: list[dict]

    @property
    def current(self) -> RoundResult:
        return self.rounds[-1]


def assess(kb: KnowledgeBase, survey: Survey, min_group: int = 3, gap: float = 1.5,
           title: str | None = None, backend: str = "durable") -> Assessment:
    """Statistics, suppression, gaps and diagnoses for every round; agenda for the latest."""
    slug_of = slugs(survey.names)
    rounds = []
    for label in survey.round_order:
        r = _build_round(kb, survey, label, min_group, slug_of)
        if not r.overall.suppressed:
            r.overall.diagnosis = _diagnose_group(kb, r.overall, title, backend)
            for g in r.shown:
                g.diagnosis = _diagnose_group(kb, g, g.name, backend)
            r.gaps = find_gaps(kb, r, gap)
            r.overall.diagnosis.conclusions += [g.conclusion for g in r.gaps if g.credible]
        rounds.append(r)
    current = rounds[-1]
    plan = agenda(kb, current) if not current.overall.suppressed else {
        "working_well": [], "weak": [], "problems": [], "gaps": [], "areas": [], "no_mechanism": [], "health": {}}
    return Assessment(title, survey.files, min_group, gap, rounds, survey.round_source, survey.warnings,
                      plan, travel(kb, rounds))


def differences(kb: KnowledgeBase, result: RoundResult) -> list[dict]:
    """Where shown organisations land on different staircase steps or Figure 1 modes."""
    out = []
    for kind in ("staircase", "mode"):
        landed = {g.name: position(kb, g.diagnosis)[kind] for g in result.shown}
        distinct = {v for v in landed.values() if v}
        out.append({"kind": kind, "same": len(distinct) <= 1, "by_organisation": landed})
    return out


# ---- JSON ---------------------------------------------------------------------------------------

def anonymity_text(min_group: int) -> str:
    return (f"Organisations with fewer than {min_group} respondents are suppressed: they are listed with "
            f"their count only. The overall figures include everyone, so the respondents hidden from view "
            f"must number none or at least {min_group}; while they do not, the smallest organisation still "
            f"shown is suppressed too (secondary suppression, as HR survey platforms do). The same rule "
            f"applies to each question: no figure rests on fewer than {min_group} answers. Individual "
            f"answers are never shown.")


def consistency_counts(g: Group) -> dict[str, int]:
    """How many shown questions a group answers consistently, mixed or divided."""
    counts = {"consistent": 0, "mixed": 0, "divided": 0}
    for stat in g.items.values():
        label = stat.consistency() if stat.shown else None
        if label:
            counts[label] += 1
    return counts


def _group_json(kb: KnowledgeBase, g: Group, full: bool) -> dict:
    out: dict[str, Any] = {"name": g.name, "slug": g.slug, "respondents": g.respondents, "suppressed": g.suppressed}
    if g.suppressed:
        out["reason"] = ("fewer than the minimum group size" if g.reason == "small" else
                         "secondary suppression: otherwise the overall figures would reveal a suppressed group")
        return out
    if g.sector:
        out["sector"] = g.sector
    out["consistency"] = consistency_counts(g)
    out["position"] = position(kb, g.diagnosis)
    out["position_interval"] = position_interval(kb, g)
    if full:
        out["items"] = {i: s.as_json() for i, s in g.items.items()}
        out["diagnosis"] = diagnosis_json(kb, g.diagnosis) if g.diagnosis else None
    return out


def _gap_json(g: Gap) -> dict:
    hs, ls = g.high.items[g.item], g.low.items[g.item]
    return {"id": g.conclusion.id, "item": g.item, "between": [g.high.name, g.low.name],
            "difference": g.difference, "means": [hs.mean, ls.mean], "answered": [hs.n, ls.n],
            "respondents": [g.high.respondents, g.low.respondents], "because": g.conclusion.justifications[0].because,
            "credible": g.credible, "interval": list(g.interval) if g.interval else None, "df": g.df}


def _area_json(a: Area, rank: int) -> dict:
    return {"rank": rank, "id": a.id, "kind": a.kind, "title": a.title, "items": a.items,
            "priority": a.priority, "why": "; ".join(a.reasons), "gaps": [g.conclusion.id for g in a.gaps],
            "mechanisms": a.mechanisms}


def assessment_json(kb: KnowledgeBase, a: Assessment) -> dict:
    """CONTRACT §5 `assess`: respondents, organisations (with suppressed), gaps, overall; and more."""
    cur = a.current
    overall = None
    if cur.overall.diagnosis is not None:
        overall = diagnosis_json(kb, cur.overall.diagnosis)
        overall["respondents"] = cur.respondents
        overall["basis"] = (f"means of the answers of {cur.respondents} respondents; an item answered by fewer "
                            f"than {a.min_group} is treated as unanswered")
        overall["position"] = position(kb, cur.overall.diagnosis)
    plan = a.agenda
    return {
        "partnership": a.title,
        "files": a.files,
        "round": cur.label or None,
        "respondents": cur.respondents,
        "min_group": a.min_group,
        "gap_threshold": a.gap_threshold,
        "anonymity": {"method": "secondary-suppression", "min_group": a.min_group, "text": anonymity_text(a.min_group)},
        "statistics": {"confidence": CONFIDENCE, "mean_interval": METHOD_MEAN, "gap_rule": METHOD_GAP,
                       "agreement": METHOD_AGREEMENT, "position_interval": METHOD_POSITION},
        "organisations": [_group_json(kb, g, True) for g in cur.groups],
        "items": {i: s.as_json() for i, s in cur.overall.items.items()},
        "gaps": [_gap_json(g) for g in cur.gaps],
        "differences": differences(kb, cur) if cur.groups else [],
        "overall": overall,
        "agenda": {
            "working_well": [{"item": i, "title": kb.questions[i].title, **cur.overall.items[i].as_json()}
                             for i in plan["working_well"]],
            "barriers": {
                "items": [{"item": i, "title": kb.questions[i].title, **cur.overall.items[i].as_json()}
                          for i in plan["weak"]],
                "conclusions": [{"id": c.id, "type": c.type, "title": c.title} for c in plan["problems"]],
                "gaps": [g.conclusion.id for g in plan["gaps"]],
            },
            "priorities": [_area_json(x, n) for n, x in enumerate(plan["areas"], start=1)],
            "no_mechanism": [{"id": x.id, "title": x.title} for x in plan["no_mechanism"]],
        },
        "rounds": [{"label": r.label or None, "respondents": r.respondents,
                    "organisations": [_group_json(kb, g, False) for g in r.groups],
                    "overall": position(kb, r.overall.diagnosis)} for r in a.rounds],
        "direction": a.travel,
        "warnings": [str(w) for w in a.warnings],
    }
