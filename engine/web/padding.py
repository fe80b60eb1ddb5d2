"""Refusing answers from a facilitator's browser ("padding").

The facilitator holds every invitation link. Submitting two responses of their own to an
organisation with one real respondent would lift it to a minimum group of 3, and the real person's
answers would then follow from the means. The server cannot know who types, but it can know a
browser that a facilitator uses: one that carries a valid facilitator session, or the long-lived
`pdx_fac` marker cookie set at every facilitator sign-in (and kept at sign-out, so signing out
first does not help). Respondent pages and API calls from such a browser are refused (403) before
anything is read or stored. A facilitator who clears cookies or uses another browser or device is
not stopped: SECURITY.md states that residual risk.
"""
from __future__ import annotations

from fastapi import HTTPException, Request

from . import store

MARKER_COOKIE = "pdx_fac"
MARKER_DAYS = 400                      # the longest lifetime browsers allow
REFUSAL = ("This browser is used by a facilitator, so it cannot answer a questionnaire: answers from the "
           "facilitator's own browser could be used to work out a respondent's answers. Send the link to the "
           "organisation's people; to see the questions, use another browser or `partnerdx ask`.")


def marker_cookie(ctx, https: bool) -> str:
    """Set at every facilitator sign-in; never cleared by the app."""
    return ctx.cookie(MARKER_COOKIE, "1", max_age=MARKER_DAYS * 86400, https=https)


def refuse_facilitator_browser(request: Request, session_cookie: str) -> None:
    """403 if this browser holds a facilitator session or has been used to sign in as one."""
    ctx = request.app.state.ctx
    if request.cookies.get(MARKER_COOKIE):
        raise HTTPException(403, REFUSAL)
    token = request.cookies.get(session_cookie)
    if token and len(token) <= 200 and store.session_user(ctx.db, token, "cookie", ctx.clock()):
        raise HTTPException(403, REFUSAL)


def refuse_facilitator_token(request: Request) -> None:
    """The JSON API's form: a respondent call carrying a facilitator's bearer token is refused."""
    ctx = request.app.state.ctx
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token and len(token) <= 200 and \
            store.session_user(ctx.db, token.strip(), "api", ctx.clock()):
        raise HTTPException(403, REFUSAL)
