"""Reports a partnership manager reads: Markdown is the single layout; HTML and text render it.

HTML goes through markdown-it-py with raw HTML disabled, so names and answers are always escaped.
"""
from __future__ import annotations

import html
import io
import json

from .explain import diagnosis_json
from .kb import KnowledgeBase
from .model import Diagnosis



def _md_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\`*_[]<>#|" else ch for ch in text)


def _cite(c) -> str:
    return f"*{_md_escape(c.ref)}, {_md_escape(c.at)}*: “{_md_escape(c.quote)}”"


def markdown(kb: KnowledgeBase, d: Diagnosis) -> str:
    out = io.StringIO()
    name = d.partnership or "Partnership diagnosis"
    out.write(f"# {_md_escape(name)}\n\n")
    by_type: dict[str, list] = {}
    for c in d.conclusions:
        by_type.setdefault(c.type, []).append(c)
    _headline(kb, d, out)
    sections: dict[str, list[str]] = {"Findings": []}   # each type's section and order come from the KB
    for t in sorted(by_type, key=lambda t: kb.type_info(t)["order"]):
        sections.setdefault(kb.type_info(t)["section"], []).append(t)
    for section, types in sections.items():
        if not types and (section != "Findings" or d.conclusions):
            continue
        out.write(f"## {_md_escape(section)}\n\n")
        if section == "Findings" and not d.conclusions:
            out.write("No conclusion can be drawn from the answers given.\n\n")
        for t in types:
            _findings(out, kb.type_info(t)["title"], by_type[t])
    _recommendations(kb, d, out)
    return out.getvalue()


def _findings(out: io.StringIO, heading: str, items: list) -> None:
    """One type's conclusions under its heading, each with its grounds and how robust it is."""
    out.write(f"### {_md_escape(heading)}\n\n")
    for c in items:
        out.write(f"- **{_md_escape(c.title)}** (`{c.id}`)\n")
        _grounds(c, out, "  ")
        _boundary(c, out)
    out.write("\n")


def _recommendations(kb: KnowledgeBase, d: Diagnosis, out: io.StringIO) -> None:
    out.write("## Recommendations\n\n")
    if not d.recommendations:
        out.write("No intervention is indicated by the answers given.\n\n")
    stage = None
    for n, r in enumerate(d.recommendations, start=1):
        if r.priority != stage:
            stage = r.priority
            out.write(f"\n### Priority {stage}\n\n")
        first = " — **do first**" if r.first else ""
        out.write(f"{n}. **{_md_escape(r.title)}** (`{r.id}`, priority {r.priority}){first}\n")
        out.write(f"   - addresses: {', '.join(f'`{a}`' for a in r.addresses) or 'the partnership as a whole'}\n")
        _grounds(r, out, "   ")
    out.write("\n")
    _next_steps(kb, d, out)
    if d.unanswered:
        out.write(f"*{len(d.unanswered)} unanswered questions could still change this diagnosis.*\n")


def _headline(kb: KnowledgeBase, d: Diagnosis, out: io.StringIO) -> None:
    """The report opens with the advise stage's headline and the first actions with their reasons."""
    from .advise import advise
    h = advise(kb, d).headline
    titles = {c.id: c.title for c in d.conclusions}
    head = []
    if h["step"]:
        head.append(f"**{kb.type_info('staircase')['title']}:** {_md_escape(titles[h['step']])} (`{h['step']}`)")
    if h["mode"]:
        head.append(f"**{kb.type_info('mode')['title']}:** {_md_escape(titles[h['mode']])} (`{h['mode']}`)")
    if h["strengths"]:
        head.append(f"**{kb.type_info('strength')['title']}:** " + "; ".join(f"{_md_escape(titles[i])} (`{i}`)" for i in h["strengths"]))
    if h["top_risks"]:
        head.append("**Top risks:** " + "; ".join(f"{_md_escape(titles[i])} (`{i}`)" for i in h["top_risks"]))
    if not head:
        head.append("Not enough answers yet for a staircase step or a Figure 1 mode.")
    out.write("\n".join(f"- {x}" for x in head) + "\n\n")
    first = [r for r in d.recommendations if r.first]
    if first:
        out.write("## First actions: do first\n\n")
        for n, r in enumerate(first, start=1):
            reading = "our reading: " if r.basis != "seed" else ""
            out.write(f"{n}. **{_md_escape(r.title)}** (`{r.id}`): {reading}{_md_escape(r.justifications[0].because)}\n")
        out.write("\n")


def _grounds(found, out: io.StringIO, pad: str) -> None:
    """Why a finding holds. Our judgement is shown as ours ("our reading of" the place it rests on,
    with the note), the quote as what it rests on; a seed's claim as "because" with its source."""
    for j in found.justifications:
        if j.basis != "seed":
            at = found.sources[0].at if found.sources else "the sources"
            out.write(f"{pad}- our reading of {_md_escape(at)} (expert judgement): {_md_escape(j.because)}\n")
        else:
            out.write(f"{pad}- because {_md_escape(j.because)}\n")
    if found.basis != "seed" and found.note:
        out.write(f"{pad}- why this is our judgement: {_md_escape(found.note)}\n")
    label = "rests on" if found.basis != "seed" else "source"
    for c in found.sources:
        out.write(f"{pad}- {label}: {_cite(c)}\n")


def _boundary(c, out: io.StringIO) -> None:
    """Say so in words when one answer moved by one point would withdraw a conclusion."""
    if not c.sensitivity:
        return
    moves = "; ".join(
        ", ".join(f"`{i}` → {v}" for i, v in e["set"].items())
        + (f" (would conclude {', '.join(f'`{a}`' for a in e['adds'])} instead)" if e["adds"] else "")
        for e in c.sensitivity[:3])
    more = f" and {len(c.sensitivity) - 3} more" if len(c.sensitivity) > 3 else ""
    out.write(f"  - near the boundary: one answer moved by one point withdraws it: {moves}{more}\n")


def _next_steps(kb: KnowledgeBase, d: Diagnosis, out: io.StringIO) -> None:
    """What it would take to reach the next rung of each ladder (next step, next mode)."""
    from .answers import AnswerSet
    from .path import find_paths, held_rungs, next_rungs
    rungs = next_rungs(kb, d.concluded_ids)
    held = held_rungs(kb, d.concluded_ids)
    if not rungs and not held:
        return
    out.write("## What would it take\n\n")
    for here, because in held:
        out.write(f"- `{here}` suits this context (`{because}`): what it takes is to make it work well, "
                  "not to leave it.\n")
    for _, here, there in rungs:
        result = find_paths(kb, AnswerSet(d.answers, d.partnership), there, limit=1)
        title = kb.rules_concluding(there)[0].title
        if not result["paths"]:
            out.write(f"- From `{here}` to **{_md_escape(title)}** (`{there}`): no path of four answer changes or "
                      f"fewer; see `partnerdx why-not {there}`.\n")
            continue
        p = result["paths"][0]
        moves = "; ".join(f"`{c['item']}` {c['from'] if c['from'] is not None else 'unanswered'} → {c['to']}"
                          for c in p["changes"])
        out.write(f"- From `{here}` to **{_md_escape(title)}** (`{there}`): {moves}.\n")
        if p["interventions"]:
            out.write("  - interventions: " + ", ".join(
                f"{_md_escape(kb.interventions[i].title)} (`{i}`)" for i in p["interventions"][:3]) + "\n")
    out.write("\n")


def html_page(kb: KnowledgeBase, d: Diagnosis) -> str:
    from markdown_it import MarkdownIt
    body = MarkdownIt("commonmark", {"html": False}).render(markdown(kb, d))
    title = html.escape(d.partnership or "Partnership diagnosis")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title} — partnerdx</title><style>body{{font-family:system-ui,sans-serif;max-width:50rem;"
            "margin:2rem auto;padding:0 1rem;line-height:1.45}}code{{background:#f3f3f3;padding:0 .2em}}</style>"
            f"</head><body>\n{body}</body></html>\n")


def text(kb: KnowledgeBase, d: Diagnosis, width: int = 100) -> str:
    from rich.console import Console
    from rich.markdown import Markdown
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, force_terminal=False).print(Markdown(markdown(kb, d)))
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render(kb: KnowledgeBase, d: Diagnosis, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(diagnosis_json(kb, d), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(kb, d)
    if fmt == "html":
        return html_page(kb, d)
    return text(kb, d)
