"""The web application: `partnerdx serve`. A FastAPI app (the JSON API is described at /openapi.json)
with server-rendered Jinja2 pages that need no JavaScript, served by uvicorn.

What every response gets, and why:

- security headers: a Content-Security-Policy that allows no script, no frame and no foreign
  request (`frame-ancestors 'none'` and X-Frame-Options against clickjacking), nosniff,
  `Referrer-Policy: no-referrer` (an invitation link must not leak through a Referer), and
  `Cache-Control: no-store` on everything but the stylesheet;
- a `pdx_csrf` cookie (HttpOnly, SameSite=Lax) if the browser has none: the forms' CSRF tokens are
  derived from it (see auth.py).

No IP address or user agent is stored or logged: uvicorn runs without its access log, and trusts
proxy headers only when `serve --proxy-headers` says so (deploy.py). With a public https URL,
cookies are Secure and every response carries HSTS.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib import resources
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..kb import KnowledgeBase
from . import guards
from .db import Database, open_database

SESSION_COOKIE = "pdx_session"
CSRF_COOKIE = "pdx_csrf"
RESPONDENT_COOKIE = "pdx_r"
CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HSTS = "max-age=31536000"
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


@dataclass
class Context:
    """What every request handler needs; one per app (tests make several)."""

    db: Database
    kb: KnowledgeBase
    clock: Callable[[], float]
    secret: str
    templates: Environment
    secure_cookies: bool
    public_url: str | None = None        # links are built from it, not from the request's Host

    @property
    def behind_tls(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    def cookie(self, name: str, value: str, path: str = "/", max_age: int | None = None,
               https: bool = False) -> str:
        """A Set-Cookie value: always HttpOnly and SameSite=Lax; Secure over HTTPS."""
        jar: SimpleCookie = SimpleCookie()
        jar[name] = value
        morsel = jar[name]
        morsel["path"] = path
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if max_age is not None:
            morsel["max-age"] = max_age
        if self.secure_cookies or https:
            morsel["secure"] = True
        return morsel.OutputString()


class Guard:
    """ASGI middleware: security headers on every response, and the CSRF cookie for browsers."""

    def __init__(self, app, ctx: Context) -> None:
        self.app, self.ctx = app, ctx

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        value = cookies.get(CSRF_COOKIE, "")
        fresh = None
        if not (20 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum()):
            value = fresh = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_cookie"] = value
        path = scope.get("path", "")
        started = False

        async def send_with_headers(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for key, header in SECURITY_HEADERS.items():
                    headers[key] = header
                if scope["state"].get("csp"):                 # a page that loads our own script (console.py)
                    headers["content-security-policy"] = scope["state"]["csp"]
                if not path.startswith("/static/"):
                    headers["cache-control"] = "no-store"
                if self.ctx.behind_tls or scope.get("scheme") == "https":
                    headers["strict-transport-security"] = HSTS
                if fresh and not path.startswith("/api/"):
                    headers.append("set-cookie", self.ctx.cookie(CSRF_COOKIE, fresh, https=scope.get("scheme") == "https"))
            await send(message)

        refusal = guards.refuse(scope)
        if refusal is not None:
            await guards.plain_page(self.ctx, scope, *refusal)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, guards.limited(receive), send_with_headers)
        except Exception as exc:                         # never a bare 500 without our headers
            if started:
                raise
            await guards.failure_page(self.ctx, scope, exc)(scope, receive, send_with_headers)


def _cookies(scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:           # a malformed cookie header is treated as no cookie
                continue
    return {k: m.value for k, m in jar.items()}


def templates() -> Environment:
    """Autoescaping on for every template: names and answers are always shown as text."""
    env = Environment(loader=PackageLoader("partnerdx.web", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      trim_blocks=True, lstrip_blocks=True)
    return env


def stylesheet() -> str:
    return resources.files("partnerdx.web").joinpath("static/app.css").read_text(encoding="utf-8")


def create_app(db_url: str | None = None, *, kb: KnowledgeBase | None = None,
               clock: Callable[[], float] = time.time, overlays: tuple = (),
               secure_cookies: bool = False, database: Database | None = None,
               public_url: str | None = None) -> FastAPI:
    """Open (and upgrade) the database, load the knowledge base, wire the pages and the API."""
    from pathlib import Path

    from ..kb import load_kb
    from . import api, console, pages
    db = database or open_database(db_url)
    if kb is None:
        kb = load_kb(tuple(Path(p) for p in overlays))
    public_url = public_url.rstrip("/") if public_url else None
    ctx = Context(db, kb, clock, db.secret(), templates(),
                  secure_cookies or bool(public_url and public_url.startswith("https://")), public_url)
    app = FastAPI(title="partnerdx", version="1", docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="The partnerdx web questionnaire: facilitators' assessments and respondents' "
                              "answers. Facilitators authenticate with a bearer token from POST /api/v1/auth/token; "
                              "respondents with their invitation token and the response key from "
                              "POST /api/v1/r/{token}/responses (header X-Response-Key).")
    app.state.ctx = ctx
    app.include_router(pages.router)
    app.include_router(console.router)
    app.include_router(api.router)
    css = stylesheet()

    @app.get("/static/app.css", include_in_schema=False)
    def _css() -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})

    @app.get("/healthz", include_in_schema=False)
    def _health() -> dict:
        return {"ok": True, "schema": db.version()}

    _errors(app, ctx)
    app.add_middleware(Guard, ctx=ctx)
    return app


def _errors(app: FastAPI, ctx: Context) -> None:
    """JSON errors under /api, an HTML page everywhere else; never a traceback."""
    from .pages import SignInRequired

    @app.exception_handler(SignInRequired)
    async def _signin(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={exc.next}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        return error_page(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            problems = [{"where": ".".join(str(p) for p in e.get("loc", [])), "message": e.get("msg", "")}
                        for e in exc.errors()]
            return JSONResponse({"detail": problems}, status_code=422)
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return error_page(request, 404, "", {})
        return error_page(request, 400, "The form was incomplete or malformed; go back and try again.", {})


TITLES = {400: "Bad request", 401: "Sign-in needed", 403: "Refused", 404: "Not found", 405: "Not allowed",
          409: "Already done", 410: "Closed", 429: "Too many attempts"}


def error_page(request: Request, status: int, message: str, headers: dict) -> HTMLResponse:
    ctx: Context = request.app.state.ctx
    if status == 404:
        message = "There is nothing here. If you followed an invitation link, check that it was copied whole."
    html = ctx.templates.get_template("error.html").render(
        title=TITLES.get(status, "Error"), message=message, status=status, user=None, csrf="")
    return HTMLResponse(html, status_code=status, headers=headers)


def run(db_url: str | None, host: str, port: int, overlays: tuple = (), log=print, **options) -> None:
    """`partnerdx serve` (see deploy.py: workers, proxy headers, public URL, no access log)."""
    from .deploy import Options, run as deploy_run
    deploy_run(Options(db_url, host, port, overlays, **options), log=log)
