"""What a facilitator may learn of the answers, and when: the one gate that every report page,
download (HTML, Markdown, JSON, CSV), API answer and live count goes through.

Why a gate of its own: the facilitator holds every invitation link and reads the report as often as
they like, so suppressing small groups inside one report is not enough (see SECURITY.md):

- **When.** A round's figures are released only once the round is closed. A closed round takes no
  more answers (store.submit refuses them) and is never reopened, so every read of its report gives
  the same figures: two reads around one submission cannot be subtracted from each other
  ("differencing"). Earlier rounds are closed, so the direction of travel still works.
- **Live counts.** While a round is open, an organisation's started/submitted counts are shown only
  as "fewer than k" below the minimum group k (and totals only when no organisation is below it), so
  the dashboard does not say whose answer arrived when.
- **What.** Every figure comes from `assess` (engine/assess.py), whose `suppress` hides small groups
  and whatever would let them be worked out (secondary suppression); the web computes none itself.
  The CSV, the only output with rows, is cut down by `disclosed_rows` to what that same result
  shows: rows only of organisations the report shows, and in them only the cells of items at least
  k people of that organisation answered and the report shows for it. A suppressed organisation
  is never named in the CSV. Figures added to `assess` later are covered as long as they are
  computed from shown groups (the report) and the CSV keeps going through `disclosed_rows`.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..assess import Assessment as Result
from ..kb import KnowledgeBase
from . import results, store
from .db import Database


class NotReleased(Exception):
    """The round asked for is still open: its figures would change with every answer."""

    def __init__(self, number: int) -> None:
        super().__init__(f"the report of round {number} is released when the round is closed: until then "
                         "every new answer would change it, and comparing two reads would show that answer")
        self.number = number


@dataclass
class Disclosure:
    """One released report: the `assess` result and the CSV rows it allows."""

    up_to: int
    result: Result
    rows: list[tuple[int, str, dict]]

    def csv(self, kb: KnowledgeBase, scope: str) -> str:
        return results.survey_csv(kb, scope, self.rows)


def released_rounds(a: store.Assessment) -> list[int]:
    return [r.number for r in a.rounds if r.closed]


def default_round(a: store.Assessment) -> int:
    """The latest released round, else the current one (which then explains that it is not yet)."""
    done = released_rounds(a)
    return done[-1] if done else a.current.number


def report(db: Database, kb: KnowledgeBase, a: store.Assessment, up_to: int) -> Disclosure:
    """The report of rounds 1..up_to, if round up_to is closed; NotReleased otherwise."""
    rnd = next(r for r in a.rounds if r.number == up_to)
    if not rnd.closed:
        raise NotReleased(up_to)
    rows = store.submitted_rows(db, a.id, up_to)
    result = results.build(kb, a, rows, up_to)
    return Disclosure(up_to, result, disclosed_rows(kb, result, rows))


def disclosed_rows(kb: KnowledgeBase, result: Result, rows: list[tuple[int, str, dict]]) -> list[tuple[int, str, dict]]:
    """The rows the report's own suppression allows (see the module docstring)."""
    rounds = {r.label: r for r in result.rounds}
    answered: Counter = Counter()
    for number, org, answers in rows:
        for item in answers:
            answered[(number, results.org_key(org), item)] += 1
    out = []
    for number, org, answers in rows:
        rnd = rounds.get(str(number))
        key = results.org_key(org)
        group = next((g for g in rnd.groups if g.key == key), None) if rnd else None
        if rnd is None or rnd.overall.suppressed or group is None or group.suppressed:
            continue
        kept = {}
        for item, value in answers.items():
            if answered[(number, key, item)] < result.min_group:
                continue
            stat = group.items.get(item)
            if item in kb.questions and kb.questions[item].type == "rated" and (stat is None or not stat.shown):
                continue
            kept[item] = value
        out.append((number, org, kept))
    return out


def count_text(n: int, min_group: int, released: bool) -> str:
    """A live count as the facilitator sees it: exact once released or at least k."""
    return str(n) if released or n >= min_group else f"fewer than {min_group}"


def count_value(n: int, min_group: int, released: bool) -> int | None:
    """The API's form of `count_text`: the number, or null for "fewer than min_group"."""
    return n if released or n >= min_group else None


def round_total(values: list[int], min_group: int, released: bool) -> int | None:
    """A round's total, only when it cannot be used to work out a masked organisation's count."""
    if released or all(v >= min_group for v in values):
        return sum(values)
    return None


@dataclass
class Counts:
    """A round's live counts as the facilitator may see them (strings: "4", "fewer than 3")."""

    started: dict[str, str]              # organisation -> text
    submitted: dict[str, str]
    started_total: str
    submitted_total: str


def counts(a: store.Assessment, rnd: store.Round | None = None) -> Counts:
    rnd = rnd or a.current
    k, done = a.min_group, rnd.closed

    def total(values: list[int]) -> str:
        found = round_total(values, k, done)
        if found is not None:
            return str(found)
        shown = [v for v in values if v >= k]
        return f"{sum(shown)} + fewer than {k} per other organisation" if shown else f"fewer than {k} per organisation"

    return Counts({x.organisation: count_text(x.started, k, done) for x in rnd.links},
                  {x.organisation: count_text(x.submitted, k, done) for x in rnd.links},
                  total([x.started for x in rnd.links]), total([x.submitted for x in rnd.links]))
