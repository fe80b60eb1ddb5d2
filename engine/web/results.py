"""The facilitator's report: the submitted responses become the CSV that `partnerdx assess` reads,
and `assess` itself (engine/assess.py, engine/assess_report.py, used unchanged) makes the report.

So the web report has exactly the content, pictures and suppression of `assess`. What the
facilitator may see of it, and when, is decided by release.py (the CSV download is cut to the
organisations and items the report shows). One addition: every invited
organisation is listed, including one with no submitted response yet (0 respondents, suppressed),
which hides nothing and tells the facilitator whom to chase.

matplotlib is not thread-safe, and the server answers requests in threads: rendering is serialised.
"""
from __future__ import annotations

import csv
import io
import re
import tempfile
import threading
from pathlib import Path

from ..assess import Assessment, assess
from ..kb import KnowledgeBase
from ..questionnaire import Questionnaire
from ..survey import Survey, Tally, read_survey
from . import store

_RENDER = threading.Lock()
FORMATS = {"csv": ("text/csv", "csv"), "json": ("application/json", "json"),
           "markdown": ("text/markdown", "md"), "html": ("text/html", "html")}


def org_key(name: str) -> str:
    """How `survey` groups organisation names (whitespace collapsed, case folded)."""
    return " ".join(name.split()).casefold()


def scope_items(kb: KnowledgeBase, scope: str) -> list[str]:
    return Questionnaire(kb, scope).items


def survey_csv(kb: KnowledgeBase, scope: str, rows: list[tuple[int, str, dict]]) -> str:
    """One row per submitted response (CONTRACT §3): round, organisation, then the scope's items.
    No respondent id, no time: nothing that could tell who answered."""
    items = scope_items(kb, scope)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["round", "organisation", *items])
    for number, organisation, answers in rows:
        writer.writerow([number, organisation, *(_cell(answers.get(i)) for i in items)])
    return buf.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def _rated(kb: KnowledgeBase) -> list[str]:
    return [q for q, e in kb.questions.items() if e.type == "rated"]


def build(kb: KnowledgeBase, a: store.Assessment, rows: list[tuple[int, str, dict]], up_to: int) -> Assessment:
    """`assess` over rounds 1..up_to, every invited organisation listed in every round."""
    survey = _survey(kb, a, rows)
    for rnd in a.rounds:
        if rnd.number > up_to:
            continue
        label = str(rnd.number)
        groups = survey.rounds.setdefault(label, {})
        for link in rnd.links:
            key = org_key(link.organisation)
            survey.names.setdefault(key, link.organisation)
            groups.setdefault(key, Tally(len(survey.items)))
    survey.rounds = {str(n): survey.rounds[str(n)] for n in sorted(int(k) for k in survey.rounds)}
    survey.has_organisations = True
    submitted = sum(1 for r in rows if r[0] <= up_to)
    survey.files = [f"the web questionnaire ({submitted} submitted responses)"]
    with _RENDER:
        return assess(kb, survey, a.min_group, a.gap, a.partnership)


def _survey(kb: KnowledgeBase, a: store.Assessment, rows: list[tuple[int, str, dict]]) -> Survey:
    """Read the CSV exactly as `partnerdx assess` would; an empty Survey when nothing is rated yet."""
    rated = set(_rated(kb))
    if any(rated & set(answers) for _, _, answers in rows):
        with tempfile.TemporaryDirectory(prefix="partnerdx-web-") as tmp:
            path = Path(tmp) / "responses.csv"
            path.write_text(survey_csv(kb, a.scope, rows), encoding="utf-8")
            survey = read_survey(kb, [path])
        survey.warnings = [w for w in survey.warnings if "no rated answers" not in w.message]
        return survey
    return Survey(_rated(kb), [], {}, {}, [], [], True, "column")


def render(kb: KnowledgeBase, result: Assessment, fmt: str) -> str:
    from ..assess_report import render as assess_render
    with _RENDER:
        return assess_render(kb, result, fmt)


def html_parts(kb: KnowledgeBase, result: Assessment) -> tuple[str, str]:
    """(stylesheet, body) of the `assess` HTML page, to show inside the app's own page."""
    from ..assess_report import CSS, html_page
    with _RENDER:
        page = html_page(kb, result)
    body = page.split("<body>", 1)[1].rsplit("</body>", 1)[0]
    body = body.replace("<main>", "", 1).rsplit("</main>", 1)[0]     # the app's page has its own <main>
    return scoped(CSS, "article.report"), body


def scoped(css: str, container: str) -> str:
    """The report's stylesheet applied inside `container` only (its `body` rule becomes the container's)."""
    def prefix(selectors: str) -> str:
        return ",".join(container if s.strip() == "body" else f"{container} {s.strip()}" for s in selectors.split(","))
    return re.sub(r"([^{}]+)\{", lambda m: prefix(m.group(1)) + "{", css)
