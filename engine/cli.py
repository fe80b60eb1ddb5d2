"""partnerdx command line. Commands are thin: parse, call engine/, render, exit.

Exit status: 0 success; 1 a query with a negative answer (e.g. `why` of something not concluded,
`kb test` failures); 2 bad usage or bad input, with one message per problem and no traceback.
"""
from __future__ import annotations

import functools
import html
import json
import shlex
import sys
from pathlib import Path

import click

FORMATS = ("text", "json", "markdown", "html")
EXTENSIONS = {".txt": "text", ".text": "text", ".json": "json", ".md": "markdown", ".markdown": "markdown",
              ".html": "html", ".htm": "html"}
FORMAT_HELP = "text, json, markdown or html [default: from -o's extension, else text]."


def _first_paragraph(text: str | None) -> str:
    """A command's summary for the command list: its whole first paragraph, never cut mid-sentence."""
    return " ".join((text or "").split("\n\n")[0].split())


class WholeSentences(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or _first_paragraph(self.help)


class WholeSentencesGroup(click.Group):
    command_class = WholeSentences
    group_class = type                     # sub-groups (kb, user) list their commands the same way

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or _first_paragraph(self.help)


def _fail(problems) -> None:
    for p in problems:
        click.echo(str(p), err=True)
    sys.exit(2)


def guarded(func):
    """Turn our InputError into exit 2 with located messages; never show a traceback."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from partnerdx.errors import EngineError, InputError
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            _fail(exc.problems)
        except EngineError as exc:
            click.echo(f"partnerdx: internal engine error: {exc}", err=True)
            sys.exit(3)
    return wrapper


def _kb(ctx: click.Context, refuse_errors: bool = True):
    """The knowledge base with the `--kb` overlays. Files the overlays hold but nothing reads are
    reported once; an overlay with error-level lint findings (a cycle, two modes at once, a quote
    not in its seed) is refused, with the findings, unless the command is itself an author tool
    that reports them (`refuse_errors=False`)."""
    from partnerdx.kb import load_kb
    obj = ctx.find_root().obj
    if "kb" not in obj:
        obj["kb"] = load_kb(tuple(Path(p) for p in obj["overlays"]))
        for notice in obj["kb"].notices:
            click.echo(f"{notice} [warning]", err=True)
    if refuse_errors and obj["overlays"] and not obj.get("linted"):
        from partnerdx import lint
        findings = lint.blocking(obj["kb"], lint.seed_dirs(obj["kb"].roots[1:], _env_seeds()))
        if findings:
            for f in findings:
                click.echo(str(f), err=True)
            click.echo(f"partnerdx: refusing to use the --kb overlay: {len(findings)} lint error"
                       f"{'s' * (len(findings) != 1)} (see `partnerdx --kb ... kb lint`)", err=True)
            sys.exit(2)
        obj["linted"] = True
    return obj["kb"]


def _env_seeds() -> Path | None:
    import os
    return Path(os.environ["PARTNERDX_SEEDS"]) if os.environ.get("PARTNERDX_SEEDS") else None


def output_options(func):
    """The same --format and -o on every command that renders a result."""
    func = click.option("-o", "--output", "out", type=click.Path(dir_okay=False),
                        help="Write to this file (atomically) instead of the terminal.")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), help=FORMAT_HELP)(func)


def _format(fmt: str | None, out: str | None) -> str:
    """--format when given, else what -o's extension says, else text; a contradiction is an error."""
    from partnerdx.errors import InputError, Problem
    inferred = EXTENSIONS.get(Path(out).suffix.lower()) if out else None
    if fmt and inferred and fmt != inferred:
        raise InputError([Problem("<command line>", None, "--format",
                                  f"--format {fmt} contradicts -o {out}, a {inferred} file name; "
                                  f"drop --format or name the file for {fmt}")])
    return fmt or inferred or "text"


def _command(ctx: click.Context, *words: str) -> str:
    """A command line the user can paste as printed: same --kb overlays, paths quoted for the shell."""
    overlays = ctx.find_root().obj["overlays"]
    return shlex.join(["partnerdx", *(w for o in overlays for w in ("--kb", o)), *map(str, words)])


def _options_given(ctx: click.Context) -> list[str]:
    """The options of this invocation as words, so that a suggested command repeats them."""
    words: list[str] = []
    for p in ctx.command.params:
        if not isinstance(p, click.Option) or p.hidden or p.name not in ctx.params:
            continue
        value = ctx.params[p.name]
        if value is None or value is False or value == () or value == p.default:
            continue
        flag = max(p.opts, key=len)
        if p.is_flag:
            words.append(flag)
        else:
            for v in (value if p.multiple else (value,)):
                words += [flag, str(v)]
    return words


def _answers_first(ctx: click.Context, option: str | None, args: tuple[str, ...], names: str) -> tuple[str, list[str]]:
    """The answers file is the first argument of every command that reads one; `--answers FILE`
    (the older spelling of why, why-not and path) still works, with a note saying how to write it."""
    if option is not None:
        click.echo(f"partnerdx: --answers is deprecated (it still works); the answers file comes first: "
                   f"{_command(ctx, ctx.info_name, option, *args, *_options_given(ctx))}", err=True)
        return option, list(args)
    if not args:
        raise click.UsageError(f"expected {names}", ctx)
    if not Path(args[0]).exists() and len(args) > 1 and Path(args[1]).is_file():
        from partnerdx.errors import InputError, Problem
        swapped = [args[1], args[0], *args[2:]]
        raise InputError([Problem("<command line>", None, args[0], "the answers file comes first: "
                                  f"`{_command(ctx, ctx.info_name, *swapped, *_options_given(ctx))}`")])
    return args[0], list(args[1:])


def _one(ctx: click.Context, rest: list[str], name: str) -> str:
    if len(rest) != 1:
        raise click.UsageError(f"expected one {name} after the answers file, got {len(rest)}", ctx)
    return rest[0]


def _plain(lines: list[str], fmt: str, title: str) -> str:
    """Text answers (why, why-not, path, what-if) in the one set of formats: Markdown keeps the lines
    as a block, HTML as a self-contained page."""
    body = "\n".join(lines) + "\n"
    if fmt == "markdown":
        return f"# {title}\n\n```text\n{body}```\n"
    if fmt == "html":
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(title)} — partnerdx</title></head><body>\n<h1>{html.escape(title)}</h1>\n"
                f"<pre>{html.escape(body)}</pre>\n</body></html>\n")
    return body


def _emit(text: str, out: str | None) -> None:
    if out:
        from partnerdx.io_safe import write_atomic
        try:
            write_atomic(Path(out), text)
        except OSError as exc:
            from partnerdx.errors import InputError, Problem
            raise InputError([Problem(out, None, None, f"cannot write: {exc.strerror}")]) from None
    else:
        click.echo(text, nl=False)


def _known_id(kb, ident: str) -> None:
    from partnerdx.errors import InputError, Problem
    from partnerdx.schema import suggest
    known = list(kb.conclusion_types) + [r.concludes for r in kb.rules if r.kind == "recommendation"]
    if ident not in known:
        what = ("a question" if ident in kb.questions else "a score" if ident in kb.scores else
                f"the id of a rule concluding '{kb.rules_by_id[ident].concludes}'" if ident in kb.rules_by_id else None)
        hint = f" (it is {what}, not a conclusion)" if what else suggest(ident, known)
        raise InputError([Problem("<command line>", None, ident, "no rule concludes this id" + hint)])


@click.group(cls=WholeSentencesGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--kb", "overlays", multiple=True, type=click.Path(file_okay=False),
              help="Directory of authored rules/ and knowledge/ added on top of the built-in base.")
@click.version_option(package_name="partnerdx")
@click.pass_context
def main(ctx: click.Context, overlays: tuple[str, ...]) -> None:
    """partnerdx: diagnose how well organisations work together in partnership."""
    ctx.obj = {"overlays": overlays}


@main.command()
@click.argument("args", nargs=-1, metavar="FILE")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@output_options
@click.option("--backend", type=click.Choice(["durable", "reference"]), default="durable", hidden=True)
@click.pass_context
@guarded
def diagnose(ctx, args, option, fmt, out, backend):
    """Diagnose one answers file (YAML or JSON): conclusions and recommendations, each with its sources.

    FILE maps item ids to answers, e.g. `answers: {stair.q01: 3, t1.r01: 4}`; `partnerdx sessions
    --export NAME` writes one from a questionnaire session.
    """
    from partnerdx.answers import load_answers
    from partnerdx.inference import diagnose as run
    from partnerdx.report import render
    file, rest = _answers_first(ctx, option, args, "an answers file")
    if rest:
        raise click.UsageError(f"unexpected argument {rest[0]!r}", ctx)
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    d = run(kb, load_answers(kb, Path(file)), backend)
    _emit(render(kb, d, fmt, why_not=lambda ident: _command(ctx, "why-not", file, ident)), out)


@main.command()
@click.argument("args", nargs=-1, metavar="FILE ID")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@output_options
@click.pass_context
@guarded
def why(ctx, args, option, fmt, out):
    """How conclusion or recommendation ID was reached from answers FILE, down to the answers and the
    sources."""
    from partnerdx.answers import load_answers
    from partnerdx.explain import why_text, why_tree
    from partnerdx.inference import diagnose as run
    file, rest = _answers_first(ctx, option, args, "an answers file and an ID")
    ident = _one(ctx, rest, "ID")
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    _known_id(kb, ident)
    d = run(kb, load_answers(kb, Path(file)))
    if d.conclusion(ident) is None:
        click.echo(f"{ident} is not concluded from {file}; this says which conditions failed:\n"
                   f"  {_command(ctx, 'why-not', file, ident)}", err=True)
        sys.exit(1)
    tree = why_tree(kb, d, ident)
    _emit(json.dumps(tree, indent=2, ensure_ascii=False) + "\n" if fmt == "json"
          else _plain(why_text(tree), fmt, f"Why {ident}"), out)


@main.command("why-not")
@click.argument("args", nargs=-1, metavar="FILE ID")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@output_options
@click.pass_context
@guarded
def why_not(ctx, args, option, fmt, out):
    """Which conditions of the rules that could conclude ID failed or are unanswered in answers FILE."""
    from partnerdx.answers import load_answers
    from partnerdx.explain import why_not as explain, why_not_text
    from partnerdx.inference import diagnose as run
    file, rest = _answers_first(ctx, option, args, "an answers file and an ID")
    ident = _one(ctx, rest, "ID")
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    _known_id(kb, ident)
    report = explain(kb, run(kb, load_answers(kb, Path(file))), ident)
    _emit(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n" if fmt == "json"
          else _plain(why_not_text(report, _command(ctx, "why", file, ident)), fmt, f"Why not {ident}"), out)


def parse_change(kb, text: str):
    from partnerdx.answers import check_value
    from partnerdx.errors import InputError, Problem
    from partnerdx.schema import suggest
    if "=" not in text:
        raise InputError([Problem("<command line>", None, text, "expected ITEM=VALUE")])
    item, raw = (s.strip() for s in text.split("=", 1))
    if item not in kb.questions:
        raise InputError([Problem("<command line>", None, item, "unknown item id" + suggest(item, kb.questions))])
    q = kb.questions[item]
    value: object = raw
    if q.type == "rated":
        try:
            value = float(raw) if "." in raw else int(raw)
        except ValueError:
            value = raw
    elif q.type == "multi":
        value = [v.strip() for v in raw.split(",") if v.strip()]
    if raw.lower() in ("unknown", ""):
        return item, None
    checked, error = check_value(kb, item, value)
    if error:
        raise InputError([Problem("<command line>", None, item, error)])
    return item, checked


SCOPE_ALIASES = {"quick": "staircase"}


def _scope_choices() -> list[str]:
    from partnerdx.questionnaire import SCOPES
    return [*SCOPE_ALIASES, *SCOPES]


@main.command()
@click.argument("args", nargs=-1, metavar="[FILE]")
@click.option("--session", "name", metavar="NAME", help="Session name: resumes it when it exists.")
@click.option("--new", "force_new", is_flag=True,
              help="Start session NAME even though a saved session has a similar name.")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@click.option("--partnership", metavar="NAME", help="The partnership's name, for the report's title (asked along with the scope).")
@click.option("--scope", "scope", metavar="|".join(_scope_choices()),
              help="What to ask, so scripts skip the scope prompt: quick (the Staircase check), full, or one module "
                   "(an overlay's modules too).")
@click.option("--module", "module", hidden=True, help="Same as --scope (kept for existing scripts).")
@click.pass_context
@guarded
def ask(ctx, args, name, force_new, option, partnership, scope, module):
    """Guided questionnaire in the terminal; saves after every answer; ends with the report.

    FILE, when given, pre-fills the answers. End of input (Ctrl-D, or a script whose input runs out)
    at any prompt is the same as `quit`: the session is saved with everything given so far, and the
    command says how to resume it.
    """
    from partnerdx import ask as terminal
    from partnerdx import sessions
    from partnerdx.answers import load_answers
    file = None
    if args or option is not None:
        file, rest = _answers_first(ctx, option, args, "an answers file")
        if rest:
            raise click.UsageError(f"unexpected argument {rest[0]!r}", ctx)
    kb = _kb(ctx)
    given_name = name is not None                # a generated name is never a typo of an older one
    name = name or terminal.default_name()
    try:
        session = sessions.load(name)
    except sessions.CorruptSession as exc:
        click.echo(f"partnerdx: {exc}; starting a new session '{name}'.", err=True)
        session = None
    new = session is None
    if new and not force_new and given_name:
        _refuse_near_miss(ctx, name)
    session = session or sessions.Session(name)
    if file:
        pre = load_answers(kb, Path(file))
        for k, v in pre.values.items():
            session.answers.setdefault(k, v)
        session.partnership = session.partnership or pre.partnership
    session.partnership = partnership or session.partnership
    scope = scope or module
    from partnerdx.questionnaire import scopes
    modules = scopes(kb)
    if scope:
        if SCOPE_ALIASES.get(scope, scope) not in modules:
            from partnerdx.errors import InputError, Problem
            from partnerdx.schema import suggest
            known = [*SCOPE_ALIASES, *modules]
            raise InputError([Problem("<command line>", None, scope, f"not a module: choose one of {', '.join(known)}"
                                      + suggest(scope, known))])
        session.scope = SCOPE_ALIASES.get(scope, scope)
    session.save()
    from rich.console import Console
    term_console = Console(highlight=False)

    def saved_and_leave() -> None:
        term_console.print(f"Saved session '{name}' ({len(session.answers)} answers) in {session.path}.\n"
                           f"Resume with: {_command(ctx, 'ask', '--session', name)}", markup=False)

    if not session.scope:
        try:
            if not session.partnership:
                session.partnership = terminal.ask_name(term_console, input)
                session.save()
            session.scope = terminal.choose_scope(term_console, input, modules, kb)
        except terminal.Quit:
            saved_and_leave()
            return
        session.save()
    t = terminal.Terminal(kb, session, term_console)
    t.out.print(f"{'Started' if new else 'Resumed'} session '{name}' ({len(session.answers)} answers so far). "
                "Saved after every answer.")
    if t.run():
        terminal.finish(kb, t)
        saved_and_leave()
        term_console.print("The answers as a file, for diagnose, why, what-if and path:\n  "
                           f"{_command(ctx, 'sessions', '--export', name, '-o', name + '.yaml')}", markup=False)
    else:
        saved_and_leave()


def _refuse_near_miss(ctx: click.Context, name: str) -> None:
    """A mistyped --session would silently start afresh: name the saved session it probably meant."""
    import difflib

    from partnerdx import sessions
    from partnerdx.errors import InputError, Problem
    saved = [s.name for s in sessions.list_sessions()]
    close = difflib.get_close_matches(name, saved, n=1, cutoff=0.6)
    if close:
        raise InputError([Problem("<command line>", None, name,
                                  f"no saved session by this name; did you mean '{close[0]}'? Resume it with "
                                  f"`{_command(ctx, 'ask', '--session', close[0])}`, or start '{name}' anyway "
                                  f"with `{_command(ctx, 'ask', '--session', name, '--new')}`")])


@main.command("sessions")
@click.option("--export", "export", metavar="NAME", help="Write this session's answers as an answers file.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="With --export: the file to write.")
@click.pass_context
@guarded
def list_sessions(ctx, export, out):
    """Saved questionnaire sessions; --export NAME writes one as an answers file for the other commands."""
    import time as _time

    import yaml
    from partnerdx import sessions
    from partnerdx.errors import InputError, Problem
    if export:
        try:
            s = sessions.load(export)
        except sessions.CorruptSession as exc:
            raise InputError([Problem(str(exc.path), None, export, f"session file is unreadable; kept aside as {exc.moved_to}")]) from None
        if s is None:
            from partnerdx.schema import suggest
            raise InputError([Problem("<command line>", None, export, "no such session"
                                      + suggest(export, [x.name for x in sessions.list_sessions()]))])
        kb = _kb(ctx)
        ordered = {q: s.answers[q] for q in kb.questions if q in s.answers}
        doc = {"partnership": s.partnership, "answers": ordered} if s.partnership else {"answers": ordered}
        _emit(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), out)
        return
    found = sessions.list_sessions()
    if not found:
        click.echo("no saved sessions")
    for s in found:
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(s.updated))
        click.echo(f"{s.name}\t{s.scope or '-'}\t{len(s.answers)} answers\t{when}")


@main.command()
@click.argument("args", nargs=-1, metavar="FILE TARGET")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@click.option("--max-changes", default=4, show_default=True, type=click.IntRange(1, 12))
@output_options
@click.pass_context
@guarded
def path(ctx, args, option, max_changes, fmt, out):
    """What would it take: the smallest answer changes to FILE under which TARGET is concluded."""
    from partnerdx.answers import load_answers
    from partnerdx.path import find_paths, path_text
    file, rest = _answers_first(ctx, option, args, "an answers file and a TARGET")
    target = _one(ctx, rest, "TARGET")
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    _known_id(kb, target)
    result = find_paths(kb, load_answers(kb, Path(file)), target, max_changes)
    if fmt == "json":
        keep = {k: v for k, v in result.items() if k != "blocked"}
        if "blocked" in result:
            keep["blocked"] = result["blocked"]
        _emit(json.dumps(keep, indent=2, ensure_ascii=False, default=str) + "\n", out)
    else:
        _emit(_plain(path_text(kb, result), fmt, f"What would it take: {target}"), out)


def _score_moves(kb, before, after) -> list[dict]:
    """Scores whose value differs between two diagnoses, in knowledge-base order."""
    moved = []
    for sid in kb.scores:
        b, a = before.scores.get(sid), after.scores.get(sid)
        bv, av = (b.value if b else None), (a.value if a else None)
        if bv != av:
            moved.append({"id": sid, "title": kb.scores[sid].title, "before": bv, "after": av})
    return moved


def _score_shown(v) -> str:
    return "unknown" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


@main.command("what-if")
@click.argument("args", nargs=-1, metavar="FILE ITEM=VALUE...")
@click.option("--answers", "option", type=click.Path(dir_okay=False), hidden=True)
@output_options
@click.pass_context
@guarded
def what_if(ctx, args, option, fmt, out):
    """What changes in the diagnosis of answers FILE if those answers change: conclusions gained and
    lost, and every score before → after (VALUE 'unknown' removes an answer)."""
    from partnerdx.answers import load_answers
    from partnerdx.explain import what_if as compare
    file, changes = _answers_first(ctx, option, args, "an answers file and ITEM=VALUE changes")
    if not changes:
        raise click.UsageError("expected at least one ITEM=VALUE after the answers file", ctx)
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    answers = load_answers(kb, Path(file))
    result = compare(kb, answers, dict(parse_change(kb, c) for c in changes))
    scores = _score_moves(kb, result["before"], result["after"])
    if fmt == "json":
        doc = {k: result[k] for k in ("added", "removed", "unchanged")}
        doc["scores"] = scores
        _emit(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", out)
        return
    lines = []
    for item, new in result["changes"].items():
        old = answers.values.get(item)
        lines.append(f"answer {item}: {'unanswered' if old is None else old} → {'unanswered' if new is None else new}")
    for verb, key in (("added", "added"), ("removed", "removed")):
        for ident in result[key]:
            found = (result["after"] if key == "added" else result["before"]).conclusion(ident)
            lines.append(f"{verb}: {ident} — {found.title}")
    if not result["added"] and not result["removed"]:
        lines.append("no change in the diagnosis")
    lines.append(f"unchanged: {len(result['unchanged'])} conclusions and recommendations")
    if scores:
        lines.append("scores, before → after:")
        lines += [f"  {s['title']} ({s['id']}): {_score_shown(s['before'])} → {_score_shown(s['after'])}" for s in scores]
    _emit(_plain(lines, fmt, "What if"), out)


@main.command()
@click.argument("csv_files", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="CSV...")
@output_options
@click.option("--min-group", type=click.IntRange(min=2), default=3, show_default=True,
              help="Organisations with fewer respondents are suppressed (count only).")
@click.option("--gap", type=click.FloatRange(min=0, min_open=True, max=4), default=1.5, show_default=True,
              help="Report a perception gap where two organisations' means differ by at least this.")
@click.option("--same-round", is_flag=True,
              help="The CSVs are parts of one survey round (e.g. one per organisation), not successive rounds.")
@click.option("--title", help="The partnership's name, for the report's heading.")
@click.option("--backend", type=click.Choice(["durable", "reference"]), default="durable", hidden=True)
@click.pass_context
@guarded
def assess(ctx, csv_files, fmt, out, min_group, gap, same_round, title, backend):
    """Assess a partnership from survey CSVs (one row per respondent): figures per organisation,
    perception gaps, anonymity, diagnoses, an agenda, and the direction of travel between rounds."""
    from partnerdx.assess import assess as run
    from partnerdx.assess_report import render
    from partnerdx.survey import read_survey
    fmt = _format(fmt, out)
    kb = _kb(ctx)
    survey = read_survey(kb, [Path(f) for f in csv_files], same_round)
    for warning in survey.warnings:
        click.echo(str(warning), err=True)
    _emit(render(kb, run(kb, survey, min_group, gap, title, backend), fmt), out)


DB_HELP = ("Database URL: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DATABASE "
           "(default: $PARTNERDX_DB, else SQLite in the user's data directory).")


@main.command()
@click.option("--db", "db_url", envvar="PARTNERDX_DB", metavar="URL", help=DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes (use PostgreSQL for more than one).")
@click.option("--public-url", envvar="PARTNERDX_PUBLIC_URL", metavar="URL",
              help="The address people use, e.g. https://partnerdx.example.org: invitation links are built from "
                   "it; with https, cookies are Secure and HSTS is sent.")
@click.option("--proxy-headers", is_flag=True,
              help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips (a TLS proxy in front).")
@click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True, metavar="IPS",
              help="Comma-separated proxy addresses whose forwarded headers are trusted (with --proxy-headers).")
@click.pass_context
@guarded
def serve(ctx, db_url, host, port, workers, public_url, proxy_headers, forwarded_allow_ips):
    """Run the web questionnaire: facilitators' dashboard and reports, respondents' links /r/TOKEN,
    and the JSON API (/openapi.json). Upgrades the database schema on start. No access log."""
    from partnerdx.web.app import run
    _kb(ctx)   # an overlay that does not load or has lint errors is refused before the server starts
    run(db_url, host, port, tuple(ctx.find_root().obj["overlays"]), log=lambda m: click.echo(m, err=True),
        workers=workers, public_url=public_url, proxy_headers=proxy_headers, forwarded_allow_ips=forwarded_allow_ips)


@main.group()
def user():
    """Facilitator accounts of the web application (`partnerdx serve`)."""


@user.command("add")
@click.argument("name")
@click.option("--db", "db_url", envvar="PARTNERDX_DB", metavar="URL", help=DB_HELP)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--reset", is_flag=True, help="Set a new password for an existing account (signs it out everywhere).")
@guarded
def user_add(name, db_url, password_stdin, reset):
    """Create a facilitator account NAME; the password is asked for (twice) unless --password-stdin."""
    from partnerdx.web.accounts import add_account
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    click.echo(add_account(db_url, name, password, reset))


@main.group()
def kb():
    """Knowledge-author tools: check, lint, test, docs, graph, coverage."""


@kb.command()
@click.option("--seeds", type=click.Path(file_okay=False), envvar="PARTNERDX_SEEDS",
              help="Folder of seed texts to check quotes against (besides each overlay's seeds/).")
@click.option("--watch", is_flag=True, help="Check again whenever a file of the knowledge base changes.")
@click.pass_context
@guarded
def check(ctx, seeds, watch):
    """Load and validate the knowledge base, and fail (exit 2) on error-level lint findings; one
    summary line, naming the seed files quotes were checked against, when clean."""
    if watch:
        _watch(ctx, lambda: _check_once(ctx, seeds))
        return
    sys.exit(_check_once(ctx, seeds))


def _check_once(ctx, seeds) -> int:
    from partnerdx import lint
    from partnerdx.errors import InputError
    obj = ctx.find_root().obj
    try:
        base = _kb(ctx, refuse_errors=False)
    except InputError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        return 2
    dirs = lint.seed_dirs(base.roots[1:], Path(seeds) if seeds else None)
    errors = lint.blocking(base, dirs)
    for f in errors:
        click.echo(str(f), err=True)
    if errors:
        return 2
    counts = base.counts()
    files = lint.seed_files_used(base, dirs)
    quotes = (f"quotes checked against {', '.join(files)}" if files else
              "quotes not checked: no seed texts found (use --seeds or an overlay's seeds/)")
    click.echo("ok: " + ", ".join(f"{v} {k}" for k, v in counts.items())
               + f" ({len(base.files)} files; {quotes})")
    obj.pop("kb", None)
    return 0


def _watch(ctx, once) -> None:
    """Run `once` now and again after every change under the knowledge base's folders (watchfiles
    waits on the operating system's change notifications; Ctrl-C stops)."""
    from watchfiles import watch
    from partnerdx.kb import builtin_root
    roots = [str(builtin_root() / "rules"), str(builtin_root() / "knowledge"),
             *(str(Path(o)) for o in ctx.find_root().obj["overlays"])]
    started = False
    try:   # the first (empty) yield comes once the watcher is set up: no save is missed after the first run
        for changes in watch(*[r for r in roots if Path(r).exists()], raise_interrupt=False,
                             yield_on_timeout=True, rust_timeout=300):
            if not started:
                started = True
                once()
                continue
            if not changes:
                continue
            ctx.find_root().obj.pop("kb", None)
            ctx.find_root().obj.pop("linted", None)
            click.echo("--- change seen; running again", err=True)
            once()
    except KeyboardInterrupt:
        pass


@kb.command("test")
@click.option("-k", "pattern", help="Only tests whose 'owner::name' id contains or matches this.")
@click.option("-v", "--verbose", is_flag=True, help="List every test with the rules it fired.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write the report to this file (atomically).")
@click.option("--coverage", "with_coverage", is_flag=True,
              help="Also report, per rule, alternatives and threshold sides no test covers.")
@click.option("--backend", type=click.Choice(["durable", "reference"]), default="durable", show_default=True)
@click.option("--watch", is_flag=True, help="Run again whenever a file of the knowledge base changes.")
@click.pass_context
@guarded
def kb_test(ctx, pattern, verbose, fmt, out, with_coverage, backend, watch):
    """Run the examples of rules and scores and the scenario files; one line per failure, with the
    condition that blocked, and a summary. Exit 1 on failures, 2 when nothing is selected."""
    def once() -> int:
        from partnerdx.errors import InputError
        try:
            return _test_once(ctx, pattern, verbose, fmt, out, with_coverage, backend)
        except InputError as exc:
            for p in exc.problems:
                click.echo(str(p), err=True)
            return 2
    if watch:
        _watch(ctx, once)
        return
    sys.exit(once())


def _test_once(ctx, pattern, verbose, fmt, out, with_coverage, backend) -> int:
    from partnerdx import kbtest
    base = _kb(ctx, refuse_errors=False)
    cov = kbtest.Coverage(base) if with_coverage else None
    results = kbtest.run_examples(base, pattern, backend, cov)
    if not results:
        click.echo(f"partnerdx: no test matches -k {pattern!r}" if pattern else "partnerdx: no tests", err=True)
        return 2
    if fmt == "json":
        report = kbtest.render_json(results, cov)
    elif fmt == "junit":
        report = kbtest.render_junit(results)
    else:
        report = kbtest.render_text(results, verbose) + (cov.text() if cov else "")
    _emit(report, out)
    if out and fmt == "text":
        click.echo(report.rstrip("\n").rsplit("\n", 1)[-1])
    return 1 if any(not r.ok for r in results) else 0


@kb.command()
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="Write to this file (atomically).")
@click.pass_context
@guarded
def coverage(ctx, out):
    """The coverage table: each seed's elements and the ids that encode them (Markdown)."""
    from partnerdx.coverage import coverage_markdown
    _emit(coverage_markdown(_kb(ctx, refuse_errors=False)), out)


@kb.command("lint")
@click.option("--strict", is_flag=True, help="Exit 1 when there are warnings (errors always exit 2).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--seeds", type=click.Path(exists=True, file_okay=False), envvar="PARTNERDX_SEEDS",
              help="Seed texts to check quotes against [default: ../shared/seeds beside the repository].")
@click.option("--select", multiple=True, metavar="CODE", help="Run only these codes (repeatable).")
@click.option("--ignore", multiple=True, metavar="CODE", help="Do not run these codes (repeatable); an entry can "
              "also waive a code for itself with `lint: {ignore: [CODE], reason: ...}`.")
@click.option("--explain", "explain_code", metavar="CODE", help="Print the documentation of one code.")
@click.option("--codes", "all_codes", is_flag=True, help="Print every code's documentation, as one Markdown page.")
@click.pass_context
@guarded
def kb_lint(ctx, strict, fmt, seeds, select, ignore, explain_code, all_codes):
    """What loads but is questionable: `path:line: CODE id: message [severity]`; exit 0/1/2."""
    from partnerdx import lint
    from partnerdx.errors import InputError, Problem
    from partnerdx.schema import suggest
    for code in (*select, *ignore, *([explain_code] if explain_code else [])):
        if lint.explain(code) is None:
            raise InputError([Problem("<command line>", None, code, "no such lint code" + suggest(code.upper(), lint.REGISTRY))])
    if all_codes or explain_code:
        click.echo(lint.codes_markdown() if all_codes else lint.explain(explain_code), nl=False)
        return
    try:
        base = _kb(ctx, refuse_errors=False)
    except InputError as exc:
        findings, dirs, files = lint.load_findings(exc.problems), [], []
    else:
        dirs = lint.seed_dirs(base.roots[1:], Path(seeds) if seeds else None)
        findings = lint.lint(base, dirs, [c.upper() for c in select], [c.upper() for c in ignore])
        files = lint.seed_files_used(base, dirs)
    click.echo(lint.render(findings, dirs, fmt, files), nl=False)
    sys.exit(lint.exit_code(findings, strict))


@kb.command("schema")
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write one JSON Schema per document kind into (created if missing).")
@click.pass_context
@guarded
def kb_schema(ctx, out):
    """JSON Schemas for editors: one per document kind (question, concept, intervention, source,
    rules, scenarios) and vocabulary file (types, instruments), with this knowledge base's names as
    enums. Point an editor at one with `# yaml-language-server: $schema=DIR/question.schema.json`."""
    from partnerdx.errors import InputError, Problem
    from partnerdx.io_safe import write_atomic
    from partnerdx.schema import export_schemas
    schemas = export_schemas(_kb(ctx, refuse_errors=False))
    target = Path(out)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, schema in schemas.items():
            write_atomic(target / name, json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError([Problem(out, None, None, f"cannot write: {exc.strerror}")]) from None
    click.echo(f"wrote {len(schemas)} schemas to {out}")


@kb.command("docs")
@click.option("-o", "--output", "out", required=True, type=click.Path(), help="Folder for the site (replaced as a whole).")
@click.pass_context
@guarded
def kb_docs(ctx, out):
    """A static HTML site of the knowledge base: every rule, question, concept, intervention, source."""
    from partnerdx.docsite import build_site
    count = build_site(_kb(ctx, refuse_errors=False), Path(out))
    click.echo(f"wrote {count} pages to {out}")


@kb.command()
@click.option("--around", help="Only the neighbourhood of this id.")
@click.option("--depth", default=2, show_default=True, type=click.IntRange(0, 50))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot", show_default=True)
@click.pass_context
@guarded
def graph(ctx, around, depth, fmt):
    """The dependency graph: items → scores → rules → conclusions → recommendations."""
    from partnerdx import graph as g
    from partnerdx.errors import InputError, Problem
    from partnerdx.schema import suggest
    base = _kb(ctx, refuse_errors=False)
    if around and around not in base.graph:
        raise InputError([Problem("<command line>", None, around, "not in the graph" + suggest(around, base.graph.nodes))])
    sub = g.neighbourhood(base.graph, around, depth)
    click.echo({"dot": g.to_dot, "mermaid": g.to_mermaid, "json": g.to_json}[fmt](sub), nl=False)


if __name__ == "__main__":
    main()
