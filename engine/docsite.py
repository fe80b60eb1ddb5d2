"""`partnerdx kb docs`: a static HTML site of the knowledge base, written as Markdown and rendered
by markdown-it-py with raw HTML disabled, so nothing an author writes in YAML can inject markup.

Pages are flat (one folder, no relative-path arithmetic): `index.html`, `conclusions.html`, one page
per rule family, concept family, intervention family, instrument and source, and the lint codes.
Every id links to one anchor, decided in `Site.href`, so pages cannot disagree about where a thing
lives; a test follows every link of a built site. The site is written to a temporary folder and
renamed over the target, so a failure never leaves half a site over an old one.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

from markdown_it import MarkdownIt

from .conditions import describe
from .errors import InputError, Problem, display_path
from .kb import KnowledgeBase
from .model import Citation, Entry, Rule, Score

MARKER = ".partnerdx-docs"
_INLINE = re.compile(r"([\\`*_\[\]<>{}&!|~])")
_BLOCK_START = re.compile(r"^(\d*)([-+=#>.)])")
_EXPLICIT_ID = re.compile(r"\s*\{#([A-Za-z0-9_.:-]+)\}\s*$")
STYLE = ("body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;"
         "line-height:1.45}code{background:#f3f3f3;padding:0 .2em}nav{font-size:.9rem;margin-bottom:1rem}"
         "h3{margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}blockquote{color:#444;"
         "border-left:3px solid #ccc;margin-left:0;padding-left:1rem}table{border-collapse:collapse}"
         "td,th{border:1px solid #ddd;padding:.2rem .5rem}")


def esc(text: Any) -> str:
    """Fold lines and backslash-escape what Markdown would read as markup: YAML text is only text.
    Inline markup characters are escaped everywhere; a leading block marker (a list number, `-`,
    `>`, `#`) is escaped too, because an escaped text may start a paragraph."""
    out = _INLINE.sub(r"\\\1", " ".join(str(text).split()))
    return _BLOCK_START.sub(r"\1\\\2", out, count=1)


def _code(ident: str) -> str:
    return f"`{ident}`" if "`" not in ident else esc(ident)


def _slug(text: str) -> str:
    """GitHub-style heading anchors, so links written for docs/*.md also work in the site."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _heading_ids(state: Any) -> None:
    """A core rule: `## Title {#id}` sets the heading's id; other headings get a GitHub slug."""
    seen: dict[str, int] = {}
    tokens = state.tokens
    for i, tok in enumerate(tokens):
        if tok.type != "heading_open":
            continue
        inline = tokens[i + 1]
        m = _EXPLICIT_ID.search(inline.content)
        if m:
            anchor = m.group(1)
            inline.content = inline.content[:m.start()]
        else:
            base = _slug(inline.content.replace("\\", ""))
            n = seen.get(base, 0)
            anchor = base if n == 0 else f"{base}-{n}"
            seen[base] = n + 1
        tok.attrSet("id", anchor)


def markdown_renderer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.core.ruler.before("inline", "heading_ids", _heading_ids)
    return md


class Site:
    """Knows where every id is documented and renders the pages."""

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.g = kb.graph
        self.types = kb.types
        self.md = markdown_renderer()
        self.rule_families = _families(kb.rules, lambda r: r.family)
        for s in kb.scores.values():
            self.rule_families.setdefault(s.family, [])
        self.score_families = _families(kb.scores.values(), lambda s: s.family)
        self.concept_families = _families(kb.concepts.values(), lambda e: e.family)
        self.intervention_families = _families(kb.interventions.values(), lambda e: e.family)
        self.instruments = _families(kb.questions.values(), lambda q: q.data["instrument"])

    # ---- where things live ----------------------------------------------------------------------

    def href(self, ident: str, prefer_rule: bool = False) -> str | None:
        kb = self.kb
        if prefer_rule and ident in kb.rules_by_id:
            return f"rules-{kb.rules_by_id[ident].family}.html#rule-{ident}"
        if ident in kb.questions:
            return f"instrument-{kb.questions[ident].data['instrument']}.html#item-{ident}"
        if ident in kb.scores:
            return f"rules-{kb.scores[ident].family}.html#score-{ident}"
        if ident in kb.conclusion_types:
            return f"conclusions.html#conclusion-{ident}"
        if ident in kb.interventions:
            return f"interventions-{kb.interventions[ident].family}.html#int-{ident}"
        if ident in kb.concepts:
            return f"concepts-{kb.concepts[ident].family}.html#concept-{ident}"
        if ident in kb.sources:
            return f"source-{ident}.html"
        if ident in kb.rules_by_id:
            return f"rules-{kb.rules_by_id[ident].family}.html#rule-{ident}"
        return None

    def link(self, ident: str, label: str | None = None, prefer_rule: bool = False) -> str:
        target = self.href(ident, prefer_rule)
        text = esc(label) if label else _code(ident)
        return f"[{text}]({target})" if target else text

    def rule_link(self, rule_id: str) -> str:
        return self.link(rule_id, prefer_rule=True)

    def node_link(self, node: str) -> str:
        """A graph node (item, score, rule:<id>, conclusion, recommendation) as a link."""
        return self.rule_link(node[5:]) if node.startswith("rule:") else self.link(node)

    def title_of(self, ident: str) -> str:
        if ident in self.kb.conclusion_types:
            return self.kb.rules_concluding(ident)[0].title
        found = self.kb.entry(ident) or self.kb.scores.get(ident)
        return found.title if found is not None else ident

    # ---- fragments ------------------------------------------------------------------------------

    def cite(self, c: Citation | None) -> str:
        if c is None:
            return ""
        src = self.kb.sources.get(c.ref)
        name = src.title if src else c.ref
        return f"> “{esc(c.quote)}”\n>\n> — {self.link(c.ref, name)}, {esc(c.at)}\n\n"

    def basis(self, data: dict) -> str:
        basis = data.get("basis", "seed")
        out = f"**Basis:** {'expert judgement' if basis == 'expert-judgement' else 'the seed'}"
        if data.get("note"):
            out += f". {esc(data['note'])}"
        return out + "\n\n"

    def links(self, idents: Iterable[str]) -> str:
        found = [self.node_link(i) for i in idents]
        return ", ".join(found) if found else "nothing"

    def neighbours(self, node: str) -> str:
        if node not in self.g:
            return ""
        before = sorted(self.g.predecessors(node))
        after = sorted(self.g.successors(node))
        out = f"**Fed by:** {self.links(before)}\n\n" if before else ""
        follow: list[str] = []
        for n in after:
            follow.append(n)
            if not n.startswith("rule:"):
                follow += sorted(self.g.successors(n))
        out += f"**Feeds:** {self.links(dict.fromkeys(follow))}\n\n"
        return out

    def example(self, x: Any) -> str:
        answers = ", ".join(f"{_code(str(k))} = {esc(_value(v))}" for k, v in x.answers.items()) or "no answers"
        parts = []
        if x.concluded:
            parts.append("concludes " + ", ".join(self.link(c) for c in x.concluded))
        if x.not_concluded:
            parts.append("does not conclude " + ", ".join(self.link(c) for c in x.not_concluded))
        return f"- *{esc(x.name)}*: {answers} → {'; '.join(parts)}\n"

    # ---- sections -------------------------------------------------------------------------------

    def rule_section(self, r: Rule) -> str:
        out = [f"### {esc(r.title)} {{#rule-{r.id}}}\n\n", f"Rule {_code(r.id)} in {_code(r.path)}.\n\n"]
        if r.kind == "recommendation":
            out.append(f"**Recommends:** {self.link(r.concludes, self.title_of(r.concludes))} "
                       f"(priority {r.priority})\n\n")
        else:
            ctype = self.types.get(r.ctype or "", {}).get("title", r.ctype)
            out.append(f"**Concludes:** {self.link(r.concludes)} ({esc(ctype)})\n\n")
        out.append(f"**When:** {esc(describe(r.when))}\n\n")
        out.append(f"**Because:** {esc(r.because)}\n\n")
        out.append("**Source:**\n\n" + self.cite(r.source))
        out.append(self.basis(r.data))
        out.append(self.neighbours(f"rule:{r.id}"))
        out.append("**Examples:**\n\n" + ("".join(self.example(x) for x in r.examples) or "- none\n") + "\n")
        return "".join(out)

    def score_section(self, s: Score) -> str:
        out = [f"### {esc(s.title)} {{#score-{s.id}}}\n\n", f"Score {_code(s.id)} in {_code(s.path)}.\n\n",
               f"**Computed as:** {esc(s.fn)} of {self.links(s.inputs)}, known when at least "
               f"{max(s.min_answered, 1)} are answered"
               + (f"; threshold {esc(s.threshold)}" if s.threshold is not None else "") + ".\n\n"]
        if s.because:
            out.append(f"**Because:** {esc(s.because)}\n\n")
        out.append("**Source:**\n\n" + self.cite(s.source))
        out.append(self.basis(s.data))
        out.append(self.neighbours(s.id))
        return "".join(out)

    def question_section(self, q: Entry) -> str:
        d = q.data
        out = [f"### {esc(q.title)} {{#item-{q.id}}}\n\n", f"Item {_code(q.id)} ({esc(d.get('type', 'rated'))}).\n\n",
               f"**Question:** {esc(d['text'])}\n\n", f"**Help:** {esc(d['help'])}\n\n"]
        if "scale" in d:
            out.append(f"**Scale:** 1 = {esc(d['scale']['low'])}; 5 = {esc(d['scale']['high'])}\n\n")
        if "options" in d:
            out.append("**Options:** " + "; ".join(f"{_code(o['value'])} {esc(o['label'])}" for o in d["options"]) + "\n\n")
        if "area" in d:
            out.append(f"**Area:** {self.link(d['area'], self.title_of(d['area']))}\n\n")
        out.append("**Source:**\n\n" + self.cite(q.source))
        out.append(self.basis(d))
        out.append(self.neighbours(q.id))
        return "".join(out)

    def concept_section(self, e: Entry) -> str:
        d = e.data
        out = [f"### {esc(e.title)} {{#concept-{e.id}}}\n\n", f"Concept {_code(e.id)}.\n\n", f"{esc(d['text'])}\n\n"]
        if "parent" in d:
            out.append(f"**Part of:** {self.link(d['parent'], self.title_of(d['parent']))}\n\n")
        for key, label in (("related", "Related"), ("items", "Measured by")):
            if d.get(key):
                out.append(f"**{label}:** {', '.join(self.link(i) for i in d[key])}\n\n")
        for key, label in (("strengths", "Strengths"), ("risks", "Risks")):
            if d.get(key):
                out.append(f"**{label}:**\n\n" + "".join(f"- {esc(x)}\n" for x in d[key]) + "\n")
        if d.get("share"):
            out.append(f"**Share stated by the seed:** {esc(d['share'])}\n\n")
        out.append("**Source:**\n\n" + self.cite(e.source))
        out.append(self.basis(d))
        return "".join(out)

    def intervention_section(self, e: Entry) -> str:
        d = e.data
        by = [f"rule:{r.id}" for r in self.kb.rules if r.kind == "recommendation" and r.concludes == e.id]
        return "".join([
            f"### {esc(e.title)} {{#int-{e.id}}}\n\n", f"Intervention {_code(e.id)}.\n\n", f"{esc(d['text'])}\n\n",
            f"**Applies when:** {esc(d['applies_when'])}\n\n",
            f"**Addresses:** {', '.join(self.link(a) for a in d['addresses']) or 'nothing named'}\n\n",
            f"**Recommended by:** {self.links(by)}\n\n",
            "**Source:**\n\n" + self.cite(e.source), self.basis(d)])

    def conclusion_section(self, ident: str) -> str:
        rules = self.kb.rules_concluding(ident)
        users = sorted(n for n in self.g.successors(ident)) if ident in self.g else []
        return "".join([
            f"### {esc(rules[0].title)} {{#conclusion-{ident}}}\n\n", f"Conclusion {_code(ident)}.\n\n",
            f"**Concluded by:** {self.links(f'rule:{r.id}' for r in rules)}\n\n",
            f"**Used by:** {self.links(users)}\n\n"])

    # ---- pages ----------------------------------------------------------------------------------

    def page(self, title: str, body_md: str) -> str:
        nav = self.md.render("[Index](index.html) · [Conclusions](conclusions.html) · [Lint codes](lint-codes.html)")
        body = self.md.render(f"# {esc(title)}\n\n{body_md}")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)} — partnerdx knowledge base</title><style>{STYLE}</style></head>"
                f"<body>\n<nav>{nav}</nav>\n<main>\n{body}</main>\n</body></html>\n")

    def pages(self) -> dict[str, str]:
        from .lint import codes_markdown
        out: dict[str, str] = {}
        for fam, rules in self.rule_families.items():
            scores = self.score_families.get(fam, [])
            body = "".join(self.score_section(s) for s in scores) + "".join(self.rule_section(r) for r in rules)
            out[f"rules-{fam}.html"] = self.page(f"Rules: {fam}", _counted(len(rules), "rule", len(scores)) + body)
        for fam, entries in self.concept_families.items():
            out[f"concepts-{fam}.html"] = self.page(f"Concepts: {fam}", "".join(map(self.concept_section, entries)))
        for fam, entries in self.intervention_families.items():
            out[f"interventions-{fam}.html"] = self.page(f"Interventions: {fam}",
                                                         "".join(map(self.intervention_section, entries)))
        for inst, questions in self.instruments.items():
            out[f"instrument-{inst}.html"] = self.page(f"Instrument: {self.instrument_title(inst)}",
                                                       "".join(map(self.question_section, questions)))
        for sid in self.kb.sources:
            out[f"source-{sid}.html"] = self.source_page(sid)
        out["conclusions.html"] = self.conclusions_page()
        codes = codes_markdown().split("\n", 2)[2]   # drop the page's own H1
        out["lint-codes.html"] = self.page("Lint codes", codes)
        out["index.html"] = self.index_page()
        return out

    def instrument_title(self, inst: str) -> str:
        """The instrument's own title from the vocabulary, with its name and `ask` module."""
        info = self.kb.instruments.get(inst, {})
        module = f", asked in module {info['module']}" if info.get("module") else ""
        return f"{info.get('title', inst)} ({inst}{module})"

    def conclusions_page(self) -> str:
        by_type: dict[str, list[str]] = {t: [] for t in self.types}
        for ident, ctype in self.kb.conclusion_types.items():
            by_type.setdefault(ctype, []).append(ident)
        body = []
        for ctype, idents in by_type.items():
            if not idents:
                continue
            info = self.types.get(ctype, {})
            body.append(f"## {esc(info.get('title', ctype))} {{#type-{ctype}}}\n\n{esc(info.get('text', ''))}"
                        + (" At most one conclusion of this type holds at a time." if info.get("exclusive") else "")
                        + "\n\n" + "".join(self.conclusion_section(i) for i in idents))
        return self.page("Conclusions", "".join(body))

    def source_page(self, sid: str) -> str:
        s = self.kb.sources[sid]
        d = s.data
        head = [f"**Authors:** {esc(', '.join(d['authors']) or 'not stated')}\n\n",
                f"**Year:** {esc(d['year'] if d['year'] is not None else 'not stated')}\n\n",
                f"**Published:** {esc(d['published'])}\n\n", f"**Seed text:** {_code(d['seed'])}\n\n"]
        if d.get("note"):
            head.append(f"{esc(d['note'])}\n\n")
        groups: list[tuple[str, list[tuple[str, Citation, str]]]] = [
            ("Questions", [(q.id, q.source, q.title) for q in self.kb.questions.values() if _cites(q.source, sid)]),
            ("Concepts", [(e.id, e.source, e.title) for e in self.kb.concepts.values() if _cites(e.source, sid)]),
            ("Interventions", [(e.id, e.source, e.title) for e in self.kb.interventions.values() if _cites(e.source, sid)]),
            ("Scores", [(x.id, x.source, x.title) for x in self.kb.scores.values() if _cites(x.source, sid)]),
            ("Rules", [(r.id, r.source, r.title) for r in self.kb.rules if _cites(r.source, sid)])]
        body = []
        for label, rows in groups:
            if not rows:
                continue
            body.append(f"## Cited by: {label.lower()}\n\n")
            for ident, cite, title in rows:
                link = self.rule_link(ident) if label == "Rules" else self.link(ident)
                body.append(f"- {link} {esc(title)} — {esc(cite.at)}: “{esc(cite.quote)}”\n")
            body.append("\n")
        return self.page(s.title, "".join(head) + ("".join(body) or "Nothing cites this source.\n"))

    def index_page(self) -> str:
        c = self.kb.counts()
        intro = ("The knowledge base of partnerdx: " + ", ".join(f"{v} {k}" for k, v in c.items()) + ". "
                 "Every rule shows its conditions in plain words, the reason it gives, the source it rests "
                 "on and the examples that test it.\n\n")
        sections = [
            ("Rule families", [(f"rules-{f}.html", f) for f in self.rule_families]),
            ("Conclusions", [("conclusions.html", "All conclusions, by type")]),
            ("Instruments (the questions)", [(f"instrument-{i}.html", self.instrument_title(i))
                                             for i in self.instruments]),
            ("Concept families", [(f"concepts-{f}.html", f) for f in self.concept_families]),
            ("Interventions", [(f"interventions-{f}.html", f) for f in self.intervention_families]),
            ("Sources", [(f"source-{s}.html", self.kb.sources[s].title) for s in self.kb.sources]),
            ("For authors", [("lint-codes.html", "Lint codes")]),
        ]
        body = "".join(f"## {esc(h)}\n\n" + "".join(f"- [{esc(label)}]({href})\n" for href, label in links) + "\n"
                       for h, links in sections if links)
        return self.page("partnerdx knowledge base", intro + body)


def _families(items: Iterable[Any], key) -> dict[str, list]:
    out: dict[str, list] = {}
    for x in items:
        out.setdefault(key(x), []).append(x)
    return out


def _counted(n: int, word: str, scores: int) -> str:
    return f"{n} {word}{'s' * (n != 1)}" + (f" and {scores} score{'s' * (scores != 1)}" if scores else "") + ".\n\n"


def _cites(c: Citation | None, sid: str) -> bool:
    return c is not None and c.ref == sid


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    return "unanswered" if v is None else str(v)


# ---- writing ----------------------------------------------------------------------------------------

def _refuse(out: Path, message: str) -> InputError:
    return InputError([Problem(display_path(out), None, None, message)])


def build_site(kb: KnowledgeBase, out: Path) -> int:
    """Render every page in memory, write them to a temporary folder beside `out`, then swap it in.
    Refuses to replace a folder that is not empty and was not made by this command."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise _refuse(out, "exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise _refuse(out, "is not empty and is not a partnerdx docs site; choose a new or empty directory")
    pages = Site(kb).pages()
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise _refuse(out, f"cannot write: {exc.strerror}") from None
    try:
        for name, text in pages.items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("generated by partnerdx kb docs; the folder is replaced on each build\n",
                                  encoding="utf-8")
        os.chmod(tmp, 0o755)
        _swap(tmp, out.resolve())
    except OSError as exc:
        raise _refuse(out, f"cannot write: {exc.strerror}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return len(pages)


def _swap(new: Path, out: Path) -> None:
    """Put `new` at `out`; the old folder is removed only once the new one is in place."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.rmdir(old)
    os.replace(out, old)
    try:
        os.replace(new, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
