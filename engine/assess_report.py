"""The assessment a facilitator takes into the room: Markdown is the single layout; HTML adds the
pictures (Figure 1 and per-question bars, drawn with matplotlib to inline SVG) and text renders the
Markdown in the terminal.

Names come from the CSV, so they are escaped everywhere: Markdown-escaped before markdown-it-py
(raw HTML disabled) renders them, and written as SVG text by matplotlib (which escapes XML), with `$`
escaped so that a name never turns into mathtext. The HTML page is one self-contained file: no
script, no external font, stylesheet or image, and a Content-Security-Policy that forbids fetching.
"""
from __future__ import annotations

import html
import io
import json
import re
from dataclasses import replace
from typing import Any

from .assess import (GAP_TYPE, METHOD_AGREEMENT, METHOD_GAP, METHOD_MEAN, Assessment, Group, RoundResult,
                     anonymity_text, assessment_json, consistency_counts, differences, figure1_axes, figure1_regions,
                     position, position_interval, settings)
from .kb import KnowledgeBase
from .pictures import (HATCHES, INK, LABEL_BOX, MARKERS, REGION_COLOURS, Axis, colour, figure as _figure,
                       figure1_svg as _figure1_svg, mpl_text as _mpl_text, short_label, svg as _svg, wrap as _wrap)
from .report import _cite, _evidence, _md_escape as esc, _recommendations, headline

FIGURE1 = "\x00figure1\x00"
GAP_PAIRS_SHOWN = 30          # more pairs than this: one row per question instead of one per pair
BARS = "\x00bars\x00"
APPENDIX = "Appendix: ids"


# ---- words --------------------------------------------------------------------------------------

def _title(kb: KnowledgeBase, ident: str | None) -> str:
    """A conclusion's title from the rules (ids are opaque to this module, and stay out of the
    running text: the appendix and the JSON carry them)."""
    if ident is None:
        return "not determined (too few answers)"
    rules = kb.rules_concluding(ident)
    return esc(rules[0].title) if rules else esc(short_label(ident))


def _concept_cite(kb: KnowledgeBase, key: str) -> str:
    entry = kb.entry(settings()["cite"][key])
    return f"*Source:* {_cite(entry.source)}" if entry is not None and entry.source else ""


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


# ---- Markdown -----------------------------------------------------------------------------------

def sections(kb: KnowledgeBase, a: Assessment) -> list[str]:
    """The report as Markdown chunks, with FIGURE1 and BARS marking where the pictures go."""
    cur = a.current
    out = [_head(kb, a), _anonymity(kb, a)]
    if cur.overall.suppressed:
        out.append("## Nothing more can be shown\n\nThere are fewer respondents in all than the minimum group "
                   f"size ({a.min_group}): any figure would reveal individual answers.\n")
        return out
    rest = [_positions(kb, a), FIGURE1, _agenda(kb, a), _gaps(kb, cur, a)]
    if a.travel:
        rest.append(_travel(kb, a))
    rest += [_items(kb, cur, a.min_group), BARS, _overall_diagnosis(kb, cur), _group_diagnoses(kb, cur), _data(a),
             _appendix(kb, a)]
    return [_head(kb, a), _summary(kb, a), _contents([out[1], *rest]), out[1], *rest]


def anchor(heading: str) -> str:
    """The anchor of a section heading: lower case, words joined by hyphens (as GitHub makes them)."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def _contents(chunks: list[str]) -> str:
    """A table of contents: every second-level heading of the report, linked to its section."""
    heads = [h for c in chunks for h in re.findall(r"^## (.+)$", c, flags=re.M)]
    return "## Contents\n\n" + "".join(f"{n}. [{h}](#{anchor(h)})\n" for n, h in enumerate(heads, start=1))


def _summary(kb: KnowledgeBase, a: Assessment) -> str:
    """The page to forward: where the partnership stands, what works, the top risks and the first
    actions (of the diagnosis of everyone's mean answers), and how many gaps the data support."""
    cur = a.current
    lines = ["## Summary\n"]
    if cur.overall.suppressed:
        lines.append(f"Fewer respondents in all than the minimum group size ({a.min_group}): nothing can be shown.")
        return "\n".join(lines) + "\n"
    d, plan = cur.overall.diagnosis, a.agenda
    h = headline(d)
    pos = position(kb, d)
    lines += [f"**Where the partnership stands** (on the mean answers of {cur.respondents} respondents)\n",
              f"- Staircase step: {_title(kb, pos['staircase'])}", f"- Figure 1 mode: {_title(kb, pos['mode'])}\n",
              "**What is working well**\n"]
    well = [esc(kb.questions[i].title) for i in plan["working_well"][:5]] or \
        [esc(c.title) for c in d.conclusions if c.id in (h.get("strengths") or [])]
    lines += [f"- {w}" for w in well] or ["- none found"]
    lines.append("\n**Top risks** (the first priority areas)\n")
    lines += [f"- {esc(x.title)}" for x in plan["areas"][:3]] or ["- none found"]
    lines.append("\n**First actions**\n")
    actions = [r for i in h.get("first_actions") or [] if (r := d.conclusion(i)) is not None]
    for n, r in enumerate(actions, start=1):
        why = "; ".join(esc(d.conclusion(x).title) if d.conclusion(x) else esc(x) for x in r.addresses)
        lines.append(f"{n}. **{esc(r.title)}** — because: {why or 'the partnership as a whole'}")
    if not actions:
        lines.append("No intervention is indicated by the mean answers.")
    credible = [g for g in cur.gaps if g.credible]
    lines.append(f"\n**Perception gaps:** {len(credible)} supported by the data; "
                 f"{len(cur.gaps) - len(credible)} more differences of {a.gap_threshold:g} or more with not "
                 "enough evidence to tell (see *Perception gaps*).")
    hidden = [g for g in cur.groups if g.suppressed]
    if hidden:
        lines.append(f"\n**Suppressed for anonymity:** {', '.join(esc(g.name) for g in hidden)}.")
    return "\n".join(lines) + "\n"


def _appendix(kb: KnowledgeBase, a: Assessment) -> str:
    """Every id the report stands for: questions, conclusions and recommendations, gaps, areas."""
    cur = a.current
    rows: dict[str, str] = {}
    for item in kb.questions:
        if item in cur.overall.items:
            rows.setdefault(item, kb.questions[item].title)
    d = cur.overall.diagnosis
    for c in [*d.conclusions, *d.recommendations, *(g.conclusion for g in cur.gaps)]:
        rows.setdefault(c.id, c.title)
    for area in a.agenda["areas"]:
        rows.setdefault(area.id, area.title)
        for m in area.mechanisms:
            rows.setdefault(m["id"], m["title"])
    for g in cur.shown:
        for c in [*g.diagnosis.conclusions, *g.diagnosis.recommendations]:
            rows.setdefault(c.id, c.title)
    lines = [f"## {APPENDIX}\n", "The ids the JSON output (`--format json`) uses.\n"]
    lines += [f"- `{i}` — {esc(t)}" for i, t in rows.items()]
    return "\n".join(lines) + "\n"


def markdown(kb: KnowledgeBase, a: Assessment) -> str:
    note = "*The pictures (Figure 1 and the per-question bars) are in the HTML report: `--format html`.*\n"
    return "\n".join(note if s == FIGURE1 else "" if s == BARS else s for s in sections(kb, a))


def _head(kb: KnowledgeBase, a: Assessment) -> str:
    cur = a.current
    title = a.title or "Partnership assessment"
    orgs = len(cur.groups)
    lines = [f"# {esc(title)}\n"]
    where = f" in {orgs} organisations" if orgs else ""
    rnd = f", round {esc(cur.label)} of {len(a.rounds)}" if len(a.rounds) > 1 else ""
    lines.append(f"{cur.respondents} respondents{where}{rnd}; from {esc(', '.join(a.files))}.\n")
    return "\n".join(lines) + "\n"


def _anonymity(kb: KnowledgeBase, a: Assessment) -> str:
    cur = a.current
    lines = ["## Anonymity\n", anonymity_text(a.min_group) + "\n", _concept_cite(kb, "anonymity") + "\n"]
    if len(a.rounds) > 1:
        lines.append("Rounds are suppressed one by one; comparing two rounds could still single out someone who "
                     "joined or left a small group in between, so keep each group's membership stable.\n")
    if cur.groups:
        lines.append("| Organisation | Respondents | Figures |\n|---|---:|---|")
        for g in cur.groups:
            shown = ("shown" if not g.suppressed else f"suppressed: fewer than {a.min_group} respondents"
                     if g.reason == "small" else "suppressed as well, so that the suppressed group cannot be "
                     "worked out from the overall figures")
            lines.append(f"| {esc(g.name)} | {g.respondents} | {shown} |")
    return "\n".join(lines) + "\n"


def _positions(kb: KnowledgeBase, a: Assessment) -> str:
    cur = a.current
    fig = settings()["figure1"]
    lines = ["## Where the organisations stand\n",
             f"| Group | Respondents | Staircase step | Figure 1 mode | {fig['x']['high']} (1–5) | {fig['y']['high']} (1–5) |",
             "|---|---:|---|---|---:|---:|"]
    for g in [cur.overall, *cur.shown]:
        p = position(kb, g.diagnosis)
        lines.append(f"| {esc(g.name)} | {g.respondents} | {_title(kb, p['staircase'])} | {_title(kb, p['mode'])} "
                     f"| {_num(p['x'])} | {_num(p['y'])} |")
    lines.append("\nEach row is a diagnosis by the rules of the mean answers of that group; the overall row "
                 "weighs every respondent equally.")
    for diff in differences(kb, cur) if cur.shown else []:
        if not diff["same"]:
            what = "staircase steps" if diff["kind"] == "staircase" else "Figure 1 modes"
            landed = "; ".join(f"{esc(n)}: {_title(kb, v)}" if v else f"{esc(n)}: not determined"
                               for n, v in diff["by_organisation"].items())
            lines.append(f"\n**The organisations land on different {what}:** {landed}.")
    lines.append(f"\n{len(a.agenda['areas'])} priority areas, of which {len(a.agenda['no_mechanism'])} with no "
                 "mechanism in the knowledge base.")
    return "\n".join(lines) + "\n"


def _item_line(kb: KnowledgeBase, item: str, g: Group) -> str:
    s = g.items[item]
    return (f"- **{esc(kb.questions[item].title)}**: mean {s.mean:.2f}{_interval(s)} of {s.n} answers, "
            f"SD {_num(s.sd)} ({s.consistency() or 'one answer'})")


def _interval(s) -> str:
    return f" (95 % interval {s.interval[0]:.2f}–{s.interval[1]:.2f})" if s.interval else ""


def _agenda(kb: KnowledgeBase, a: Assessment) -> str:
    plan, cur = a.agenda, a.current
    limits = settings()["thresholds"]
    lines = ["## Agenda\n", _concept_cite(kb, "agenda") + "\n", "### What is working well\n"]
    if plan["working_well"]:
        lines += [_item_line(kb, i, cur.overall) for i in plan["working_well"]]
    else:
        lines.append(f"No item is both strong (health {limits['strong']:g} or more on 1–5) and consistent "
                     f"(SD {limits['consistent_sd']:g} or less, no perception gap).")
    lines.append("\n### Barriers\n")
    if plan["weak"]:
        lines.append("Weak answers (health %g or less on 1–5):\n" % limits["weak"])
        lines += [_item_line(kb, i, cur.overall) for i in plan["weak"]]
    if plan["problems"]:
        lines.append("\nConcluded from the mean answers:\n")
        lines += [f"- **{esc(c.title)}**" for c in plan["problems"]]
    if plan["gaps"]:
        lines.append(f"\n{len(plan['gaps'])} perception gaps between organisations that the data support: see "
                     "*Perception gaps* below.")
    if not (plan["weak"] or plan["problems"] or plan["gaps"]):
        lines.append("No weak item, problem or perception gap stands out.")
    lines += ["\n### Priority areas\n", _concept_cite(kb, "prioritise") + "\n",
              "Ranked: first the areas the diagnosis recommends acting on (by its priority, 1 = first), then "
              "by how many kinds of evidence point at them (a conclusion, weak answers, a perception gap), "
              "then the weakest, then the widest gap.\n"]
    if not plan["areas"]:
        lines.append("No area needs attention on this evidence.")
    for n, area in enumerate(plan["areas"], start=1):
        lines.append(f"{n}. **{esc(area.title)}** — {esc('; '.join(area.reasons))}.")
        pad = " " * len(f"{n}. ")       # sub-points align with the item's text, also from item 10 on
        for m in area.mechanisms:
            via = (f"recommended by the diagnosis, priority {m['priority']}" if m["via"] == "diagnosis"
                   else "from the knowledge base")
            lines.append(f"{pad}- mechanism: {esc(m['title'])} ({via})")
        if not area.mechanisms:
            lines.append(f"{pad}- no mechanism in the knowledge base")
    lines += ["\n### Areas with no mechanism in the knowledge base\n", _concept_cite(kb, "no_mechanism") + "\n"]
    if plan["no_mechanism"]:
        lines += [f"- **{esc(x.title)}**" for x in plan["no_mechanism"]]
    else:
        lines.append("Every priority area has at least one mechanism in the knowledge base.")
    return "\n".join(lines) + "\n"


def _gaps(kb: KnowledgeBase, cur: RoundResult, a: Assessment) -> str:
    lines = ["## Perception gaps\n", _concept_cite(kb, "gap") + "\n",
             f"A difference of {a.gap_threshold:g} or more between two organisations' means is listed; it is a "
             "gap the data support only when the 95 % interval of the difference excludes zero. " + METHOD_GAP + "\n"]
    if not cur.gaps:
        lines.append(f"No two organisations' means differ by {a.gap_threshold:g} or more on any question.")
        return "\n".join(lines) + "\n"
    if len(cur.gaps) > GAP_PAIRS_SHOWN:
        return "\n".join(lines + _gap_summary(kb, cur)) + "\n"
    lines += ["| Question | Higher | Lower | Difference (95 % interval) | Supported by the data? |",
              "|---|---|---|---:|---|"]
    for g in cur.gaps:
        hs, ls = g.high.items[g.item], g.low.items[g.item]
        ci = f" ({g.interval[0]:.2f} to {g.interval[1]:.2f})" if g.interval else ""
        verdict = "yes" if g.credible else f"not enough evidence to tell (n = {hs.n} and {ls.n})"
        lines.append(f"| {esc(kb.questions[g.item].title)} | {esc(g.high.name)}: {hs.mean:.2f} "
                     f"(n={hs.n}) | {esc(g.low.name)}: {ls.mean:.2f} (n={ls.n}) | {g.difference:.2f}{ci} | {verdict} |")
    return "\n".join(lines) + "\n"


def _gap_summary(kb: KnowledgeBase, cur: RoundResult) -> list[str]:
    """Many organisations make many pairs: one row per question, the extremes and the pair count."""
    by_item: dict[str, list] = {}
    for g in cur.gaps:
        by_item.setdefault(g.item, []).append(g)
    lines = [f"{len(cur.gaps)} pairs of organisations differ by the threshold or more, on {len(by_item)} "
             "questions; each pair has its own id, interval and verdict in the JSON output "
             "(`--format json`). Per question, the organisations at either end:\n",
             "| Question | Highest | Lowest | Widest gap | Pairs | Supported by the data |",
             "|---|---|---|---:|---:|---:|"]
    for item, gaps in by_item.items():
        cells = [(g, g.items[item]) for g in cur.shown if item in g.items and g.items[item].shown]
        (high, hs), (low, ls) = max(cells, key=lambda c: c[1].exact), min(cells, key=lambda c: c[1].exact)
        lines.append(f"| {esc(kb.questions[item].title)} | {esc(high.name)}: {hs.mean:.2f} (n={hs.n}) | "
                     f"{esc(low.name)}: {ls.mean:.2f} (n={ls.n}) | {max(g.difference for g in gaps):.2f} | {len(gaps)} "
                     f"| {sum(g.credible for g in gaps)} |")
    return lines


def _travel(kb: KnowledgeBase, a: Assessment) -> str:
    fig = settings()["figure1"]
    lines = ["## Direction of travel\n",
             f"Rounds in time order: {', '.join(esc(r.label) for r in a.rounds)}.\n"]
    for t in a.travel:
        then, now = t["then"], t["now"]
        step = {"up": "up the staircase", "down": "down the staircase", "same": "on the same step",
                None: "step not determined"}[t["step_change"]]
        lines.append(f"### {esc(t['name'])}\n")
        lines.append(f"- staircase: {_title(kb, then['staircase'])} in round {esc(then['round'])} → "
                     f"{_title(kb, now['staircase'])} in round {esc(now['round'])}: {step}")
        lines.append(f"- Figure 1: {_title(kb, then['mode'])} → {_title(kb, now['mode'])}; "
                     f"{_move(then, now, 'x', fig['x'])}, {_move(then, now, 'y', fig['y'])}")
        if t["moved_most"]:
            moved = "; ".join(f"{esc(m['title'])} {m['then']:.2f} → {m['now']:.2f}"
                              for m in t["moved_most"])
            lines.append(f"- moved most: {moved}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _move(then: dict, now: dict, axis: str, cfg: dict) -> str:
    if then[axis] is None or now[axis] is None:
        return f"{cfg['low'].lower()}–{cfg['high'].lower()} not determined"
    delta = now[axis] - then[axis]
    word = cfg["high"] if delta > 0 else cfg["low"]
    return f"{then[axis]:.2f} → {now[axis]:.2f}" + (f" (towards {word.lower()})" if abs(delta) >= 0.005 else "")


def _items(kb: KnowledgeBase, cur: RoundResult, min_group: int) -> str:
    groups = [cur.overall, *cur.shown]
    lines = ["## Answers by question and organisation\n",
             f"Each cell: the mean on 1–5 with its 95 % interval in brackets, then the standard deviation (SD) "
             f"and the agreement index (agr., r_wg as a percentage). Consistency within a group comes from the spread: † marks a "
             f"mixed group (SD over {settings()['thresholds']['consistent_sd']:g}), ‡ a divided one (over "
             f"{settings()['thresholds']['divided_sd']:g}). A blank cell rests on fewer than {min_group} answers "
             "(or would reveal one) and is not shown, nor is any interval or spread of it.\n",
             f"*Interval:* {METHOD_MEAN}\n", f"*Agreement:* {METHOD_AGREEMENT}\n"]
    by_instrument: dict[str, list[str]] = {}
    for item in kb.questions:
        if item in cur.overall.items:
            by_instrument.setdefault(kb.questions[item].data["instrument"], []).append(item)
    for instrument, items in by_instrument.items():
        lines.append(f"### {esc(instrument.replace('_', ' ').capitalize())}\n")
        lines.append("| Question | " + " | ".join(esc(g.name) for g in groups) + " |")
        lines.append("|---|" + "---:|" * len(groups))
        for item in items:
            cells = [_cell(g, item) for g in groups]
            lines.append(f"| {esc(kb.questions[item].title)} | " + " | ".join(cells) + " |")
        lines.append("")
    consist = [f"{esc(g.name)}: " + ", ".join(f"{v} {k}" for k, v in consistency_counts(g).items()) for g in cur.shown]
    if consist:
        lines.append("Within-organisation consistency (questions): " + "; ".join(consist) + ".")
    return "\n".join(lines) + "\n"


def _cell(g: Group, item: str) -> str:
    s = g.items.get(item)
    if s is None or not s.shown or s.mean is None:
        return ""
    mark = {"mixed": " †", "divided": " ‡"}.get(s.consistency() or "", "")
    ci = f" [{s.interval[0]:.2f}–{s.interval[1]:.2f}]" if s.interval else ""
    agree = f", agr. {round(100 * s.agreement)} %" if s.agreement is not None else ""
    return f"{s.mean:.2f}{ci}; SD {_num(s.sd)}{agree}{mark}"


def _overall_diagnosis(kb: KnowledgeBase, cur: RoundResult) -> str:
    """The engine's own diagnosis report of the means, one heading level down."""
    d = replace(cur.overall.diagnosis, conclusions=[c for c in cur.overall.diagnosis.conclusions if c.type != GAP_TYPE])
    body = _evidence(kb, d, False).replace("@@figure1@@\n\n", "") + _recommendations(kb, d, False)
    body = re.sub(r"^(#+) ", r"#\1 ", body, flags=re.M)
    return (f"## Diagnosis of the whole partnership\n\nOn the mean answers of {cur.respondents} respondents "
            f"(every justification says so); the perception gaps are above.\n{body}")


def _group_diagnoses(kb: KnowledgeBase, cur: RoundResult) -> str:
    if not cur.shown:
        return ""
    lines = ["## Diagnosis of each organisation\n"]
    for g in cur.shown:
        d = g.diagnosis
        lines.append(f"### {esc(g.name)} ({g.respondents} respondents)\n")
        if not d.conclusions:
            lines.append("No conclusion can be drawn from this organisation's mean answers.\n")
        for c in d.conclusions:
            lines.append(f"- {esc(c.title)}")
        if d.recommendations:
            recs = "; ".join(f"{esc(r.title)} (priority {r.priority})" for r in d.recommendations[:5])
            lines.append(f"- **recommended first:** {recs}")
        lines.append("")
    return "\n".join(lines) + "\n"


def _data(a: Assessment) -> str:
    skipped = [w for w in a.warnings if w.line and w.line > 1]
    cols = [w for w in a.warnings if w.line == 1]
    lines = ["## About the data\n", f"- files: {esc(', '.join(a.files))}",
             f"- rounds: {len(a.rounds)}" + _round_source(a),
             f"- rows skipped (survey header rows or no rated answers): {len(skipped)}",
             f"- columns ignored: {len(cols)}",
             "- the warnings, with their lines, went to standard error"]
    return "\n".join(lines) + "\n"


def _round_source(a: Assessment) -> str:
    if len(a.rounds) < 2:
        return ""
    return " (from the round column)" if a.round_source == "column" else " (one per file, in the order given)"


# ---- pictures -----------------------------------------------------------------------------------

def _style(n: int, g: Group) -> tuple[str, str, str]:
    """(colour, marker, hatch) of the n-th group drawn (0 = overall): never colour alone."""
    if g.is_overall:
        return "#000000", "*", ""
    return colour(n - 1), MARKERS[(n - 1) % len(MARKERS)], HATCHES[1 + (n - 1) % (len(HATCHES) - 1)]


def figure1_svg(kb: KnowledgeBase, a: Assessment) -> str | None:
    """Figure 1 (mandatory↔voluntary × contract↔trust) with the regions the rules draw, each
    organisation's and the overall position, and arrows between rounds."""
    axes = figure1_axes(kb)
    regions = figure1_regions(kb)
    if axes is None or regions is None:
        return None
    cfg = settings()["figure1"]
    x = Axis(kb.scores[axes[0]].title, cfg["x"]["low"], cfg["x"]["high"])
    y = Axis(kb.scores[axes[1]].title, cfg["y"]["low"], cfg["y"]["high"])
    cur = a.current
    placed = []
    for g in [cur.overall, *cur.shown]:
        p = position(kb, g.diagnosis)
        if p["x"] is not None and p["y"] is not None:
            mode = _title(kb, p["mode"]) if p["mode"] else "no mode"
            span = position_interval(kb, g)
            ci = {k: f" (95 % interval {v[0]:.2f}–{v[1]:.2f})" if v else "" for k, v in span.items()}
            placed.append(f"{g.name}: {x.high.lower()} {p['x']:.2f}{ci['x']}, {y.high.lower()} {p['y']:.2f}{ci['y']} "
                          f"({mode})")
    desc = "Positions on Figure 1 (1–5 on each axis): " + "; ".join(placed) + "." if placed else ""
    return _figure1_svg(regions, x, y, "Figure 1: where the organisations sit",
                        "Figure 1: mandatory to voluntary against contract to trust, with each organisation's position",
                        desc, lambda ax: _plot_positions(kb, a, ax))


def _plot_positions(kb: KnowledgeBase, a: Assessment, ax: Any) -> None:
    cur = a.current
    groups = [cur.overall, *cur.shown]
    where = [(n, g, position(kb, g.diagnosis)) for n, g in enumerate(groups)]
    where = [(n, g, p) for n, g, p in where if p["x"] is not None and p["y"] is not None]
    placed = [_dot_box(p["x"], p["y"]) for _, _, p in where]       # labels keep clear of every dot
    for n, g, p in where:
        colour, marker, _ = _style(n, g)
        span = position_interval(kb, g)
        if span["x"] or span["y"]:
            xerr = [[p["x"] - span["x"][0]], [span["x"][1] - p["x"]]] if span["x"] else None
            yerr = [[p["y"] - span["y"][0]], [span["y"][1] - p["y"]]] if span["y"] else None
            ax.errorbar([p["x"]], [p["y"]], xerr=xerr, yerr=yerr, fmt="none", ecolor=colour, elinewidth=1.1,
                        capsize=3, alpha=0.8, zorder=4.2)   # under the labels
        ax.scatter([p["x"]], [p["y"]], s=170 if g.is_overall else 70, marker=marker, color=colour,
                   edgecolors="white", linewidths=0.8, zorder=5)
        # labels in dark ink (contrast), not the point's colour: the marker shape ties them together
        ax.annotate(_mpl_text(g.name), (p["x"], p["y"]), xytext=_place(placed, p["x"], p["y"], g.name),
                    textcoords="offset points", fontsize=8.5, color=INK, zorder=4.5, bbox=LABEL_BOX)
    colour_of = {g.slug or None: _style(n, g)[0] for n, g in enumerate(groups)}
    for t in a.travel:
        pts = [(s["x"], s["y"], s["round"]) for s in t["path"] if s["x"] is not None and s["y"] is not None]
        colour = colour_of.get(t["slug"], "#7f7f7f")
        for (x0, y0, _), (x1, y1, _) in zip(pts, pts[1:]):
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=4,
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.4, "shrinkA": 3, "shrinkB": 6})
        for x, y, label in pts[:-1]:
            ax.scatter([x], [y], s=30, marker="o", facecolors="none", edgecolors=colour, zorder=4)
            ax.annotate(_mpl_text(f"round {label}"), (x, y), xytext=(4, -11), textcoords="offset points",
                        fontsize=7, color=colour, zorder=4, bbox=LABEL_BOX)


POINTS_PER_UNIT = 90.0     # Figure 1's axes are about 360 pt wide for 4 units of score


def _dot_box(x: float, y: float) -> tuple[float, float, float, float]:
    px, py = (x - 1) * POINTS_PER_UNIT, (y - 1) * POINTS_PER_UNIT
    return px - 5, py - 5, px + 5, py + 5


def _place(placed: list[tuple[float, float, float, float]], x: float, y: float, name: str) -> tuple[float, float]:
    """A label offset (points) that does not overlap labels already placed: try right, left, above,
    below, further out; approximate boxes are enough for a handful of organisations."""
    width, height = 5.0 * len(name) + 2, 11.0
    px, py = (x - 1) * POINTS_PER_UNIT, (y - 1) * POINTS_PER_UNIT
    candidates = [(7, 3), (7, -11), (-7 - width, 3), (-7 - width, -11), (7, 14), (7, -22), (-7 - width, 14),
                  (-7 - width, -22), (7, 25), (7, -33), (-width / 2, 10), (-width / 2, -20)]

    def box(dx: float, dy: float) -> tuple[float, float, float, float]:
        return px + dx, py + dy, px + dx + width, py + dy + height

    def clear(b: tuple[float, float, float, float]) -> bool:
        inside = b[0] >= 0 and b[2] <= 4 * POINTS_PER_UNIT + 40 and b[1] >= -5 and b[3] <= 4 * POINTS_PER_UNIT
        return inside and all(b[2] <= o[0] or b[0] >= o[2] or b[3] <= o[1] or b[1] >= o[3] for o in placed)
    chosen = next((c for c in candidates if clear(box(*c))), candidates[0])
    placed.append(box(*chosen))
    return chosen


def bars_svg(kb: KnowledgeBase, a: Assessment) -> str | None:
    """Per-question bars by organisation for the staircase questions (horizontal, grouped)."""
    cur = a.current
    instrument = settings()["staircase"]["instrument"]
    items = [q for q, e in kb.questions.items() if e.data["instrument"] == instrument and q in cur.overall.items]
    groups = [cur.overall, *cur.shown]
    if not items:
        return None
    band = 0.35 + 0.2 * len(groups)
    fig = _figure(7.2, 1.0 + band * len(items))
    ax = fig.add_subplot()
    height = 0.8 / len(groups)
    described = []
    for n, g in enumerate(groups):
        colour, _, hatch = _style(n, g)
        colour = "#555555" if g.is_overall else colour
        ys, widths, errors = [], [], [[], []]
        for k, item in enumerate(items):
            s = g.items.get(item)
            if s is not None and s.shown and s.mean is not None:
                ys.append(k + (n - (len(groups) - 1) / 2) * height)
                widths.append(s.mean)
                lo, hi = s.interval or (s.mean, s.mean)
                errors[0].append(max(0.0, s.mean - lo))
                errors[1].append(max(0.0, hi - s.mean))
                ci = f" (95 % interval {lo:.2f}–{hi:.2f})" if s.interval else ""
                described.append(f"{g.name}, {kb.questions[item].title}: {s.mean:.2f}{ci}")
        ax.barh(ys, [w - 1 for w in widths], left=1, height=height * 0.92, color=colour, hatch=hatch or None,
                edgecolor="white" if hatch else None, linewidth=0, label=_mpl_text(g.name), zorder=3)
        ax.errorbar(widths, ys, xerr=errors, fmt="none", ecolor="#000000", elinewidth=1.0, capsize=2.5, zorder=4)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([_mpl_text(_wrap(kb.questions[i].title, 34)) for i in items])
    ax.invert_yaxis()
    ax.set_xlim(1, 5)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.grid(axis="x", color="#dddddd", zorder=0)
    scale = kb.questions[items[0]].data.get("scale", {})
    ax.set_xlabel(_mpl_text(f"mean answer (1 = {scale.get('low', 'low')}, 5 = {scale.get('high', 'high')})".lower()))
    ax.set_title("The staircase questions by organisation")
    fig.legend(loc="outside lower center", ncol=min(3, len(groups)), frameon=False, fontsize=8)
    return _svg(fig, "Mean answer to each staircase question, by organisation, with 95 % intervals",
                "Means with 95 % intervals: " + "; ".join(described) + ".")


# ---- HTML and text ------------------------------------------------------------------------------

CSS = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;"
       "color:#222}code{background:#f3f3f3;padding:0 .2em;overflow-wrap:anywhere}a{color:#0b4f7c}"
       "table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}"
       "th,td{border:1px solid #ccc;padding:.2rem .45rem;vertical-align:top;overflow-wrap:anywhere}th{background:#f3f3f3}"
       "figure{margin:1.5rem 0}figure.plot svg{max-width:44rem;display:block}figcaption{color:#444;font-size:.9rem}"
       "h2#summary{border-top:3px solid #0b4f7c;padding-top:.4rem}")
# Print on A4: the summary alone on the first page, every other section from a new page, no table
# row, figure or list item cut, link addresses printed after external links.
PRINT_CSS = ("@page{size:A4;margin:14mm 14mm 16mm}"
             "@media print{body{max-width:none;margin:0;padding:0;font-size:9.5pt;line-height:1.3}"
             "h2{break-before:page}h2#summary{break-before:auto;border:none}h2,h3{break-after:avoid}"
             "table,figure,tr,li{break-inside:avoid}thead{display:table-header-group}"
             "a{color:inherit;text-decoration:none}a[href^='http']::after{content:' (' attr(href) ')'}}")


def _anchored(rendered: str) -> str:
    """Each section heading gets the id the table of contents links to."""
    return re.sub(r"<h2>(.*?)</h2>", lambda m: f'<h2 id="{anchor(html.unescape(m.group(1)))}">{m.group(1)}</h2>',
                  rendered)


def html_page(kb: KnowledgeBase, a: Assessment) -> str:
    from markdown_it import MarkdownIt
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    parts = []
    for chunk in sections(kb, a):
        if chunk == FIGURE1:
            svg = figure1_svg(kb, a)
            if svg:
                parts.append(f'<figure id="figure1" class="plot">{svg}<figcaption>Figure 1 (Armistead &amp; '
                             "Pettigrew): the regions are where the rules conclude each mode; ★ is the whole "
                             "partnership, each organisation has its own colour and marker shape, with whiskers for a "
                             "conservative 95 % interval; arrows run from earlier rounds. The table above gives the "
                             "same positions in figures."
                             "</figcaption></figure>")
        elif chunk == BARS:
            svg = bars_svg(kb, a)
            if svg:
                parts.append(f'<figure id="bars" class="plot">{svg}<figcaption>Mean answers to the staircase '
                             "questions with their 95 % intervals (the black whiskers); each organisation has its "
                             "own colour and hatching; a missing bar rests on too few answers to show. The table "
                             "above gives the same figures.</figcaption></figure>")
        else:
            parts.append(_anchored(md.render(chunk)))
    title = html.escape(a.title or "Partnership assessment")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title} — partnerdx assess</title><style>{CSS}{PRINT_CSS}</style></head><body>\n<main>\n"
            + "\n".join(parts) + "</main>\n</body></html>\n")


def text(kb: KnowledgeBase, a: Assessment, width: int = 110) -> str:
    from rich.console import Console
    from rich.markdown import Markdown
    buf = io.StringIO()
    Console(file=buf, width=width, no_color=True, force_terminal=False).print(Markdown(markdown(kb, a)))
    return buf.getvalue()


def render(kb: KnowledgeBase, a: Assessment, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(assessment_json(kb, a), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return markdown(kb, a)
    if fmt == "html":
        return html_page(kb, a)
    return text(kb, a)
