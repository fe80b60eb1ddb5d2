"""The facilitator's console beyond creating and reading: confirmations, deleting, co-facilitators,
the audit log and one-time form tokens. Pages and storage for those live here, apart from the
respondents' and the security code.

Decisions, documented in docs/web.md:
- Closing a round (or starting the next) keeps the answers of people part-way through: a response
  with at least one answer is submitted as it stands, so it counts in the report; one with none is
  dropped. The confirmation page says how many are part-way before anything happens.
- Every form that changes something carries a one-time token: the same form submitted twice (a
  double click, a reload after a slow answer) does its action once and shows the first result.
- The audit log records who did what and when, for facilitators' actions only: never anything
  that could identify a respondent.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .release import counts as released_counts
from . import store
from .db import (Database, answers, archived, assessments, audit, form_tokens, invitations, members, responses,
                 rounds, users)

router = APIRouter(include_in_schema=False)
TOKEN_DAYS = 2


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- one-time form tokens -----------------------------------------------------------------------

def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def claim(db: Database, user_id: int, token: str, now: float) -> str | None:
    """None: this token is new, go ahead (then call `finish`). Otherwise the URL the first
    submission led to ("" while it is still running, after waiting a little)."""
    if not token or len(token) > 100:
        return None
    key = _digest(token)
    try:
        with db.tx() as conn:
            conn.execute(delete(form_tokens).where(form_tokens.c.created < now - TOKEN_DAYS * 86400))
            conn.execute(insert(form_tokens).values(token_hash=key, user_id=user_id, result=None, created=now))
        return None
    except IntegrityError:
        pass
    for _ in range(50):                  # the first submission may still be working: wait up to 5 s
        with db.tx() as conn:
            result = conn.execute(select(form_tokens.c.result).where(form_tokens.c.token_hash == key,
                                                                     form_tokens.c.user_id == user_id)).scalar()
        if result:
            return result
        time.sleep(0.1)
    return ""


def finish(db: Database, token: str, result: str) -> None:
    if token and len(token) <= 100:
        with db.tx() as conn:
            conn.execute(update(form_tokens).where(form_tokens.c.token_hash == _digest(token)).values(result=result))


# ---- audit log ----------------------------------------------------------------------------------

def log(db: Database, user: dict, assessment_id: int | None, action: str, detail: str, now: float) -> None:
    with db.tx() as conn:
        conn.execute(insert(audit).values(at=now, user_id=user["id"], user_name=user["name"],
                                          assessment_id=assessment_id, action=action, detail=detail))


def entries(db: Database, user_id: int, assessment_id: int | None = None, limit: int = 500) -> list[dict]:
    """The log this facilitator may read: their own actions, and every action on an assessment
    they can see (deleted ones included, for their own actions)."""
    with db.tx() as conn:
        visible = select(assessments.c.id).where(
            (assessments.c.owner_id == user_id)
            | assessments.c.id.in_(select(members.c.assessment_id).where(members.c.user_id == user_id)))
        q = select(audit).where((audit.c.user_id == user_id) | audit.c.assessment_id.in_(visible))
        if assessment_id is not None:
            q = q.where(audit.c.assessment_id == assessment_id)
        rows = conn.execute(q.order_by(audit.c.id.desc()).limit(limit)).mappings().all()
        return [dict(r) for r in rows]


# ---- assessments --------------------------------------------------------------------------------

def part_way(db: Database, aid: int) -> dict:
    """Responses of the current round started but not submitted: with answers (kept on closing) and
    without any (dropped)."""
    with db.tx() as conn:
        current = conn.execute(select(rounds.c.id).where(rounds.c.assessment_id == aid)
                               .order_by(rounds.c.number.desc()).limit(1)).scalar_one()
        open_ = (select(responses.c.id).join(invitations, invitations.c.id == responses.c.invitation_id)
                 .where(invitations.c.round_id == current, responses.c.submitted.is_(False)))
        ids = conn.execute(open_).scalars().all()
        with_answers = conn.execute(select(func.count(func.distinct(answers.c.response_id)))
                                    .where(answers.c.response_id.in_(ids), answers.c.value.is_not(None))).scalar_one() if ids else 0
        return {"part_way": int(with_answers), "empty": len(ids) - int(with_answers)}


def counts(db: Database, aid: int) -> dict:
    with db.tx() as conn:
        scope = (select(responses.c.id).join(invitations, invitations.c.id == responses.c.invitation_id)
                 .join(rounds, rounds.c.id == invitations.c.round_id).where(rounds.c.assessment_id == aid))
        n = conn.execute(select(func.count()).select_from(scope.subquery())).scalar_one()
        r = conn.execute(select(func.count(rounds.c.id)).where(rounds.c.assessment_id == aid)).scalar_one()
        return {"responses": int(n), "rounds": int(r)}


def delete_assessment(db: Database, aid: int) -> None:
    """The assessment and everything under it (rounds, links, responses, answers), in one go."""
    with db.tx() as conn:
        round_ids = select(rounds.c.id).where(rounds.c.assessment_id == aid)
        inv_ids = select(invitations.c.id).where(invitations.c.round_id.in_(round_ids))
        resp_ids = select(responses.c.id).where(responses.c.invitation_id.in_(inv_ids))
        conn.execute(delete(answers).where(answers.c.response_id.in_(resp_ids)))
        conn.execute(delete(responses).where(responses.c.invitation_id.in_(inv_ids)))
        conn.execute(delete(invitations).where(invitations.c.round_id.in_(round_ids)))
        conn.execute(delete(rounds).where(rounds.c.assessment_id == aid))
        conn.execute(delete(members).where(members.c.assessment_id == aid))
        conn.execute(delete(archived).where(archived.c.assessment_id == aid))
        conn.execute(delete(assessments).where(assessments.c.id == aid))


def add_member(db: Database, aid: int, name: str) -> str | None:
    """Share with another facilitator account; an error message, or None when done."""
    with db.tx() as conn:
        uid = conn.execute(select(users.c.id).where(users.c.name == name.strip())).scalar()
        if uid is None:
            return f"There is no facilitator account named “{name.strip()}”."
        owner = conn.execute(select(assessments.c.owner_id).where(assessments.c.id == aid)).scalar()
        if uid == owner or conn.execute(select(members.c.user_id).where(and_(members.c.assessment_id == aid,
                                                                          members.c.user_id == uid))).first():
            return None
        conn.execute(insert(members).values(assessment_id=aid, user_id=uid))
        return None


def member_names(db: Database, aid: int) -> list[str]:
    with db.tx() as conn:
        return list(conn.execute(select(users.c.name).join(members, members.c.user_id == users.c.id)
                                 .where(members.c.assessment_id == aid).order_by(users.c.name)).scalars())


def page_of(path: str) -> str:
    """The page a form was on, for sending a facilitator back there after signing in again (the
    action itself is not repeated: a POST cannot be replayed through a redirect)."""
    parts = path.rstrip("/").split("/")
    if len(parts) >= 4 and parts[1] == "assessments" and parts[2].isdigit():
        return "/".join(parts[:3])
    return "/" if not path.endswith("/new") else path


# ---- pages --------------------------------------------------------------------------------------

def _deps():
    from .pages import csrf_checked, facilitator
    return csrf_checked, facilitator


def _facilitator(request: Request) -> dict:
    return _deps()[1](request)


def _csrf(request: Request, csrf: str = Form("")) -> None:
    _deps()[0](request, csrf)


def _ctx(request: Request):
    return request.app.state.ctx


def _owned(request: Request, user: dict, aid: int) -> store.Assessment:
    found = store.get_assessment(_ctx(request).db, user["id"], aid)
    if found is None:
        raise HTTPException(404, "no such assessment")
    return found


def _render(request: Request, template: str, **values: Any) -> Response:
    from .pages import render
    return render(request, template, once=new_form_token(), **values)


@router.get("/assessments/{aid}/delete")
def confirm_delete(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    a = _owned(request, user, aid)
    c = counts(_ctx(request).db, aid)
    return _render(request, "confirm.html", title=f"Delete “{a.partnership}”?", button="Delete for good",
                   action=f"/assessments/{aid}/delete", cancel=f"/assessments/{aid}", danger=True,
                   # the number of responses only once no round is open (the release rule: a live total
                   # would say when someone has started)
                   lines=[f"This deletes the assessment, its {c['rounds']} round(s), every invitation link and "
                          + (f"all {c['responses']} response(s)" if a.current.closed else "every response")
                          + " with their answers. It cannot be undone.",
                          "Download the CSV first if you may need the answers again."])


@router.post("/assessments/{aid}/delete", dependencies=[Depends(_csrf)])
def do_delete(request: Request, aid: int, user: dict = Depends(_facilitator), once: str = Form("")) -> Response:
    from .pages import see_other
    ctx = _ctx(request)
    done = claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or "/")
    a = _owned(request, user, aid)
    delete_assessment(ctx.db, aid)
    log(ctx.db, user, aid, "delete", f"deleted “{a.partnership}”", ctx.clock())
    finish(ctx.db, once, "/")
    return see_other("/")


def _part_way_text(a: store.Assessment, p: dict) -> str:
    """Part-way responses under the release rule: a number below the minimum group is "fewer than k"
    while the round is open (the confirmation page must not tell whose answer has started)."""
    from .release import count_text
    return count_text(p["part_way"], a.min_group, a.current.closed)


@router.get("/assessments/{aid}/close")
def confirm_close(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    a = _owned(request, user, aid)
    p = part_way(_ctx(request).db, aid)
    return _render(request, "confirm.html", title=f"Close round {a.current.number}?", button=f"Close round {a.current.number}",
                   action=f"/assessments/{aid}/close", cancel=f"/assessments/{aid}", danger=False,
                   lines=[f"Submitted: {released_counts(a).submitted_total}. Part-way through: {_part_way_text(a, p)}.",
                          "Closing stops new answers. The answers of the people part-way through are kept: their "
                          "responses are submitted as they stand and count in the report."
                          + (f" {p['empty']} started without answering anything are dropped." if p["empty"] else "")])


@router.get("/assessments/{aid}/rounds")
def confirm_next_round(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    a = _owned(request, user, aid)
    p = part_way(_ctx(request).db, aid)
    n = a.current.number
    return _render(request, "confirm.html", title=f"Start round {n + 1}?", button=f"Start round {n + 1} with new links",
                   action=f"/assessments/{aid}/rounds", cancel=f"/assessments/{aid}", danger=False,
                   lines=[f"This closes round {n} ({released_counts(a).submitted_total} submitted, {_part_way_text(a, p)} part-way: their "
                          "answers are kept and count in round {n}) and gives every organisation a new link. "
                          "Old links stop working.".replace("{n}", str(n))])


@router.post("/assessments/{aid}/members", dependencies=[Depends(_csrf)])
def share(request: Request, aid: int, user: dict = Depends(_facilitator), name: str = Form("")) -> Response:
    from .pages import see_other
    ctx = _ctx(request)
    a = _owned(request, user, aid)
    error = add_member(ctx.db, aid, name)
    if error:
        raise HTTPException(400, error)
    log(ctx.db, user, aid, "share", f"shared “{a.partnership}” with {name.strip()}", ctx.clock())
    return see_other(f"/assessments/{aid}")


@router.get("/audit")
def audit_page(request: Request, user: dict = Depends(_facilitator)) -> Response:
    from datetime import datetime, timezone
    rows = entries(_ctx(request).db, user["id"])
    for r in rows:
        r["when"] = datetime.fromtimestamp(r["at"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return _render(request, "audit.html", rows=rows)


def rename_assessment(db: Database, aid: int, name: str) -> None:
    with db.tx() as conn:
        conn.execute(update(assessments).where(assessments.c.id == aid).values(partnership=name))


@router.post("/assessments/{aid}/rename", dependencies=[Depends(_csrf)])
def rename(request: Request, aid: int, user: dict = Depends(_facilitator), partnership: str = Form(""),
           once: str = Form("")) -> Response:
    from .pages import see_other
    from .validate import MAX_NAME, clean_name
    ctx = _ctx(request)
    done = claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or f"/assessments/{aid}")
    a = _owned(request, user, aid)
    name = clean_name(partnership)
    if not name or len(name) > MAX_NAME:
        raise HTTPException(400, f"A partnership's name is 1 to {MAX_NAME} characters.")
    rename_assessment(ctx.db, aid, name)
    log(ctx.db, user, aid, "rename", f"renamed “{a.partnership}” to “{name}”", ctx.clock())
    finish(ctx.db, once, f"/assessments/{aid}")
    return see_other(f"/assessments/{aid}")


@router.get("/assessments/{aid}/links.csv")
def links_csv(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    """Every organisation's invitation link of the current round, for a mail merge."""
    import csv
    import io

    from .pages import link_url
    a = _owned(request, user, aid)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["organisation", "round", "link"])
    for link in a.current.links:
        writer.writerow([link.organisation, a.current.number, link_url(request, link.token)])
    name = f"assessment-{aid}-round-{a.current.number}-links.csv"
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/assessments/{aid}/qr/{position}.svg")
def qr_code(request: Request, aid: int, position: int, user: dict = Depends(_facilitator)) -> Response:
    """A QR code of one organisation's link (SVG: an image, so the CSP needs no script)."""
    import io

    import segno

    from .pages import link_url
    a = _owned(request, user, aid)
    if not 0 <= position < len(a.current.links):
        raise HTTPException(404, "no such link")
    out = io.BytesIO()
    segno.make(link_url(request, a.current.links[position].token), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, title=a.current.links[position].organisation)
    return Response(out.getvalue(), media_type="image/svg+xml")


# ---- the facilitator's own account --------------------------------------------------------------

def end_all_sessions(db: Database, user_id: int) -> None:
    from .db import sessions
    with db.tx() as conn:
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


@router.get("/account")
def account(request: Request, user: dict = Depends(_facilitator), changed: int = 0) -> Response:
    return _render(request, "account.html", error=None, changed=bool(changed))


@router.post("/account/password", dependencies=[Depends(_csrf)])
def change_password(request: Request, user: dict = Depends(_facilitator), current: str = Form(""),
                    new: str = Form(""), repeat: str = Form("")) -> Response:
    """A new password signs the account out everywhere else (every other session ends)."""
    from . import auth
    from .app import SESSION_COOKIE
    from .pages import render, see_other
    ctx = _ctx(request)
    stored = store.find_user(ctx.db, user["name"])
    error = None
    if not auth.verify_password(stored["password_hash"] if stored else None, current):
        error = "The current password is wrong."
    elif new != repeat:
        error = "The two new passwords differ."
    else:
        error = auth.check_new_password(new)
    if error:
        return render(request, "account.html", 400, error=error[0].upper() + error[1:], changed=False,
                      once=new_form_token())
    store.set_password_hash(ctx.db, user["id"], auth.hash_password(new))
    end_all_sessions(ctx.db, user["id"])
    hours = auth.SESSION_HOURS
    token = store.new_session(ctx.db, user["id"], "cookie", ctx.clock() + hours * 3600, ctx.clock())
    log(ctx.db, user, None, "password", "changed the password (other sessions signed out)", ctx.clock())
    response = see_other("/account?changed=1")
    response.headers.append("set-cookie", ctx.cookie(SESSION_COOKIE, token, max_age=hours * 3600,
                                                     https=request.url.scheme == "https"))
    return response


@router.post("/account/sign-out-everywhere", dependencies=[Depends(_csrf)])
def sign_out_everywhere(request: Request, user: dict = Depends(_facilitator)) -> Response:
    from .app import SESSION_COOKIE
    from .pages import see_other
    ctx = _ctx(request)
    end_all_sessions(ctx.db, user["id"])
    log(ctx.db, user, None, "sign out everywhere", "signed out of every browser and API token", ctx.clock())
    response = see_other("/login")
    response.headers.append("set-cookie", ctx.cookie(SESSION_COOKIE, "", max_age=0))
    return response


# ---- settings and organisations ------------------------------------------------------------------

def update_settings(db: Database, aid: int, min_group: int, gap: float, show_individual: bool) -> None:
    with db.tx() as conn:
        conn.execute(update(assessments).where(assessments.c.id == aid)
                     .values(min_group=min_group, gap=gap, show_individual=show_individual))


def add_organisation(db: Database, a: store.Assessment, name: str) -> None:
    """A new organisation gets a link in the current round (earlier rounds list it with 0)."""
    with db.tx() as conn:
        conn.execute(insert(invitations).values(round_id=a.current.id, organisation=name,
                                                position=len(a.current.links),
                                                token=secrets.token_urlsafe(store.TOKEN_BYTES)))


def remove_organisation(db: Database, a: store.Assessment, name: str) -> str | None:
    """Only before any answer arrives through its link; an error message otherwise."""
    link = next((x for x in a.current.links if x.organisation == name), None)
    if link is None:
        return f"“{name}” is not an organisation of this round."
    if link.started:
        return f"“{name}” has responses already: it can no longer be removed."
    if len(a.current.links) == 1:
        return "An assessment needs at least one organisation."
    with db.tx() as conn:
        conn.execute(delete(invitations).where(invitations.c.token == link.token))
    return None


def _settings_page(request: Request, a: store.Assessment, errors: dict, status: int = 200) -> Response:
    from .pages import render
    return render(request, "settings.html", status, a=a, errors=errors, once=new_form_token())


@router.get("/assessments/{aid}/settings")
def settings(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    return _settings_page(request, _owned(request, user, aid), {})


@router.post("/assessments/{aid}/settings", dependencies=[Depends(_csrf)])
def save_settings(request: Request, aid: int, user: dict = Depends(_facilitator), min_group: str = Form("3"),
                  gap: str = Form("1.5"), show_individual: str = Form(""), once: str = Form("")) -> Response:
    from . import validate
    from .pages import see_other
    ctx = _ctx(request)
    a = _owned(request, user, aid)
    new, errors = validate.check(a.partnership, a.scope, a.organisations, min_group, gap, bool(show_individual))
    if new is None:
        return _settings_page(request, a, errors, 400)
    done = claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or f"/assessments/{aid}")
    update_settings(ctx.db, aid, new.min_group, new.gap, new.show_individual)
    log(ctx.db, user, aid, "settings", f"settings of “{a.partnership}”: minimum group {new.min_group}, gap "
        f"{new.gap:g}, own diagnosis {'shown' if new.show_individual else 'not shown'}", ctx.clock())
    finish(ctx.db, once, f"/assessments/{aid}")
    return see_other(f"/assessments/{aid}")


@router.post("/assessments/{aid}/organisations", dependencies=[Depends(_csrf)])
def organisations(request: Request, aid: int, user: dict = Depends(_facilitator), add: str = Form(""),
                  remove: str = Form(""), once: str = Form("")) -> Response:
    from . import validate
    from .pages import see_other
    from .results import org_key
    ctx = _ctx(request)
    a = _owned(request, user, aid)
    done = claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or f"/assessments/{aid}/settings")
    if a.current.closed:
        return _settings_page(request, a, {"organisations": "The round is closed: start a new round first."}, 400)
    if add.strip():
        name = validate.clean_name(add)
        if len(name) > validate.MAX_NAME or org_key(name) in {org_key(o) for o in a.organisations}:
            return _settings_page(request, a, {"organisations": f"“{name[:40]}” is too long or listed already."}, 400)
        add_organisation(ctx.db, a, name)
        log(ctx.db, user, aid, "add organisation", f"added {name} to “{a.partnership}”", ctx.clock())
    elif remove:
        error = remove_organisation(ctx.db, a, remove)
        if error:
            return _settings_page(request, a, {"organisations": error}, 400)
        log(ctx.db, user, aid, "remove organisation", f"removed {remove} from “{a.partnership}”", ctx.clock())
    finish(ctx.db, once, f"/assessments/{aid}/settings")
    return see_other(f"/assessments/{aid}/settings")


# ---- archive and retention ------------------------------------------------------------------------
KEEP_DAYS = (0, 3650)


def archive_states(db: Database) -> dict[int, dict]:
    with db.tx() as conn:
        return {r["assessment_id"]: dict(r) for r in conn.execute(select(archived)).mappings()}


def archive(db: Database, aid: int, keep_days: int, now: float) -> None:
    """Close the round (part-way answers kept) and hide the assessment from the list; with
    keep_days > 0 it is deleted that many days later."""
    store.close_round(db, aid)
    with db.tx() as conn:
        conn.execute(delete(archived).where(archived.c.assessment_id == aid))
        conn.execute(insert(archived).values(assessment_id=aid, archived_at=now, keep_days=keep_days))


def unarchive(db: Database, aid: int) -> None:
    with db.tx() as conn:
        conn.execute(delete(archived).where(archived.c.assessment_id == aid))


def purge_expired(db: Database, now: float) -> list[tuple[int, str]]:
    """Delete archived assessments past their retention; each deletion goes in the audit log."""
    gone = []
    for aid, state in archive_states(db).items():
        if state["keep_days"] and now >= state["archived_at"] + state["keep_days"] * 86400:
            with db.tx() as conn:
                name, owner = conn.execute(select(assessments.c.partnership, assessments.c.owner_id)
                                           .where(assessments.c.id == aid)).one()
            delete_assessment(db, aid)
            with db.tx() as conn:      # kept under the owner's id, so the owner still reads it afterwards
                conn.execute(insert(audit).values(at=now, user_id=owner, user_name="retention (automatic)",
                                                  assessment_id=aid,
                                                  action="delete", detail=f"deleted “{name}”: "
                                                  f"{state['keep_days']} days after archiving"))
            gone.append((aid, name))
    return gone


@router.get("/assessments/{aid}/archive")
def confirm_archive(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    a = _owned(request, user, aid)
    return _render(request, "archive.html", a=a, part_way=part_way(_ctx(request).db, aid), error=None, keep_days=90)


@router.post("/assessments/{aid}/archive", dependencies=[Depends(_csrf)])
def do_archive(request: Request, aid: int, user: dict = Depends(_facilitator), keep_days: str = Form("0"),
               once: str = Form("")) -> Response:
    from .pages import render, see_other
    ctx = _ctx(request)
    a = _owned(request, user, aid)
    days = int(keep_days) if keep_days.strip().isdigit() else -1
    if not KEEP_DAYS[0] <= days <= KEEP_DAYS[1]:
        return render(request, "archive.html", 400, a=a, part_way=part_way(ctx.db, aid), keep_days=keep_days,
                      error=f"Keep it a whole number of days from {KEEP_DAYS[0]} (for ever) to {KEEP_DAYS[1]}.",
                      once=new_form_token())
    done = claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or "/")
    archive(ctx.db, aid, days, ctx.clock())
    log(ctx.db, user, aid, "archive", f"archived “{a.partnership}”" + (f", to be deleted after {days} days" if days
                                                                      else ", kept until deleted"), ctx.clock())
    finish(ctx.db, once, "/")
    return see_other("/")


@router.post("/assessments/{aid}/unarchive", dependencies=[Depends(_csrf)])
def do_unarchive(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    from .pages import see_other
    ctx = _ctx(request)
    a = _owned(request, user, aid)
    unarchive(ctx.db, aid)
    log(ctx.db, user, aid, "unarchive", f"took “{a.partnership}” out of the archive", ctx.clock())
    return see_other(f"/assessments/{aid}")


# ---- live counts --------------------------------------------------------------------------------
LIVE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; script-src 'self'; connect-src 'self'")
EVENTS_SECONDS = 2.0
EVENTS_FOR = 15 * 60          # a stream ends after 15 minutes; the browser's EventSource reconnects


def allow_live_script(request: Request) -> None:
    """The assessment page may run /static/live.js (our own file, nothing inline) and open the
    event stream; every other page keeps the policy that allows no script."""
    request.state.csp = LIVE_CSP


@router.get("/static/live.js", include_in_schema=False)
def live_js() -> Response:
    from importlib import resources
    body = resources.files("partnerdx.web").joinpath("static/live.js").read_text(encoding="utf-8")
    return Response(body, media_type="text/javascript", headers={"cache-control": "public, max-age=3600"})


@router.get("/assessments/{aid}/events")
async def events(request: Request, aid: int, user: dict = Depends(_facilitator)) -> Response:
    """Server-sent events: the current round's counts whenever they change."""
    import asyncio
    import json

    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool
    ctx = _ctx(request)
    _owned(request, user, aid)

    def snapshot() -> dict | None:
        a = store.get_assessment(ctx.db, user["id"], aid)
        if a is None:
            return None
        # the same release rule as the page (release.counts): while the round is open a count below the
        # minimum group is "fewer than k", so a live feed cannot say whose answer arrived when
        c = released_counts(a)
        return {"round": a.current.number, "submitted": c.submitted_total,
                "links": [{"started": c.started[x.organisation], "submitted": c.submitted[x.organisation]}
                          for x in a.current.links]}

    async def stream():
        last = None
        started = time.monotonic()
        yield "retry: 5000\n\n"
        while time.monotonic() - started < EVENTS_FOR and not await request.is_disconnected():
            now = await run_in_threadpool(snapshot)
            if now is None:
                break
            if now != last:
                last = now
                yield f"event: counts\ndata: {json.dumps(now)}\n\n"
            await asyncio.sleep(EVENTS_SECONDS)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})
