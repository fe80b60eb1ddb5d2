"""The HTML pages: facilitators (signed in) and respondents (an invitation link, no account).

Every form is POST with a CSRF token and is answered with a redirect (post/redirect/get), so a
reload never submits twice. Pages work without JavaScript: there is none.
"""
from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from . import auth, padding, release, respond, results, store, validate
from .app import CSRF_COOKIE, RESPONDENT_COOKIE, SESSION_COOKIE, Context
from ..questionnaire import SCOPES, checklist_of, estimate, is_checklist

router = APIRouter(include_in_schema=False)
RESPONDENT_DAYS = 60
THANKS_MINUTES = 10           # after submitting, the response is forgotten by the browser this soon


DEVICE_COOKIE = "pdx_device"   # proves an earlier sign-in from this browser (see throttle.py)


def client_address(request: Request) -> str | None:
    """The connecting address (the proxy's X-Forwarded-For only with `serve --proxy-headers`): used
    only inside a keyed hash for the per-client throttle, never stored or logged as such."""
    return request.client.host if request.client else None


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        self.next = quote(next_path, safe="/")


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def render(request: Request, template: str, status: int = 200, headers: dict | None = None, **values: Any) -> HTMLResponse:
    ctx = ctx_of(request)
    values.setdefault("user", getattr(request.state, "user", None))
    html = ctx.templates.get_template(template).render(
        csrf=auth.csrf_token(ctx.secret, request.state.csrf_cookie), **values)
    return HTMLResponse(html, status_code=status, headers=headers)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def csrf_checked(request: Request, csrf: str = Form("")) -> None:
    """Every form POST: the token must match this browser's CSRF cookie (see auth.py)."""
    if not auth.csrf_ok(ctx_of(request).secret, request.cookies.get(CSRF_COOKIE), csrf):
        raise HTTPException(403, "This form did not come from this site, or it has expired. Go back, reload the "
                                 "page and try again.")


def facilitator(request: Request) -> dict:
    ctx = ctx_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    user = store.session_user(ctx.db, token, "cookie", ctx.clock()) if token else None
    if user is None:
        from .console import page_of
        raise SignInRequired(request.url.path if request.method in ("GET", "HEAD") else page_of(request.url.path))
    request.state.user = user
    return user


def _local(path: str) -> str:
    """Only a path on this site may follow sign-in (no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


# ---- signing in ---------------------------------------------------------------------------------

@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=_local(next), name="", error=None)


@router.post("/login", dependencies=[Depends(csrf_checked)])
def login(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
    ctx = ctx_of(request)
    result = auth.sign_in(ctx.db, name, password, ctx.clock(), client=client_address(request),
                          device=request.cookies.get(DEVICE_COOKIE), secret=ctx.secret)
    if result.retry_after:
        wait = result.retry_after
        whose = "from this network" if result.refused_for == "client" else "for this account"
        return render(request, "login.html", 429, {"retry-after": str(wait)}, next=_local(next), name=name[:64],
                      error=f"Too many failed sign-ins {whose}. Wait {_duration(wait)} and try again.")
    if not result.ok:
        return render(request, "login.html", 401, next=_local(next), name=name[:64],
                      error="Wrong account name or password.")
    hours = auth.SESSION_HOURS
    token = store.new_session(ctx.db, result.user["id"], "cookie", ctx.clock() + hours * 3600, ctx.clock())
    response = see_other(_local(next))
    response.headers.append("set-cookie", ctx.cookie(SESSION_COOKIE, token, max_age=hours * 3600,
                                                     https=request.url.scheme == "https"))
    response.headers.append("set-cookie", padding.marker_cookie(ctx, https=request.url.scheme == "https"))
    if result.device:
        response.headers.append("set-cookie", ctx.cookie(DEVICE_COOKIE, result.device, path="/login",
                                                         max_age=padding.MARKER_DAYS * 86400,
                                                         https=request.url.scheme == "https"))
    return response


def _duration(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


@router.post("/logout", dependencies=[Depends(csrf_checked)])
def logout(request: Request) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store.end_session(ctx_of(request).db, token)
    response = see_other("/login")
    response.headers.append("set-cookie", ctx_of(request).cookie(SESSION_COOKIE, "", max_age=0))
    return response


# ---- facilitators -------------------------------------------------------------------------------

@router.get("/")
def dashboard(request: Request, user: dict = Depends(facilitator)) -> Response:
    from . import console
    ctx = ctx_of(request)
    console.purge_expired(ctx.db, ctx.clock())                # retention: archived ones past their time go
    items = store.list_assessments(ctx.db, user["id"])
    states = console.archive_states(ctx.db)
    totals = {a.id: release.counts(a).submitted_total for a in items}
    return render(request, "dashboard.html", assessments=[a for a in items if a.id not in states], scopes=SCOPES,
                  archived=[(a, states[a.id]) for a in items if a.id in states], submitted_total=totals)


@router.get("/assessments/new")
def new_form(request: Request, user: dict = Depends(facilitator)) -> Response:
    return render(request, "new.html", form={"partnership": "", "scope": "staircase", "organisations": "",
                                             "min_group": 3, "gap": 1.5, "show_individual": False},
                  errors={}, scopes=respond.scope_choices(), once=_form_token())


@router.post("/assessments/new", dependencies=[Depends(csrf_checked)])
def create(request: Request, user: dict = Depends(facilitator), partnership: str = Form(""),
           scope: str = Form(""), organisations: str = Form(""), min_group: str = Form("3"),
           gap: str = Form("1.5"), show_individual: str = Form(""), once: str = Form("")) -> Response:
    from . import console
    ctx = ctx_of(request)
    new, errors = validate.check(partnership, scope, validate.organisations_from_text(organisations), min_group, gap,
                                 bool(show_individual))
    if new is None:
        form = {"partnership": partnership, "scope": scope, "organisations": organisations, "min_group": min_group,
                "gap": gap, "show_individual": bool(show_individual)}
        return render(request, "new.html", 400, form=form, errors=errors, scopes=respond.scope_choices(),
                      once=console.new_form_token())
    done = console.claim(ctx.db, user["id"], once, ctx.clock())          # submitted twice: one assessment
    if done is not None:
        return see_other(done or "/")
    aid = store.create_assessment(ctx.db, user["id"], new.partnership, new.scope, new.organisations, new.min_group,
                                  new.gap, new.show_individual, ctx.clock())
    console.log(ctx.db, user, aid, "create", f"created “{new.partnership}” ({new.scope}, "
                f"{len(new.organisations)} organisations)", ctx.clock())
    console.finish(ctx.db, once, f"/assessments/{aid}")
    return see_other(f"/assessments/{aid}")


def _owned(request: Request, user: dict, aid: int) -> store.Assessment:
    found = store.get_assessment(ctx_of(request).db, user["id"], aid)
    if found is None:
        raise HTTPException(404, "no such assessment")
    return found


def link_url(request: Request, token: str) -> str:
    """From the configured public URL (serve --public-url), else from the request."""
    base = ctx_of(request).public_url or str(request.base_url).rstrip("/")
    return f"{base}/r/{token}"


@router.get("/assessments/{aid}")
def assessment_page(request: Request, aid: int, user: dict = Depends(facilitator)) -> Response:
    a = _owned(request, user, aid)
    from .console import member_names
    links = [(x, link_url(request, x.token)) for x in a.current.links]
    from .console import allow_live_script, archive_states
    allow_live_script(request)
    return render(request, "assessment.html", a=a, links=links, scope_title=SCOPES[a.scope][0],
                  counts=release.counts(a), members=member_names(ctx_of(request).db, aid), once=_form_token(),
                  archived=archive_states(ctx_of(request).db).get(aid))


@router.post("/assessments/{aid}/close", dependencies=[Depends(csrf_checked)])
def close(request: Request, aid: int, user: dict = Depends(facilitator), once: str = Form("")) -> Response:
    from . import console
    ctx = ctx_of(request)
    done = console.claim(ctx.db, user["id"], once, ctx.clock())
    if done is not None:
        return see_other(done or f"/assessments/{aid}")
    a = _owned(request, user, aid)
    kept = console.part_way(ctx.db, aid)["part_way"]
    store.close_round(ctx.db, aid)
    console.log(ctx.db, user, aid, "close round", f"closed round {a.current.number} of “{a.partnership}” "
                f"({kept} part-way responses kept)", ctx.clock())
    console.finish(ctx.db, once, f"/assessments/{aid}")
    return see_other(f"/assessments/{aid}")


@router.post("/assessments/{aid}/rounds", dependencies=[Depends(csrf_checked)])
def next_round(request: Request, aid: int, user: dict = Depends(facilitator), once: str = Form("")) -> Response:
    from . import console
    ctx = ctx_of(request)
    done = console.claim(ctx.db, user["id"], once, ctx.clock())          # a double click starts one round
    if done is not None:
        return see_other(done or f"/assessments/{aid}")
    a = _owned(request, user, aid)
    number = store.new_round(ctx.db, aid)
    console.log(ctx.db, user, aid, "new round", f"started round {number} of “{a.partnership}”", ctx.clock())
    console.finish(ctx.db, once, f"/assessments/{aid}")
    return see_other(f"/assessments/{aid}")


def _form_token() -> str:
    from .console import new_form_token
    return new_form_token()


def _round(a: store.Assessment, number: int | None) -> int:
    if number is None:
        return release.default_round(a)
    if not 1 <= number <= len(a.rounds):
        raise HTTPException(404, "no such round")
    return number


def build_report(request: Request, a: store.Assessment, up_to: int) -> release.Disclosure:
    """Every report, download and API report goes through release.report (see release.py)."""
    ctx = ctx_of(request)
    try:
        return release.report(ctx.db, ctx.kb, a, up_to)
    except release.NotReleased as exc:
        raise HTTPException(409, str(exc).capitalize() + ".") from None


@router.get("/assessments/{aid}/report")
def report_page(request: Request, aid: int, round: int | None = Query(None, ge=1, le=10**6),
                user: dict = Depends(facilitator)) -> Response:
    a = _owned(request, user, aid)
    up_to = _round(a, round)
    try:
        result = release.report(ctx_of(request).db, ctx_of(request).kb, a, up_to).result
    except release.NotReleased as exc:
        return render(request, "unreleased.html", 409, a=a, up_to=up_to, message=str(exc).capitalize() + ".",
                      released=release.released_rounds(a))
    css, body = results.html_parts(ctx_of(request).kb, result)
    return render(request, "report.html", a=a, up_to=up_to, report_css=css, report_body=body)


@router.get("/assessments/{aid}/report.{ext}")
def report_download(request: Request, aid: int, ext: str, round: int | None = Query(None, ge=1, le=10**6),
                    user: dict = Depends(facilitator)) -> Response:
    fmt = {"csv": "csv", "json": "json", "md": "markdown", "html": "html"}.get(ext)
    if fmt is None:
        raise HTTPException(404, "no such format: use .csv, .json, .md or .html")
    a = _owned(request, user, aid)
    up_to = _round(a, round)
    return download(request, a, up_to, fmt)


def download(request: Request, a: store.Assessment, up_to: int, fmt: str) -> Response:
    kb = ctx_of(request).kb
    released = build_report(request, a, up_to)
    body = released.csv(kb, a.scope) if fmt == "csv" else results.render(kb, released.result, fmt)
    media, ext = results.FORMATS[fmt]
    name = f"assessment-{a.id}-round-{up_to}.{ext}"
    return Response(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})


# ---- respondents --------------------------------------------------------------------------------

def _invitation(request: Request, token: str) -> store.Invitation:
    if len(token) > 100:
        raise HTTPException(404, "unknown link")
    padding.refuse_facilitator_browser(request, SESSION_COOKIE)
    inv = store.invitation(ctx_of(request).db, token)
    if inv is None:
        raise HTTPException(404, "unknown link")
    return inv


def _response(request: Request, inv: store.Invitation) -> store.Response | None:
    return store.find_response(ctx_of(request).db, inv, request.cookies.get(RESPONDENT_COOKIE))


def _closed(request: Request, inv: store.Invitation) -> Response:
    return render(request, "closed.html", 410, inv=inv)


@router.get("/r/{token}")
def invitation_page(request: Request, token: str) -> Response:
    inv = _invitation(request, token)
    resp = _response(request, inv)
    if resp is not None and resp.submitted:
        return _thanks(request, inv, resp)
    if inv.closed:
        return _closed(request, inv)
    if resp is None:
        return render(request, "welcome.html", inv=inv, token=token, scope_title=SCOPES[inv.scope][0],
                      length=estimate(ctx_of(request).kb, inv.scope))
    return see_other(f"/r/{token}/q")


@router.post("/r/{token}/start", dependencies=[Depends(csrf_checked)])
def start(request: Request, token: str) -> Response:
    ctx = ctx_of(request)
    inv = _invitation(request, token)
    try:
        key = store.start_response(ctx.db, inv)
    except store.Conflict:
        return _closed(request, inv)
    response = see_other(f"/r/{token}/q")
    response.headers.append("set-cookie", ctx.cookie(RESPONDENT_COOKIE, key, path=f"/r/{token}",
                                                     max_age=RESPONDENT_DAYS * 86400,
                                                     https=request.url.scheme == "https"))
    return response


def _open_response(request: Request, token: str) -> tuple[store.Invitation, store.Response | None, Response | None]:
    """The invitation and this browser's response; or the page to show instead (welcome, thanks, closed)."""
    inv = _invitation(request, token)
    resp = _response(request, inv)
    if resp is None or resp.submitted:
        return inv, resp, see_other(f"/r/{token}")
    if inv.closed:
        return inv, resp, _closed(request, inv)
    return inv, resp, None


@router.get("/r/{token}/q")
def question_page(request: Request, token: str, item: str | None = Query(None)) -> Response:
    inv, resp, other = _open_response(request, token)
    if other is not None:
        return other
    return _question(request, inv, resp, item)


def _question(request: Request, inv: store.Invitation, resp: store.Response, item: str | None,
              error: str | None = None, status: int = 200) -> Response:
    kb = ctx_of(request).kb
    q = respond.questionnaire(kb, inv.scope, resp)
    if not _askable(q, item):
        item = q.next_item()
    done = respond.history(resp, q)
    back = _back(done, item)
    if item is None:
        return render(request, "review.html", status, inv=inv, token=inv.token, progress=respond.progress(q, done),
                      back=back, groups=respond.review(kb, q), removed=q.removed())
    return render(request, "question.html", status, inv=inv, token=inv.token, question=respond.question(kb, q, item),
                  progress=respond.progress(q, done, item), back=back, error=error)


def _askable(q, item: str | None) -> bool:
    if item is None:
        return False
    if is_checklist(item):
        instrument = checklist_of(item)[0]
        return instrument in q.spec.checklists and bool(q.checklist(item)["entries"])
    return item in q.items


def _back(done: list[str], item: str | None) -> str | None:
    """The prompt answered before this one (in the order first answered), for 'Back'."""
    if item in done:
        at = done.index(item)
        return done[at - 1] if at > 0 else None
    return done[-1] if done else None


@router.post("/r/{token}/q", dependencies=[Depends(csrf_checked)])
def answer(request: Request, token: str, item: str = Form(""), value: list[str] = Form([]),
           action: str = Form("answer")) -> Response:
    ctx = ctx_of(request)
    inv, resp, other = _open_response(request, token)
    if other is not None:
        return other
    q = respond.questionnaire(ctx.kb, inv.scope, resp)
    if not _askable(q, item):
        raise HTTPException(400, "That question is not part of this questionnaire.")
    if action == "skip":
        stored: Any = None
    else:
        stored, error = respond.parse_form(ctx.kb, item, value, q)
        if error:
            return _question(request, inv, resp, item, error, 400)
    _, values, remove = respond.apply(ctx.kb, inv.scope, resp, item, stored, skip=action == "skip")
    try:
        store.save_answers(ctx.db, resp.id, values, remove)
    except store.Conflict:
        return see_other(f"/r/{token}")
    return see_other(f"/r/{token}/q")


@router.post("/r/{token}/submit", dependencies=[Depends(csrf_checked)])
def submit(request: Request, token: str) -> Response:
    inv, resp, other = _open_response(request, token)
    if other is not None:
        return other
    try:
        store.submit(ctx_of(request).db, resp.id)
    except store.Conflict:
        pass
    # shared devices: the thank-you page (and the own diagnosis) stays reachable for a few minutes only
    response = see_other(f"/r/{token}")
    response.headers.append("set-cookie", _respondent_cookie(request, token, request.cookies.get(RESPONDENT_COOKIE, ""),
                                                             THANKS_MINUTES * 60))
    return response


@router.post("/r/{token}/finish", dependencies=[Depends(csrf_checked)])
def finish(request: Request, token: str) -> Response:
    """"Finish and clear this device": forget the response in this browser at once."""
    _invitation(request, token)
    response = see_other(f"/r/{token}")
    response.headers.append("set-cookie", _respondent_cookie(request, token, "", 0))
    return response


def _respondent_cookie(request: Request, token: str, value: str, max_age: int) -> str:
    return ctx_of(request).cookie(RESPONDENT_COOKIE, value, path=f"/r/{token}", max_age=max_age,
                                  https=request.url.scheme == "https")


def _thanks(request: Request, inv: store.Invitation, resp: store.Response) -> Response:
    diagnosis = None
    if inv.show_individual:
        diagnosis = individual_html(ctx_of(request).kb, inv, resp.answers)
    return render(request, "thanks.html", inv=inv, token=inv.token, diagnosis=diagnosis, thanks_minutes=THANKS_MINUTES)


def individual_html(kb, inv: store.Invitation, answers: dict) -> str:
    """The respondent's own diagnosis: engine.report's Markdown rendered with raw HTML disabled, so
    every name and answer in it is escaped."""
    from markdown_it import MarkdownIt

    from ..answers import AnswerSet
    from ..inference import diagnose
    from ..report import markdown
    q = respond.questionnaire(kb, inv.scope, store.Response(0, True, dict(answers), [], []))
    d = diagnose(kb, AnswerSet(q.answers, f"Your view of {inv.partnership}"))
    text = respond.without_ids(kb, markdown(kb, d)) + respond.checklist_note(kb, q)
    return MarkdownIt("commonmark", {"html": False}).render(text)
