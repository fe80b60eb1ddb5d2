"""Reports a partnership manager reads: Markdown is the single layout; HTML and text render it.

HTML goes through markdown-it-py with raw HTML disabled, so names and answers are always escaped.
"""
from __future__ import annotations

import html
import io
import json
from typing import Callable

from .explain import diagnosis_json
from .kb import KnowledgeBase
from .model import Diagnosis

TYPE_HEADINGS = {
    "staircase": "Staircase of Relationships", "mode": "Figure 1 mode (mandatory/voluntary × contract/trust)",
    "disconnect": "Say-versus-do disconnects", "risk": "Risks of failure", "barrier": "Barriers present",
    "symptom": "End results reported", "cause": "Barriers to check", "fit": "Fit with the context",
    "outlook": "Outlook for service quality", "pressure": "Competing pressures out of balance",
    "whatworks": "What-Works areas that are weak", "gap": "Perception gaps",
}


def _md_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def _cite(c) -> str:
    return f"*{_md_escape(c.ref)}, {_md_escape(c.at)}*: “{_md_escape(c.quote)}”"


def markdown(kb: KnowledgeBase, d: Diagnosis, why_not: Callable[[str], str] | None = None) -> str:
    """The report; `why_not(id)` gives the command that explains a missing conclusion, when the caller
    has one the reader can run (diagnose of a file has; a survey's means have not)."""
    out = io.StringIO()
    name = d.partnership or "Partnership diagnosis"
    out.write(f"# {_md_escape(name)}\n\n")
    by_type: dict[str, list] = {}
    for c in d.conclusions:
        by_type.setdefault(c.type, []).append(c)
    head = []
    for t in ("staircase", "mode"):
        for c in by_type.get(t, []):
            head.append(f"**{TYPE_HEADINGS[t]}:** {_md_escape(c.title)} (`{c.id}`)")
    risks = by_type.get("risk", [])
    if risks:
        head.append("**Top risks:** " + "; ".join(f"{_md_escape(c.title)} (`{c.id}`)" for c in risks[:3]))
    if not head:
        head.append("Not enough answers yet for a staircase step or a Figure 1 mode.")
    out.write("\n".join(f"- {h}" for h in head) + "\n\n")
    out.write("## Findings\n\n")
    if not d.conclusions:
        out.write("No conclusion can be drawn from the answers given.\n\n")
    for t, items in by_type.items():
        out.write(f"### {TYPE_HEADINGS.get(t, t.title())}\n\n")
        for c in items:
            out.write(f"- **{_md_escape(c.title)}** (`{c.id}`)\n")
            for j in c.justifications:
                out.write(f"  - because {_md_escape(j.because)}\n")
            for s in c.sources:
                out.write(f"  - source: {_cite(s)}\n")
        out.write("\n")
    out.write("## Recommendations\n\n")
    if not d.recommendations:
        out.write("No intervention is indicated by the answers given.\n\n")
    for n, r in enumerate(d.recommendations, start=1):
        first = " — **do first**" if n <= 3 else ""
        out.write(f"{n}. **{_md_escape(r.title)}** (`{r.id}`, priority {r.priority}){first}\n")
        pad = " " * len(f"{n}. ")       # sub-points align with the item's text, also from item 10 on
        out.write(f"{pad}- addresses: {', '.join(f'`{a}`' for a in r.addresses) or 'the partnership as a whole'}\n")
        for j in r.justifications:
            out.write(f"{pad}- because {_md_escape(j.because)}\n")
        for s in r.sources:
            out.write(f"{pad}- source: {_cite(s)}\n")
    out.write("\n")
    _next_steps(kb, d, out, why_not)
    still_open = _could_still_change(kb, d)
    if still_open:
        out.write(f"*{still_open} unanswered questions could still change this diagnosis.*\n")
    return out.getvalue()


def _could_still_change(kb: KnowledgeBase, d: Diagnosis) -> int:
    """Unanswered questions some answer to which would change a rule's outcome: `d.unanswered` (every
    unanswered item that feeds a rule) less those no answer can change any more — the ones `ask`
    stops asking — so that the sentence is true."""
    from .relevance import relevant_items
    return len(relevant_items(kb, d.answers)) if d.unanswered else 0


def _next_steps(kb: KnowledgeBase, d: Diagnosis, out: io.StringIO, why_not: Callable[[str], str] | None) -> None:
    """What it would take to reach the next rung of each ladder (next step, next mode)."""
    from .answers import AnswerSet
    from .path import find_paths, next_rungs
    rungs = next_rungs(kb, d.concluded_ids)
    if not rungs:
        return
    out.write("## What would it take\n\n")
    for _, here, there in rungs:
        result = find_paths(kb, AnswerSet(d.answers, d.partnership), there, limit=1)
        title = kb.rules_concluding(there)[0].title
        if not result["paths"]:
            see = f"; what blocks it: `{why_not(there)}`" if why_not else ""
            out.write(f"- From `{here}` to **{_md_escape(title)}** (`{there}`): no path of four answer changes or "
                      f"fewer{see}.\n")
            continue
        p = result["paths"][0]
        moves = "; ".join(f"`{c['item']}` {c['from'] if c['from'] is not None else 'unanswered'} → {c['to']}"
                          for c in p["changes"])
        out.write(f"- From `{here}` to **{_md_escape(title)}** (`{there}`): {moves}.\n")
        if p["interventions"]:
            out.write("  - interventions: " + ", ".join(
                f"{_md_escape(kb.interventions[i].title)} (`{i}`)" for i in p["interventions"][:3]) + "\n")
    out.write("\n")


def html_page(kb: KnowledgeBase, d: Diagnosis, why_not: Callable[[str], str] | None = None) -> str:
    from markdown_it import MarkdownIt
    body = MarkdownIt("commonmark", {"html": False}).render(markdown(kb, d, why_not))
    title = html.escape(d.partnership or "Partnership diagnosis")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title} — partnerdx</title><style>body{{font-family:system-ui,sans-serif;max-width:50rem;"
            "margin:2rem auto;padding:0 1rem;line-height:1.45}code{background:#f3f3f3;padding:0 .2em}</style>"
            f"</head><body>\n{body}</body></html>\n")


def text(kb: KnowledgeBase, d: Diagnosis, width: int = 100, why_not: Callable[[str], str] | None = None) -> str:
    from rich.console import Console
    from rich.markdown import Markdown
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, force_terminal=False).print(Markdown(markdown(kb, d, why_not)))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render(kb: KnowledgeBase, d: Diagnosis, fmt: str, why_not: Callable[[str], str] | None = None) -> str:
    if fmt == "json":
        return json.dumps(diagnosis_json(kb, d), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(kb, d, why_not)
    if fmt == "html":
        return html_page(kb, d, why_not)
    return text(kb, d, why_not=why_not)
