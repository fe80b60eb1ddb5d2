"""The JSON API: the same operations as the pages, described by FastAPI's OpenAPI (/openapi.json).

Facilitators authenticate with a bearer token (POST /api/v1/auth/token, throttled like the sign-in
page); the API never reads the browser's session cookie, so a page on another site cannot drive
it with the facilitator's cookie (no CSRF). Respondents use their invitation token in the path and
the key of their response in the X-Response-Key header (a header, so it stays out of URLs and logs).
"""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ..questionnaire import SCOPES
from . import auth, console, padding, release, respond, store, validate
from .app import Context

router = APIRouter(prefix="/api/v1")
bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


# ---- models -------------------------------------------------------------------------------------

class Credentials(BaseModel):
    name: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class Token(BaseModel):
    token: str
    expires: float = Field(description="Unix time after which the token is refused")


class AssessmentIn(BaseModel):
    partnership: str = Field(description="Name of the partnership", max_length=1000)
    scope: str = Field("staircase", description="Questions asked: one of " + ", ".join(SCOPES))
    organisations: list[str] = Field(description="Partner organisations; each gets its own invitation link")
    min_group: int = Field(3, description="An organisation with fewer respondents is suppressed")
    gap: float = Field(1.5, description="Means differing by this much or more make a perception gap")
    show_individual: bool = Field(False, description="Show each respondent their own diagnosis after submitting")


COUNT = ("null while the round is open and the count is below min_group (\"fewer than min_group\"), "
         "so that nobody can tell whose answer arrived when")


class LinkOut(BaseModel):
    organisation: str
    url: str
    token: str
    started: int | None = Field(description=COUNT)
    submitted: int | None = Field(description=COUNT)


class RoundOut(BaseModel):
    number: int
    closed: bool
    started: int | None = Field(description="null while an organisation's count is hidden (see links)")
    submitted: int | None = Field(description="null while an organisation's count is hidden (see links)")
    links: list[LinkOut]


class AssessmentOut(BaseModel):
    id: int
    partnership: str
    scope: str
    min_group: int
    gap: float
    show_individual: bool
    rounds: list[RoundOut]


class InvitationOut(BaseModel):
    partnership: str
    organisation: str
    scope: str
    scope_title: str
    round: int
    open: bool


class ResponseKey(BaseModel):
    response_key: str = Field(description="Send it back in the X-Response-Key header; keep it private")


class Source(BaseModel):
    ref: str
    at: str
    quote: str


class Why(BaseModel):
    concludes: str
    title: str
    kind: str
    source: Source


class Option(BaseModel):
    value: str
    label: str
    item: str | None = Field(None, description="checklists: the entry's item id (answer with a list of these)")


class Question(BaseModel):
    id: str
    title: str
    text: str
    help: str
    type: Literal["rated", "choice", "multi", "checklist"]
    scale: dict | None = Field(None, description="rated questions: {low, high, min, max}")
    options: list[Option] | None = None
    value: Any = Field(None, description="the answer already given, if any")
    why: list[Why] = Field(description="the undecided conclusions this answer can still change")


class Progress(BaseModel):
    answered: int
    relevant_left: int
    not_needed: int


class ResponseState(BaseModel):
    submitted: bool
    answers: dict[str, Any]
    skipped: list[str]
    progress: Progress
    next: Question | None = Field(description="the next question to ask, or null when none is left")


class AnswerIn(BaseModel):
    value: Any = Field(None, description="1–5 for rated items, an option value, a list for multi; null skips")


class Saved(BaseModel):
    item: str
    value: Any


class Submitted(BaseModel):
    submitted: bool
    diagnosis: dict | None = Field(None, description="the respondent's own diagnosis, if the facilitator allows it")


# ---- facilitators -------------------------------------------------------------------------------

def api_user(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> dict:
    ctx = ctx_of(request)
    user = store.session_user(ctx.db, creds.credentials, "api", ctx.clock()) if creds else None
    if user is None:
        raise HTTPException(401, "sign in first: POST /api/v1/auth/token, then send Authorization: Bearer TOKEN",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


@router.post("/auth/token", response_model=Token, tags=["facilitators"],
             responses={401: {"description": "wrong name or password"}, 429: {"description": "too many failures"}})
def token(request: Request, body: Credentials) -> Token:
    from .pages import client_address
    ctx = ctx_of(request)
    result = auth.sign_in(ctx.db, body.name, body.password, ctx.clock(), client=client_address(request),
                          secret=ctx.secret)
    if result.retry_after:
        whose = "from this network" if result.refused_for == "client" else "for this account"
        raise HTTPException(429, f"too many failed sign-ins {whose}; retry after {result.retry_after} s",
                            headers={"Retry-After": str(result.retry_after)})
    if not result.ok:
        raise HTTPException(401, "wrong account name or password")
    expires = ctx.clock() + auth.SESSION_HOURS * 3600
    return Token(token=store.new_session(ctx.db, result.user["id"], "api", expires, ctx.clock()), expires=expires)


@router.delete("/auth/token", status_code=204, tags=["facilitators"])
def revoke(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer),
           user: dict = Depends(api_user)) -> Response:
    store.end_session(ctx_of(request).db, creds.credentials)
    return Response(status_code=204)


def _out(request: Request, a: store.Assessment) -> AssessmentOut:
    from .pages import link_url
    k = a.min_group
    return AssessmentOut(
        id=a.id, partnership=a.partnership, scope=a.scope, min_group=a.min_group, gap=a.gap,
        show_individual=a.show_individual,
        rounds=[RoundOut(number=r.number, closed=r.closed,
                         started=release.round_total([x.started for x in r.links], k, r.closed),
                         submitted=release.round_total([x.submitted for x in r.links], k, r.closed),
                         links=[LinkOut(organisation=x.organisation, url=link_url(request, x.token), token=x.token,
                                        started=release.count_value(x.started, k, r.closed),
                                        submitted=release.count_value(x.submitted, k, r.closed)) for x in r.links])
                for r in a.rounds])


def _owned(request: Request, user: dict, aid: int) -> store.Assessment:
    found = store.get_assessment(ctx_of(request).db, user["id"], aid)
    if found is None:
        raise HTTPException(404, "no such assessment")
    return found


@router.get("/scopes", tags=["facilitators"])
def scopes() -> dict[str, str]:
    """The questionnaire scopes an assessment can use (the same as `partnerdx ask`)."""
    return {key: title for key, (title, _) in SCOPES.items()}


@router.get("/assessments", response_model=list[AssessmentOut], tags=["facilitators"])
def list_assessments(request: Request, user: dict = Depends(api_user)) -> list[AssessmentOut]:
    return [_out(request, a) for a in store.list_assessments(ctx_of(request).db, user["id"])]


@router.post("/assessments", response_model=AssessmentOut, status_code=201, tags=["facilitators"],
             responses={422: {"description": "the problems, by field"}})
def create(request: Request, body: AssessmentIn, user: dict = Depends(api_user)) -> AssessmentOut:
    ctx = ctx_of(request)
    new, errors = validate.check(body.partnership, body.scope, body.organisations, body.min_group, body.gap,
                                 body.show_individual)
    if new is None:
        raise HTTPException(422, [{"where": k, "message": v} for k, v in errors.items()])
    aid = store.create_assessment(ctx.db, user["id"], new.partnership, new.scope, new.organisations,
                                  new.min_group, new.gap, new.show_individual, ctx.clock())
    console.log(ctx.db, user, aid, "create", f"created “{new.partnership}” through the API", ctx.clock())
    return _out(request, _owned(request, user, aid))


@router.get("/assessments/{aid}", response_model=AssessmentOut, tags=["facilitators"])
def read(request: Request, aid: int, user: dict = Depends(api_user)) -> AssessmentOut:
    return _out(request, _owned(request, user, aid))


@router.post("/assessments/{aid}/close", response_model=AssessmentOut, tags=["facilitators"])
def close(request: Request, aid: int, user: dict = Depends(api_user)) -> AssessmentOut:
    a = _owned(request, user, aid)
    kept = console.part_way(ctx_of(request).db, aid)["part_way"]
    store.close_round(ctx_of(request).db, aid)
    console.log(ctx_of(request).db, user, aid, "close round", f"closed round {a.current.number} of “{a.partnership}” "
                f"({kept} part-way responses kept) through the API", ctx_of(request).clock())
    return _out(request, _owned(request, user, aid))


@router.post("/assessments/{aid}/rounds", response_model=AssessmentOut, status_code=201, tags=["facilitators"])
def new_round(request: Request, aid: int, user: dict = Depends(api_user)) -> AssessmentOut:
    """Close the current round and open the next one, with new links for the same organisations."""
    a = _owned(request, user, aid)
    number = store.new_round(ctx_of(request).db, aid)
    console.log(ctx_of(request).db, user, aid, "new round", f"started round {number} of “{a.partnership}” "
                "through the API", ctx_of(request).clock())
    return _out(request, _owned(request, user, aid))


@router.get("/assessments/{aid}/report", tags=["facilitators"],
            responses={200: {"description": "the `partnerdx assess` report (JSON by default)"}})
def report(request: Request, aid: int, format: Literal["json", "markdown", "html", "csv"] = "json",
           round: int | None = Query(None, ge=1, le=10**6, description="report rounds 1..N (default: up to the latest "
                                                                       "closed round; an open round's report is "
                                                                       "refused with 409)"),
           user: dict = Depends(api_user)) -> Response:
    from .pages import _round, download
    a = _owned(request, user, aid)
    return download(request, a, _round(a, round), format)


# ---- respondents --------------------------------------------------------------------------------

def _invitation(request: Request, token: str) -> store.Invitation:
    padding.refuse_facilitator_token(request)
    inv = store.invitation(ctx_of(request).db, token) if len(token) <= 100 else None
    if inv is None:
        raise HTTPException(404, "unknown invitation link")
    return inv


def _response(request: Request, inv: store.Invitation, key: str | None, writable: bool = True) -> store.Response:
    resp = store.find_response(ctx_of(request).db, inv, key)
    if resp is None:
        raise HTTPException(404, "unknown response key for this invitation")
    if writable and resp.submitted:
        raise HTTPException(409, "these answers have been submitted and can no longer be changed")
    if writable and inv.closed:
        raise HTTPException(410, "this questionnaire is closed")
    return resp


KEY = Header(None, alias="X-Response-Key", description="the key returned when the response was started")


@router.get("/r/{token}", response_model=InvitationOut, tags=["respondents"])
def invitation(request: Request, token: str) -> InvitationOut:
    inv = _invitation(request, token)
    return InvitationOut(partnership=inv.partnership, organisation=inv.organisation, scope=inv.scope,
                         scope_title=SCOPES[inv.scope][0], round=inv.round_number, open=not inv.closed)


@router.post("/r/{token}/responses", response_model=ResponseKey, status_code=201, tags=["respondents"])
def start(request: Request, token: str) -> ResponseKey:
    inv = _invitation(request, token)
    try:
        return ResponseKey(response_key=store.start_response(ctx_of(request).db, inv))
    except store.Conflict as exc:
        raise HTTPException(410, str(exc)) from None


@router.get("/r/{token}/response", response_model=ResponseState, tags=["respondents"])
def state(request: Request, token: str, x_response_key: str | None = KEY) -> ResponseState:
    ctx = ctx_of(request)
    inv = _invitation(request, token)
    resp = _response(request, inv, x_response_key, writable=False)
    q = respond.questionnaire(ctx.kb, inv.scope, resp)
    item = None if resp.submitted else q.next_item()
    p = respond.progress(q)
    return ResponseState(submitted=resp.submitted, answers=resp.answers, skipped=resp.skipped,
                         progress=Progress(answered=p["answered"], relevant_left=p["relevant_left"],
                                           not_needed=p["not_needed"]),
                         next=Question(**respond.question(ctx.kb, q, item)) if item else None)


@router.put("/r/{token}/response/answers/{item}", response_model=Saved, tags=["respondents"])
def put_answer(request: Request, token: str, item: str, body: AnswerIn, x_response_key: str | None = KEY) -> Saved:
    """Save one answer at once (null: skipped). Saving the same answer twice is harmless."""
    ctx = ctx_of(request)
    inv = _invitation(request, token)
    resp = _response(request, inv, x_response_key)
    q = respond.questionnaire(ctx.kb, inv.scope, resp)
    value, error = respond.check_api_value(ctx.kb, q, item, body.value)
    if error:
        raise HTTPException(422, [{"where": item, "message": error}])
    try:
        _, values, remove = respond.apply(ctx.kb, inv.scope, resp, item, value, skip=value is None)
        store.save_answers(ctx.db, resp.id, values, remove)
    except store.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return Saved(item=item, value=value)


@router.delete("/r/{token}/response/answers/{item}", status_code=204, tags=["respondents"])
def delete_answer(request: Request, token: str, item: str, x_response_key: str | None = KEY) -> Response:
    """Take an answer back, so the question is asked again."""
    inv = _invitation(request, token)
    resp = _response(request, inv, x_response_key)
    try:
        store.undo_answer(ctx_of(request).db, resp.id, item)
    except store.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return Response(status_code=204)


@router.post("/r/{token}/response/submit", response_model=Submitted, tags=["respondents"])
def submit(request: Request, token: str, x_response_key: str | None = KEY) -> Submitted:
    ctx = ctx_of(request)
    inv = _invitation(request, token)
    resp = _response(request, inv, x_response_key)
    try:
        store.submit(ctx.db, resp.id)
    except store.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    diagnosis = None
    if inv.show_individual:
        from ..answers import AnswerSet
        from ..explain import diagnosis_json
        from ..inference import diagnose
        answers = {k: v for k, v in resp.answers.items() if not respond.is_checklist(k)}
        diagnosis = diagnosis_json(ctx.kb, diagnose(ctx.kb, AnswerSet(answers, inv.partnership)))
    return Submitted(submitted=True, diagnosis=diagnosis)
