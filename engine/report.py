"""Reports a partnership manager reads: Markdown is the single layout; HTML and text render it.

HTML goes through markdown-it-py with raw HTML disabled, so names and answers are always escaped.
"""
from __future__ import annotations

import html
import io
import json
import re
from typing import Callable

from .explain import diagnosis_json
from .kb import KnowledgeBase
from .model import Diagnosis
from .pictures import Axis, figure1_svg, point_on_figure1, short_label, staircase_svg

def _md_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def _cite(c) -> str:
    return f"*{_md_escape(c.ref)}, {_md_escape(c.at)}*: “{_md_escape(c.quote)}”"


SUMMARY_TYPES = ("staircase", "mode")   # where the partnership stands: the two ladders' types
STRENGTH_TYPE = "strength"               # "What is working well" (CONTRACT §5, second wave)
STAIRCASE = "@@staircase@@"             # where the pictures go in the HTML page (a paragraph of its own)
FIGURE1 = "@@figure1@@"
PART = "\x00part\x00"                     # a new printed section (page break before it in print)


def _ref(title: str, ident: str, links: bool) -> str:
    """A finding or recommendation named in running text: its title only. In HTML (`links`) the title
    links to its appendix row and carries the id as its `title` attribute; ids stay out of the text."""
    return f"[{_md_escape(title)}](#ref-{ident} \"{ident}\")" if links else _md_escape(title)


def _short_cite(c) -> str:
    return f"*{_md_escape(c.ref)}, {_md_escape(c.at)}*"


def _grounds(kb: KnowledgeBase, found, out: io.StringIO, pad: str, links: bool) -> None:
    """Why a finding holds. Our judgement is shown as ours ("our reading of" the place it rests on,
    with the note why), the quote as what it rests on; a seed's claim as "because" with its source."""
    for j in found.justifications:
        if getattr(j, "basis", "seed") != "seed":
            at = found.sources[0].at if found.sources else "the sources"
            out.write(f"{pad}- our reading of {_md_escape(at)} (expert judgement): {_md_escape(j.because)}\n")
        else:
            out.write(f"{pad}- because {_md_escape(j.because)}\n")
    if getattr(found, "basis", "seed") != "seed" and getattr(found, "note", None):
        out.write(f"{pad}- why this is our judgement: {_md_escape(found.note)}\n")
    label = "rests on" if getattr(found, "basis", "seed") != "seed" else "source"
    for c in found.sources:
        out.write(f"{pad}- {label}: {_cite(c)}\n")


def _boundary(kb: KnowledgeBase, d: Diagnosis, c, out: io.StringIO, pad: str, links: bool) -> None:
    """Say so in words when one answer moved by one point would withdraw a conclusion."""
    moves_list = getattr(c, "sensitivity", None) or []
    if not moves_list:
        return
    def one(e: dict) -> str:
        moved = ", ".join(f"“{_question(kb, i, links)}” to {v}" for i, v in e["set"].items())
        instead = "; ".join(_ref(_title_of(kb, d, a), a, links) for a in e["adds"])
        return moved + (f" (would conclude {instead} instead)" if instead else "")
    more = f" and {len(moves_list) - 3} more" if len(moves_list) > 3 else ""
    out.write(f"{pad}- near the boundary: one answer moved by one point withdraws it: "
              + "; ".join(one(e) for e in moves_list[:3]) + more + "\n")


def headline(d: Diagnosis) -> dict:
    """The diagnosis' own headline where the reasoning stage made one (`d.headline`); otherwise the
    same fields from the order the engine already gives: the first step and mode concluded, the
    strengths, the first three risks (then other problems), and the recommendations marked first
    (else the first three)."""
    given = getattr(d, "headline", None)
    if given:
        return given
    first_of = {t: next((c.id for c in d.conclusions if c.type == t), None) for t in SUMMARY_TYPES}
    from .assess import settings
    problems = [t for t in settings()["problem_types"]]
    ranked = sorted((c for c in d.conclusions if c.type in problems),
                    key=lambda c: (c.type != "risk", problems.index(c.type)))
    marked = [r.id for r in d.recommendations if getattr(r, "first", False)]
    return {"step": first_of["staircase"], "mode": first_of["mode"],
            "strengths": [c.id for c in d.conclusions if c.type == STRENGTH_TYPE],
            "top_risks": [c.id for c in ranked[:3]],
            "first_actions": marked or [r.id for r in d.recommendations[:3]]}


def _title_of(kb: KnowledgeBase, d: Diagnosis, ident: str) -> str:
    found = d.conclusion(ident)
    if found is not None:
        return found.title
    rules = kb.rules_concluding(ident)
    return rules[0].title if rules else ident


def _summary(kb: KnowledgeBase, d: Diagnosis, links: bool) -> str:
    """The page a board reads: where the partnership stands, what works, the top risks, the first
    actions with one line of why each."""
    h = headline(d)
    out = io.StringIO()
    out.write("## Summary\n\n")
    step, mode = h.get("step"), h.get("mode")
    out.write("**Where the partnership stands**\n\n")
    for label, ident in (("Staircase step", step), ("Figure 1 mode", mode)):
        shown = _ref(_title_of(kb, d, ident), ident, links) if ident else "not enough answers yet to tell"
        out.write(f"- {label}: {shown}\n")
    out.write("\n" + STAIRCASE + "\n\n**What is working well**\n\n")
    strengths = h.get("strengths") or []
    out.write("".join(f"- {_ref(_title_of(kb, d, i), i, links)}\n" for i in strengths) or "- none found\n")
    out.write("\n**Top risks**\n\n")
    risks = h.get("top_risks") or []
    out.write("".join(f"- {_ref(_title_of(kb, d, i), i, links)}\n" for i in risks) or "- none found\n")
    out.write("\n**First actions**\n\n")
    actions = [r for i in h.get("first_actions") or [] if (r := d.conclusion(i)) is not None]
    if not actions:
        out.write("No intervention is indicated by the answers given.\n")
    for n, r in enumerate(actions, start=1):
        out.write(f"{n}. **{_ref(r.title, r.id, links)}** — {_why_line(kb, d, r, links)}\n")
    still_open = _could_still_change(kb, d)
    if still_open:
        out.write(f"\n*{still_open} unanswered questions could still change this diagnosis.*\n")
    return out.getvalue()


def _could_still_change(kb: KnowledgeBase, d: Diagnosis) -> int:
    """Unanswered questions some answer to which would change a rule's outcome: `d.unanswered` (every
    unanswered item that feeds a rule) less those no answer can change any more — the ones `ask`
    stops asking — so that the sentence is true."""
    from .relevance import relevant_items
    return len(relevant_items(kb, d.answers)) if d.unanswered else 0


def _why_line(kb: KnowledgeBase, d: Diagnosis, r, links: bool) -> str:
    """One line of why: the findings the action addresses."""
    if not r.addresses:
        return "for the partnership as a whole"
    return "because: " + "; ".join(_ref(_title_of(kb, d, a), a, links) for a in r.addresses)


WhyNot = Callable[[str], str] | None   # id -> a command the reader can run, where the caller has one


def sections(kb: KnowledgeBase, d: Diagnosis, links: bool = False, why_not: WhyNot = None) -> list[str]:
    """The report as Markdown chunks: summary, evidence, the full list, what it would take, and the
    appendix with ids and sources; PART starts a printed section, STAIRCASE and FIGURE1 mark where
    the HTML page puts the pictures."""
    from .advise import advise
    advise(kb, d)
    name = d.partnership or "Partnership diagnosis"
    out = [f"# {_md_escape(name)}\n", _summary(kb, d, links), PART, _evidence(kb, d, links), PART,
           _recommendations(kb, d, links)]
    rungs = rung_paths(kb, d)
    steps = _next_steps(kb, d, rungs, links, held_here(kb, d), why_not)
    if steps:
        out.append(steps)
    out += [PART, _appendix(kb, d, rungs)]
    return out


def markdown(kb: KnowledgeBase, d: Diagnosis, links: bool = False, why_not: WhyNot = None) -> str:
    """The report; `why_not(id)` gives the command that explains a missing conclusion, when the caller
    has one the reader can run (diagnose of a file has; a survey's means have not)."""
    joined = "\n".join(s for s in sections(kb, d, links, why_not) if s != PART)
    return joined.replace(STAIRCASE + "\n\n", "").replace(FIGURE1 + "\n\n", "")


def _evidence(kb: KnowledgeBase, d: Diagnosis, links: bool) -> str:
    """The findings by type, in the knowledge base's order; types whose `section` is not the default
    (an overlay's own) get a section of their own after the evidence."""
    out = io.StringIO()
    out.write("## Evidence\n\n" + FIGURE1 + "\n\n")
    by_type: dict[str, list] = {}
    for c in d.conclusions:
        by_type.setdefault(c.type, []).append(c)
    if not d.conclusions:
        out.write("No conclusion can be drawn from the answers given.\n\n")
    sections: dict[str, list[str]] = {"Findings": []}
    for t in sorted(by_type, key=lambda t: kb.type_info(t)["order"]):
        sections.setdefault(kb.type_info(t)["section"], []).append(t)
    for section, types in sections.items():
        if section != "Findings" and types:
            out.write(f"## {_md_escape(section)}\n\n")
        for t in types:
            out.write(f"### {_md_escape(kb.type_info(t)['title'])}\n\n")
            for c in by_type[t]:
                out.write(f"- **{_ref(c.title, c.id, links)}**\n")
                _grounds(kb, c, out, "  ", links)
                _boundary(kb, d, c, out, "  ", links)
            out.write("\n")
    return out.getvalue()


def _recommendations(kb: KnowledgeBase, d: Diagnosis, links: bool) -> str:
    """The full list after the evidence, grouped by priority (the first actions are marked)."""
    out = io.StringIO()
    out.write("## Recommendations\n\n")
    if not d.recommendations:
        out.write("No intervention is indicated by the answers given.\n\n")
    first = set(headline(d).get("first_actions") or [])
    stage = None
    for n, r in enumerate(d.recommendations, start=1):
        if r.priority != stage:
            stage = r.priority
            out.write(f"\n### Priority {stage}\n\n")
        mark = " — **do first**" if r.id in first else ""
        out.write(f"{n}. **{_ref(r.title, r.id, links)}** (priority {r.priority}){mark}\n")
        pad = " " * len(f"{n}. ")       # sub-points align with the item's text, also from item 10 on
        addressed = "; ".join(_ref(_title_of(kb, d, a), a, links) for a in r.addresses)
        out.write(f"{pad}- addresses: {addressed or 'the partnership as a whole'}\n")
        _grounds(kb, r, out, pad, links)
    out.write("\n")
    return out.getvalue()


def rung_paths(kb: KnowledgeBase, d: Diagnosis) -> list[tuple[str, str, dict | None]]:
    """(current rung, next rung, shortest path or None) for each ladder: the search runs once per report."""
    from .answers import AnswerSet
    from .path import find_paths, next_rungs
    out = []
    for _, here, there in next_rungs(kb, d.concluded_ids):
        paths = find_paths(kb, AnswerSet(d.answers, d.partnership), there, limit=1)["paths"]
        out.append((here, there, paths[0] if paths else None))
    return out


def held_here(kb: KnowledgeBase, d: Diagnosis) -> list[tuple[str, str]]:
    """(rung, the fit conclusion that says it suits the context): rungs the seeds do not ask to leave."""
    from .path import held_rungs
    return held_rungs(kb, d.concluded_ids)


def _next_steps(kb: KnowledgeBase, d: Diagnosis, rungs: list, links: bool,
                held: list[tuple[str, str]] = (), why_not: WhyNot = None) -> str:
    """What it would take to reach the next rung of each ladder (next step, next mode)."""
    if not rungs and not held:
        return ""
    out = io.StringIO()
    out.write("## What would it take\n\n")
    for here, because in held:
        out.write(f"- {_ref(_title_of(kb, d, here), here, links)} suits this context "
                  f"({_ref(_title_of(kb, d, because), because, links)}): what it takes is to make it work "
                  "well, not to leave it.\n")
    for here, there, p in rungs:
        title = kb.rules_concluding(there)[0].title
        now = _ref(_title_of(kb, d, here), here, links)
        goal = _ref(title, there, links)
        if p is None:
            see = f"; what blocks it: `{why_not(there)}`" if why_not else ""
            out.write(f"- From {now} to **{goal}**: no path of four answer changes or fewer{see}.\n")
            continue
        moves = "; ".join(f"“{_question(kb, c['item'], links)}” "
                          f"{c['from'] if c['from'] is not None else 'unanswered'} → {c['to']}"
                          for c in p["changes"])
        out.write(f"- From {now} to **{goal}**: {moves}.\n")
        if p["interventions"]:
            out.write("  - interventions: " + ", ".join(
                _ref(kb.interventions[i].title, i, links) for i in p["interventions"][:3]) + "\n")
    out.write("\n")
    return out.getvalue()


def _question(kb: KnowledgeBase, item: str, links: bool) -> str:
    q = kb.questions.get(item)
    return _ref(q.title if q is not None else item, item, links)


def _appendix(kb: KnowledgeBase, d: Diagnosis, rungs: list) -> str:
    """Every finding and recommendation with its id, the rules behind it and its sources quoted; and
    the questions the report names, with their ids (for `partnerdx why ID` and the JSON)."""
    out = io.StringIO()
    out.write("## Appendix: ids and sources\n\n")
    for c in [*d.conclusions, *d.recommendations]:
        rules = ", ".join(f"`{j.rule}`" for j in c.justifications)
        out.write(f"- `{c.id}` — {_md_escape(c.title)}; rule {rules}\n")
        for s in c.sources:
            out.write(f"  - source: {_cite(s)}\n")
    named = _also_named(kb, d, rungs)
    if named:
        out.write("\nAlso named in this report:\n\n")
        out.write("".join(f"- `{i}` — {_md_escape(title)}\n" for title, i in named))
    return out.getvalue() + "\n"


def _also_named(kb: KnowledgeBase, d: Diagnosis, rungs: list) -> list[tuple[str, str]]:
    """What 'What would it take' names besides the diagnosis' own findings: the next rungs, the
    interventions on the way, the questions to change (for `partnerdx why-not ID` and the JSON)."""
    out: dict[str, str] = {}
    for _, there, p in rungs:
        out.setdefault(there, kb.rules_concluding(there)[0].title)
        for i in (p["interventions"][:3] if p else []):
            if d.conclusion(i) is None:
                out.setdefault(i, kb.interventions[i].title)
    items = {c["item"] for _, _, p in rungs if p for c in p["changes"]}
    for q in kb.questions:
        if q in items:
            out.setdefault(q, kb.questions[q].title)
    return [(title, i) for i, title in out.items()]


CSS = ("body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.45;"
       "color:#222}code{background:#f3f3f3;padding:0 .2em;overflow-wrap:anywhere}a{color:#0b4f7c}"
       "a[href^='#ref-']{color:inherit;text-decoration:none;border-bottom:1px dotted #555}"
       "table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}"
       "th,td{border:1px solid #ccc;padding:.2rem .45rem;vertical-align:top;overflow-wrap:anywhere}"
       "th{background:#f3f3f3}figure{margin:1rem 0}figcaption{color:#444;font-size:.9rem}"
       "section.summary{border:2px solid #0b4f7c;border-radius:4px;padding:0 1rem .5rem}"
       "figure.staircase{max-width:30rem}figure.plot svg{max-width:34rem;display:block}"
       "@media (max-width:40rem){body{margin:1rem auto;padding:0 .6rem}}")
PRINT_CSS = ("@page{size:A4;margin:14mm 14mm 16mm}"
             "@media print{body{max-width:none;margin:0;padding:0;font-size:10pt;line-height:1.3}"
             "section.part+section.part{break-before:page}h2,h3{break-after:avoid}"
             "table,figure,tr,li{break-inside:avoid}thead{display:table-header-group}"
             "a{color:inherit;text-decoration:none}a[href^='http']::after{content:' (' attr(href) ')'}"
             "section.summary{border:none;padding:0}section.summary h2{margin-top:0}"
             "figure.staircase{max-width:22rem;margin:.3rem 0}}")


def html_page(kb: KnowledgeBase, d: Diagnosis, why_not: WhyNot = None) -> str:
    """One self-contained page: the summary (with the staircase) on the first printed page, then
    the evidence (with Figure 1), the recommendations and the appendix, each from a new page."""
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    chunks = sections(kb, d, links=True, why_not=why_not)
    parts, current = ['<section class="part summary">'], []

    def flush() -> None:
        parts.append(_pictures(kb, d, md.render("\n".join(current))))
        current.clear()
    for chunk in chunks[1:]:
        if chunk == PART:
            flush()
            parts.append('</section>\n<section class="part">')
        else:
            current.append(chunk)
    flush()
    parts.append("</section>")
    body = _anchor_appendix(md.render(chunks[0]) + "\n".join(parts))
    title = html.escape(d.partnership or "Partnership diagnosis")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title} — partnerdx</title><style>{CSS}{PRINT_CSS}</style>"
            f"</head><body>\n<main>\n{body}</main>\n</body></html>\n")


def _pictures(kb: KnowledgeBase, d: Diagnosis, rendered: str) -> str:
    """Put the pictures where the Markdown marks them (markdown-it renders a marker as a paragraph)."""
    for marker, draw in ((STAIRCASE, staircase_figure), (FIGURE1, figure1_figure)):
        para = f"<p>{marker}</p>\n"
        if para in rendered:
            rendered = rendered.replace(para, draw(kb, d))
    return rendered


def _anchor_appendix(body: str) -> str:
    """Give each appendix entry the anchor the running text links to (`#ref-ID`)."""
    return re.sub(r"<li><code>([^<]+)</code> — ", lambda m: f'<li id="ref-{m.group(1)}"><code>{m.group(1)}</code> — ', body)


def staircase_figure(kb: KnowledgeBase, d: Diagnosis) -> str:
    from .assess import settings
    from .path import ladders
    kind = settings()["staircase"]["conclusion_type"]
    types = kb.conclusion_types
    steps = next((rungs for rungs in ladders(kb).values() if rungs and all(types.get(r) == kind for r in rungs)), [])
    if not steps:
        return ""
    here = headline(d).get("step")
    picture = staircase_svg([(s, _title_of(kb, d, s)) for s in steps], here)
    return (f'<figure class="staircase">{picture}<figcaption>Where the partnership stands on Morley\'s '
            "Staircase of Relationships (the dark step).</figcaption></figure>\n")


def figure1_figure(kb: KnowledgeBase, d: Diagnosis) -> str:
    from .assess import figure1_axes, figure1_regions, position, settings
    axes, regions = figure1_axes(kb), figure1_regions(kb)
    p = position(kb, d)
    if axes is None or regions is None or p["x"] is None or p["y"] is None:
        return ""
    cfg = settings()["figure1"]
    x = Axis(kb.scores[axes[0]].title, cfg["x"]["low"], cfg["x"]["high"])
    y = Axis(kb.scores[axes[1]].title, cfg["y"]["low"], cfg["y"]["high"])
    mode = headline(d).get("mode")
    where = f"in the {short_label(mode).lower()} region" if mode else "in no mode region"
    desc = (f"The partnership (star) is at {x.score} {p['x']:.2f} ({x.low} 1 to {x.high} 5) and "
            f"{y.score} {p['y']:.2f} ({y.low} 1 to {y.high} 5), {where}.")
    name = d.partnership or "This partnership"
    picture = figure1_svg(regions, x, y, "Figure 1: where the partnership sits", "Figure 1 with the "
                          "partnership's position", desc, point_on_figure1(p["x"], p["y"], name), size=(5.4, 5.0))
    return (f'<figure id="figure1" class="plot">{picture}<figcaption>Figure 1 (Armistead &amp; Pettigrew): '
            f"the regions are where the rules conclude each mode; the star is this partnership. {html.escape(desc)}"
            "</figcaption></figure>\n")


def text(kb: KnowledgeBase, d: Diagnosis, width: int = 100, why_not: Callable[[str], str] | None = None) -> str:
    from rich.console import Console
    from rich.markdown import Markdown
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, force_terminal=False).print(Markdown(markdown(kb, d, why_not=why_not)))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render(kb: KnowledgeBase, d: Diagnosis, fmt: str, why_not: WhyNot = None) -> str:
    if fmt == "json":
        return json.dumps(diagnosis_json(kb, d), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(kb, d, why_not=why_not)
    if fmt == "html":
        return html_page(kb, d, why_not)
    return text(kb, d, why_not=why_not)
