"""Bad input and failures answered as pages, never as bare 500s (used by app.Guard).

Why at the edge: a NUL byte, an id beyond the database's integer range or a body of a gigabyte must
be refused before any handler or database sees it (PostgreSQL rejects NUL in text, and its INTEGER
ends at 2**31 - 1), and whatever still goes wrong must come back with the same security headers and
the same styled page as everything else. A database that cannot be reached (a PostgreSQL restart,
a locked SQLite file) is a 503 with Retry-After, so browsers and API clients know to come back.
"""
from __future__ import annotations

from html import escape
import logging
from urllib.parse import unquote_to_bytes

from starlette.responses import HTMLResponse, JSONResponse, Response

MAX_BODY = 1_000_000             # bytes: the largest form or JSON body any route needs is far smaller
MAX_PATH = 2000
RETRY_AFTER = "5"
log = logging.getLogger("partnerdx.web")


class BodyTooLarge(Exception):
    pass


def _bad(raw: bytes) -> bool:
    """NUL or another control character, after percent-decoding."""
    decoded = unquote_to_bytes(raw)
    return any(b < 0x20 or b == 0x7f for b in decoded)


def refuse(scope) -> tuple[int, str] | None:
    """(status, message) for a request refused before routing, or None."""
    raw_path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    if len(raw_path) > MAX_PATH or _bad(raw_path):
        return 404, ""
    if _bad(scope.get("query_string", b"").replace(b"+", b" ")):
        return 400, "The address holds characters that no page accepts."
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            if not value.isdigit() or int(value) > MAX_BODY:
                return 413, "What was sent is too large."
    return None


def limited(receive):
    """The body as received, but never more than MAX_BODY bytes (for bodies sent without a length)."""
    seen = 0

    async def wrapped():
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise BodyTooLarge()
        return message
    return wrapped


def _database_down(exc: Exception) -> bool:
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError, PoolTimeout))


def failure_page(ctx, scope, exc: Exception) -> Response:
    """The page for an exception no handler turned into a response."""
    from sqlalchemy.exc import DataError

    from .auth import Busy
    headers: dict[str, str] = {}
    if isinstance(exc, BodyTooLarge):
        status, message = 413, "What was sent is too large."
    elif isinstance(exc, Busy):
        status, message = 503, "Too many sign-ins are being checked at this moment. Try again in a few seconds."
        headers["retry-after"] = RETRY_AFTER
    elif _database_down(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        status, message = 503, "The service is briefly unavailable (its database cannot be reached). Nothing you " \
                               "saved is lost; try again in a few seconds."
        headers["retry-after"] = RETRY_AFTER
    elif isinstance(exc, DataError):
        status, message = 400, "The request holds a value that cannot be stored."
    else:
        log.error("unexpected error (%s)", type(exc).__name__, exc_info=exc)   # no path: it may hold a link
        status, message = 500, "Something went wrong on our side; nothing you saved is lost. Try again."
    return plain_page(ctx, scope, status, message, headers)


TITLES = {400: "Bad request", 404: "Not found", 413: "Too large", 500: "Error", 503: "Unavailable"}


def plain_page(ctx, scope, status: int, message: str, headers: dict | None = None) -> Response:
    """A styled page (or JSON under /api/) that needs no database."""
    path = scope.get("path", "")
    if status == 404:
        message = "There is nothing here. If you followed an invitation link, check that it was copied whole."
    if path.startswith("/api/") or path == "/openapi.json":
        return JSONResponse({"detail": message or "not found"}, status_code=status, headers=headers)
    try:
        html = ctx.templates.get_template("error.html").render(
            title=TITLES.get(status, "Error"), message=message, status=status, user=None, csrf="")
    except Exception:                               # a broken template must not hide the status
        html = f"<!DOCTYPE html><title>{status}</title><p>{escape(message)}</p>"
    return HTMLResponse(html, status_code=status, headers=headers)
